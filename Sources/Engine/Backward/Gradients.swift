import Foundation

extension GPT2Model {
  /// One forward pass (with `forward`'s interventions, SAE splices and cache
  /// request) and one backward pass: the metric's value and its gradient with
  /// respect to every hook value `backward.wanted` asks for.
  ///
  /// The backward pass differentiates the forward pass as run, interventions
  /// included: see `InterventionGradient` for how a rewritten hook passes the
  /// gradient, and `SAEBackward.swift` for spliced SAEs (the error term is a
  /// constant, as in SAELens). LayerNorm scales are differentiated through
  /// unless `backward` detaches them.
  public func gradients(
    _ tokens: [Int], metric: Metric, forward: ForwardOptions = ForwardOptions(), backward: BackwardOptions = BackwardOptions()
  ) throws -> GradientResult {
    let c = config, T = tokens.count, L = c.layers, C = c.dModel, V = c.vocabSize
    guard T > 0 else { throw ModelError.emptyPrompt }
    guard T <= c.context else { throw ModelError.promptTooLong(tokens: T, context: c.context) }

    var saeAt: [HookPoint: SAESplice] = [:]
    for s in forward.saes {
      saeAt[s.sae.hook] = s
      guard s.sae.hook.shape(config: c, tokens: 1).count == 2 else { throw BackwardError.unsupportedSplice(s.sae.hook.name) }
    }
    func check(_ p: HookPoint) throws {
      try validate(p)
      if p.sae != nil, saeAt[p.base] == nil { throw BackwardError.notSpliced(p.name, hook: p.base.name) }
    }
    func position(_ p: Int) throws -> Int {
      let resolved = p < 0 ? T + p : p
      guard resolved >= 0, resolved < T else { throw BackwardError.positionOutOfRange(p, tokens: T) }
      return resolved
    }
    func token(_ id: Int) throws -> Int {
      guard id >= 0, id < V else { throw BackwardError.tokenOutOfRange(id, vocab: V) }
      return id
    }
    func shape(_ p: HookPoint) -> [Int] {
      let sae = saeAt[p.base]?.sae
      return p.shape(config: c, tokens: T, saeWidth: sae?.dSAE, saeInput: sae?.dIn)
    }

    // Where the backward pass starts: the metric's hook, or ln_final for the
    // logit metrics; gradient interventions can start it higher.
    var starts: [HookPoint] = backward.gradientInterventions.map(\.hook)
    switch metric {
    case .logitDifference(let p, let a, let b):
      _ = try (position(p), token(a), token(b))
      starts.append(HookPoint(.lnFinalNormalized))
    case .logit(let p, let a), .logProbability(let p, let a):
      _ = try (position(p), token(a))
      starts.append(HookPoint(.lnFinalNormalized))
    case .loss:
      guard T >= 2 else { throw BackwardError.lossNeedsTwoTokens }
      starts.append(HookPoint(.lnFinalNormalized))
    case .hookValue(let p, let seed):
      try check(p)
      guard seed.shape == shape(p) else { throw BackwardError.seedShape(hook: p.name, expected: shape(p), found: seed.shape) }
      starts.append(p)
    }
    for p in backward.gradientInterventions.map(\.hook) { try check(p) }
    // Blocks 0 ..< reach (and ln_final when reach > L - 1) need recording.
    func depth(_ p: HookPoint) -> Int {
      switch p.site {
      case .embed, .posEmbed: -1
      case .lnFinalScale, .lnFinalNormalized: L
      default: p.layer!
      }
    }
    let top = starts.map(depth).max() ?? -1

    // Record what the backward pass reads.
    let intervened = Set(forward.interventions.map(\.hook))
    var flowingAt = Set<HookPoint>(), valuesAt = Set<HookPoint>(), beforeAt = Set<HookPoint>()
    for l in 0..<max(0, min(top + 1, L)) {
      for s: HookPoint.Site in [.residPre, .ln1Scale, .q, .k, .v, .pattern, .residMid, .ln2Scale, .mlpPre] {
        flowingAt.insert(.block(l, s))
      }
      if intervened.contains(.block(l, .pattern)) { beforeAt.insert(.block(l, .pattern)) }
    }
    if top >= L {
      flowingAt.formUnion([.block(L - 1, .residPost), HookPoint(.lnFinalScale), HookPoint(.lnFinalNormalized)])
    }
    for (p, s) in saeAt where depth(p) <= top {
      valuesAt.insert(HookPoint(p.site, layer: p.layer, sae: .input))
      beforeAt.insert(HookPoint(p.site, layer: p.layer, sae: .actsPost))
      if s.sae.normalization != .none { beforeAt.insert(HookPoint(p.site, layer: p.layer, sae: .recons)) }
    }
    if case .hookValue(let p, _) = metric { valuesAt.insert(p) }

    let tape = ForwardTape()
    var options = forward
    options.interventions = tape.instrument(
      forward.interventions, valuesAt: valuesAt, flowingAt: flowingAt, beforeAt: beforeAt, saeAt: saeAt)
    let result = try self.forward(tokens, options: options)

    // The metric's value and d metric / d (value flowing from ln_final.hook_normalized).
    var value: Double = 0
    var gFinal: Tensor? = nil
    var seed: (HookPoint, Tensor)? = nil
    let E = weights.lmHead.pointer
    func logitsRow(_ p: Int) -> [Float] {
      if result.logits.shape[0] == T { return result.logits.row(p).scalars }
      if result.logits.shape[0] == 1, p == T - 1 { return result.logits.row(0).scalars }
      var row = Tensor(zeros: [1, V])
      unembedForward(row.mutablePointer(), tape.flowingValue(HookPoint(.lnFinalNormalized)).pointer + p * C, E, T: 1, C: C, V: V)
      return row.scalars
    }
    func finalGradient(row p: Int, _ fill: (UnsafeMutablePointer<Float>) -> Void) -> Tensor {
      var g = Tensor(zeros: [T, C])
      fill(g.mutablePointer() + p * C)
      return g
    }
    switch metric {
    case .logitDifference(let p, let a, let b):
      let p = try position(p), row = logitsRow(p)
      value = Double(row[a]) - Double(row[b])
      gFinal = finalGradient(row: p) { g in for i in 0..<C { g[i] = E[a * C + i] - E[b * C + i] } }
    case .logit(let p, let a):
      let p = try position(p), row = logitsRow(p)
      value = Double(row[a])
      gFinal = finalGradient(row: p) { g in g.update(from: E + a * C, count: C) }
    case .logProbability(let p, let a):
      let p = try position(p)
      var probs = logitsRow(p)
      let logit = probs[a]
      value = Double(logit) - softmaxInPlace(&probs)
      // d/dlogits = onehot(a) - softmax, so the row is E[a] - softmaxᵀ E.
      gFinal = finalGradient(row: p) { g in
        gemm(M: 1, N: C, K: V, alpha: -1, probs, lda: V, E, ldb: C, g, ldc: C)
        for i in 0..<C { g[i] += E[a * C + i] }
      }
    case .loss:
      (value, gFinal) = lossGradient(tokens, result: result, tape: tape)
    case .hookValue(let p, let s):
      let v = tape.value(p)
      var total: Double = 0
      // Entries outside the seed do not count, so masked scores (-inf) can sit there.
      s.withUnsafeBufferPointer { a in
        v.withUnsafeBufferPointer { b in for i in 0..<a.count where a[i] != 0 { total += Double(a[i]) * Double(b[i]) } }
      }
      value = total
      seed = (p, s)
    }

    var pass = BackwardPass(model: self, tape: tape, tokens: T, options: backward, saeAt: saeAt, seed: seed)
    try pass.run(gFinal)
    return GradientResult(result: result, metricValue: Float(value), gradients: pass.gradients)
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
      unembedForward(logits.mutablePointer(), tape.flowingValue(HookPoint(.lnFinalNormalized)).pointer, weights.lmHead.pointer, T: T, C: C, V: V)
    }
    // Overwritten row by row with dlogits (a copy if the logits are the result's).
    let d = logits.mutablePointer()
    var losses = [Double](repeating: 0, count: n)
    losses.withUnsafeMutableBufferPointer { lp in
      let lossPointer = lp.baseAddress!
      parallelChunks(n, minimumChunk: 8) { rows in
        for t in rows {
          let row = d + t * V, next = tokens[t + 1], target = row[next]
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
