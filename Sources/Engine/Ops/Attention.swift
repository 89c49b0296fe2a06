import CKernels
import Foundation

// Causal attention for the last `n` of `T` positions: queries are rows
// T-n..<T, keys and values rows 0..<T, so query row i (position T-n+i) sees
// keys 0...T-n+i. A whole forward pass has n == T; a pass resumed from a
// checkpoint computes only its last rows against the checkpoint's keys.

/// The q, k and v an attention layer reads: queries of the computed
/// positions [n, H·D], keys and values of every position [T, KV·D]; query
/// head h reads key/value head h / (H / KV) (grouped-query attention).
struct AttentionInputs {
  let q: UnsafePointer<Float>
  let k: UnsafePointer<Float>
  let v: UnsafePointer<Float>
  let geometry: HeadGeometry

  var heads: Int { geometry.heads }
  var D: Int { geometry.D }
  var qStride: Int { geometry.qStride }
  var kvStride: Int { geometry.kvStride }
  func kvOffset(_ h: Int) -> Int { geometry.kvOffset(h) }
}

/// Scaled, causally masked attention scores of every head, scores[H, n, T]:
/// scores_h = q_h · k_hᵀ · scale (soft-capped where the model does), with
/// -inf where a key comes after its query or before its sliding window.
/// Computed per head and block of queries, shared out over the cores as
/// fusedCausalAttention's are, so that a pass keeping the pattern computes
/// the same products, and the same bits, as one that does not.
func attentionScores(_ scores: UnsafeMutablePointer<Float>, _ a: AttentionInputs, queries n: Int, T: Int) {
  let D = a.D, g = a.geometry
  forEachHeadAndBlock(heads: a.heads, queries: n) { h, rows in
    let head = scores + h * n * T, k = a.k + a.kvOffset(h)
    // Keys after the block's last query are masked: leave them out of the product.
    let q = a.q + rows.lowerBound * a.qStride + h * D
    gemm(
      transB: true, M: rows.count, N: T - n + rows.upperBound, K: D, alpha: g.scale, q,
      lda: a.qStride, k, ldb: a.kvStride, head + rows.lowerBound * T, ldc: T)
    for i in rows {
      let row = head + i * T, position = T - n + i, first = g.firstKey(position)
      if let cap = g.softcap { softcap(row + first, count: position - first + 1, cap: cap) }
      for j in 0..<first { row[j] = -.infinity }
      for j in (position + 1)..<max(T, position + 1) { row[j] = -.infinity }
    }
  }
}

/// Row-wise softmax of masked scores [n, T] into pattern [n, T]; only the
/// keys a row may see are read (the rest become zero).
func causalSoftmax(
  _ pattern: UnsafeMutablePointer<Float>, _ scores: UnsafePointer<Float>, queries n: Int, T: Int, _ g: HeadGeometry
) {
  for i in 0..<n {
    let position = T - n + i
    causalSoftmaxRow(pattern + i * T, scores + i * T, first: g.firstKey(position), last: position, length: T)
  }
}

/// One row: softmax over keys first...last, zero for the others up to
/// `length`; all zero when every key is masked (only possible after an
/// intervention). `p` may be `s`. The C kernel vectorises the exp.
@inline(__always)
func causalSoftmaxRow(
  _ p: UnsafeMutablePointer<Float>, _ s: UnsafePointer<Float>, first: Int = 0, last: Int, length: Int
) {
  tdb_softmax_row(p, s, first, last, length)
}

/// z[n, H·D] for every head without keeping the pattern: per head and block
/// of queries, scores, softmax and values go through one block-sized buffer
/// that stays in cache, where a [H, n, T] pattern of a long prompt would be
/// written and read back from memory three times. Used when no hook reads or
/// changes the scores or the pattern.
///
/// The (head, block) items are shared out over the cores as in
/// forEachHeadAndBlock, each worker with its own buffer.
func fusedCausalAttention(_ z: UnsafeMutablePointer<Float>, _ a: AttentionInputs, queries n: Int, T: Int) {
  let items = headAndBlockItems(heads: a.heads, queries: n)
  let capacity = causalBlocks(n)[0].count * T
  withWorkersOverBLAS(items: items.count) { next in
    let buffer = UnsafeMutablePointer<Float>.allocate(capacity: capacity)
    defer { buffer.deallocate() }
    while let i = next() {
      attentionBlock(z, a, head: items[i].head, rows: items[i].rows, queries: n, T: T, buffer: buffer)
    }
  }
}

/// One head's z for one block of queries, through `buffer` [rows, keys].
private func attentionBlock(
  _ z: UnsafeMutablePointer<Float>, _ a: AttentionInputs, head h: Int, rows: Range<Int>, queries n: Int, T: Int,
  buffer: UnsafeMutablePointer<Float>
) {
  let offset = T - n, D = a.D, g = a.geometry
  // Scores of this block's queries against the keys they can see, [rows, keys]:
  // from the first key its first query's sliding window reaches (0 without
  // one) to its last query.
  let start = g.firstKey(offset + rows.lowerBound), keys = offset + rows.upperBound - start
  let q = a.q + rows.lowerBound * a.qStride + h * D
  gemm(
    transB: true, M: rows.count, N: keys, K: D, alpha: g.scale, q, lda: a.qStride,
    a.k + start * a.kvStride + a.kvOffset(h), ldb: a.kvStride, buffer, ldc: keys)
  for i in 0..<rows.count {
    let row = buffer + i * keys, position = offset + rows.lowerBound + i
    let first = g.firstKey(position) - start, last = position - start
    if let cap = g.softcap { softcap(row + first, count: last - first + 1, cap: cap) }
    causalSoftmaxRow(row, row, first: first, last: last, length: keys)
  }
  gemm(
    M: rows.count, N: D, K: keys, buffer, lda: keys, a.v + start * a.kvStride + a.kvOffset(h), ldb: a.kvStride,
    z + rows.lowerBound * a.qStride + h * D, ldc: a.qStride)
}

/// z[n, H·D]: z_h = pattern_h[n, T] · v_h[T, D] at each head's columns, per
/// head and block of queries as attentionScores.
func attentionValues(
  _ z: UnsafeMutablePointer<Float>, pattern: UnsafePointer<Float>, _ a: AttentionInputs, queries n: Int, T: Int
) {
  forEachHeadAndBlock(heads: a.heads, queries: n) { h, rows in
    gemm(
      M: rows.count, N: a.D, K: T - n + rows.upperBound, pattern + (h * n + rows.lowerBound) * T, lda: T,
      a.v + a.kvOffset(h), ldb: a.kvStride, z + rows.lowerBound * a.qStride + h * a.D, ldc: a.qStride)
  }
}

/// Calls body(head, block of queries) for every head and causal block,
/// shared out over the cores with BLAS single-threaded (see
/// withWorkersOverBLAS): splitting one 128-row product between threads
/// costs more in hand-offs than it gains. The largest blocks (the last
/// queries see the most keys) go first, so the last items handed out are
/// the short ones and the cores finish together.
func forEachHeadAndBlock(heads: Int, queries n: Int, _ body: (_ head: Int, _ rows: Range<Int>) -> Void) {
  let items = headAndBlockItems(heads: heads, queries: n)
  withWorkersOverBLAS(items: items.count) { next in
    while let i = next() { body(items[i].head, items[i].rows) }
  }
}

/// Every (head, block of queries), the largest blocks first.
func headAndBlockItems(heads: Int, queries n: Int) -> [(head: Int, rows: Range<Int>)] {
  let blocks = causalBlocks(n)
  return blocks.indices.reversed().flatMap { b in (0..<heads).map { h in (head: h, rows: blocks[b]) } }
}

/// Query rows in blocks: each block's product stops at its last query's key,
/// so long prompts skip most of the masked half of q·kᵀ and pattern·v.
func causalBlocks(_ n: Int, size: Int = 128) -> [Range<Int>] {
  stride(from: 0, to: n, by: size).map { $0..<min($0 + size, n) }
}
