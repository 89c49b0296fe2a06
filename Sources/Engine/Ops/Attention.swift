import Foundation

// Causal attention for the last `n` of `T` positions: queries are rows
// T-n..<T, keys and values rows 0..<T, so query row i (position T-n+i) sees
// keys 0...T-n+i. A whole forward pass has n == T; a pass resumed from a
// checkpoint computes only its last rows against the checkpoint's keys.

/// Scaled, causally masked attention scores for one head:
/// scores[n, T] = q_h · k_hᵀ / √D, with -inf where a key comes after its query.
/// `qkv` is [T, 3C] (q | k | v, heads side by side inside each third).
func attentionScores(
  _ scores: UnsafeMutablePointer<Float>, qkv: UnsafePointer<Float>, head h: Int, queries n: Int, T: Int, C: Int,
  D: Int
) {
  let k = qkv + C + h * D
  for rows in causalBlocks(n) {
    // Keys after the block's last query are masked: leave them out of the product.
    let q = qkv + (T - n + rows.lowerBound) * 3 * C + h * D
    gemm(
      transB: true, M: rows.count, N: T - n + rows.upperBound, K: D, alpha: 1 / Float(D).squareRoot(), q, lda: 3 * C,
      k, ldb: 3 * C, scores + rows.lowerBound * T, ldc: T)
  }
  for i in 0..<n {
    let row = scores + i * T
    for j in (T - n + i + 1)..<max(T, T - n + i + 1) { row[j] = -.infinity }
  }
}

/// Row-wise softmax of causally masked scores [n, T] into pattern [n, T];
/// only the keys a row may see are read (the rest become zero).
func causalSoftmax(_ pattern: UnsafeMutablePointer<Float>, _ scores: UnsafePointer<Float>, queries n: Int, T: Int) {
  for i in 0..<n {
    let s = scores + i * T, p = pattern + i * T
    let last = T - n + i
    var maxv = -Float.infinity
    for j in 0...last where s[j] > maxv { maxv = s[j] }
    var sum: Float = 0
    if maxv == -.infinity {
      // Every key masked (only possible after an intervention): attend nowhere.
      for j in 0..<T { p[j] = 0 }
      continue
    }
    for j in 0...last {
      let e = expf(s[j] - maxv)
      p[j] = e
      sum += e
    }
    let inv = 1 / sum
    for j in 0...last { p[j] *= inv }
    for j in (last + 1)..<max(T, last + 1) { p[j] = 0 }
  }
}

/// z_h[n, D] = pattern_h[n, T] · v_h[T, D], written into z[n, C] at the head's columns.
func attentionValues(
  _ z: UnsafeMutablePointer<Float>, pattern: UnsafePointer<Float>, qkv: UnsafePointer<Float>, head h: Int,
  queries n: Int, T: Int, C: Int, D: Int
) {
  for rows in causalBlocks(n) {
    gemm(
      M: rows.count, N: D, K: T - n + rows.upperBound, pattern + rows.lowerBound * T, lda: T, qkv + 2 * C + h * D,
      ldb: 3 * C, z + rows.lowerBound * C + h * D, ldc: C)
  }
}

/// Query rows in blocks: each block's product stops at its last query's key,
/// so long prompts skip most of the masked half of q·kᵀ and pattern·v.
func causalBlocks(_ n: Int, size: Int = 128) -> [Range<Int>] {
  stride(from: 0, to: n, by: size).map { $0..<min($0 + size, n) }
}
