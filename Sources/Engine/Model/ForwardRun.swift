import Foundation

/// The plumbing of one forward pass, kept out of the maths: hook points
/// (interventions, the cache, SAE splices), interrupts, and the checkpoint
/// a later pass can resume from (or the one this pass resumes from).
struct ForwardRun {
  let tokens: [Int]
  /// Positions first..<T are computed (n rows); earlier ones come from a checkpoint.
  let first: Int
  var T: Int { tokens.count }
  var n: Int { T - first }
  var hooks: HookRunner
  let saeAt: [HookPoint: SAESplice]
  let resume: ResumePoint?
  let keepCheckpoint: Bool
  let shouldStop: (() -> Bool)?
  let observeHeadNormInputs: ((_ layer: Int, _ q: Tensor, _ k: Tensor) -> Void)?
  /// Rotary angles of the computed positions, per layer (rotary models only).
  let rotations: LayerRotations
  private(set) var keptKeys: [Tensor] = [], keptValues: [Tensor] = [], keptResid: [Tensor] = []

  init(tokens: [Int], options: ForwardOptions, saeAt: [HookPoint: SAESplice], config: ModelConfig) {
    self.tokens = tokens
    first = options.resume?.position ?? 0
    hooks = HookRunner(
      interventions: options.interventions, request: options.cache, splicedAt: Set(saeAt.keys), start: first)
    self.saeAt = saeAt
    resume = options.resume
    keepCheckpoint = options.keepCheckpoint
    shouldStop = options.shouldStop
    observeHeadNormInputs = options.observeHeadNormInputs
    rotations = LayerRotations(config, positions: first..<tokens.count)
  }

  /// A hook point the value passes: user interventions, then an SAE splice if one sits there.
  mutating func pass(_ point: HookPoint, _ value: inout Tensor) throws {
    if hooks.wants(point) { try hooks.visit(point, &value, tokens: T) }
    if let splice = saeAt[point] { try spliceSAE(splice, at: point, &value) }
  }

  func wants(_ point: HookPoint) -> Bool { hooks.wants(point) }

  /// Whether nothing reads, changes or splices at any hook point of block `l`
  /// or of ln_final: then what the block computes at the other positions is
  /// never seen when only the last position's logits are asked for.
  func leavesUntouched(layer l: Int) -> Bool {
    !HookPoint.blockAndFinalNorm(l).contains { hooks.wants($0) || saeAt[$0] != nil }
  }

  func checkStop() throws {
    if let shouldStop, shouldStop() { throw ModelError.interrupted }
  }

  /// The residual stream entering block `l` (entry L: entering ln_final), kept whole.
  mutating func keepResidual(_ l: Int, _ resid: Tensor) {
    guard keepCheckpoint else { return }
    keptResid.append(withEarlierRows(resid, resume?.checkpoint.residIn[l]))
  }

  /// Keys and values of every position [T, KV·D] for block `l`: the
  /// checkpoint's for positions before `first`, then the computed ones; kept
  /// for a checkpoint if asked.
  mutating func keysAndValues(_ l: Int, _ k: Tensor, _ v: Tensor) -> (Tensor, Tensor) {
    let whole = (withEarlierRows(k, resume?.checkpoint.keys[l]), withEarlierRows(v, resume?.checkpoint.values[l]))
    if keepCheckpoint {
      keptKeys.append(whole.0)
      keptValues.append(whole.1)
    }
    return whole
  }

  var checkpoint: ForwardCheckpoint? {
    keepCheckpoint ? ForwardCheckpoint(tokens: tokens, keys: keptKeys, values: keptValues, residIn: keptResid) : nil
  }

  /// The first `first` rows of `earlier` over `rows` [n, W]: a whole [T, W]
  /// value when a resumed pass computed only the last n positions.
  private func withEarlierRows(_ rows: Tensor, _ earlier: Tensor?) -> Tensor {
    let p = first
    guard let earlier, p > 0 else { return rows }
    let n = rows.shape[0], W = rows.count / max(n, 1)
    var out = Tensor(uninitialized: [p + n] + rows.shape.dropFirst())
    let o = out.mutablePointer()
    o.update(from: earlier.pointer, count: p * W)
    (o + p * W).update(from: rows.pointer, count: n * W)
    return out
  }

  /// An SAE at `point`: the value becomes its reconstruction (plus the error
  /// term when kept), with the SAE's own hook points along the way.
  private mutating func spliceSAE(_ splice: SAESplice, at point: HookPoint, _ value: inout Tensor) throws {
    let sae = splice.sae
    func site(_ s: HookPoint.SAESite) -> HookPoint { HookPoint(point.site, layer: point.layer, sae: s) }
    // The SAE sees [T, d_in]: hook_z's heads flattened; the output gets the hook's shape back.
    var input = value.rank == 2 ? value : value.reshaped([value.shape[0], sae.dIn])
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
    value = output.reshaped(value.shape)
  }
}
