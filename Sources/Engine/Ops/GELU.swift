import Foundation

/// GPT-2's tanh approximation ("gelu_new"):
/// 0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³))).
func geluForward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, count N: Int) {
  let s = Float((2.0 / Double.pi).squareRoot())
  parallelChunks(N, minimumChunk: 16_384) { range in
    for i in range {
      let x = inp[i]
      // tanh u = 1 - 2 / (e^{2u} + 1): expf is several times faster than tanhf here.
      out[i] = 0.5 * x * (2 - 2 / (expf(2 * s * (x + 0.044715 * x * x * x)) + 1))
    }
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
