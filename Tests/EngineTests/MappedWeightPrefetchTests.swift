import Foundation
import XCTest

@testable import Engine

/// Mapping a checkpoint's weights ahead of the first pass: after `populate`
/// runs to the end, reading every weight takes no page fault; a raised stop
/// signal leaves the faults to the reads.
final class MappedWeightPrefetchTests: XCTestCase {
  /// The tiny GPT-2 fixture: f32 weights, all views of the mapped file.
  func freshWeights() throws -> ModelWeights {
    let dir = repoRoot.appendingPathComponent("Tests/Fixtures/tiny-models/gpt2")
    let config = try ModelConfig(url: dir.appendingPathComponent("config.json"))
    return try ModelWeights(source: try Checkpoint(folder: dir), config: config)
  }

  /// This thread's page faults while reading one float of every page of every weight.
  func faultsReadingEveryPage(_ weights: ModelWeights) -> Int {
    // Listed first: the list's own allocation must not count.
    let tensors = weights.inReadingOrder
    let before = minorFaults()
    var sum: Float = 0
    for tensor in tensors {
      tensor.withUnsafeBufferPointer { values in
        for i in stride(from: 0, to: values.count, by: 1024) { sum += values[i] }
      }
    }
    XCTAssertFalse(sum.isNaN)
    return minorFaults() - before
  }

  func minorFaults() -> Int {
    var usage = rusage()
    // RUSAGE_THREAD (1): Glibc's module leaves the GNU-only name out.
    getrusage(__rusage_who_t(1), &usage)
    return usage.ru_minflt
  }

  func testEveryWeightIsBorrowedAndListedOnce() throws {
    let weights = try freshWeights()
    let tensors = weights.inReadingOrder
    XCTAssertTrue(tensors.allSatisfy { !$0.buffer.isOwned }, "the fixture's weights are views of the file")
    // GPT-2 ties the unembedding to the embedding: listed twice, the same memory.
    XCTAssertEqual(tensors.count, 2 + 12 * weights.blocks.count + 3)
    XCTAssertEqual(Set(tensors.map(\.buffer.pointer)).count, tensors.count - 1)
  }

  func testPopulatedWeightsAreReadWithoutPageFaults() throws {
    let weights = try freshWeights()
    MappedWeightPrefetch.populate(weights, until: StopSignal())
    // Against about 100 when the reads fault the pages in (97 here).
    XCTAssertLessThanOrEqual(faultsReadingEveryPage(weights), 8)
  }

  func testARaisedSignalLeavesThePagesToTheReads() throws {
    let weights = try freshWeights()
    let stop = StopSignal()
    stop.raise()
    MappedWeightPrefetch.populate(weights, until: stop)
    // 6.8 MB read 64 KiB per fault at most (the kernel's fault-around).
    XCTAssertGreaterThan(faultsReadingEveryPage(weights), 50)
  }
}
