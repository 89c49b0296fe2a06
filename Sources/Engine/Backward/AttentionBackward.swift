import Foundation

// Causal self-attention backward for one head h, as three steps with the
// pattern and score hook points between them (llm.c's attention_backward,
// with the per-element loops replaced by BLAS products).
// q, k, v, z and their gradients are [T, H, D] = [T, C] row-major, so head h
// is the column block h·D ..< (h+1)·D with leading dimension C.

/// Through z_h = pattern_h · v_h (forward: attentionValues):
///   dpattern_h[T, T] = dz_h[T, D] · v_h[T, D]ᵀ    (every entry: z reads the whole row)
///   dv_h[T, D]       = pattern_h[T, T]ᵀ · dz_h[T, D]
func attentionValuesBackward(
  dpattern: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>, dz: UnsafePointer<Float>,
  pattern: UnsafePointer<Float>, v: UnsafePointer<Float>, head h: Int, T: Int, C: Int, D: Int
) {
  let off = h * D
  gemm(transB: true, M: T, N: T, K: D, dz + off, lda: C, v + off, ldb: C, dpattern, ldc: T)
  gemm(transA: true, M: T, N: D, K: T, pattern, lda: T, dz + off, ldb: C, dv + off, ldc: C)
}

/// Through the causal softmax (forward: causalSoftmax), row i over keys j ≤ i:
///   dscores[i, j] = p[i, j] · (dpattern[i, j] - Σ_k≤i p[i, k] · dpattern[i, k]),  0 for j > i
/// where p is the softmax's own output (the pattern before any intervention).
func causalSoftmaxBackward(_ dscores: UnsafeMutablePointer<Float>, _ dpattern: UnsafePointer<Float>, _ pattern: UnsafePointer<Float>, T: Int) {
  for i in 0..<T {
    let p = pattern + i * T, dp = dpattern + i * T, ds = dscores + i * T
    var dot: Float = 0
    for j in 0...i { dot += p[j] * dp[j] }
    for j in 0...i { ds[j] = p[j] * (dp[j] - dot) }
    for j in (i + 1)..<max(T, i + 1) { ds[j] = 0 }
  }
}

/// Through scores_h = q_h · k_hᵀ / √D (forward: attentionScores):
///   dq_h[T, D] = dscores_h[T, T] · k_h / √D
///   dk_h[T, D] = dscores_hᵀ · q_h / √D
func attentionScoresBackward(
  dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dscores: UnsafePointer<Float>,
  q: UnsafePointer<Float>, k: UnsafePointer<Float>, head h: Int, T: Int, C: Int, D: Int
) {
  let off = h * D, scale = 1 / Float(D).squareRoot()
  gemm(M: T, N: D, K: T, alpha: scale, dscores, lda: T, k + off, ldb: C, dq + off, ldc: C)
  gemm(transA: true, M: T, N: D, K: T, alpha: scale, dscores, lda: T, q + off, ldb: C, dk + off, ldc: C)
}
