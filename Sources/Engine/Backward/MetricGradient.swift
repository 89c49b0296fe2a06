import Foundation

/// A metric resolved against one prompt: positions made non-negative and ids checked.
struct ResolvedMetric {
  let metric: Metric
  /// The token position the logit metrics read.
  let position: Int

  init(_ metric: Metric, tokens T: Int, vocab V: Int, shape: (HookPoint) throws -> [Int]) throws {
    self.metric = metric
    func position(_ p: Int) throws -> Int {
      let resolved = p < 0 ? T + p : p
      guard resolved >= 0, resolved < T else { throw BackwardError.positionOutOfRange(p, tokens: T) }
      return resolved
    }
    func token(_ id: Int) throws {
      guard id >= 0, id < V else { throw BackwardError.tokenOutOfRange(id, vocab: V) }
    }
    switch metric {
    case .logitDifference(let p, let a, let b):
      self.position = try position(p)
      try token(a)
      try token(b)
    case .logit(let p, let a), .logProbability(let p, let a):
      self.position = try position(p)
      try token(a)
    case .loss:
      guard T >= 2 else { throw BackwardError.lossNeedsTwoTokens }
      self.position = T - 1
    case .hookValue(let p, let seed):
      let expected = try shape(p)
      guard seed.shape == expected else {
        throw BackwardError.seedShape(hook: p.name, expected: expected, found: seed.shape)
      }
      self.position = T - 1
    }
  }

  /// Where the backward pass starts: the seeded hook, or ln_final's output for the logit metrics.
  var start: HookPoint {
    if case .hookValue(let p, _) = metric { return p }
    return HookPoint(.lnFinalNormalized)
  }
}

extension TransformerModel {
  /// The metric's value and d metric / d (value flowing from ln_final.hook_normalized),
  /// nil for a `hookValue` metric (its seed enters at its own hook instead).
  func evaluate(_ m: ResolvedMetric, tokens: [Int], result: ForwardResult, tape: ForwardTape) -> (
    value: Double, gradient: Tensor?
  ) {
    let T = tokens.count, C = config.dModel, V = config.vocabSize, p = m.position
    let E = weights.lmHead.pointer  // [V, C]
    func logitsRow() -> [Float] {
      if result.logits.shape[0] == T { return result.logits.row(p).scalars }
      if result.logits.shape[0] == 1, p == T - 1 { return result.logits.row(0).scalars }
      var row = Tensor(zeros: [1, V])
      unembedForward(
        row.mutablePointer(), tape.flowingValue(HookPoint(.lnFinalNormalized)).pointer + p * C, E, T: 1, C: C, V: V)
      softcapLogits(&row)
      return row.scalars
    }
    // d logit / d (logit before the final soft-cap): 1 - (logit / cap)², or 1 without one.
    func capSlope(_ logit: Float) -> Float {
      guard let cap = config.finalSoftcap else { return 1 }
      return 1 - (logit / cap) * (logit / cap)
    }
    // Only row p of the gradient is nonzero for the single-position metrics.
    func gradientAtRow(_ fill: (UnsafeMutablePointer<Float>) -> Void) -> Tensor {
      var g = Tensor(zeros: [T, C])
      fill(g.mutablePointer() + p * C)
      return g
    }
    switch m.metric {
    case .logitDifference(_, let a, let b):
      let row = logitsRow()
      let ka = capSlope(row[a]), kb = capSlope(row[b])
      return (
        Double(row[a]) - Double(row[b]),
        gradientAtRow { g in for i in 0..<C { g[i] = ka * E[a * C + i] - kb * E[b * C + i] } }
      )
    case .logit(_, let a):
      let row = logitsRow(), k = capSlope(row[a])
      return (Double(row[a]), gradientAtRow { g in for i in 0..<C { g[i] = k * E[a * C + i] } })
    case .logProbability(_, let a):
      let row = logitsRow()
      var probs = row
      let logit = probs[a]
      let value = Double(logit) - softmaxInPlace(&probs)
      // d/dlogits = onehot(a) - softmax, so the row is E[a] - softmaxᵀ E
      // (each entry times its soft-cap slope).
      var weights = probs.enumerated().map { j, q in -q * capSlope(row[j]) }
      weights[a] += capSlope(row[a])
      return (
        value,
        gradientAtRow { g in gemm(M: 1, N: C, K: V, weights, lda: V, E, ldb: C, g, ldc: C) }
      )
    case .loss:
      return lossGradient(tokens, result: result, tape: tape)
    case .hookValue(let h, let seed):
      let v = tape.value(h)
      var total: Double = 0
      // Entries outside the seed do not count, so masked scores (-inf) can sit there.
      seed.withUnsafeBufferPointer { a in
        v.withUnsafeBufferPointer { b in for i in 0..<a.count where a[i] != 0 { total += Double(a[i]) * Double(b[i]) } }
      }
      return (total, nil)
    }
  }

  /// Mean next-token cross-entropy and its gradient at ln_final's output:
  /// dlogits[t] = (softmax(logits[t]) - onehot(tokens[t+1])) / (T - 1), row T-1 zero.
  private func lossGradient(_ tokens: [Int], result: ForwardResult, tape: ForwardTape) -> (Double, Tensor) {
    let T = tokens.count, C = config.dModel, V = config.vocabSize, n = T - 1
    var logits: Tensor
    if result.logits.shape[0] == T {
      logits = result.logits
    } else {
      logits = Tensor(zeros: [T, V])
      unembedForward(
        logits.mutablePointer(), tape.flowingValue(HookPoint(.lnFinalNormalized)).pointer, weights.lmHead, T: T,
        C: C, V: V)
      softcapLogits(&logits)
    }
    let cap = config.finalSoftcap
    // Overwritten row by row with dlogits (a copy if the logits are the result's).
    let d = logits.mutablePointer()
    var losses = [Double](repeating: 0, count: n)
    losses.withUnsafeMutableBufferPointer { lp in
      let lossPointer = lp.baseAddress!
      parallelChunks(n, minimumChunk: 8) { rows in
        for t in rows {
          let row = d + t * V, next = tokens[t + 1], target = row[next]
          // The soft-capped logits, kept for the soft-cap's own derivative below.
          let capped = cap == nil ? [] : Array(UnsafeBufferPointer(start: row, count: V))
          var m = -Float.infinity
          for j in 0..<V where row[j] > m { m = row[j] }
          var s: Double = 0
          for j in 0..<V {
            let e = expf(row[j] - m)
            row[j] = e
            s += Double(e)
          }
          lossPointer[t] = log(s) + Double(m) - Double(target)
          let k = Float(1 / s) / Float(n)
          for j in 0..<V { row[j] *= k }
          row[next] -= 1 / Float(n)
          if let cap {
            for j in 0..<V {
              let u = capped[j] / cap
              row[j] *= 1 - u * u
            }
          }
        }
      }
    }
    var g = Tensor(zeros: [T, C])
    unembedBackward(g.mutablePointer(), d, weights.lmHead.pointer, T: n, C: C, V: V)
    return (losses.reduce(0, +) / Double(n), g)
  }
}

/// Replaces `x` by softmax(x); returns logsumexp(x).
@discardableResult
func softmaxInPlace(_ x: inout [Float]) -> Double {
  let m = x.max() ?? 0
  var s: Double = 0
  for j in x.indices {
    x[j] = expf(x[j] - m)
    s += Double(x[j])
  }
  let inv = Float(1 / s)
  for j in x.indices { x[j] *= inv }
  return log(s) + Double(m)
}
