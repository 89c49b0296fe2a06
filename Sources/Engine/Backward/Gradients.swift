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
    let tape = ForwardTape()
    var options = forward
    options.interventions = tape.instrument(forward.interventions, plan: plan, saeAt: saeAt)
    let result = try self.forward(tokens, options: options)

    let (value, gFinal) = evaluate(resolved, tokens: tokens, result: result, tape: tape)
    var seed: (HookPoint, Tensor)? = nil
    if case .hookValue(let p, let s) = metric { seed = (p, s) }
    var pass = BackwardPass(
      model: self, tape: tape, tokens: T, options: backward, saeAt: saeAt, seed: seed, blockedAttention: blocked)
    try pass.run(gFinal)
    return GradientResult(result: result, metricValue: Float(value), gradients: pass.gradients)
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
