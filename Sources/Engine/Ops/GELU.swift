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
