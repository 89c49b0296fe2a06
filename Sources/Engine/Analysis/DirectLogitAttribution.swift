import Foundation

/// One part of a decomposed logit (difference): a component, a bias or an
/// embedding, and how much it adds.
public struct Attribution: Sendable, Equatable {
  /// Written as the language writes it (`L1H2`, `L3N77`, `embed`, `L2.attn_bias`).
  public let name: String
  public let layer: Int?
  /// "embed", "pos_embed", "head", "attn_bias", "attn", "neuron", "mlp_bias", "mlp", "latent", "sae_bias", "sae_error", "ln_final_bias".
  public let kind: String
  public let value: Float
}

/// How finely `directLogitAttribution` splits the residual stream.
public enum AttributionGranularity: String, Sendable, CaseIterable {
  case layer, head, neuron, latent
}

extension TransformerModel {
  /// The direction g with logit[target] - logit[distractor] = (x - mean(x)) · g + const
  /// for the final residual x at `position`, with ln_final's scale frozen at `scale`.
  /// Returned already centred (g - mean(g)), so contribution(c) = c · g; for
  /// RMSNorm (no mean subtracted) g itself.
  func logitDirection(target: Int, distractor: Int?, scale: Float) -> [Float] {
    let C = config.dModel
    var g = [Float](repeating: 0, count: C)
    let wu = weights.lmHead.pointer, w = weights.lnfWeight.pointer
    for i in 0..<C {
      var u = wu[target * C + i]
      if let d = distractor { u -= wu[d * C + i] }
      g[i] = u * w[i] / scale
    }
    guard config.norm.centered else { return g }
    let mean = g.reduce(0, +) / Float(C)
    return g.map { $0 - mean }
  }

  /// Direct logit attribution: the logit difference at `position` split into
  /// the direct contributions of embeddings, heads (or layers), neurons, SAE
  /// latents and biases, with the final LayerNorm scale frozen from the run.
  /// The parts sum to the logit difference.
  public func directLogitAttribution(
    _ tokens: [Int], options: ForwardOptions = ForwardOptions(), position: Int, target: Int, distractor: Int?,
    by granularity: AttributionGranularity
  ) throws -> [Attribution] {
    let c = config
    let T = tokens.count, C = c.dModel, H = c.heads, D = c.dHead, F = c.dMLP
    let pos = position < 0 ? T + position : position
    guard pos >= 0 && pos < T else { throw InterventionError.positionOutOfRange(position, tokens: T) }
    var wanted: Set<HookPoint> = [HookPoint(.embed), HookPoint(.lnFinalScale)]
    if c.positions == .learned { wanted.insert(HookPoint(.posEmbed)) }
    for l in 0..<c.layers { wanted.formUnion([.block(l, .z), .block(l, .mlpPost)]) }
    if c.finalSoftcap != nil { wanted.insert(HookPoint(.lnFinalNormalized)) }
    if c.postNorms {
      for l in 0..<c.layers { wanted.formUnion([.block(l, .ln1PostScale), .block(l, .ln2PostScale)]) }
    }
    var latentSAE: SAESplice?
    if granularity == .latent {
      guard let splice = options.saes.first else {
        throw ModelError.badIntervention("dla --by latent needs an SAE spliced into the run (run PROMPT --sae NAME)")
      }
      guard [.residPre, .residMid, .residPost, .mlpPost].contains(splice.sae.hook.site) else {
        throw ModelError.badIntervention(
          "dla --by latent supports SAEs on the residual stream or mlp.hook_post, not \(splice.sae.hook.name)")
      }
      latentSAE = splice
      for s in [HookPoint.SAESite.actsPost, .error] {
        wanted.insert(HookPoint(splice.sae.hook.site, layer: splice.sae.hook.layer, sae: s))
      }
    }
    var opts = options
    opts.cache = .points(wanted)
    opts.logits = .none
    let run = try forward(tokens, options: opts)
    let scale = run.cache[HookPoint(.lnFinalScale)]![pos, 0]
    let g = logitDirection(target: target, distractor: distractor, scale: scale)
    func dot(_ p: UnsafePointer<Float>, _ v: [Float]) -> Float {
      var s: Float = 0
      for i in 0..<v.count { s += p[i] * v[i] }
      return s
    }
    /// r = W d for W [rows, C] (row-major): how much a unit of each input writes along d.
    func project(_ w: Tensor, rows: Int, along d: [Float]) -> [Float] {
      var r = [Float](repeating: 0, count: rows)
      let p = w.pointer
      for i in 0..<rows { r[i] = dot(p + i * C, d) }
      return r
    }
    /// The direction a layer's attention or MLP output is read along: g, or
    /// through its post-norm with the scale frozen from the run (x ↦ x · w / scale
    /// is then linear), g ⊙ w / scale.
    func outputDirection(_ l: Int, _ weight: Tensor?, _ scale: HookPoint.Site) -> [Float] {
      guard let post = PostNorm(weight, run.cache[.block(l, scale)]) else { return g }
      return (0..<C).map { g[$0] * post.factor(pos, $0) }
    }
    var out: [Attribution] = []
    // A latent split replaces everything upstream of the SAE's hook.
    let saeLayer = latentSAE?.sae.hook.layer ?? -1
    let saeSite = latentSAE?.sae.hook.site
    func attnReplaced(_ l: Int) -> Bool {
      switch saeSite {
      case .residPre?: l < saeLayer
      case .residMid?, .residPost?: l <= saeLayer
      default: false
      }
    }
    func mlpReplaced(_ l: Int) -> Bool {
      switch saeSite {
      case .residPre?, .residMid?: l < saeLayer
      case .residPost?: l <= saeLayer
      default: false
      }
    }
    let embedsReplaced = saeSite != nil && saeSite != .mlpPost
    if let splice = latentSAE {
      let sae = splice.sae
      let acts = run.cache[HookPoint(sae.hook.site, layer: sae.hook.layer, sae: .actsPost)]!
      let err = run.cache[HookPoint(sae.hook.site, layer: sae.hook.layer, sae: .error)]!
      let isMLP = sae.hook.site == .mlpPost
      // Each latent writes W_dec[f] (through W_out for an MLP SAE) into the stream.
      let b = weights.blocks[saeLayer]
      let outDir =
        isMLP ? project(b.fcProjWeight, rows: F, along: outputDirection(saeLayer, b.ln2PostWeight, .ln2PostScale)) : g
      let decProj: [Float] = (0..<sae.dSAE).map { f in dot(sae.wDec.pointer + f * sae.dIn, outDir) }
      let a = acts.pointer + pos * sae.dSAE
      for f in 0..<sae.dSAE where a[f] != 0 {
        out.append(Attribution(name: "\(sae.name).F\(f)", layer: saeLayer, kind: "latent", value: a[f] * decProj[f]))
      }
      out.append(
        Attribution(name: "\(sae.name).b_dec", layer: saeLayer, kind: "sae_bias", value: dot(sae.bDec.pointer, outDir)))
      out.append(
        Attribution(
          name: "\(sae.name).error", layer: saeLayer, kind: "sae_error", value: dot(err.pointer + pos * sae.dIn, outDir)
        ))
    }
    if !embedsReplaced {
      out.append(
        Attribution(
          name: "embed", layer: nil, kind: "embed", value: dot(run.cache[HookPoint(.embed)]!.pointer + pos * C, g)))
      if let posEmbed = run.cache[HookPoint(.posEmbed)] {
        out.append(
          Attribution(name: "pos_embed", layer: nil, kind: "pos_embed", value: dot(posEmbed.pointer + pos * C, g)))
      }
    }
    for l in 0..<c.layers {
      let b = weights.blocks[l]
      if !attnReplaced(l) {
        let z = run.cache[.block(l, .z)]!.pointer + pos * c.qWidth
        let d = outputDirection(l, b.ln1PostWeight, .ln1PostScale)
        let r = project(b.attnProjWeight, rows: c.qWidth, along: d)
        let bias = dot(b.attnProjBias.pointer, d)
        if granularity == .head {
          for h in 0..<H {
            var s: Float = 0
            for d in 0..<D { s += z[h * D + d] * r[h * D + d] }
            out.append(Attribution(name: "L\(l)H\(h)", layer: l, kind: "head", value: s))
          }
          out.append(Attribution(name: "L\(l).attn_bias", layer: l, kind: "attn_bias", value: bias))
        } else {
          var s: Float = bias
          for i in 0..<c.qWidth { s += z[i] * r[i] }
          out.append(Attribution(name: "L\(l).attn", layer: l, kind: "attn", value: s))
        }
      }
      if !mlpReplaced(l) && !(saeSite == .mlpPost && l == saeLayer) {
        let post = run.cache[.block(l, .mlpPost)]!.pointer + pos * F
        let d = outputDirection(l, b.ln2PostWeight, .ln2PostScale)
        let r = project(b.fcProjWeight, rows: F, along: d)
        let bias = dot(b.fcProjBias.pointer, d)
        if granularity == .neuron {
          for n in 0..<F where post[n] != 0 {
            out.append(Attribution(name: "L\(l)N\(n)", layer: l, kind: "neuron", value: post[n] * r[n]))
          }
          out.append(Attribution(name: "L\(l).mlp_bias", layer: l, kind: "mlp_bias", value: bias))
        } else {
          var s: Float = bias
          for n in 0..<F { s += post[n] * r[n] }
          out.append(Attribution(name: "L\(l).mlp", layer: l, kind: "mlp", value: s))
        }
      } else if saeSite == .mlpPost && l == saeLayer {
        let d = outputDirection(l, b.ln2PostWeight, .ln2PostScale)
        out.append(Attribution(name: "L\(l).mlp_bias", layer: l, kind: "mlp_bias", value: dot(b.fcProjBias.pointer, d)))
      }
    }
    // ln_final's bias adds a constant: b · (W_U[target] - W_U[distractor]).
    var biasTerm: Float = 0
    let wu = weights.lmHead.pointer, lb = weights.lnfBias.pointer
    for i in 0..<C { biasTerm += lb[i] * (wu[target * C + i] - (distractor.map { wu[$0 * C + i] } ?? 0)) }
    out.append(Attribution(name: "ln_final.bias", layer: nil, kind: "ln_final_bias", value: biasTerm))
    guard let cap = c.finalSoftcap else { return out }
    // The final soft-cap is not linear: freeze it as the final norm's scale is
    // frozen, as the ratio of the capped to the uncapped logit (difference)
    // on this run, so the parts still sum to what the model outputs.
    let x = Array(UnsafeBufferPointer(start: run.cache[HookPoint(.lnFinalNormalized)]!.pointer + pos * C, count: C))
    let rawTarget = dot(wu + target * C, x)
    let rawDistractor = distractor.map { dot(wu + $0 * C, x) } ?? 0
    func capped(_ v: Float) -> Float { softcapped(v, cap: cap) }
    let raw = rawTarget - rawDistractor
    let ratio: Float
    if abs(raw) > 1e-6 {
      ratio = (capped(rawTarget) - (distractor == nil ? 0 : capped(rawDistractor))) / raw
    } else {
      ratio = 1 - (capped(rawTarget) / cap) * (capped(rawTarget) / cap)
    }
    return out.map { Attribution(name: $0.name, layer: $0.layer, kind: $0.kind, value: $0.value * ratio) }
  }
}
