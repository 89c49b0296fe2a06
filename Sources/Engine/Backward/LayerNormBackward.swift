import CKernels
import Foundation

// LayerNorm in three pieces so that its scale can be a hook point with a
// gradient of its own (TransformerLens' hook_scale) and can be detached:
//   mean[T], scale[T] = sqrt(var + eps)        statistics of inp[T, C]
//   n[T, C]   = (inp - mean) / scale'           scale' = the scale after its hook
//   out[T, C] = n · weight + bias               (the hook_normalized value)
// llm.c's layernorm_backward fuses the first two; here the path through
// scale' (layerNormBackward's dscale) and the path from the scale back to
// inp (layerNormScaleBackward) are separate so the scale hook sits between.

/// The direct path, with the scale held fixed:
///   dn = dout · weight
///   dinp[T, C] += (dn - mean(dn)) / scale'          (mean's dependence on inp included;
///                                                    no mean(dn) for RMSNorm, `centered` false)
///   dscale[T]   = -Σ_c dn · n / scale'
/// `mean` is the statistic of `inp`; `scale` is scale' [T] as the forward used it.
/// Only `rows` are computed (dout is zero elsewhere).
func layerNormBackward(
  dinp: UnsafeMutablePointer<Float>, dscale: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
  inp: UnsafePointer<Float>, mean: UnsafePointer<Float>, scale: UnsafePointer<Float>, weight: UnsafePointer<Float>,
  C: Int, rows: Range<Int>, centered: Bool = true
) {
  parallelChunks(rows.count, minimumChunk: 16) { chunk in
    for t in (chunk.lowerBound + rows.lowerBound)..<(chunk.upperBound + rows.lowerBound) {
      tdb_norm_backward(
        dinp + t * C, dscale + t, dout + t * C, inp + t * C, mean[t], scale[t], weight, C, centered ? 1 : 0)
    }
  }
}

/// The path from the scale back to its input: scale = sqrt(mean((inp - mean)²) + eps)
/// (mean 0 for RMSNorm), so
///   dinp[T, C] += dscale · (inp - mean) / (C · scale)
/// with the statistics as computed from `inp` (before any intervention on the scale).
func layerNormScaleBackward(
  dinp: UnsafeMutablePointer<Float>, dscale: UnsafePointer<Float>, inp: UnsafePointer<Float>,
  mean: UnsafePointer<Float>, scale: UnsafePointer<Float>, T: Int, C: Int
) {
  parallelChunks(T, minimumChunk: 16) { rows in
    for t in rows where dscale[t] != 0 {
      tdb_norm_scale_backward(dinp + t * C, inp + t * C, mean[t], scale[t], dscale[t], C)
    }
  }
}
