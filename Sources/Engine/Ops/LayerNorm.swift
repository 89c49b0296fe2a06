import Foundation

/// Per-row statistics of a LayerNorm or RMSNorm: mean[T] (0 for RMSNorm,
/// `centered` false) and scale[T] = sqrt(mean((x - mean)²) + eps). The scale
/// is TransformerLens' `hook_scale`; it is kept for the backward pass.
func layerNormStatistics(
  _ inp: UnsafePointer<Float>, mean: UnsafeMutablePointer<Float>, scale: UnsafeMutablePointer<Float>, T: Int, C: Int,
  eps: Float, centered: Bool = true
) {
  parallelChunks(T, minimumChunk: 64) { rows in
    for t in rows {
      let x = inp + t * C
      var m: Float = 0
      if centered {
        for i in 0..<C { m += x[i] }
        m /= Float(C)
      }
      var v: Float = 0
      for i in 0..<C {
        let d = x[i] - m
        v += d * d
      }
      v /= Float(C)
      mean[t] = m
      scale[t] = (v + eps).squareRoot()
    }
  }
}

/// out[T, C] = (inp - mean) / scale · weight + bias (no bias: RMSNorm). `out` may be `inp`.
func layerNormApply(
  _ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, mean: UnsafePointer<Float>,
  scale: UnsafePointer<Float>,
  weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, T: Int, C: Int
) {
  for t in 0..<T {
    let x = inp + t * C, o = out + t * C
    let m = mean[t], r = 1 / scale[t]
    if let bias {
      for i in 0..<C { o[i] = (x[i] - m) * r * weight[i] + bias[i] }
    } else {
      for i in 0..<C { o[i] = (x[i] - m) * r * weight[i] }
    }
  }
}
