extension TransformerModel {
  /// One forward pass (with `forward`'s interventions, SAE splices, cache and
  /// logits requests) and one backward pass: the metric's value and its
  /// gradient with respect to every hook value `backward.wanted` asks for.
  ///
  /// The backward pass differentiates the forward pass as run, interventions
  /// included: see `InterventionGradient` for how a rewritten hook passes the
  /// gradient, and `SAEBackward.swift` for spliced SAEs (the error term is a
  /// constant, as in SAELens). LayerNorm scales are differentiated through
  /// unless `backward` detaches them. The logit metrics compute the logits
  /// they need themselves, so `forward.logits` can be `.last` or `.none` when
  /// the caller has no use for the full [T, V] logits.
  public func gradients(
    _ tokens: [Int], metric: Metric, forward: ForwardOptions = ForwardOptions(),
    backward: BackwardOptions = BackwardOptions()
  ) throws -> GradientResult {
    let c = config, T = tokens.count
    guard T > 0 else { throw ModelError.emptyPrompt }
    guard T <= c.context else { throw ModelError.promptTooLong(tokens: T, context: c.context) }

    var saeAt: [HookPoint: SAESplice] = [:]
    for s in forward.saes {
      saeAt[s.sae.hook] = s
      // [T, H, D] hooks (hook_z) are read flattened; BackwardPass.visit restores the shape.
      guard s.sae.hook.saeInputWidth(config: c) != nil else {
        throw BackwardError.unsupportedSplice(s.sae.hook.name)
      }
    }
    func shape(_ p: HookPoint) throws -> [Int] {
      try validate(p)
      guard p.sae == nil || saeAt[p.base] != nil else { throw BackwardError.notSpliced(p.name, hook: p.base.name) }
      let sae = saeAt[p.base]?.sae
      return p.shape(config: c, tokens: T, saeWidth: sae?.dSAE, saeInput: sae?.dIn)
    }
    let resolved = try ResolvedMetric(metric, tokens: T, vocab: c.vocabSize, shape: shape)
    for i in backward.gradientInterventions { _ = try shape(i.hook) }

    // Gradient interventions can start the backward pass above the metric's hook.
    let starts = [resolved.start] + backward.gradientInterventions.map(\.hook)
    let metricHook: HookPoint? = { if case .hookValue(let p, _) = metric { return p } else { return nil } }()
    let blocked = blockedAttentionLayers(forward: forward, backward: backward, saeAt: saeAt, metricHook: metricHook)
    let plan = ForwardTape.Plan(
      config: c, reaching: starts, interventions: forward.interventions, saeAt: saeAt, metricHook: metricHook,
      blockedAttention: blocked)
    let lastPositionOnly = readsLastBlockAtLastPositionOnly(
      resolved, tokens: T, forward: forward, backward: backward, saeAt: saeAt)
    let tape = ForwardTape(lastPositionOnlyIn: lastPositionOnly ? c.layers - 1 : nil, tokens: T)
    var options = forward
    options.interventions = tape.instrument(forward.interventions, plan: plan, saeAt: saeAt)
    options.lastBlockAtLastPositionOnly = lastPositionOnly
    if c.qkNorm { options.observeHeadNormInputs = { [tape] l, q, k in tape.keepHeadNormInputs(layer: l, q: q, k: k) } }
    let result = try self.forward(tokens, options: options)

    let (value, gFinal) = evaluate(resolved, tokens: tokens, result: result, tape: tape)
    var seed: (HookPoint, Tensor)? = nil
    if case .hookValue(let p, let s) = metric { seed = (p, s) }
    var pass = BackwardPass(
      model: self, tape: tape, tokens: T, options: backward, saeAt: saeAt, seed: seed, blockedAttention: blocked)
    try pass.run(gFinal)
    return GradientResult(result: result, metricValue: Float(value), gradients: pass.gradients)
  }

  /// Whether the last block past its keys and values, and ln_final, matter
  /// only at the last position: true for a metric of the last position's
  /// logits (a logit metric there, or a seed at ln_final's output that is
  /// zero elsewhere, which is how `grad` and `attribute` state logit
  /// combinations) when nothing there is intervened on, spliced, cached or
  /// returned, in the forward or the backward pass. The forward pass then
  /// runs that block's MLP and output projection on one row instead of T (a
  /// 128-token GPT-2 gradient does about 4% fewer FLOPs), as `predict` does.
  func readsLastBlockAtLastPositionOnly(
    _ metric: ResolvedMetric, tokens T: Int, forward: ForwardOptions, backward: BackwardOptions,
    saeAt: [HookPoint: SAESplice]
  ) -> Bool {
    switch metric.metric {
    case .logitDifference, .logit, .logProbability:
      guard metric.position == T - 1 else { return false }
    case .hookValue(let p, let seed):
      guard p == HookPoint(.lnFinalNormalized), seed.shape.first == T else { return false }
      let earlierRows = UnsafeBufferPointer(start: seed.pointer, count: (T - 1) * (seed.count / T))
      guard earlierRows.allSatisfy({ $0 == 0 }) else { return false }
    case .loss:
      return false
    }
    guard T > 1, forward.logits != .all, !forward.keepCheckpoint, forward.resume == nil
    else { return false }
    let last = config.layers - 1
    let touched = forward.interventions.map(\.hook) + backward.gradientInterventions.map(\.hook) + Array(saeAt.keys)
    if touched.contains(where: { $0.isIn(blockOrFinalNorm: last) }) { return false }
    return !HookPoint.blockAndFinalNorm(last).contains { backward.returns($0) || forward.cache.includes($0) }
  }

  /// Layers where no hook reads or rewrites the attention pattern or scores,
  /// in the forward pass or in the backward pass (no intervention, SAE, seed
  /// or gradient asked for there): their attention is differentiated in
  /// blocks from q, k and v (fusedCausalAttentionBackward), and neither the
  /// [H, T, T] pattern nor its gradient is ever held — at 4096 tokens that is
  /// 600 MB per layer of a 9-head model.
  func blockedAttentionLayers(
    forward: ForwardOptions, backward: BackwardOptions, saeAt: [HookPoint: SAESplice], metricHook: HookPoint?
  ) -> Set<Int> {
    var touched = Set(forward.interventions.map(\.hook)).union(backward.gradientInterventions.map(\.hook))
    touched.formUnion(saeAt.keys)
    if let metricHook { touched.insert(metricHook) }
    return Set(
      (0..<config.layers).filter { l in
        [HookPoint.block(l, .pattern), .block(l, .attnScores)].allSatisfy {
          !touched.contains($0) && !backward.returns($0)
        }
      })
  }
}
