import Foundation
import XCTest

@testable import Engine

/// Weight matrices of Llama-family and GPT-NeoX models are laid end to end
/// in a few mappings, each on a cache line (`WeightArena`).
final class WeightArenaTests: XCTestCase {
  func testMatricesAreAlignedApartAndKeepWhatWasWritten() {
    let arena = WeightArena()
    let shapes = [[3, 5], [1], [576, 960], [7, 1]]
    let tensors = shapes.enumerated().map { index, shape in
      arena.tensor(shape: shape) { p in
        for i in 0..<shape.reduce(1, *) { p[i] = Float(index * 1000 + i) }
      }
    }
    for (index, t) in tensors.enumerated() {
      XCTAssertEqual(t.shape, shapes[index])
      XCTAssertEqual(Int(bitPattern: t.pointer) % WeightArena.alignment, 0)
      XCTAssertEqual(t.scalars, (0..<t.count).map { Float(index * 1000 + $0) })
    }
    let ranges = tensors.map { t in
      Int(bitPattern: t.pointer)..<(Int(bitPattern: t.pointer) + t.count * MemoryLayout<Float>.stride)
    }
    for i in ranges.indices {
      for j in ranges.indices where i < j { XCTAssertFalse(ranges[i].overlaps(ranges[j])) }
    }
    // Consecutive matrices share a mapping rather than each taking its own.
    XCTAssertEqual(ranges[1].lowerBound, ranges[0].lowerBound + 64)
  }

  func testWeightsOutliveTheirArenaAndALargeOneGetsItsOwnSlab() {
    let floats = WeightArena.slabBytes / MemoryLayout<Float>.stride + 10
    var large: Tensor
    var small: Tensor
    do {
      let arena = WeightArena()
      small = arena.tensor(shape: [4]) { $0.update(repeating: 2, count: 4) }
      large = arena.tensor(shape: [floats]) { p in
        p[0] = 1
        p[floats - 1] = 3
      }
    }
    XCTAssertEqual(small.scalars, [2, 2, 2, 2])
    XCTAssertEqual(large.pointer[0], 1)
    XCTAssertEqual(large.pointer[floats - 1], 3)
    XCTAssertEqual(Int(bitPattern: large.pointer) % 4096, 0, "a fresh slab starts on a page")
  }

  func testWritingAnArenaWeightCopiesItFirst() {
    let arena = WeightArena()
    var w = arena.tensor(shape: [8]) { $0.update(repeating: 1, count: 8) }
    let original = w.pointer
    w.mutablePointer()[0] = 5
    XCTAssertNotEqual(w.pointer, original)
    XCTAssertEqual(original[0], 1, "the arena's copy is untouched")
    XCTAssertEqual(w.scalars, [5, 1, 1, 1, 1, 1, 1, 1])
  }

  func testConcurrentLoadersGetDistinctMemory() {
    let arena = WeightArena()
    let count = 64
    let results = UnsafeMutableBufferPointer<Tensor>.allocate(capacity: count)
    defer { results.deallocate() }
    DispatchQueue.concurrentPerform(iterations: count) { index in
      let t = arena.tensor(shape: [1000 + index]) { $0.update(repeating: Float(index), count: 1000 + index) }
      (results.baseAddress! + index).initialize(to: t)
    }
    for index in 0..<count {
      let t = results[index]
      XCTAssert(t.scalars.allSatisfy { $0 == Float(index) }, "matrix \(index) was overwritten")
    }
    _ = results.baseAddress!.deinitialize(count: count)
  }

  func testALoadedLlamaModelsMatricesStartOnCacheLines() throws {
    // One model's matrices from malloc would be 16-byte aligned, some off a line.
    let (model, _) = try hfTinyModel("llama")
    for (layer, block) in model.weights.blocks.enumerated() {
      for (name, w) in [
        ("q|k|v", block.attnWeight), ("o", block.attnProjWeight), ("gate", block.fcWeight),
        ("down", block.fcProjWeight), ("up", block.upWeight!),
      ] {
        XCTAssertEqual(Int(bitPattern: w.pointer) % WeightArena.alignment, 0, "layer \(layer) \(name)")
        XCTAssertFalse(w.buffer.isOwned, "layer \(layer) \(name) is not in the arena")
      }
    }
  }
}
