import CKernels
import Foundation

/// GPT-2's tanh approximation ("gelu_new"):
/// 0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³))).
/// Computed as x · σ(2u) = x / (1 + e^{-2u}) by a C kernel with a vectorised exp.
func geluForward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, count N: Int) {
  parallelChunks(N, minimumChunk: 16_384) { range in
    tdb_gelu_tanh(out + range.lowerBound, inp + range.lowerBound, range.count)
  }
}

/// Runs `body` over `0..<count` split into contiguous chunks on the available cores.
func parallelChunks(_ count: Int, minimumChunk: Int, _ body: (Range<Int>) -> Void) {
  let workers = min(ComputeThreads.count, max(1, count / minimumChunk))
  if workers <= 1 {
    body(0..<count)
    return
  }
  let chunk = (count + workers - 1) / workers
  DispatchQueue.concurrentPerform(iterations: workers) { w in
    let lo = w * chunk
    let hi = min(count, lo + chunk)
    if lo < hi { body(lo..<hi) }
  }
}

/// How many threads the engine's own loops use: the cores present, or
/// `TDB_THREADS` / `OMP_NUM_THREADS` / `OPENBLAS_NUM_THREADS` if smaller.
enum ComputeThreads {
  static let count: Int = {
    let cores = ProcessInfo.processInfo.activeProcessorCount
    let env = ProcessInfo.processInfo.environment
    for key in ["TDB_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"] {
      if let v = env[key].flatMap(Int.init), v > 0 { return min(v, cores) }
    }
    return cores
  }()
}
