/// A place in the forward pass whose value can be read or replaced, named as
/// in TransformerLens (`blocks.3.hook_resid_pre`, `blocks.0.attn.hook_pattern`).
public struct HookPoint: Hashable, Sendable, CustomStringConvertible, Comparable {
  /// What kind of value the hook sees.
  public enum Site: String, CaseIterable, Sendable {
    // Model-wide.
    case embed = "hook_embed"  // [T, C]
    case posEmbed = "hook_pos_embed"  // [T, C]
    // Per block.
    case residPre = "hook_resid_pre"  // [T, C]
    case ln1Scale = "ln1.hook_scale"  // [T, 1]
    case ln1Normalized = "ln1.hook_normalized"  // [T, C]
    case q = "attn.hook_q"  // [T, H, D]  (before the rotation; after Qwen3's q norm)
    case k = "attn.hook_k"  // [T, KV, D]  key/value heads
    case v = "attn.hook_v"  // [T, KV, D]
    case rotQ = "attn.hook_rot_q"  // [T, H, D]  rotary models: q after the rotation
    case rotK = "attn.hook_rot_k"  // [T, KV, D]
    case attnScores = "attn.hook_attn_scores"  // [H, T, T], masked entries -inf
    case pattern = "attn.hook_pattern"  // [H, T, T]
    case z = "attn.hook_z"  // [T, H, D]
    case ln1PostScale = "ln1_post.hook_scale"  // [T, 1]  post-norm models (Gemma 2, 3): the norm of attn's output
    case ln1PostNormalized = "ln1_post.hook_normalized"  // [T, C]
    case attnOut = "hook_attn_out"  // [T, C]
    case residMid = "hook_resid_mid"  // [T, C]
    case ln2Scale = "ln2.hook_scale"  // [T, 1]
    case ln2Normalized = "ln2.hook_normalized"  // [T, C]
    case mlpPre = "mlp.hook_pre"  // [T, F]  (the gate, before its activation, in a gated MLP)
    case mlpPreLinear = "mlp.hook_pre_linear"  // [T, F]  a gated MLP's up projection
    case mlpPost = "mlp.hook_post"  // [T, F]
    case ln2PostScale = "ln2_post.hook_scale"  // [T, 1]  post-norm models: the norm of the MLP's output
    case ln2PostNormalized = "ln2_post.hook_normalized"  // [T, C]
    case mlpOut = "hook_mlp_out"  // [T, C]
    case residPost = "hook_resid_post"  // [T, C]
    // After the last block.
    case lnFinalScale = "ln_final.hook_scale"  // [T, 1]
    case lnFinalNormalized = "ln_final.hook_normalized"  // [T, C], after the affine map (as HF's ln_f output)

    var isPerBlock: Bool {
      switch self {
      case .embed, .posEmbed, .lnFinalScale, .lnFinalNormalized: false
      default: true
      }
    }
  }

  /// A value inside a spliced SAE at the hook.
  public enum SAESite: String, CaseIterable, Sendable {
    case input = "hook_sae_input"  // [T, d_in]
    case actsPost = "hook_sae_acts_post"  // [T, d_sae]
    case recons = "hook_sae_recons"  // [T, d_in]
    case error = "hook_sae_error"  // [T, d_in]
    case output = "hook_sae_output"  // [T, d_in]
  }

  public var site: Site
  /// The block, for per-block sites.
  public var layer: Int?
  /// Set for the values inside an SAE spliced at this hook.
  public var sae: SAESite?

  public init(_ site: Site, layer: Int? = nil, sae: SAESite? = nil) {
    self.site = site
    self.layer = site.isPerBlock ? layer : nil
    self.sae = sae
  }

  public static func block(_ layer: Int, _ site: Site) -> HookPoint { HookPoint(site, layer: layer) }

  /// The hook point without an SAE part.
  public var base: HookPoint { HookPoint(site, layer: layer) }

  /// The axis of the value that is the (query) token position: 1 for
  /// attention scores and patterns [H, T, T], 0 for everything else.
  var positionAxis: Int { sae == nil && (site == .attnScores || site == .pattern) ? 1 : 0 }

  public var name: String {
    let main = layer.map { "blocks.\($0).\(site.rawValue)" } ?? site.rawValue
    return sae.map { "\(main).\($0.rawValue)" } ?? main
  }

  public var description: String { name }

  /// Order of evaluation in the forward pass.
  var order: Int {
    let siteIndex = Site.allCases.firstIndex(of: site)!
    let blockOrder: Int
    switch site {
    case .embed, .posEmbed: blockOrder = -1
    case .lnFinalScale, .lnFinalNormalized: blockOrder = 1 << 20
    default: blockOrder = layer ?? 0
    }
    let saeOrder = sae.map { SAESite.allCases.firstIndex(of: $0)! + 1 } ?? 0
    return (blockOrder + 1) * 10_000 + siteIndex * 10 + saeOrder
  }

  public static func < (a: HookPoint, b: HookPoint) -> Bool { a.order < b.order }

  /// Parses a TransformerLens name; nil if it is not one.
  public init?(name: String) {
    var rest = Substring(name)
    var sae: SAESite?
    for s in SAESite.allCases where rest.hasSuffix("." + s.rawValue) {
      sae = s
      rest = rest.dropLast(s.rawValue.count + 1)
    }
    if rest.hasPrefix("blocks.") {
      let afterBlocks = rest.dropFirst("blocks.".count)
      guard let dot = afterBlocks.firstIndex(of: "."), let layer = Int(afterBlocks[..<dot]), layer >= 0 else {
        return nil
      }
      guard let site = Site(rawValue: String(afterBlocks[afterBlocks.index(after: dot)...])), site.isPerBlock else {
        return nil
      }
      self.init(site, layer: layer, sae: sae)
    } else {
      guard let site = Site(rawValue: String(rest)), !site.isPerBlock else { return nil }
      self.init(site, sae: sae)
    }
  }

  /// Every hook of block `l` and ln_final's two: what must be left alone
  /// for a pass to run its last block past the keys and values at the last
  /// position only.
  static func blockAndFinalNorm(_ l: Int) -> [HookPoint] {
    Site.allCases.filter(\.isPerBlock).map { .block(l, $0) } + [
      HookPoint(.lnFinalScale), HookPoint(.lnFinalNormalized),
    ]
  }

  /// Whether this point (an SAE site included) is in block `l` or at ln_final.
  func isIn(blockOrFinalNorm l: Int) -> Bool { layer == l || site == .lnFinalScale || site == .lnFinalNormalized }

  /// Every hook point of a model (no SAE sites), in forward order.
  public static func all(config c: ModelConfig) -> [HookPoint] {
    var out = [HookPoint(.embed)]
    if c.positions == .learned { out.append(HookPoint(.posEmbed)) }
    for l in 0..<c.layers {
      for s in Site.allCases where s.isPerBlock && s.exists(in: c) { out.append(.block(l, s)) }
    }
    out += [HookPoint(.lnFinalScale), HookPoint(.lnFinalNormalized)]
    return out
  }

  /// The width an SAE at this hook reads per position: the value's
  /// dimensions after the first, flattened (hook_z's [T, H, D] is read as
  /// [T, H·D], as TransformerLens and SAELens do); nil where the first
  /// dimension is not the position (attention scores and patterns).
  public func saeInputWidth(config c: ModelConfig) -> Int? {
    if site == .attnScores || site == .pattern { return nil }
    return shape(config: c, tokens: 1).dropFirst().reduce(1, *)
  }

  /// The shape of this hook's value for a prompt of `tokens` tokens.
  public func shape(config c: ModelConfig, tokens T: Int, saeWidth: Int? = nil, saeInput: Int? = nil) -> [Int] {
    if let sae {
      switch sae {
      case .actsPost: return [T, saeWidth ?? 0]
      default: return [T, saeInput ?? 0]
      }
    }
    switch site {
    case .embed, .posEmbed, .residPre, .ln1Normalized, .ln1PostNormalized, .attnOut, .residMid, .ln2Normalized,
      .ln2PostNormalized, .mlpOut, .residPost, .lnFinalNormalized:
      return [T, c.dModel]
    case .ln1Scale, .ln2Scale, .ln1PostScale, .ln2PostScale, .lnFinalScale: return [T, 1]
    case .q, .rotQ, .z: return [T, c.heads, c.dHead]
    case .k, .v, .rotK: return [T, c.kvHeads, c.dHead]
    case .attnScores, .pattern: return [c.heads, T, T]
    case .mlpPre, .mlpPreLinear, .mlpPost: return [T, c.dMLP]
    }
  }
}

extension HookPoint.Site {
  /// Whether a model of this configuration has the site.
  public func exists(in c: ModelConfig) -> Bool {
    switch self {
    case .posEmbed: c.positions == .learned
    case .rotQ, .rotK: c.positions != .learned
    case .mlpPreLinear: c.mlp.isGated
    case .ln1PostScale, .ln1PostNormalized, .ln2PostScale, .ln2PostNormalized: c.postNorms
    case .residMid: !c.parallelResidual
    default: true
    }
  }

  /// Why a model of this configuration lacks the site, where that needs saying.
  func absence(in c: ModelConfig) -> String? {
    switch self {
    case .residMid where c.parallelResidual:
      "attention and MLP run in parallel in this \(c.family.displayName) model (both read hook_resid_pre and add to"
        + " hook_resid_post), so there is no resid_mid; use hook_resid_pre, hook_attn_out or hook_mlp_out"
    default: nil
    }
  }
}
