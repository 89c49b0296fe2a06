import CBLAS
import Foundation
import XCTest

@testable import Engine

/// Large tensors come from their own mappings and go back to a pool that
/// the next tensor of the same size reuses; the attention's workers hand
/// BLAS its threads back; OpenBLAS's idle spin is shortened.
final class LargeAllocationTests: XCTestCase {
  let floats = 3 << 20  // 12 MiB, above the threshold

  func testAFreedLargeBufferIsReusedAndZeroedWhenAskedFor() {
    var first: UnsafeMutablePointer<Float>?
    do {
      var t = Tensor(uninitialized: [floats])
      first = t.mutablePointer()
      t.mutablePointer().update(repeating: 7, count: floats)
    }
    let again = Tensor(zeros: [floats])
    XCTAssertEqual(again.pointer, UnsafePointer(first), "the freed mapping is the next one of its size")
    XCTAssert(UnsafeBufferPointer(start: again.pointer, count: floats).allSatisfy { $0 == 0 }, "recycled zeros")
  }

  func testLargeBuffersStartOnAHugePageBoundaryAndSmallOnesComeFromMalloc() {
    let big = Tensor(uninitialized: [floats])
    XCTAssertEqual(Int(bitPattern: big.pointer) % LargeAllocation.hugePage, 0)
    XCTAssertNil(LargeAllocation(floats: 1000, zeroed: false))
    let small = Tensor(zeros: [1000])
    XCTAssert(UnsafeBufferPointer(start: small.pointer, count: 1000).allSatisfy { $0 == 0 })
  }

  func testThePoolKeepsAtMostItsLimit() {
    // Five 512 MiB buffers (each mapped with a huge page to spare) freed
    // together: the pool keeps as many as fit in its 1.5 GiB, the newest.
    // (Comparing addresses would not tell: a new mapping may land where an
    // unmapped one was.)
    let huge = 128 << 20
    let page = LargeAllocation.hugePage
    let length = (huge * MemoryLayout<Float>.stride + 2 * page - 1) / page * page
    var tensors = (0..<5).map { _ in Tensor(uninitialized: [huge]) }
    tensors.removeAll()
    let waiting = LargeAllocationPool.shared.waitingBytes
    XCTAssertLessThanOrEqual(waiting, LargeAllocationPool.limit)
    XCTAssertGreaterThanOrEqual(waiting, LargeAllocationPool.limit / length * length)
  }

  func testAttentionHandsBLASItsThreadsBack() throws {
    let before = openblas_get_num_threads()
    let tokens = (0..<200).map { ($0 * 7 + 3) % demoModel.config.vocabSize }
    _ = try demoModel.forward(tokens, options: ForwardOptions(logits: .last))
    XCTAssertEqual(openblas_get_num_threads(), before)
  }

  func testOpenBLASSpinIsSetOnceAModelIsLoaded() {
    _ = demoModel
    // BLASThreads' value, or the one the user ran the tests with.
    let env = ProcessInfo.processInfo.environment["OPENBLAS_THREAD_TIMEOUT"].flatMap { Int($0) }
    XCTAssertNotNil(env, "a loaded model sets OPENBLAS_THREAD_TIMEOUT")
  }
}
