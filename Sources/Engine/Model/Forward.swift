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

extension GPT2Model {
  /// Runs the model on `tokens` (1 to n_positions ids).
  public func forward(_ tokens: [Int], options: ForwardOptions = ForwardOptions()) throws -> ForwardResult {
    let c = config
    let T = tokens.count, C = c.dModel, H = c.heads, D = c.dHead, F = c.dMLP, V = c.vocabSize
    guard T > 0 else { throw ModelError.emptyPrompt }
    guard T <= c.context else { throw ModelError.promptTooLong(tokens: T, context: c.context) }
    if let bad = tokens.first(where: { $0 < 0 || $0 >= V }) { throw ModelError.tokenOutOfRange(bad, vocab: V) }
    for i in options.interventions {
      try validate(i.hook)
    }
    var saeAt: [HookPoint: SAESplice] = [:]
    for s in options.saes {
      try validate(s.sae.hook)
      guard s.sae.dIn == s.sae.hook.shape(config: c, tokens: 1).last! else {
        throw ModelError.badSAE(s.sae.folder.path, "d_in \(s.sae.dIn) does not match \(s.sae.hook.name) of this model")
      }
      saeAt[s.sae.hook] = s
    }
    let resume = options.resume
    try resume.map { try checkResume($0, tokens: tokens, options: options) }
    // Positions p..<T are computed (n rows); earlier ones come from the checkpoint.
    let p = resume?.position ?? 0, n = T - p
    let firstLayer = resume?.layer ?? 0
    var hooks = HookRunner(
      interventions: options.interventions, request: options.cache, splicedAt: Set(saeAt.keys), start: p)
    let w = weights
    var keptKeys: [Tensor] = [], keptValues: [Tensor] = [], keptResid: [Tensor] = []

    // A hook point where the residual stream (or an MLP activation) passes:
    // user interventions, then an SAE splice if one sits there.
    func pass(_ point: HookPoint, _ value: inout Tensor) throws {
      if hooks.wants(point) { try hooks.visit(point, &value, tokens: T) }
      if let splice = saeAt[point] { try spliceSAE(splice, at: point, &value) }
    }
    func spliceSAE(_ splice: SAESplice, at point: HookPoint, _ value: inout Tensor) throws {
      let sae = splice.sae
      func site(_ s: HookPoint.SAESite) -> HookPoint { HookPoint(point.site, layer: point.layer, sae: s) }
      var input = value
      try hooks.visit(site(.input), &input, tokens: T)
      let state = sae.normalise(input)
      let cleanLatents = sae.activate(sae.preActivations(state.input))
      var latents = cleanLatents
      try hooks.visit(site(.actsPost), &latents, tokens: T)
      var recons = sae.decode(latents)
      sae.denormalise(&recons, state)
      // The error term is always that of the unmodified reconstruction (as
      // SAELens computes it), so editing a latent changes the output by
      // exactly that latent's decoded difference.
      var cleanRecons = recons
      if latents.buffer !== cleanLatents.buffer {
        cleanRecons = sae.decode(cleanLatents)
        sae.denormalise(&cleanRecons, state)
      }
      try hooks.visit(site(.recons), &recons, tokens: T)
      var error = Tensor(uninitialized: input.shape)
      let count = input.count
      let e = error.mutablePointer(), x = input.pointer, r = cleanRecons.pointer
      for i in 0..<count { e[i] = x[i] - r[i] }
      try hooks.visit(site(.error), &error, tokens: T)
      var output = recons
      if splice.keepError {
        let o = output.mutablePointer(), e = error.pointer
        for i in 0..<count { o[i] += e[i] }
      }
      try hooks.visit(site(.output), &output, tokens: T)
      value = output
    }
    func checkStop() throws {
      if let stop = options.shouldStop, stop() { throw ModelError.interrupted }
    }

    var resid: Tensor
    if let resume, let layer = resume.layer {
      // The residual stream entering the first block computed, positions p..<T.
      resid = resume.checkpoint.residIn[layer].rows(p..<T)
    } else {
      // Embeddings: resid[n, C] = wte[token] + wpe[pos].
      var embed = Tensor(zeros: [n, C])
      var posEmbed = Tensor(zeros: [n, C])
      do {
        let e = embed.mutablePointer(), pe = posEmbed.mutablePointer()
        for t in 0..<n {
          (e + t * C).update(from: w.wte.pointer + tokens[p + t] * C, count: C)
          (pe + t * C).update(from: w.wpe.pointer + (p + t) * C, count: C)
        }
      }
      try pass(HookPoint(.embed), &embed)
      try pass(HookPoint(.posEmbed), &posEmbed)
      resid = add(embed, posEmbed)
    }

    for l in firstLayer..<c.layers {
      try checkStop()
      let b = w.blocks[l]
      if options.keepCheckpoint { keptResid.append(withEarlierRows(resid, resume?.checkpoint.residIn[l], count: p)) }
      try pass(.block(l, .residPre), &resid)

      // Attention: ln1 -> qkv -> causal softmax(q kᵀ/√D) v -> c_proj.
      var ln1 = try layerNorm(resid, weight: b.ln1Weight, bias: b.ln1Bias, scaleHook: .block(l, .ln1Scale), pass: pass)
      try pass(.block(l, .ln1Normalized), &ln1)
      var qkv = Tensor(uninitialized: [n, 3 * C])
      matmulForward(qkv.mutablePointer(), ln1.pointer, b.attnWeight.pointer, b.attnBias.pointer, T: n, C: C, OC: 3 * C)
      for (site, third) in [(HookPoint.Site.q, 0), (.k, 1), (.v, 2)] where hooks.wants(.block(l, site)) {
        var part = Tensor(zeros: [n, H, D])
        let src = qkv.pointer + third * C, dst = part.mutablePointer()
        for t in 0..<n { (dst + t * C).update(from: src + t * 3 * C, count: C) }
        try pass(.block(l, site), &part)
        let back = qkv.mutablePointer() + third * C, pp = part.pointer
        for t in 0..<n { (back + t * 3 * C).update(from: pp + t * C, count: C) }
      }
      if let resume, p > 0 {
        // Earlier positions' keys and values from the checkpoint (their queries are unused).
        var all = Tensor(zeros: [T, 3 * C])
        let a = all.mutablePointer(), k = resume.checkpoint.keys[l].pointer, v = resume.checkpoint.values[l].pointer
        for t in 0..<p {
          (a + t * 3 * C + C).update(from: k + t * C, count: C)
          (a + t * 3 * C + 2 * C).update(from: v + t * C, count: C)
        }
        (a + p * 3 * C).update(from: qkv.pointer, count: n * 3 * C)
        qkv = all
      }
      if options.keepCheckpoint {
        keptKeys.append(qkv.columns(C..<(2 * C)))
        keptValues.append(qkv.columns((2 * C)..<(3 * C)))
      }
      var z = Tensor(uninitialized: [n, H, D])
      if hooks.wants(.block(l, .attnScores)) || hooks.wants(.block(l, .pattern)) {
        var pattern = Tensor(uninitialized: [H, n, T])
        do {
          let pat = pattern.mutablePointer(), q = qkv.pointer
          for h in 0..<H { attentionScores(pat + h * n * T, qkv: q, head: h, queries: n, T: T, C: C, D: D) }
        }
        if hooks.wants(.block(l, .attnScores)) {
          try pass(.block(l, .attnScores), &pattern)
        }
        do {
          let pat = pattern.mutablePointer()
          parallelChunks(H, minimumChunk: n >= 64 ? 1 : H) { heads in
            for h in heads { causalSoftmax(pat + h * n * T, pat + h * n * T, queries: n, T: T) }
          }
        }
        try pass(.block(l, .pattern), &pattern)
        let zp = z.mutablePointer(), pat = pattern.pointer, q = qkv.pointer
        for h in 0..<H {
          attentionValues(zp, pattern: pat + h * n * T, qkv: q, head: h, queries: n, T: T, C: C, D: D)
        }
      } else {
        fusedCausalAttention(z.mutablePointer(), qkv: qkv.pointer, heads: H, queries: n, T: T, C: C, D: D)
      }
      try pass(.block(l, .z), &z)
      var attnOut = Tensor(uninitialized: [n, C])
      matmulForward(
        attnOut.mutablePointer(), z.pointer, b.attnProjWeight.pointer, b.attnProjBias.pointer, T: n, C: C, OC: C)
      try pass(.block(l, .attnOut), &attnOut)
      var residMid = add(resid, attnOut)
      try pass(.block(l, .residMid), &residMid)

      // MLP: ln2 -> c_fc -> gelu_new -> c_proj.
      var ln2 = try layerNorm(
        residMid, weight: b.ln2Weight, bias: b.ln2Bias, scaleHook: .block(l, .ln2Scale), pass: pass)
      try pass(.block(l, .ln2Normalized), &ln2)
      var mlpPre = Tensor(uninitialized: [n, F])
      matmulForward(mlpPre.mutablePointer(), ln2.pointer, b.fcWeight.pointer, b.fcBias.pointer, T: n, C: C, OC: F)
      try pass(.block(l, .mlpPre), &mlpPre)
      var mlpPost = Tensor(uninitialized: [n, F])
      geluForward(mlpPost.mutablePointer(), mlpPre.pointer, count: n * F)
      try pass(.block(l, .mlpPost), &mlpPost)
      var mlpOut = Tensor(uninitialized: [n, C])
      matmulForward(
        mlpOut.mutablePointer(), mlpPost.pointer, b.fcProjWeight.pointer, b.fcProjBias.pointer, T: n, C: F, OC: C)
      try pass(.block(l, .mlpOut), &mlpOut)
      var residPost = add(residMid, mlpOut)
      try pass(.block(l, .residPost), &residPost)
      resid = residPost
    }
    try checkStop()
    if options.keepCheckpoint {
      keptResid.append(withEarlierRows(resid, resume?.checkpoint.residIn[c.layers], count: p))
    }

    var final = try layerNorm(
      resid, weight: w.lnfWeight, bias: w.lnfBias, scaleHook: HookPoint(.lnFinalScale), pass: pass)
    try pass(HookPoint(.lnFinalNormalized), &final)
    let logits: Tensor
    switch options.logits {
    case .all:
      var out = Tensor(uninitialized: [n, V])
      unembedForward(out.mutablePointer(), final.pointer, w.lmHead.pointer, T: n, C: C, V: V)
      logits = out
    case .last:
      var out = Tensor(uninitialized: [1, V])
      unembedForward(out.mutablePointer(), final.pointer + (n - 1) * C, w.lmHead.pointer, T: 1, C: C, V: V)
      logits = out
    case .none:
      logits = Tensor(zeros: [0, V])
    }
    let checkpoint =
      options.keepCheckpoint
      ? ForwardCheckpoint(tokens: tokens, keys: keptKeys, values: keptValues, residIn: keptResid) : nil
    return ForwardResult(tokens: tokens, logits: logits, cache: hooks.cache, firstPosition: p, checkpoint: checkpoint)
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

  /// LayerNorm with its scale [T, 1] exposed as a hook point (replacing the
  /// scale changes the normalisation, as in TransformerLens).
  private func layerNorm(
    _ x: Tensor, weight: Tensor, bias: Tensor, scaleHook: HookPoint, pass: (HookPoint, inout Tensor) throws -> Void
  ) throws -> Tensor {
    let T = x.shape[0], C = x.shape[1]
    var mean = [Float](repeating: 0, count: T)
    var scale = Tensor(zeros: [T, 1])
    layerNormStatistics(x.pointer, mean: &mean, scale: scale.mutablePointer(), T: T, C: C, eps: config.layerNormEpsilon)
    try pass(scaleHook, &scale)
    var out = Tensor(uninitialized: [T, C])
    layerNormApply(
      out.mutablePointer(), x.pointer, mean: mean, scale: scale.pointer, weight: weight.pointer, bias: bias.pointer,
      T: T, C: C)
    return out
  }

  /// The first `p` rows of `earlier` [≥ p, C] over `rows` [n, C]: a whole
  /// [p + n, C] value when a resumed pass computed only the last n positions.
  private func withEarlierRows(_ rows: Tensor, _ earlier: Tensor?, count p: Int) -> Tensor {
    guard let earlier, p > 0 else { return rows }
    let n = rows.shape[0], C = rows.shape[1]
    var out = Tensor(zeros: [p + n, C])
    let o = out.mutablePointer()
    o.update(from: earlier.pointer, count: p * C)
    (o + p * C).update(from: rows.pointer, count: n * C)
    return out
  }

  private func add(_ a: Tensor, _ b: Tensor) -> Tensor {
    var out = Tensor(uninitialized: a.shape)
    let o = out.mutablePointer(), x = a.pointer, y = b.pointer
    for i in 0..<a.count { o[i] = x[i] + y[i] }
    return out
  }

  /// Throws unless `point` exists in this model.
  public func validate(_ point: HookPoint) throws {
    if let l = point.layer, l >= config.layers {
      throw ModelError.unknownHook(point.name, suggestion: "this model has blocks 0...\(config.layers - 1)")
    }
  }
}

extension GPT2Model {
  /// Logits [T, V] of ln_final outputs x [T, C] (the unembedding alone).
  public func unembed(_ x: Tensor) -> Tensor {
    let T = x.shape[0]
    var out = Tensor(uninitialized: [T, config.vocabSize])
    unembedForward(out.mutablePointer(), x.pointer, weights.lmHead.pointer, T: T, C: config.dModel, V: config.vocabSize)
    return out
  }
}
