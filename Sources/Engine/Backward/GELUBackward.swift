import Foundation

/// Backward of gelu_new, out = 0.5 · x · (1 + tanh(u)), u = √(2/π) · (x + 0.044715 · x³):
///   dinp[N] = dout · (0.5 · (1 + tanh u) + 0.5 · x · sech²u · √(2/π) · (1 + 3 · 0.044715 · x²))
/// (sech² written as 1 - tanh², which avoids coshf overflowing for large |u|).
/// tanh u = 1 - 2 / (e^{2u} + 1): expf is several times faster than tanhf, and
/// only the absolute error matters here (it is ~1e-7; ±1 at the extremes).
func geluBackward(
  _ dinp: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ dout: UnsafePointer<Float>, count N: Int
) {
  let s = Float((2.0 / Double.pi).squareRoot())
  parallelChunks(N, minimumChunk: 16_384) { range in
    for i in range {
      let x = inp[i]
      let t = 1 - 2 / (expf(2 * s * (x + 0.044715 * x * x * x)) + 1)
      let local = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * s * (1 + 3 * 0.044715 * x * x)
      dinp[i] = local * dout[i]
    }
  }
}
