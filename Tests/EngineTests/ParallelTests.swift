import CBLAS
import Foundation
import XCTest

@testable import Engine

/// How many times each index ran, from any thread.
private final class RunCounts: @unchecked Sendable {
  private let lock = NSLock()
  private var counts: [Int]
  init(_ n: Int) { counts = Array(repeating: 0, count: n) }
  func ran(_ i: Int) { lock.withLock { counts[i] += 1 } }
  var all: [Int] { lock.withLock { counts } }
}

final class ParallelTests: XCTestCase {
  /// Every worker index runs exactly once, on the OpenMP team and on
  /// libdispatch (BLAS on one thread), and also when the team is opened
  /// inside another team's worker, where OpenMP gives the inner region one
  /// thread.
  func testEveryWorkerRunsOnce() {
    for blasThreads in [Int(openblas_get_num_threads()), 1] {
      for workers in [1, 2, 3, 7] {
        let runs = RunCounts(workers)
        onCores(workers, blasThreads: blasThreads) { w in runs.ran(w) }
        XCTAssertEqual(runs.all, Array(repeating: 1, count: workers), "\(workers) workers, BLAS threads \(blasThreads)")

        let inner = RunCounts(workers * 5)
        onCores(workers, blasThreads: blasThreads) { w in
          onCores(5, blasThreads: blasThreads) { v in inner.ran(w * 5 + v) }
        }
        XCTAssertEqual(
          inner.all, Array(repeating: 1, count: workers * 5),
          "nested, \(workers) outer workers, BLAS threads \(blasThreads)")
      }
    }
  }

  /// parallelChunks covers 0..<count exactly once, in chunks, whatever the count.
  func testChunksCoverTheRange() {
    for count in [0, 1, 5, 100, 1001] {
      let seen = RunCounts(count)
      parallelChunks(count, minimumChunk: 1) { range in
        for i in range { seen.ran(i) }
      }
      XCTAssertEqual(seen.all, Array(repeating: 1, count: count), "count \(count)")
    }
  }
}
