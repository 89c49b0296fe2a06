/// A token and its score, as rankings return them.
public struct ScoredToken: Sendable, Equatable {
  public let id: Int
  public let score: Float
}

/// The `k` highest (or lowest) entries of `values`, best first.
public func topK(_ values: UnsafeBufferPointer<Float>, _ k: Int, lowest: Bool = false) -> [ScoredToken] {
  let k = min(k, values.count)
  guard k > 0 else { return [] }
  // A small sorted buffer is fast for the k ≤ 100 the commands use.
  var best: [ScoredToken] = []
  best.reserveCapacity(k + 1)
  func better(_ a: Float, _ b: Float) -> Bool { lowest ? a < b : a > b }
  for (i, v) in values.enumerated() where v.isFinite || v == (lowest ? -.infinity : .infinity) {
    if best.count == k, let last = best.last, !better(v, last.score) { continue }
    var j = best.count
    while j > 0 && better(v, best[j - 1].score) { j -= 1 }
    best.insert(ScoredToken(id: i, score: v), at: j)
    if best.count > k { best.removeLast() }
  }
  return best
}

extension TransformerModel {
  /// The logit lens: each layer's residual stream at `position` read through
  /// ln_final (its own scale) and the unembedding. Row l is `blocks.l.hook_resid_pre`;
  /// the last row is the final residual stream (the model's real logits).
  public func logitLens(_ tokens: [Int], options: ForwardOptions = ForwardOptions(), position: Int, top k: Int) throws
    -> [(stream: String, tokens: [ScoredToken])]
  {
    let T = tokens.count, C = config.dModel, V = config.vocabSize
    let pos = position < 0 ? T + position : position
    guard pos >= 0 && pos < T else { throw InterventionError.positionOutOfRange(position, tokens: T) }
    var points = (0..<config.layers).map { HookPoint.block($0, .residPre) }
    points.append(.block(config.layers - 1, .residPost))
    var opts = options
    opts.cache = .points(Set(points))
    opts.logits = .none
    let run = try forward(tokens, options: opts)
    var rows: [(String, [ScoredToken])] = []
    var normed = Tensor(zeros: [1, C])
    var logits = Tensor(zeros: [1, V])
    for p in points {
      let x = run.cache[p]!.pointer + pos * C
      var mean: Float = 0, scale: Float = 0
      layerNormStatistics(
        x, mean: &mean, scale: &scale, T: 1, C: C, eps: config.normEpsilon, centered: config.norm.centered)
      layerNormApply(
        normed.mutablePointer(), x, mean: [mean], scale: [scale], weight: weights.lnfWeight.pointer,
        bias: weights.lnfBias.pointer, T: 1, C: C)
      unembedForward(logits.mutablePointer(), normed.pointer, weights.lmHead.pointer, T: 1, C: C, V: V)
      rows.append((p.name, logits.withUnsafeBufferPointer { topK($0, k) }))
    }
    return rows
  }
}
