import CKernels
import Foundation

/// Backward of the exact GELU, out = x · Φ(x):
///   dinp[N] = dout · (Φ(x) + x · φ(x)),  Φ(x) = 0.5 · (1 + erf(x/√2)),  φ(x) = e^{-x²/2} / √(2π).
func exactGELUBackward(
  _ dinp: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ dout: UnsafePointer<Float>, count N: Int
) {
  parallelChunks(N, minimumChunk: 16_384) { range in
    let i = range.lowerBound
    tdb_gelu_erf_backward(dinp + i, inp + i, dout + i, range.count)
  }
}
