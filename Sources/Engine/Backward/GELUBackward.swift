import CKernels
import Foundation

/// Backward of gelu_new, out = 0.5 · x · (1 + tanh(u)), u = √(2/π) · (x + 0.044715 · x³):
///   dinp[N] = dout · (σ(2u) + x · 2u' · σ(2u)(1 - σ(2u))),  2u' = 2√(2/π) · (1 + 3 · 0.044715 · x²)
/// (the same as 0.5 · (1 + tanh u) + 0.5 · x · sech²u · u'), by a C kernel
/// (CKernels' gelu_tanh_backward) with the forward's vectorised exp.
func geluBackward(
  _ dinp: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ dout: UnsafePointer<Float>, count N: Int
) {
  parallelChunks(N, minimumChunk: 16_384) { range in
    tdb_gelu_tanh_backward(dinp + range.lowerBound, inp + range.lowerBound, dout + range.lowerBound, range.count)
  }
}
