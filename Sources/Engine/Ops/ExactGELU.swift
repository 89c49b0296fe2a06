import Foundation

/// The exact GELU, x · Φ(x) = 0.5 · x · (1 + erf(x / √2)): Hugging Face's
/// "gelu" (PyTorch's default), which Pythia uses; `geluForward` is GPT-2's
/// tanh approximation, which differs from it by up to ~5e-4.
func exactGELUForward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, count N: Int) {
  let r = Float(0.5.squareRoot())
  parallelChunks(N, minimumChunk: 16_384) { range in
    for i in range {
      let x = inp[i]
      out[i] = 0.5 * x * (1 + erff(x * r))
    }
  }
}
