import CKernels
import Foundation

/// The exact GELU, x · Φ(x) = 0.5 · x · (1 + erf(x / √2)): Hugging Face's
/// "gelu" (PyTorch's default), which Pythia uses; `geluForward` is GPT-2's
/// tanh approximation, which differs from it by up to ~5e-4. A C kernel
/// (CKernels' gelu_erf) computes Φ through erfc, so that it stays accurate
/// for negative x, where 1 + erf(x/√2) cancels.
func exactGELUForward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, count N: Int) {
  parallelChunks(N, minimumChunk: 16_384) { range in
    tdb_gelu_erf(out + range.lowerBound, inp + range.lowerBound, range.count)
  }
}
