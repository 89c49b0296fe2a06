import Foundation

/// Backward of the exact GELU, out = x · Φ(x):
///   dinp[N] = dout · (Φ(x) + x · φ(x)),  Φ(x) = 0.5 · (1 + erf(x/√2)),  φ(x) = e^{-x²/2} / √(2π).
func exactGELUBackward(
  _ dinp: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ dout: UnsafePointer<Float>, count N: Int
) {
  let r = Float(0.5.squareRoot()), density = Float(1 / (2 * Double.pi).squareRoot())
  parallelChunks(N, minimumChunk: 16_384) { range in
    for i in range {
      let x = inp[i]
      let local = 0.5 * (1 + erff(x * r)) + x * density * expf(-0.5 * x * x)
      dinp[i] = local * dout[i]
    }
  }
}
