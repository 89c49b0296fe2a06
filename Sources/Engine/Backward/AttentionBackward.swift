import CKernels
import Foundation

// Causal self-attention backward for one query head h, as three steps with
// the pattern and score hook points between them (llm.c's attention_backward,
// with the per-element loops replaced by BLAS products).
// q, z and their gradients are [T, H·D]; k, v and theirs [T, KV·D], head h
// reading key/value head g = h / (H / KV): the key/value gradients of the
// heads in a group add up, so dk and dv accumulate.
// `rows` are the queries whose gradient can be nonzero (see nonzeroRows);
// outputs are written there (and at keys 0 ..< rows.upperBound) only, so
// they must start zeroed.

/// Through z_h = pattern_h · v_g (forward: attentionValues), for queries i in `rows`:
///   dpattern_h[i, :] = dz_h[i, D] · v_g[T, D]ᵀ    (every key: z reads the whole row)
///   dv_g[T, D]      += pattern_h[rows, T]ᵀ · dz_h[rows, D]
func attentionValuesBackward(
  dpattern: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>, dz: UnsafePointer<Float>,
  pattern: UnsafePointer<Float>, v: UnsafePointer<Float>, head h: Int, _ g: HeadGeometry, T: Int, rows: Range<Int>
) {
  guard !rows.isEmpty else { return }
  let D = g.D, QS = g.qStride, KS = g.kvStride, kv = g.kvOffset(h), lo = rows.lowerBound, n = rows.count
  gemm(transB: true, M: n, N: T, K: D, dz + lo * QS + h * D, lda: QS, v + kv, ldb: KS, dpattern + lo * T, ldc: T)
  gemm(
    transA: true, M: T, N: D, K: n, pattern + lo * T, lda: T, dz + lo * QS + h * D, ldb: QS, beta: 1, dv + kv,
    ldc: KS)
}

/// Through the causal softmax (forward: causalSoftmax), row i over keys j ≤ i:
///   dscores[i, j] = p[i, j] · (dpattern[i, j] - Σ_k≤i p[i, k] · dpattern[i, k]),  0 for j > i
/// where p is the softmax's own output (the pattern before any intervention).
func causalSoftmaxBackward(
  _ dscores: UnsafeMutablePointer<Float>, _ dpattern: UnsafePointer<Float>, _ pattern: UnsafePointer<Float>, T: Int,
  rows: Range<Int>
) {
  for i in rows { tdb_softmax_backward_row(dscores + i * T, pattern + i * T, dpattern + i * T, 0, i, T) }
}

/// Through scores_h = q_h · k_gᵀ · scale (forward: attentionScores), for queries
/// in `rows` (dscores is zero above the diagonal, so keys stop at rows.upperBound):
///   dq_h[rows, D]  = dscores_h[rows, keys] · k_g[keys, D] · scale
///   dk_g[keys, D] += dscores_h[rows, keys]ᵀ · q_h[rows, D] · scale
func attentionScoresBackward(
  dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dscores: UnsafePointer<Float>,
  q: UnsafePointer<Float>, k: UnsafePointer<Float>, head h: Int, _ g: HeadGeometry, T: Int, rows: Range<Int>
) {
  guard !rows.isEmpty else { return }
  let D = g.D, QS = g.qStride, KS = g.kvStride, kv = g.kvOffset(h)
  let scale = g.scale, lo = rows.lowerBound, n = rows.count, keys = rows.upperBound
  gemm(M: n, N: D, K: keys, alpha: scale, dscores + lo * T, lda: T, k + kv, ldb: KS, dq + lo * QS + h * D, ldc: QS)
  gemm(
    transA: true, M: keys, N: D, K: n, alpha: scale, dscores + lo * T, lda: T, q + lo * QS + h * D, ldb: QS, beta: 1,
    dk + kv, ldc: KS)
}

/// Query heads, key/value heads and their width, and how one layer's scores
/// are made (scale, soft-cap, sliding window), for the attention kernels.
struct HeadGeometry {
  let heads: Int
  let kvHeads: Int
  let D: Int
  /// scores = q·kᵀ · scale (1/√D unless the model says otherwise).
  let scale: Float
  /// scores -> cap · tanh(scores / cap) before the mask (Gemma 2).
  let softcap: Float?
  /// The query at position i sees keys i - window + 1 ... i (nil: 0 ... i).
  let window: Int?

  init(_ c: ModelConfig, layer l: Int) {
    heads = c.heads
    kvHeads = c.kvHeads
    D = c.dHead
    scale = c.attentionScale
    softcap = c.attentionSoftcap
    window = c.attentionWindows[l]
  }

  /// The first key the query at `position` sees.
  func firstKey(_ position: Int) -> Int { window.map { max(0, position - $0 + 1) } ?? 0 }

  var qStride: Int { heads * D }
  var kvStride: Int { kvHeads * D }
  /// Where head h's keys (or values) start in a row.
  func kvOffset(_ h: Int) -> Int { h / (heads / kvHeads) * D }
}

/// The rows of a row-major [count, width] gradient that can be nonzero: from
/// the first to the last row holding a nonzero entry (empty if none).
/// Causality makes this pay: a metric at token p has a zero gradient at later
/// tokens everywhere, and above the last attention layer it reaches only p.
func nonzeroRows(_ p: UnsafePointer<Float>, count: Int, width: Int) -> Range<Int> {
  func isZero(_ r: Int) -> Bool {
    let x = p + r * width
    for i in 0..<width where x[i] != 0 { return false }
    return true
  }
  var lo = 0
  while lo < count, isZero(lo) { lo += 1 }
  guard lo < count else { return 0..<0 }
  var hi = count
  while isZero(hi - 1) { hi -= 1 }
  return lo..<hi
}

/// nonzeroRows over the queries of a [H, T, T] gradient: the union over heads.
func nonzeroQueries(_ p: UnsafePointer<Float>, heads: Int, T: Int) -> Range<Int> {
  var lo = T, hi = 0
  for h in 0..<heads {
    let r = nonzeroRows(p + h * T * T, count: T, width: T)
    if !r.isEmpty {
      lo = min(lo, r.lowerBound)
      hi = max(hi, r.upperBound)
    }
  }
  return lo < hi ? lo..<hi : 0..<0
}

/// Attention's backward pass for every head without an [H, T, T] pattern or
/// pattern gradient, the blocked counterpart of fusedCausalAttention: per
/// block of queries, the head's scores and pattern are computed again from q
/// and k into block-sized buffers, and dq, dk and dv come out of them:
///   dpattern = dz · vᵀ,  dscores = p ⊙ (dpattern - Σ_k p · dpattern)  (· (1 - (s / cap)²) when soft-capped),
///   dq = dscores · k · scale,  dk += dscoresᵀ · q · scale,  dv += patternᵀ · dz.
/// Used when no hook reads or rewrites the pattern, the scores or their
/// gradients. q is [T, H·D] (rotated where the model rotates), k and v
/// [T, KV·D]; dq [T, H, D], dk and dv [T, KV, D] start zeroed, and only the
/// queries in `rows` (where dz can be nonzero) and the keys they see are
/// written.
///
/// The query heads are shared out over the cores, not the key/value groups:
/// a model with fewer groups than cores (Gemma 3 has one, SmolLM2 three)
/// would leave cores idle. Where the heads do not divide evenly among the
/// cores (SmolLM2's nine on two), each head's queries are cut into two parts
/// of equal work, so the cores finish together. The first part of the first
/// head of a group adds into dk and dv; every other part adds into key and
/// value gradients of its own, which are added into dk and dv in head and
/// part order once all are done, so the sums do not depend on which core
/// ran which part.
func fusedCausalAttentionBackward(
  dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
  dz: UnsafePointer<Float>, _ a: AttentionInputs, T: Int, rows: Range<Int>, queryBlock: Int = 128
) {
  guard !rows.isEmpty else { return }
  let g = a.geometry, groupSize = g.heads / g.kvHeads, D = g.D, keys = rows.upperBound
  let cores = ComputeThreads.besideBLAS
  let parts = equalWorkParts(rows, g, count: cores > 1 && g.heads % cores != 0 ? 2 : 1)
  let items = g.heads * parts.count, groupItems = groupSize * parts.count
  /// Item i is part i % parts of head i / parts. A group's first item adds
  /// into dk and dv; the others, numbered in item order, have key and value
  /// gradients of their own.
  func ownSlot(_ i: Int) -> Int? { i % groupItems == 0 ? nil : i - i / groupItems - 1 }
  let ownCount = items - g.kvHeads, ownSize = keys * D
  let own = UnsafeMutablePointer<Float>.allocate(capacity: 2 * ownCount * ownSize)
  own.initialize(repeating: 0, count: 2 * ownCount * ownSize)
  defer { own.deallocate() }
  let capacity = min(queryBlock, rows.count) * rows.upperBound
  withWorkersOverBLAS(items: items) { next in
    // Scores (soft-capped), pattern, and the pattern's gradient turned into the scores'.
    let scores = UnsafeMutablePointer<Float>.allocate(capacity: capacity)
    let pattern = UnsafeMutablePointer<Float>.allocate(capacity: capacity)
    let gradient = UnsafeMutablePointer<Float>.allocate(capacity: capacity)
    defer { [scores, pattern, gradient].forEach { $0.deallocate() } }
    while let i = next() {
      let h = i / parts.count, part = parts[i % parts.count]
      // Where this item adds its key and value gradients, and their row stride.
      let (dkOut, dvOut, stride) =
        ownSlot(i).map { (own + $0 * ownSize, own + (ownCount + $0) * ownSize, D) }
        ?? (dk + g.kvOffset(h), dv + g.kvOffset(h), g.kvStride)
      for first in Swift.stride(from: part.lowerBound, to: part.upperBound, by: queryBlock) {
        attentionBlockBackward(
          dq: dq, dk: dkOut, dv: dvOut, kvStride: stride, dz: dz, a, head: h,
          rows: first..<min(first + queryBlock, part.upperBound), buffers: (scores, pattern, gradient))
      }
    }
  }
  guard ownCount > 0 else { return }
  parallelChunks(keys, minimumChunk: 64) { positions in
    for i in 0..<items {
      guard let slot = ownSlot(i) else { continue }
      let offset = g.kvOffset(i / parts.count)
      for t in positions {
        let row = t * g.kvStride + offset, ownRow = t * D
        tdb_add(dk + row, dk + row, own + slot * ownSize + ownRow, D)
        tdb_add(dv + row, dv + row, own + (ownCount + slot) * ownSize + ownRow, D)
      }
    }
  }
}

/// `rows` cut into `count` (1 or 2) consecutive parts that see about as many
/// (query, key) pairs each; a part is never empty.
private func equalWorkParts(_ rows: Range<Int>, _ g: HeadGeometry, count: Int) -> [Range<Int>] {
  guard count == 2, rows.count >= 2 else { return [rows] }
  func pairs(_ i: Int) -> Int { i - g.firstKey(i) + 1 }
  let total = rows.reduce(0) { $0 + pairs($1) }
  var cut = rows.lowerBound, seen = 0
  while cut < rows.upperBound - 1 && 2 * (seen + pairs(cut)) <= total {
    seen += pairs(cut)
    cut += 1
  }
  cut = max(cut, rows.lowerBound + 1)
  return [rows.lowerBound..<cut, cut..<rows.upperBound]
}

/// One head and block of queries of fusedCausalAttentionBackward.
/// dk and dv point at the head's own columns (or its own gradients), rows `kvStride` apart.
private func attentionBlockBackward(
  dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>, kvStride: Int,
  dz: UnsafePointer<Float>, _ a: AttentionInputs, head h: Int, rows: Range<Int>,
  buffers: (
    scores: UnsafeMutablePointer<Float>, pattern: UnsafeMutablePointer<Float>, gradient: UnsafeMutablePointer<Float>
  )
) {
  let g = a.geometry, D = g.D, QS = g.qStride, KS = g.kvStride, kv = g.kvOffset(h)
  let (s, p, ds) = buffers
  // The keys the block's queries see: from its first query's window start to its last query.
  let start = g.firstKey(rows.lowerBound), keys = rows.upperBound - start, n = rows.count
  let q = a.q + rows.lowerBound * QS + h * D, k = a.k + start * KS + kv, v = a.v + start * KS + kv
  let dzBlock = dz + rows.lowerBound * QS + h * D
  gemm(transB: true, M: n, N: keys, K: D, alpha: g.scale, q, lda: QS, k, ldb: KS, s, ldc: keys)
  gemm(transB: true, M: n, N: keys, K: D, dzBlock, lda: QS, v, ldb: KS, ds, ldc: keys)
  for i in 0..<n {
    let srow = s + i * keys, prow = p + i * keys, drow = ds + i * keys, position = rows.lowerBound + i
    let first = g.firstKey(position) - start, last = position - start
    if let cap = g.softcap { softcap(srow + first, count: last - first + 1, cap: cap) }
    causalSoftmaxRow(prow, srow, first: first, last: last, length: keys)
    tdb_softmax_backward_row(drow, prow, drow, first, last, keys)
    if let cap = g.softcap {
      for j in first...last {
        let t = srow[j] / cap
        drow[j] *= 1 - t * t
      }
    }
  }
  gemm(M: n, N: D, K: keys, alpha: g.scale, ds, lda: keys, k, ldb: KS, dq + rows.lowerBound * QS + h * D, ldc: QS)
  gemm(
    transA: true, M: keys, N: D, K: n, alpha: g.scale, ds, lda: keys, q, ldb: QS, beta: 1, dk + start * kvStride,
    ldc: kvStride)
  gemm(
    transA: true, M: keys, N: D, K: n, p, lda: keys, dzBlock, ldb: QS, beta: 1, dv + start * kvStride, ldc: kvStride)
}
