/// What a node table attributes: TDB's direction of interest (a logit
/// difference), or one node's own pre-activation, so that a circuit can be
/// walked upstream one hop at a time. Positions may be negative (from the end).
public enum AttributionMetric: Sendable {
  /// logits[position, target] - logits[position, distractor].
  case logitDifference(position: Int, target: Int, distractor: Int)
  /// A neuron's pre-activation (mlp.hook_pre) at a token.
  case neuron(layer: Int, index: Int, position: Int)
  /// A head's attention score (hook_attn_scores, scaled by 1/√d_head) at a
  /// (query, key) pair, through the query side, the key side or both.
  case attentionScore(layer: Int, head: Int, query: Int, key: Int, through: AttentionSide)
  /// A head's write at a (query, key) pair, pattern · v_key W_O, projected on
  /// the direction of interest at the query (the logit difference's gradient
  /// at the final residual stream, ln_final's scale detached), through the
  /// value side only: the pattern is held fixed. It equals that pair's direct
  /// effect in the logit-difference node table.
  case headWrite(layer: Int, head: Int, query: Int, key: Int, target: Int, distractor: Int)
  /// An SAE latent's activation at a token (it must be active: ReLU and TopK
  /// pass no gradient through an inactive latent). The SAE is spliced with
  /// its error term, so the forward pass is unchanged.
  case latent(SparseAutoencoder, index: Int, position: Int)
}

/// Which side of an attention score a trace goes through.
public enum AttentionSide: String, Sendable, CaseIterable {
  case query = "q", key = "k", both = "qk"
}

/// Errors setting up an attribution; one line each.
public enum AttributionError: Error, CustomStringConvertible, Equatable {
  case noSuchUnit(String)
  case keyAfterQuery(key: Int, query: Int)
  case inactiveLatent(String, position: Int)
  case otherSAESpliced(String, hook: String, spliced: String)
  case lengthMismatch(clean: Int, corrupt: Int)

  public var description: String {
    switch self {
    case .noSuchUnit(let why): why
    case .keyAfterQuery(let k, let q):
      "key position \(k) comes after query position \(q); a head attends only to earlier tokens (key ≤ query)"
    case .inactiveLatent(let name, let p):
      "\(name) is not active at position \(p), so no gradient reaches it; trace an active latent (latents RUN SAE --pos \(p))"
    case .otherSAESpliced(let name, let hook, let spliced):
      "\(name): the run splices another SAE (\(spliced)) at \(hook)"
    case .lengthMismatch(let a, let b):
      "the clean run has \(a) tokens and the corrupt run \(b); use prompts of the same length"
    }
  }
}

/// How the node table's metric reads the residual stream, for direct effects:
/// a node's direct effect is its write dotted with the metric's gradient at
/// the place it reads, with that read's LayerNorm scale detached.
enum AttributionRead {
  /// The residual stream at `slot` read through a LayerNorm: the direct
  /// gradient is centre(g ⊙ weight) / scale for g the gradient at its
  /// normalised output.
  case layerNorm(normalized: HookPoint, scale: HookPoint, weight: Tensor, slot: Int)
  /// The residual stream at `slot` read as is (an SAE on a residual hook);
  /// the direct gradient is the gradient at `gradientAt`.
  case residual(gradientAt: HookPoint, slot: Int)
  /// Layer `layer`'s MLP activations read as is (an SAE on mlp.hook_post):
  /// only that layer's neurons write there.
  case neurons(layer: Int, gradientAt: HookPoint)
  /// The metric reads something no node writes linearly: no direct effects.
  case none
}

/// A metric made concrete for one prompt: what to differentiate, how, and
/// which nodes sit upstream of it.
struct AttributionSetup {
  var metric: Metric
  var forward: ForwardOptions
  var gradientInterventions: [Intervention] = []
  var read: AttributionRead
  /// Nodes whose activation comes before this hook (forward order) are upstream.
  var metricHook: HookPoint
  /// A traced latent's SAE: its other latents run in parallel, not upstream.
  var metricSAE: SparseAutoencoder? = nil

  /// Whether the value at `p` can reach the metric: it comes before the
  /// metric's hook, and is not in the attention half of a block whose MLP
  /// half the metric reads when the two run in parallel.
  func isUpstream(_ p: HookPoint, config c: ModelConfig) -> Bool {
    guard p < metricHook else { return false }
    guard c.parallelResidual, p.layer != nil, p.layer == metricHook.layer else { return true }
    return !(p.site.isAttention && metricHook.site.isMLP)
  }
}

extension HookPoint.Site {
  /// From ln1 to attention's output.
  fileprivate var isAttention: Bool {
    [.ln1Scale, .ln1Normalized, .q, .k, .v, .rotQ, .rotK, .attnScores, .pattern, .z, .attnOut].contains(self)
  }
  /// From ln2 to the MLP's output.
  fileprivate var isMLP: Bool { [.ln2Scale, .ln2Normalized, .mlpPre, .mlpPreLinear, .mlpPost, .mlpOut].contains(self) }
}

/// The residual stream as a sequence of slots: resid_pre of block l is 2l,
/// its resid_mid 2l + 1, its resid_post 2l + 2 (= the next resid_pre).
/// Something written into the stream at slot s is read by every read at a
/// slot ≥ s. With attention and MLP in parallel, attention still writes at
/// 2l + 1 and ln2 reads at 2l, so the MLP does not see its own block's heads.
func residualSlot(_ p: HookPoint, layers: Int) -> Int? {
  switch p.site {
  case .embed, .posEmbed: return 0
  case .residPre: return 2 * p.layer!
  case .residMid, .attnOut: return 2 * p.layer! + 1
  case .residPost, .mlpOut, .mlpPost: return 2 * p.layer! + 2
  case .lnFinalScale, .lnFinalNormalized: return 2 * layers
  default: return nil
  }
}

extension TransformerModel {
  /// Positions made absolute for a prompt of `T` tokens.
  func absolutePosition(_ p: Int, tokens T: Int) throws -> Int {
    let q = p < 0 ? T + p : p
    guard q >= 0 && q < T else { throw InterventionError.positionOutOfRange(p, tokens: T) }
    return q
  }

  func checkUnit(layer l: Int, index i: Int, count n: Int, what: String, name: String) throws {
    guard l >= 0 && l < config.layers else {
      throw AttributionError.noSuchUnit("\(name): the model has \(config.layers) layers (0...\(config.layers - 1))")
    }
    guard i >= 0 && i < n else {
      throw AttributionError.noSuchUnit("\(name): the model has \(n) \(what) (0...\(n - 1))")
    }
  }

  func checkToken(_ id: Int) throws {
    guard id >= 0 && id < config.vocabSize else { throw ModelError.tokenOutOfRange(id, vocab: config.vocabSize) }
  }

  /// The metric, options and read for `metric` on a prompt of `tokens`
  /// (run with `options`).
  func attributionSetup(_ metric: AttributionMetric, tokens: [Int], options: ForwardOptions) throws -> AttributionSetup
  {
    let c = config, T = tokens.count, L = c.layers, H = c.heads, D = c.dHead, C = c.dModel
    func ln1(_ l: Int) -> AttributionRead {
      .layerNorm(
        normalized: .block(l, .ln1Normalized), scale: .block(l, .ln1Scale), weight: weights.blocks[l].ln1Weight,
        slot: 2 * l)
    }
    switch metric {
    case .logitDifference(let p, let target, let distractor):
      let p = try absolutePosition(p, tokens: T)
      try checkToken(target)
      try checkToken(distractor)
      // As a seed at ln_final's output rather than Metric.logitDifference, whose
      // value computes the whole row of logits: the same gradient, no unembedding
      // (unless a final soft-cap makes the logits nonlinear in that output).
      let seed =
        c.finalSoftcap != nil
        ? Metric.logitDifference(position: p, target: target, distractor: distractor)
        : try LogitCombination.logitDifference(position: p, target: target, distractor: distractor).metric(
          model: self, tokens: T)
      return AttributionSetup(
        metric: seed, forward: options,
        read: .layerNorm(
          normalized: HookPoint(.lnFinalNormalized), scale: HookPoint(.lnFinalScale), weight: weights.lnfWeight,
          slot: 2 * L),
        metricHook: HookPoint(.lnFinalNormalized))

    case .neuron(let l, let n, let p):
      try checkUnit(layer: l, index: n, count: c.dMLP, what: "neurons per layer", name: "L\(l)N\(n)")
      let t = try absolutePosition(p, tokens: T)
      var seed = Tensor(zeros: [T, c.dMLP])
      seed[t, n] = 1
      // ln2 reads resid_mid, or resid_pre when attention and MLP run in parallel.
      return AttributionSetup(
        metric: .hookValue(.block(l, .mlpPre), seed: seed), forward: options,
        read: .layerNorm(
          normalized: .block(l, .ln2Normalized), scale: .block(l, .ln2Scale), weight: weights.blocks[l].ln2Weight,
          slot: c.parallelResidual ? 2 * l : 2 * l + 1),
        metricHook: .block(l, .mlpPre))

    case .attentionScore(let l, let h, let q, let k, let side):
      try checkUnit(layer: l, index: h, count: H, what: "heads", name: "L\(l)H\(h)")
      let (q, k) = (try absolutePosition(q, tokens: T), try absolutePosition(k, tokens: T))
      guard k <= q else { throw AttributionError.keyAfterQuery(key: k, query: q) }
      var seed = Tensor(zeros: [H, T, T])
      seed[h, q, k] = 1
      // One side only: the other side's gradient is cut where it leaves the score.
      var cut: [Intervention] = []
      if side != .both {
        let other: HookPoint = .block(l, side == .query ? .k : .q)
        cut.append(
          Intervention(hook: other, label: "trace --through \(side.rawValue): no gradient through \(other.name)") {
            g, _ in
            g = Tensor(zeros: g.shape)
          })
      }
      return AttributionSetup(
        metric: .hookValue(.block(l, .attnScores), seed: seed), forward: options, gradientInterventions: cut,
        read: ln1(l),
        metricHook: .block(l, .attnScores))

    case .headWrite(let l, let h, let q, let k, let target, let distractor):
      try checkUnit(layer: l, index: h, count: H, what: "heads", name: "L\(l)H\(h)")
      try checkToken(target)
      try checkToken(distractor)
      let (q, k) = (try absolutePosition(q, tokens: T), try absolutePosition(k, tokens: T))
      guard k <= q else { throw AttributionError.keyAfterQuery(key: k, query: q) }
      // The pattern weight and ln_final's scale at the query are constants of
      // this metric: one forward pass reads them.
      var o = options
      o.cache = .points([.block(l, .pattern), HookPoint(.lnFinalScale), .block(l, .ln1PostScale)])
      o.logits = .none
      let run = try forward(tokens, options: o)
      let weight = run.cache[.block(l, .pattern)]![h, q, k]
      var direction = logitDirection(
        target: target, distractor: distractor, scale: run.cache[HookPoint(.lnFinalScale)]![q, 0])
      if let post = PostNorm(weights.blocks[l].ln1PostWeight, run.cache[.block(l, .ln1PostScale)]) {
        // Through the post-norm, its scale frozen at the query.
        for i in 0..<C { direction[i] *= post.factor(q, i) }
      }
      // seed[k, g, :] = weight · W_O_h d (g the key/value head h reads), so
      // Σ seed ⊙ v = weight · (v_k W_O_h) · d.
      var seed = Tensor(zeros: [T, c.kvHeads, D])
      let g = c.kvHead(of: h)
      let wo = weights.blocks[l].attnProjWeight.pointer
      for j in 0..<D {
        var s: Float = 0
        for i in 0..<C { s += wo[(h * D + j) * C + i] * direction[i] }
        seed[k, g, j] = weight * s
      }
      return AttributionSetup(
        metric: .hookValue(.block(l, .v), seed: seed), forward: options, read: ln1(l), metricHook: .block(l, .v))

    case .latent(let sae, let f, let p):
      let name = "\(sae.name).F\(f)"
      guard f >= 0 && f < sae.dSAE else {
        throw AttributionError.noSuchUnit("\(name): the SAE has \(sae.dSAE) latents (0...\(sae.dSAE - 1))")
      }
      try validate(sae.hook)
      let t = try absolutePosition(p, tokens: T)
      var o = options
      if let other = o.saes.first(where: { $0.sae.hook == sae.hook }) {
        guard other.sae === sae else {
          throw AttributionError.otherSAESpliced(name, hook: sae.hook.name, spliced: other.sae.name)
        }
      } else {
        o.saes.append(SAESplice(sae, keepError: true))
      }
      let site = { (s: HookPoint.SAESite) in HookPoint(sae.hook.site, layer: sae.hook.layer, sae: s) }
      var seed = Tensor(zeros: [T, sae.dSAE])
      seed[t, f] = 1
      let read: AttributionRead
      switch sae.hook.site {
      case .residPre, .residMid, .residPost, .embed, .posEmbed:
        read = .residual(gradientAt: site(.input), slot: residualSlot(sae.hook, layers: L)!)
      case .mlpPost:
        read = .neurons(layer: sae.hook.layer!, gradientAt: site(.input))
      default:
        read = .none
      }
      return AttributionSetup(
        metric: .hookValue(site(.actsPost), seed: seed), forward: o, read: read, metricHook: site(.actsPost),
        metricSAE: sae)
    }
  }
}
