/// One backward pass over a recorded forward pass (llm.c's gpt2_backward for
/// activations only): walks from the logits, or from a seeded hook, down to
/// the embeddings, visiting every hook point in reverse forward order.
///
/// A gradient is `nil` while it is known to be zero (above the seeded hook),
/// so no work is done there and only the returned gradients are materialised
/// as zeros; below that, each step works only on the tokens where its
/// incoming gradient is nonzero (`nonzeroRows`).
struct BackwardPass {
  let model: TransformerModel
  let tape: ForwardTape
  let T: Int
  let options: BackwardOptions
  let saeAt: [HookPoint: SAESplice]
  /// The `hookValue` metric's seed: injected as the gradient at its hook.
  let seed: (point: HookPoint, value: Tensor)?
  let gradientInterventions: [HookPoint: [Intervention]]
  /// The returned gradients.
  var gradients: [HookPoint: Tensor] = [:]
  /// Rotary angles of every position, per layer (rotary models), for every
  /// block's inverse rotation.
  let rotations: LayerRotations
  /// Layers whose attention is differentiated in blocks, without its pattern
  /// (see `blockedAttentionLayers`).
  let blockedAttention: Set<Int>

  init(
    model: TransformerModel, tape: ForwardTape, tokens T: Int, options: BackwardOptions, saeAt: [HookPoint: SAESplice],
    seed: (HookPoint, Tensor)?, blockedAttention: Set<Int>
  ) {
    self.blockedAttention = blockedAttention
    self.model = model
    self.tape = tape
    self.T = T
    self.options = options
    self.saeAt = saeAt
    self.seed = seed.map { (point: $0.0, value: $0.1) }
    gradientInterventions = Dictionary(grouping: options.gradientInterventions, by: \.hook)
    rotations = LayerRotations(model.config, positions: 0..<T)
  }

  func shape(_ p: HookPoint) -> [Int] {
    let sae = saeAt[p.base]?.sae
    return p.shape(config: model.config, tokens: T, saeWidth: sae?.dSAE, saeInput: sae?.dIn)
  }

  func wants(_ p: HookPoint) -> Bool { options.returns(p) }

  /// The gradient at hook `p`. Given d metric / d (the value flowing on from
  /// p), returns d metric / d (the value arriving at p): back through an SAE
  /// spliced at p, then the seed is added, gradient interventions run, the
  /// gradient is kept if wanted, and p's forward interventions are crossed.
  mutating func visit(_ p: HookPoint, _ flowing: Tensor?) throws -> Tensor? {
    var g = flowing
    if p.sae == nil, let splice = saeAt[p] {
      // [T, d_in] from the SAE; hook_z's gradient is [T, H, D] again.
      g = try saeBackward(splice, at: p, g).map { $0.reshaped(shape(p)) }
    }
    if let seed, seed.point == p { g = g.map { sum($0, seed.value) } ?? seed.value }
    if let list = gradientInterventions[p] {
      var value = g ?? Tensor(zeros: shape(p))
      for i in list {
        let before = value.shape
        try i.apply(&value, T)
        guard value.shape == before else {
          throw BackwardError.gradientShapeChanged(label: i.label, hook: p.name, from: before, to: value.shape)
        }
      }
      g = value
    }
    if wants(p) { gradients[p] = g ?? Tensor(zeros: shape(p)) }
    if var crossing = g, options.throughInterventions == .untouchedEntries, let untouched = tape.untouched[p] {
      let d = crossing.mutablePointer()
      for i in 0..<untouched.count where !untouched[i] { d[i] = 0 }
      g = crossing
    }
    return g
  }

  /// Backward through the final LayerNorm and every block; `gLogitsInput` is
  /// d metric / d (the value flowing from ln_final.hook_normalized), nil for a
  /// `hookValue` metric.
  mutating func run(_ gLogitsInput: Tensor?) throws {
    let c = model.config, w = model.weights, tape = self.tape
    var g = try visit(HookPoint(.lnFinalNormalized), gLogitsInput)
    g = try layerNorm(
      g, residual: nil, input: tape.flowingValue(.block(c.layers - 1, .residPost)), scale: HookPoint(.lnFinalScale),
      weight: w.lnfWeight,
      detach: options.detachFinalLayerNormScale || options.detachLayerNormScales)
    for l in stride(from: c.layers - 1, through: 0, by: -1) {
      g = try block(l, g)
      tape.discard(layer: l)
    }
    // resid_pre of block 0 = embed + pos_embed.
    _ = try visit(HookPoint(.embed), g)
    if model.config.positions == .learned { _ = try visit(HookPoint(.posEmbed), g) }
  }

  /// Backward through block `l`: from d metric / d (value flowing from its
  /// resid_post) to d metric / d (value arriving at its resid_pre) — the
  /// forward's layer calls in reverse. Each step works only on the rows
  /// (tokens) where its incoming gradient is nonzero.
  mutating func block(_ l: Int, _ gOut: Tensor?) throws -> Tensor? {
    let b = model.weights.blocks[l], tape = self.tape, recompute = PostNormInputs(model: model, tape: tape, T: T)
    let parallel = model.config.parallelResidual
    // resid_post = resid_mid + mlp_out: the gradient goes to both unchanged.
    // In parallel, resid_post = resid_pre + attn_out + mlp_out and ln2 reads
    // resid_pre: "resid_mid" below is then resid_pre's gradient along the
    // residual and MLP paths, and attn_out's gradient is resid_post's.
    let gResidPost = try visit(.block(l, .residPost), gOut)
    var gMLPOut = try visit(.block(l, .mlpOut), gResidPost)
    if let w = b.ln2PostWeight {
      gMLPOut = try postNorm(
        gMLPOut, normalized: .block(l, .ln2PostNormalized), scale: .block(l, .ln2PostScale), weight: w,
        input: recompute.mlpOutput(l, b))
    }
    var gLN2 = try mlp(l, b, gMLPOut)
    gLN2 = try visit(.block(l, .ln2Normalized), gLN2)
    var gResidMid = try layerNorm(
      gLN2, residual: gResidPost, input: tape.flowingValue(.block(l, parallel ? .residPre : .residMid)),
      scale: .block(l, .ln2Scale), weight: b.ln2Weight, detach: options.detachLayerNormScales)
    if !parallel { gResidMid = try visit(.block(l, .residMid), gResidMid) }
    var gAttnOut = try visit(.block(l, .attnOut), parallel ? gResidPost : gResidMid)
    if let w = b.ln1PostWeight {
      gAttnOut = try postNorm(
        gAttnOut, normalized: .block(l, .ln1PostNormalized), scale: .block(l, .ln1PostScale), weight: w,
        input: recompute.attentionOutput(l, b))
    }
    var gLN1 = try attention(l, b, gAttnOut)
    gLN1 = try visit(.block(l, .ln1Normalized), gLN1)
    let gResidPre = try layerNorm(
      gLN1, residual: gResidMid, input: tape.flowingValue(.block(l, .residPre)), scale: .block(l, .ln1Scale),
      weight: b.ln1Weight, detach: options.detachLayerNormScales)
    return try visit(.block(l, .residPre), gResidPre)
  }

  /// Back through a post-norm (Gemma's ln1_post, ln2_post), from the
  /// gradient of its output to that of its input `input` (which is no hook point).
  mutating func postNorm(
    _ gOut: Tensor?, normalized: HookPoint, scale: HookPoint, weight: Tensor, input: @autoclosure () -> Tensor
  ) throws -> Tensor? {
    let g = try visit(normalized, gOut)
    return try layerNorm(
      g, residual: nil, input: input(), scale: scale, weight: weight, detach: options.detachLayerNormScales)
  }

}

/// The inputs of a block's post-norms (no hook points), computed again from
/// the values recorded at z and mlp.hook_post.
struct PostNormInputs {
  let model: TransformerModel
  let tape: ForwardTape
  let T: Int

  /// Attention's output before its post-norm, z · W_O + b.
  func attentionOutput(_ l: Int, _ b: BlockWeights) -> Tensor {
    let c = model.config, z = tape.flowingValue(.block(l, .z))
    var out = Tensor(uninitialized: [T, c.dModel])
    matmulForward(
      out.mutablePointer(), z.pointer, b.attnProjWeight, b.attnProjBias.pointer, T: T, C: c.qWidth,
      OC: c.dModel)
    return out
  }

  /// The MLP's output before its post-norm, post · W_out + b.
  func mlpOutput(_ l: Int, _ b: BlockWeights) -> Tensor {
    let c = model.config, post = tape.flowingValue(.block(l, .mlpPost))
    var out = Tensor(uninitialized: [T, c.dModel])
    matmulForward(
      out.mutablePointer(), post.pointer, b.fcProjWeight, b.fcProjBias.pointer, T: T, C: c.dMLP, OC: c.dModel)
    return out
  }
}

extension BackwardPass {

  /// dinp[rows, inWidth] = g[rows, outWidth] · W[inWidth, outWidth]ᵀ, zero elsewhere.
  func linear(_ g: Tensor, _ weight: Tensor, in inWidth: Int, out outWidth: Int, shape: [Int], into: Tensor? = nil)
    -> Tensor
  {
    let rows = nonzeroRows(g.pointer, count: T, width: outWidth)
    guard let into else {
      // The product writes the rows in `rows` (below the last block, every
      // row): only the others are zeroed.
      var d = Tensor(uninitialized: shape)
      let p = d.mutablePointer()
      if rows.isEmpty {
        p.update(repeating: 0, count: T * inWidth)
        return d
      }
      p.update(repeating: 0, count: rows.lowerBound * inWidth)
      (p + rows.upperBound * inWidth).update(repeating: 0, count: (T - rows.upperBound) * inWidth)
      linearBackward(
        p + rows.lowerBound * inWidth, g.pointer + rows.lowerBound * outWidth, weight, T: rows.count, C: inWidth,
        OC: outWidth, accumulate: false)
      return d
    }
    var d = into
    if !rows.isEmpty {
      linearBackward(
        d.mutablePointer() + rows.lowerBound * inWidth, g.pointer + rows.lowerBound * outWidth, weight,
        T: rows.count, C: inWidth, OC: outWidth, accumulate: true)
    }
    return d
  }

  /// From d metric / d mlp_out to d metric / d ln2's output:
  /// mlp_out[T, C] = act(ln2 · W_in (, ln2 · W_up)) · W_out + b.
  mutating func mlp(_ l: Int, _ b: BlockWeights, _ gOut: Tensor?) throws -> Tensor? {
    let c = model.config, C = c.dModel, F = c.dMLP, T = self.T
    func hook(_ s: HookPoint.Site) -> HookPoint { .block(l, s) }
    let gPost = try visit(hook(.mlpPost), gOut.map { linear($0, b.fcProjWeight, in: F, out: C, shape: [T, F]) })
    guard let upWeight = b.upWeight else {
      var gPre = gPost.map { g in
        let pre = tape.flowingValue(hook(.mlpPre))
        var d = Tensor(zeros: [T, F])
        let rows = nonzeroRows(g.pointer, count: T, width: F), at = rows.lowerBound * F
        if c.mlp == .exactGELU {
          exactGELUBackward(d.mutablePointer() + at, pre.pointer + at, g.pointer + at, count: rows.count * F)
        } else {
          geluBackward(d.mutablePointer() + at, pre.pointer + at, g.pointer + at, count: rows.count * F)
        }
        return d
      }
      gPre = try visit(hook(.mlpPre), gPre)
      return gPre.map { linear($0, b.fcWeight, in: C, out: F, shape: [T, C]) }
    }
    // post = silu(gate) ⊙ up, or gelu(gate) ⊙ up
    var gGate: Tensor? = nil, gUp: Tensor? = nil
    if let g = gPost {
      let gate = tape.flowingValue(hook(.mlpPre)), up = tape.flowingValue(hook(.mlpPreLinear))
      var dg = Tensor(zeros: [T, F]), du = Tensor(zeros: [T, F])
      let rows = nonzeroRows(g.pointer, count: T, width: F), at = rows.lowerBound * F
      let backward = c.mlp == .gatedGELU ? geluGateBackward : siluGateBackward
      backward(
        dg.mutablePointer() + at, du.mutablePointer() + at, g.pointer + at, gate.pointer + at, up.pointer + at,
        rows.count * F)
      (gGate, gUp) = (dg, du)
    }
    gUp = try visit(hook(.mlpPreLinear), gUp)
    gGate = try visit(hook(.mlpPre), gGate)
    var gIn = gGate.map { linear($0, b.fcWeight, in: C, out: F, shape: [T, C]) }
    if let gUp { gIn = linear(gUp, upWeight, in: C, out: F, shape: [T, C], into: gIn) }
    return gIn
  }

  /// From d metric / d attn_out to d metric / d ln1's output, through
  /// attn_out = z · W_O + b_O, z_h = pattern_h · v_g, pattern = causal
  /// softmax(scores), scores_h = rot(q_h) rot(k_g)ᵀ / √D, q | k | v = ln1 · W_qkv + b.
  mutating func attention(_ l: Int, _ b: BlockWeights, _ gOut: Tensor?) throws -> Tensor? {
    let c = model.config, C = c.dModel, H = c.heads, KV = c.kvHeads, D = c.dHead, T = self.T
    let geometry = HeadGeometry(c, layer: l), rotation = rotations.table(layer: l)
    func hook(_ s: HookPoint.Site) -> HookPoint { .block(l, s) }
    var gZ = gOut.map { linear($0, b.attnProjWeight, in: c.qWidth, out: C, shape: [T, H, D]) }
    gZ = try visit(hook(.z), gZ)

    var gQ: Tensor? = nil, gK: Tensor? = nil, gV: Tensor? = nil
    if blockedAttention.contains(l) {
      if let gZ {
        let q = tape.flowingValue(hook(rotation != nil ? .rotQ : .q))
        let k = tape.flowingValue(hook(rotation != nil ? .rotK : .k)), v = tape.flowingValue(hook(.v))
        var dq = Tensor(zeros: [T, H, D]), dk = Tensor(zeros: [T, KV, D]), dv = Tensor(zeros: [T, KV, D])
        fusedCausalAttentionBackward(
          dq: dq.mutablePointer(), dk: dk.mutablePointer(), dv: dv.mutablePointer(), dz: gZ.pointer,
          AttentionInputs(q: q.pointer, k: k.pointer, v: v.pointer, geometry: geometry), T: T,
          rows: nonzeroRows(gZ.pointer, count: T, width: c.qWidth))
        (gQ, gK, gV) = (dq, dk, dv)
      }
    } else {
      (gQ, gK, gV) = try materializedAttention(l, gZ, geometry)
    }
    return try attentionInputs(l, b, gQ, gK, gV)
  }

  /// The pattern's and the scores' gradients [H, T, T] in full, visited at
  /// their hooks (where a hook reads or rewrites them), then q's, k's and v's.
  private mutating func materializedAttention(_ l: Int, _ gZ: Tensor?, _ geometry: HeadGeometry) throws -> (
    Tensor?, Tensor?, Tensor?
  ) {
    let c = model.config, H = c.heads, KV = c.kvHeads, D = c.dHead, T = self.T
    let rotation = rotations.table(layer: l)
    func hook(_ s: HookPoint.Site) -> HookPoint { .block(l, s) }
    var gPattern: Tensor? = nil, gV: Tensor? = nil
    if let gZ {
      let pattern = tape.flowingValue(hook(.pattern)), v = tape.flowingValue(hook(.v))
      var dp = Tensor(zeros: [H, T, T]), dv = Tensor(zeros: [T, KV, D])
      let dpp = dp.mutablePointer(), dvp = dv.mutablePointer()
      let rows = nonzeroRows(gZ.pointer, count: T, width: c.qWidth)
      for h in 0..<H {
        attentionValuesBackward(
          dpattern: dpp + h * T * T, dv: dvp, dz: gZ.pointer, pattern: pattern.pointer + h * T * T, v: v.pointer,
          head: h, geometry, T: T, rows: rows)
      }
      (gPattern, gV) = (dp, dv)
    }
    gPattern = try visit(hook(.pattern), gPattern)
    var gScores = gPattern.map { g in
      // The softmax's own output: the pattern before any intervention on it.
      let p = tape.before[hook(.pattern)] ?? tape.flowingValue(hook(.pattern))
      var ds = Tensor(zeros: [H, T, T])
      let dsp = ds.mutablePointer(), gp = g.pointer, pp = p.pointer
      let rows = nonzeroQueries(gp, heads: H, T: T)
      parallelChunks(H, minimumChunk: rows.count >= 64 ? 1 : H) { heads in
        for h in heads { causalSoftmaxBackward(dsp + h * T * T, gp + h * T * T, pp + h * T * T, T: T, rows: rows) }
      }
      return ds
    }
    gScores = try visit(hook(.attnScores), gScores)
    // Masked scores are constants (-inf whatever q and k are): a seed or a
    // rewritten gradient there must not reach q and k.
    if var g = gScores, !isMasked(g, heads: H, geometry) {
      let p = g.mutablePointer()
      for h in 0..<H {
        for i in 0..<T {
          for j in 0..<geometry.firstKey(i) { p[(h * T + i) * T + j] = 0 }
          for j in (i + 1)..<max(T, i + 1) { p[(h * T + i) * T + j] = 0 }
        }
      }
      gScores = g
    }
    if let cap = geometry.softcap, var g = gScores {
      // scores = cap · tanh(raw / cap): d raw = d scores · (1 - (scores / cap)²), from the capped scores themselves.
      let capped = tape.before[hook(.attnScores)] ?? tape.flowingValue(hook(.attnScores))
      let d = g.mutablePointer(), s = capped.pointer
      for i in 0..<g.count where d[i] != 0 {
        let t = s[i] / cap
        d[i] *= 1 - t * t
      }
      gScores = g
    }
    var gQ: Tensor? = nil, gK: Tensor? = nil
    if let gScores {
      let q = tape.flowingValue(hook(rotation != nil ? .rotQ : .q))
      let k = tape.flowingValue(hook(rotation != nil ? .rotK : .k))
      var dq = Tensor(zeros: [T, H, D]), dk = Tensor(zeros: [T, KV, D])
      let dqp = dq.mutablePointer(), dkp = dk.mutablePointer()
      let rows = nonzeroQueries(gScores.pointer, heads: H, T: T)
      for h in 0..<H {
        attentionScoresBackward(
          dq: dqp, dk: dkp, dscores: gScores.pointer + h * T * T, q: q.pointer, k: k.pointer, head: h, geometry,
          T: T, rows: rows)
      }
      (gQ, gK) = (dq, dk)
    }
    return (gQ, gK, gV)
  }

  /// From q's, k's and v's gradients (of the rotated q and k where the model
  /// rotates) to ln1's output's: back through the rotation, the q/k norms and
  /// the fused projection.
  private mutating func attentionInputs(
    _ l: Int, _ b: BlockWeights, _ gRotQ: Tensor?, _ gRotK: Tensor?, _ gValues: Tensor?
  ) throws -> Tensor? {
    let c = model.config, C = c.dModel, H = c.heads, KV = c.kvHeads, D = c.dHead, T = self.T
    let rotation = rotations.table(layer: l)
    func hook(_ s: HookPoint.Site) -> HookPoint { .block(l, s) }
    var gQ = gRotQ, gK = gRotK, gV = gValues
    if let table = rotation {
      // The rotation is orthogonal: its backward is the inverse rotation.
      gK = try visit(hook(.rotK), gK)
      gQ = try visit(hook(.rotQ), gQ)
      if var g = gK {
        table.rotate(g.mutablePointer(), rows: T, heads: KV, D: D, inverse: true)
        gK = g
      }
      if var g = gQ {
        table.rotate(g.mutablePointer(), rows: T, heads: H, D: D, inverse: true)
        gQ = g
      }
    }
    gV = try visit(hook(.v), gV)
    gK = try visit(hook(.k), gK)
    gQ = try visit(hook(.q), gQ)
    if let qn = b.qNormWeight, let kn = b.kNormWeight, gQ != nil || gK != nil {
      (gQ, gK) = headNormBackward(l, gQ, gK, weights: (qn, kn))
    }

    // q | k | v [T, Q + 2K] = ln1[T, C] · W_attn[C, Q + 2K] + b_attn: the three
    // gradients side by side, then one product.
    guard gQ != nil || gK != nil || gV != nil else { return nil }
    let W = c.qkvWidth
    var gQKV = Tensor(zeros: [T, W])
    let dst = gQKV.mutablePointer()
    for (offset, width, g) in [(0, c.qWidth, gQ), (c.qWidth, c.kvWidth, gK), (c.qWidth + c.kvWidth, c.kvWidth, gV)] {
      guard let g else { continue }
      for t in 0..<T { (dst + t * W + offset).update(from: g.pointer + t * width, count: width) }
    }
    return linear(gQKV, b.attnWeight, in: C, out: W, shape: [T, C])
  }

  /// Back through Qwen3's and Gemma 3's per-head RMSNorms of q and k (scale
  /// not detached: they are not hook points), from their inputs as the
  /// forward pass handed them to the tape. (Computing them again from ln1's
  /// output took about 30 ms of a 128-token Gemma 3 270M gradient.)
  func headNormBackward(
    _ l: Int, _ gQ: Tensor?, _ gK: Tensor?, weights: (Tensor, Tensor)
  ) -> (Tensor?, Tensor?) {
    let c = model.config, T = self.T, D = c.dHead
    guard let (q, k) = tape.headNormInputs[l] else {
      preconditionFailure("backward: block \(l)'s q and k before their norms were not recorded")
    }
    func back(_ g: Tensor?, input x: Tensor, heads: Int, weight: Tensor) -> Tensor? {
      guard let g else { return nil }
      let rows = T * heads
      var mean = [Float](repeating: 0, count: rows), scale = mean
      layerNormStatistics(x.pointer, mean: &mean, scale: &scale, T: rows, C: D, eps: c.normEpsilon, centered: false)
      var d = Tensor(zeros: [T, heads, D]), ds = [Float](repeating: 0, count: rows)
      layerNormBackward(
        dinp: d.mutablePointer(), dscale: &ds, dout: g.pointer, inp: x.pointer, mean: mean, scale: scale,
        weight: weight.pointer, C: D, rows: 0..<rows, centered: false)
      layerNormScaleBackward(
        dinp: d.mutablePointer(), dscale: ds, inp: x.pointer, mean: mean, scale: scale, T: rows, C: D)
      return d
    }
    return (
      back(gQ, input: q, heads: c.heads, weight: weights.0),
      back(gK, input: k, heads: c.kvHeads, weight: weights.1)
    )
  }

  /// Backward through a LayerNorm reading the value flowing from `input`, with
  /// its `scale` hook between the direct path and the path through the scale.
  /// Returns `residual` plus the LayerNorm input's gradient: the residual
  /// stream feeds both the LayerNorm and the next residual sum.
  mutating func layerNorm(
    _ gOut: Tensor?, residual: Tensor?, input: @autoclosure () -> Tensor, scale: HookPoint, weight: Tensor,
    detach: Bool
  ) throws -> Tensor? {
    let C = model.config.dModel, T = self.T
    var gIn = residual
    var stats: (x: Tensor, mean: [Float], scale: [Float])? = nil
    func statistics() -> (x: Tensor, mean: [Float], scale: [Float]) {
      if let stats { return stats }
      let x = input()
      var mean = [Float](repeating: 0, count: T), s = [Float](repeating: 0, count: T)
      layerNormStatistics(
        x.pointer, mean: &mean, scale: &s, T: T, C: C, eps: model.config.normEpsilon,
        centered: model.config.norm.centered)
      stats = (x, mean, s)
      return stats!
    }
    func inputGradient() -> UnsafeMutablePointer<Float> {
      if gIn == nil { gIn = Tensor(zeros: [T, C]) }
      return gIn!.mutablePointer()
    }

    var gScale: Tensor? = nil
    if let gOut {
      let st = statistics()
      let scaleUsed = tape.flowingValue(scale)
      var ds = Tensor(zeros: [T, 1])
      layerNormBackward(
        dinp: inputGradient(), dscale: ds.mutablePointer(), dout: gOut.pointer, inp: st.x.pointer, mean: st.mean,
        scale: scaleUsed.pointer, weight: weight.pointer, C: C, rows: nonzeroRows(gOut.pointer, count: T, width: C),
        centered: model.config.norm.centered)
      gScale = ds
    }
    gScale = try visit(scale, gScale)
    if let gScale, !detach {
      let st = statistics()
      layerNormScaleBackward(
        dinp: inputGradient(), dscale: gScale.pointer, inp: st.x.pointer, mean: st.mean, scale: st.scale, T: T, C: C)
    }
    return gIn
  }
}

/// Whether every [T, T] matrix of `t` [heads, T, T] is zero where the
/// attention mask is: above the diagonal, and before a sliding window.
func isMasked(_ t: Tensor, heads: Int, _ geometry: HeadGeometry) -> Bool {
  let T = t.shape[1], p = t.pointer
  for h in 0..<heads {
    for i in 0..<T {
      for j in 0..<geometry.firstKey(i) where p[(h * T + i) * T + j] != 0 { return false }
      for j in (i + 1)..<max(T, i + 1) where p[(h * T + i) * T + j] != 0 { return false }
    }
  }
  return true
}

/// a + b elementwise (same shape).
func sum(_ a: Tensor, _ b: Tensor) -> Tensor {
  precondition(a.shape == b.shape, "adding \(a.shape) and \(b.shape)")
  var out = a
  let o = out.mutablePointer(), y = b.pointer
  for i in 0..<a.count { o[i] += y[i] }
  return out
}
