import Foundation

/// Scaled, causally masked attention scores for one head:
/// scores[T, T] = q_h · k_hᵀ / √D, with -inf above the diagonal.
/// `qkv` is [T, 3C] (q | k | v, heads side by side inside each third).
func attentionScores(
  _ scores: UnsafeMutablePointer<Float>, qkv: UnsafePointer<Float>, head h: Int, T: Int, C: Int, D: Int
) {
  let q = qkv + h * D, k = qkv + C + h * D
  gemm(transB: true, M: T, N: T, K: D, alpha: 1 / Float(D).squareRoot(), q, lda: 3 * C, k, ldb: 3 * C, scores, ldc: T)
  for i in 0..<T {
    let row = scores + i * T
    for j in (i + 1)..<max(T, i + 1) { row[j] = -.infinity }
  }
}

/// Row-wise softmax of causally masked scores [T, T] into pattern [T, T];
/// only the first i+1 entries of row i are read (the rest are zero).
func causalSoftmax(_ pattern: UnsafeMutablePointer<Float>, _ scores: UnsafePointer<Float>, T: Int) {
  for i in 0..<T {
    let s = scores + i * T, p = pattern + i * T
    var maxv = -Float.infinity
    for j in 0...i where s[j] > maxv { maxv = s[j] }
    var sum: Float = 0
    if maxv == -.infinity {
      // Every key masked (only possible after an intervention): attend nowhere.
      for j in 0..<T { p[j] = 0 }
      continue
    }
    for j in 0...i {
      let e = expf(s[j] - maxv)
      p[j] = e
      sum += e
    }
    let inv = 1 / sum
    for j in 0...i { p[j] *= inv }
    for j in (i + 1)..<max(T, i + 1) { p[j] = 0 }
  }
}

/// z_h[T, D] = pattern_h[T, T] · v_h[T, D], written into z[T, C] at the head's columns.
func attentionValues(
  _ z: UnsafeMutablePointer<Float>, pattern: UnsafePointer<Float>, qkv: UnsafePointer<Float>, head h: Int, T: Int,
  C: Int, D: Int
) {
  gemm(M: T, N: D, K: T, pattern, lda: T, qkv + 2 * C + h * D, ldb: 3 * C, z + h * D, ldc: C)
}
