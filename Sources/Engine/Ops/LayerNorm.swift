import CKernels
import Foundation

/// Per-row statistics of a LayerNorm or RMSNorm: mean[T] (0 for RMSNorm,
/// `centered` false) and scale[T] = sqrt(mean((x - mean)²) + eps). The scale
/// is TransformerLens' `hook_scale`; it is kept for the backward pass.
func layerNormStatistics(
  _ inp: UnsafePointer<Float>, mean: UnsafeMutablePointer<Float>, scale: UnsafeMutablePointer<Float>, T: Int, C: Int,
  eps: Float, centered: Bool = true
) {
  parallelChunks(T, minimumChunk: 64) { rows in
    for t in rows { tdb_norm_statistics(mean + t, scale + t, inp + t * C, C, eps, centered ? 1 : 0) }
  }
}

/// out[T, C] = (inp - mean) / scale · weight + bias (no bias: RMSNorm). `out` may be `inp`.
func layerNormApply(
  _ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, mean: UnsafePointer<Float>,
  scale: UnsafePointer<Float>,
  weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, T: Int, C: Int
) {
  parallelChunks(T, minimumChunk: 64) { rows in
    for t in rows { tdb_norm_apply(out + t * C, inp + t * C, mean[t], scale[t], weight, bias, C) }
  }
}
