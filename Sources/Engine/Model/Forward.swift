import CKernels
import Foundation

/// What a forward pass should keep, change and compute.
public struct ForwardOptions: @unchecked Sendable {
  /// Hook values to keep in `ForwardResult.cache`.
  public var cache: CacheRequest = .none
  /// Changes to hook values, applied in order at their hook.
  public var interventions: [Intervention] = []
  /// SAEs spliced in at their hook points.
  public var saes: [SAESplice] = []
  /// Logits at every position, only the last, or none.
  public var logits: LogitsRequest = .all
  /// Polled between layers; returning true stops the pass with `ModelError.interrupted`.
  public var shouldStop: (() -> Bool)? = nil
  /// Keep what a later run can resume from (`ForwardResult.checkpoint`).
  public var keepCheckpoint = false
  /// Start from another run's checkpoint instead of from the embeddings.
  public var resume: ResumePoint? = nil
  /// Set by a caller that reads nothing of the last block after its keys and
  /// values, nor of ln_final, at any position but the last, though it
  /// observes hooks there (the gradient of a last-position logit metric
  /// records them): that block's MLP and the rest then run on the last
  /// position only, as for `.last` logits with nothing hooked, and the values
  /// those hooks see are [1, ...]. Ignored with `.all` logits.
  var lastBlockAtLastPositionOnly = false
  /// Set by a gradient pass of a model with per-head q/k norms (Qwen3,
  /// Gemma 3): handed each block's q and k before those norms, which their
  /// backward reads. They are not hook points.
  var observeHeadNormInputs: ((_ layer: Int, _ q: Tensor, _ k: Tensor) -> Void)? = nil

  public init(
    cache: CacheRequest = .none, interventions: [Intervention] = [], saes: [SAESplice] = [],
    logits: LogitsRequest = .all,
    shouldStop: (() -> Bool)? = nil
  ) {
    self.cache = cache
    self.interventions = interventions
    self.saes = saes
    self.logits = logits
    self.shouldStop = shouldStop
  }
}

public enum LogitsRequest: Sendable { case all, last, none }

/// What a run computed that a later run can start from when it differs only
/// at later positions or in later blocks: every block's keys and values (what
/// the later positions' attention reads), and the residual stream entering
/// every block.
public struct ForwardCheckpoint: @unchecked Sendable {
  /// The prompt of the run it was taken from.
  public let tokens: [Int]
  /// Per block, [T, C]: the keys and values attention read (after interventions).
  let keys: [Tensor]
  let values: [Tensor]
  /// [T, C] for blocks 0...L: the residual stream entering block l before its
  /// resid_pre hook; entry L is what enters ln_final.
  let residIn: [Tensor]
}

/// Where a pass resumed from a checkpoint starts. The caller vouches that the
/// run differs from the checkpoint's only by interventions (row-local ones)
/// at positions `position...` or, with `layer`, only in blocks `layer...`.
public struct ResumePoint: @unchecked Sendable {
  public var checkpoint: ForwardCheckpoint
  /// First position computed; earlier positions are the checkpoint's.
  public var position: Int
  /// First block computed, from the residual stream the checkpoint has
  /// entering it (0...L); nil computes the embeddings again.
  public var layer: Int?

  public init(checkpoint: ForwardCheckpoint, position: Int, layer: Int?) {
    self.checkpoint = checkpoint
    self.position = position
    self.layer = layer
  }
}

/// The outcome of one forward pass.
public struct ForwardResult: @unchecked Sendable {
  public let tokens: [Int]
  /// [T, V] for `.all`, [1, V] for `.last` (the last position), [0, V] for `.none`.
  /// A resumed pass has only positions `firstPosition...`.
  public let logits: Tensor
  /// Hook values kept as asked by `ForwardOptions.cache` (of positions
  /// `firstPosition...`, and only of the blocks computed, when resumed).
  public let cache: [HookPoint: Tensor]
  /// The first position computed: 0 unless resumed.
  public let firstPosition: Int
  /// Set when `ForwardOptions.keepCheckpoint` asked for it.
  public let checkpoint: ForwardCheckpoint?

  /// Logits at the last position.
  public var lastLogits: Tensor { logits.row(logits.shape[0] - 1) }
}

extension TransformerModel {
  /// Runs the model on `tokens` (1 to n_positions ids): llm.c's gpt2_forward,
  /// a loop of layer calls, for every family.
  public func forward(_ tokens: [Int], options: ForwardOptions = ForwardOptions()) throws -> ForwardResult {
    let c = config
    try checkPrompt(tokens)
    for i in options.interventions { try validate(i.hook) }
    var saeAt: [HookPoint: SAESplice] = [:]
    for s in options.saes {
      try validate(s.sae.hook)
      guard s.sae.dIn == s.sae.hook.saeInputWidth(config: c) else {
        throw ModelError.badSAE(s.sae.folder.path, "d_in \(s.sae.dIn) does not match \(s.sae.hook.name) of this model")
      }
      saeAt[s.sae.hook] = s
    }
    try options.resume.map { try checkResume($0, tokens: tokens, options: options) }
    var run = ForwardRun(tokens: tokens, options: options, saeAt: saeAt, config: c)

    var resid: Tensor
    let firstLayer = options.resume?.layer ?? 0
    if let resume = options.resume, let layer = resume.layer {
      resid = resume.checkpoint.residIn[layer].rows(run.first..<run.T)
    } else {
      resid = try embed(&run)
    }
    // With only the last position's logits wanted and nothing hooked in the
    // last block, that block needs every position's keys and values but
    // everything else at the last position only.
    let lastBlockAtLastPosition =
      !options.keepCheckpoint && options.logits != .all
      && (options.lastBlockAtLastPositionOnly || (options.logits == .last && run.leavesUntouched(layer: c.layers - 1)))
    for l in firstLayer..<c.layers {
      try run.checkStop()
      run.keepResidual(l, resid)
      try run.pass(.block(l, .residPre), &resid)
      let lastOnly = lastBlockAtLastPosition && l == c.layers - 1
      let attn = try attention(l, resid, &run, lastPositionOnly: lastOnly)
      if lastOnly { resid = resid.rows((resid.shape[0] - 1)..<resid.shape[0]) }
      if c.parallelResidual {
        resid = add(resid, attn, try mlp(l, resid, &run))  // x + attn(ln1(x)) + mlp(ln2(x))
      } else {
        var residMid = add(resid, attn)  // x + attn(ln1(x))
        try run.pass(.block(l, .residMid), &residMid)
        resid = add(residMid, try mlp(l, residMid, &run))  // x + mlp(ln2(x))
      }
      try run.pass(.block(l, .residPost), &resid)
    }
    try run.checkStop()
    run.keepResidual(c.layers, resid)
    let final = try norm(
      resid, weight: weights.lnfWeight, bias: weights.lnfBias, scale: HookPoint(.lnFinalScale),
      normalized: HookPoint(.lnFinalNormalized), &run)
    return ForwardResult(
      tokens: tokens, logits: logits(final, options.logits), cache: run.hooks.cache, firstPosition: run.first,
      checkpoint: run.checkpoint)
  }

  /// Throws unless the model can run on `tokens`.
  func checkPrompt(_ tokens: [Int]) throws {
    let T = tokens.count, V = config.vocabSize
    guard T > 0 else { throw ModelError.emptyPrompt }
    guard T <= config.context else { throw ModelError.promptTooLong(tokens: T, context: config.context) }
    if let bad = tokens.first(where: { $0 < 0 || $0 >= V }) { throw ModelError.tokenOutOfRange(bad, vocab: V) }
  }

  /// resid[n, C] = wte[token] (+ wpe[pos] for learned positions), with both hooks.
  private func embed(_ run: inout ForwardRun) throws -> Tensor {
    let C = config.dModel, n = run.n, p = run.first
    var embed = Tensor(uninitialized: [n, C])
    let e = embed.mutablePointer()
    for t in 0..<n { (e + t * C).update(from: weights.wte.pointer + run.tokens[p + t] * C, count: C) }
    if let k = config.embeddingScale { for i in 0..<n * C { e[i] *= k } }
    try run.pass(HookPoint(.embed), &embed)
    guard let wpe = weights.wpe else { return embed }
    var posEmbed = Tensor(uninitialized: [n, C])
    (posEmbed.mutablePointer()).update(from: wpe.pointer + p * C, count: n * C)
    try run.pass(HookPoint(.posEmbed), &posEmbed)
    return add(embed, posEmbed)
  }

  /// attn(ln1(x)) [n, C]: q | k | v projections, per-head q/k norms, the
  /// rotation, causal softmax(q kᵀ/√D) v, the output projection (and its
  /// post-norm in post-norm models). `lastPositionOnly`: keys and values of
  /// every position, everything after them for the last one ([1, C]).
  private func attention(_ l: Int, _ x: Tensor, _ run: inout ForwardRun, lastPositionOnly: Bool = false) throws
    -> Tensor
  {
    let c = config, b = weights.blocks[l], n = run.n, T = run.T, C = c.dModel, D = c.dHead
    let H = c.heads, KV = c.kvHeads
    func hook(_ s: HookPoint.Site) -> HookPoint { .block(l, s) }
    let ln1 = try norm(
      x, weight: b.ln1Weight, bias: b.ln1Bias, scale: hook(.ln1Scale), normalized: hook(.ln1Normalized), &run)
    var qkv = Tensor(uninitialized: [n, c.qkvWidth])
    matmulForward(
      qkv.mutablePointer(), ln1.pointer, b.attnWeight, b.attnBias.pointer, T: n, C: C, OC: c.qkvWidth)
    var (q, k, v) = splitHeads(qkv, rows: n)
    if let qn = b.qNormWeight, let kn = b.kNormWeight {
      run.observeHeadNormInputs?(l, q, k)
      headNorm(&q, weight: qn, rows: n * H)
      headNorm(&k, weight: kn, rows: n * KV)
    }
    try run.pass(hook(.q), &q)
    try run.pass(hook(.k), &k)
    try run.pass(hook(.v), &v)
    if let rotary = run.rotations.table(layer: l) {
      rotary.rotate(q.mutablePointer(), rows: n, heads: H, D: D)
      rotary.rotate(k.mutablePointer(), rows: n, heads: KV, D: D)
      try run.pass(hook(.rotQ), &q)
      try run.pass(hook(.rotK), &k)
    }
    let (keys, values) = run.keysAndValues(l, k, v)
    // The queries attention runs for: every computed position, or the last.
    let queries = lastPositionOnly ? 1 : n
    if lastPositionOnly { q = q.rows((n - 1)..<n) }
    var z = Tensor(uninitialized: [queries, H, D])
    let inputs = AttentionInputs(q: q.pointer, k: keys.pointer, v: values.pointer, geometry: HeadGeometry(c, layer: l))
    if run.wants(hook(.attnScores)) || run.wants(hook(.pattern)) {
      var pattern = Tensor(uninitialized: [H, queries, T])
      attentionScores(pattern.mutablePointer(), inputs, queries: queries, T: T)
      try run.pass(hook(.attnScores), &pattern)
      do {
        let pat = pattern.mutablePointer()
        parallelChunks(H, minimumChunk: queries >= 64 ? 1 : H) { heads in
          for h in heads {
            causalSoftmax(pat + h * queries * T, pat + h * queries * T, queries: queries, T: T, inputs.geometry)
          }
        }
      }
      try run.pass(hook(.pattern), &pattern)
      attentionValues(z.mutablePointer(), pattern: pattern.pointer, inputs, queries: queries, T: T)
    } else {
      fusedCausalAttention(z.mutablePointer(), inputs, queries: queries, T: T)
    }
    try run.pass(hook(.z), &z)
    var out = Tensor(uninitialized: [queries, C])
    matmulForward(
      out.mutablePointer(), z.pointer, b.attnProjWeight, b.attnProjBias.pointer, T: queries, C: c.qWidth, OC: C)
    if let w = b.ln1PostWeight {
      out = try norm(
        out, weight: w, bias: b.ln1Bias, scale: hook(.ln1PostScale), normalized: hook(.ln1PostNormalized), &run)
    }
    try run.pass(hook(.attnOut), &out)
    return out
  }

  /// mlp(ln2(x)) [n, C]: gelu(x·W_in), or silu or gelu of x·W_gate ⊙ (x·W_up),
  /// then W_out (and its post-norm in post-norm models).
  private func mlp(_ l: Int, _ x: Tensor, _ run: inout ForwardRun) throws -> Tensor {
    let c = config, b = weights.blocks[l], n = x.shape[0], C = c.dModel, F = c.dMLP
    func hook(_ s: HookPoint.Site) -> HookPoint { .block(l, s) }
    let ln2 = try norm(
      x, weight: b.ln2Weight, bias: b.ln2Bias, scale: hook(.ln2Scale), normalized: hook(.ln2Normalized), &run)
    var pre = Tensor(uninitialized: [n, F])
    matmulForward(pre.mutablePointer(), ln2.pointer, b.fcWeight, b.fcBias.pointer, T: n, C: C, OC: F)
    try run.pass(hook(.mlpPre), &pre)
    var post = Tensor(uninitialized: [n, F])
    if let upWeight = b.upWeight {
      var up = Tensor(uninitialized: [n, F])
      matmulForward(up.mutablePointer(), ln2.pointer, upWeight, nil, T: n, C: C, OC: F)
      try run.pass(hook(.mlpPreLinear), &up)
      if c.mlp == .gatedGELU {
        geluGateForward(post.mutablePointer(), gate: pre.pointer, up: up.pointer, count: n * F)
      } else {
        siluGateForward(post.mutablePointer(), gate: pre.pointer, up: up.pointer, count: n * F)
      }
    } else if c.mlp == .exactGELU {
      exactGELUForward(post.mutablePointer(), pre.pointer, count: n * F)
    } else {
      geluForward(post.mutablePointer(), pre.pointer, count: n * F)
    }
    try run.pass(hook(.mlpPost), &post)
    var out = Tensor(uninitialized: [n, C])
    matmulForward(out.mutablePointer(), post.pointer, b.fcProjWeight, b.fcProjBias.pointer, T: n, C: F, OC: C)
    if let w = b.ln2PostWeight {
      out = try norm(
        out, weight: w, bias: b.ln2Bias, scale: hook(.ln2PostScale), normalized: hook(.ln2PostNormalized), &run)
    }
    try run.pass(hook(.mlpOut), &out)
    return out
  }

  /// Logits of the final norm's output, as asked.
  private func logits(_ final: Tensor, _ request: LogitsRequest) -> Tensor {
    let n = final.shape[0], C = config.dModel, V = config.vocabSize
    switch request {
    case .all: return unembed(final)
    case .last:
      var out = Tensor(uninitialized: [1, V])
      unembedForward(out.mutablePointer(), final.pointer + (n - 1) * C, weights.lmHead.pointer, T: 1, C: C, V: V)
      softcapLogits(&out)
      return out
    case .none: return Tensor(zeros: [0, V])
    }
  }

  /// q [n, H, D], k and v [n, KV, D] out of the fused projection [n, Q + 2K].
  func splitHeads(_ qkv: Tensor, rows n: Int) -> (Tensor, Tensor, Tensor) {
    let c = config, W = c.qkvWidth
    func part(_ offset: Int, _ heads: Int) -> Tensor {
      var out = Tensor(uninitialized: [n, heads, c.dHead])
      let width = heads * c.dHead, src = qkv.pointer + offset, dst = out.mutablePointer()
      for t in 0..<n { (dst + t * width).update(from: src + t * W, count: width) }
      return out
    }
    return (part(0, c.heads), part(c.qWidth, c.kvHeads), part(c.qWidth + c.kvWidth, c.kvHeads))
  }

  /// RMSNorm over each row of D (Qwen3's q and k norms), in place.
  private func headNorm(_ x: inout Tensor, weight: Tensor, rows: Int) {
    let D = config.dHead
    var mean = [Float](repeating: 0, count: rows), scale = mean
    let p = x.mutablePointer()
    layerNormStatistics(p, mean: &mean, scale: &scale, T: rows, C: D, eps: config.normEpsilon, centered: false)
    layerNormApply(p, p, mean: mean, scale: scale, weight: weight.pointer, bias: nil, T: rows, C: D)
  }

  /// Throws unless a pass over `tokens` can start at `resume`.
  private func checkResume(_ resume: ResumePoint, tokens: [Int], options: ForwardOptions) throws {
    let T = tokens.count, p = resume.position, saved = resume.checkpoint.tokens
    func refuse(_ why: String) -> ModelError { .badIntervention("cannot resume this pass from a checkpoint: \(why)") }
    guard !options.keepCheckpoint || resume.layer == nil else {
      throw refuse("a pass that skips blocks keeps no checkpoint of its own")
    }
    guard p >= 0 && p < T else { throw refuse("position \(p) is outside the prompt (\(T) tokens)") }
    guard resume.checkpoint.keys.count == config.layers else { throw refuse("the checkpoint is of another model") }
    if let layer = resume.layer {
      guard layer >= 0 && layer <= config.layers else { throw refuse("there is no block \(layer)") }
      guard saved == tokens else { throw refuse("it was taken on another prompt") }
    } else {
      guard saved.count >= p, Array(saved[0..<p]) == Array(tokens[0..<p]) else {
        throw refuse("its prompt does not share the first \(p) tokens")
      }
    }
    if let mixed = options.interventions.first(where: { $0.rows == .mixed }) {
      throw refuse("'\(mixed.label)' may read one position to change another")
    }
  }

  /// The block's norm (LayerNorm or RMSNorm) with its scale [n, 1] and its
  /// output as hook points (replacing the scale changes the normalisation, as
  /// in TransformerLens).
  func norm(
    _ x: Tensor, weight: Tensor, bias: Tensor, scale scaleHook: HookPoint, normalized: HookPoint,
    _ run: inout ForwardRun
  ) throws -> Tensor {
    let T = x.shape[0], C = x.shape[1]
    var mean = [Float](repeating: 0, count: T)
    var scale = Tensor(zeros: [T, 1])
    layerNormStatistics(
      x.pointer, mean: &mean, scale: scale.mutablePointer(), T: T, C: C, eps: config.normEpsilon,
      centered: config.norm.centered)
    try run.pass(scaleHook, &scale)
    var out = Tensor(uninitialized: [T, C])
    layerNormApply(
      out.mutablePointer(), x.pointer, mean: mean, scale: scale.pointer, weight: weight.pointer,
      bias: config.norm.centered ? bias.pointer : nil, T: T, C: C)
    try run.pass(normalized, &out)
    return out
  }

  private func add(_ a: Tensor, _ b: Tensor) -> Tensor {
    var out = Tensor(uninitialized: a.shape)
    let o = out.mutablePointer(), ap = a.pointer, bp = b.pointer
    parallelChunks(a.count, minimumChunk: 65_536) { r in
      tdb_add(o + r.lowerBound, ap + r.lowerBound, bp + r.lowerBound, r.count)
    }
    return out
  }

  /// x + attn + mlp, summed as Hugging Face's GPT-NeoX sums them: (mlp + attn) + x.
  private func add(_ x: Tensor, _ attn: Tensor, _ mlp: Tensor) -> Tensor {
    var out = Tensor(uninitialized: x.shape)
    let o = out.mutablePointer(), m = mlp.pointer, a = attn.pointer, xp = x.pointer
    parallelChunks(x.count, minimumChunk: 65_536) { r in
      let i = r.lowerBound
      tdb_add(o + i, m + i, a + i, r.count)
      tdb_add(o + i, o + i, xp + i, r.count)
    }
    return out
  }

  /// Throws unless `point` exists in this model.
  public func validate(_ point: HookPoint) throws {
    if let l = point.layer, l >= config.layers {
      throw ModelError.unknownHook(point.name, suggestion: "this model has blocks 0...\(config.layers - 1)")
    }
    guard point.site.exists(in: config) else {
      throw ModelError.unknownHook(
        point.name,
        suggestion: point.site.absence(in: config) ?? "a \(config.family.displayName) model has no such hook point")
    }
  }
}

extension TransformerModel {
  /// Logits [T, V] of ln_final outputs x [T, C] (the unembedding alone).
  public func unembed(_ x: Tensor) -> Tensor {
    let T = x.shape[0]
    var out = Tensor(uninitialized: [T, config.vocabSize])
    unembedForward(out.mutablePointer(), x.pointer, weights.lmHead, T: T, C: config.dModel, V: config.vocabSize)
    softcapLogits(&out)
    return out
  }

  /// Gemma 2's final soft-cap, logits -> cap·tanh(logits/cap), in place.
  func softcapLogits(_ logits: inout Tensor) {
    guard let cap = config.finalSoftcap else { return }
    let p = logits.mutablePointer()
    parallelChunks(logits.count, minimumChunk: 65_536) { r in softcap(p + r.lowerBound, count: r.count, cap: cap) }
  }
}
