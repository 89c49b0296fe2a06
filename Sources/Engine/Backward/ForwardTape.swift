/// What the backward pass needs from the forward pass, recorded by observer
/// interventions so that `forward(_:options:)` runs unchanged: a recorder is
/// an `Intervention` that stores the value it sees and leaves it alone.
///
/// For a hook point P three values matter:
/// - the value arriving at P, before P's interventions (`before`),
/// - P's value after its interventions (what the forward cache holds, `values`),
/// - the value flowing on from P: the spliced SAE's output if one sits at P,
///   else P's value (`flowing`, keyed by P) — what the next operation reads.
final class ForwardTape: @unchecked Sendable {
  private(set) var values: [HookPoint: Tensor] = [:]
  private(set) var flowing: [HookPoint: Tensor] = [:]
  private(set) var before: [HookPoint: Tensor] = [:]
  /// For each hook with forward interventions: true where they left the entry equal.
  private(set) var untouched: [HookPoint: [Bool]] = [:]

  /// Per block, q and k before Qwen3's and Gemma 3's per-head norms
  /// (`ForwardOptions.observeHeadNormInputs`).
  private(set) var headNormInputs: [Int: (q: Tensor, k: Tensor)] = [:]

  private var pending: [HookPoint: Tensor] = [:]
  /// Set when the forward pass runs the last block past its attention at the
  /// last position only (`ForwardOptions.lastBlockAtLastPositionOnly`).
  private let lastPositionOnly: (lastLayer: Int, tokens: Int)?

  init(lastPositionOnlyIn lastLayer: Int? = nil, tokens T: Int = 0) {
    lastPositionOnly = lastLayer.map { ($0, T) }
  }

  /// Which hook values a backward pass from `reaching` needs recorded.
  struct Plan {
    var values = Set<HookPoint>(), flowing = Set<HookPoint>(), before = Set<HookPoint>()

    /// Blocks at or below the highest hook in `reaching` (and ln_final when
    /// that is ln_final) are differentiated, so their inputs are recorded;
    /// `metricHook` is the hook a `hookValue` metric reads.
    /// `blockedAttention`: layers whose attention the backward pass
    /// differentiates in blocks from q, k and v, so their pattern is not kept.
    init(
      config c: ModelConfig, reaching starts: [HookPoint], interventions: [Intervention], saeAt: [HookPoint: SAESplice],
      metricHook: HookPoint?, blockedAttention: Set<Int> = []
    ) {
      let L = c.layers
      func depth(_ p: HookPoint) -> Int {
        switch p.site {
        case .embed, .posEmbed: -1
        case .lnFinalScale, .lnFinalNormalized: L
        default: p.layer!
        }
      }
      let top = starts.map(depth).max() ?? -1
      let intervened = Set(interventions.map(\.hook))
      for l in 0..<max(0, min(top + 1, L)) {
        for s: HookPoint.Site in [
          .residPre, .ln1Scale, .q, .k, .v, .rotQ, .rotK, .residMid, .ln2Scale, .mlpPre, .mlpPreLinear,
        ] where s.exists(in: c) {
          flowing.insert(.block(l, s))
        }
        let blocked = blockedAttention.contains(l)
        if !blocked { flowing.insert(.block(l, .pattern)) }
        // Post-norms likewise, from z and mlp.hook_post; their scales as used.
        if c.postNorms {
          flowing.formUnion([.block(l, .z), .block(l, .mlpPost), .block(l, .ln1PostScale), .block(l, .ln2PostScale)])
        }
        // Soft-capped scores: their derivative reads the capped scores.
        if c.attentionSoftcap != nil, !blocked {
          flowing.insert(.block(l, .attnScores))
          if intervened.contains(.block(l, .attnScores)) { before.insert(.block(l, .attnScores)) }
        }
        // The softmax's own output, when an intervention rewrites the pattern.
        if intervened.contains(.block(l, .pattern)) { before.insert(.block(l, .pattern)) }
      }
      if top >= L {
        flowing.formUnion([.block(L - 1, .residPost), HookPoint(.lnFinalScale), HookPoint(.lnFinalNormalized)])
      }
      for (p, s) in saeAt where depth(p) <= top {
        values.insert(HookPoint(p.site, layer: p.layer, sae: .input))
        before.insert(HookPoint(p.site, layer: p.layer, sae: .actsPost))  // which latents were active
        if s.sae.normalization != .none { before.insert(HookPoint(p.site, layer: p.layer, sae: .recons)) }
      }
      if let metricHook { values.insert(metricHook) }
    }
  }

  /// The interventions to run the forward pass with: the caller's, with
  /// recorders before and after them at the hooks `plan` names.
  func instrument(_ interventions: [Intervention], plan: Plan, saeAt: [HookPoint: SAESplice]) -> [Intervention] {
    let intervened = Set(interventions.map(\.hook))
    var first: [Intervention] = []
    var last: [Intervention] = []
    for p in intervened.union(plan.before) {
      first.append(
        Intervention(hook: p, label: "backward: record before \(p)") { value, _ in
          self.pending[p] = value
        })
    }
    for p in intervened.union(plan.before).union(plan.values) {
      let keepBefore = plan.before.contains(p), keepValue = plan.values.contains(p), mask = intervened.contains(p)
      last.append(
        Intervention(hook: p, label: "backward: record \(p)") { value, _ in
          if let b = self.pending.removeValue(forKey: p) {
            if mask { self.untouched[p] = ForwardTape.equalEntries(b, value) }
            if keepBefore { self.before[p] = b }
          }
          if keepValue { self.values[p] = self.wholePrompt(p, value) }
        })
    }
    for p in plan.flowing {
      let at = saeAt[p] == nil ? p : HookPoint(p.site, layer: p.layer, sae: .output)
      last.append(
        Intervention(hook: at, label: "backward: record flowing \(p)") { value, _ in
          self.flowing[p] = self.wholePrompt(p, value)
        })
    }
    return first + interventions + last
  }

  /// A value of the last position only, from the last block past its
  /// attention or from ln_final, placed in the last row of a zero value of
  /// the whole prompt. The backward pass reads only the rows where its
  /// gradient is nonzero, which for a metric of the last position is that
  /// row in those hooks, so the other rows are never read.
  private func wholePrompt(_ p: HookPoint, _ value: Tensor) -> Tensor {
    guard let (lastLayer, T) = lastPositionOnly, T > 1, value.shape.first == 1, p.positionAxis == 0,
      p.isIn(blockOrFinalNorm: lastLayer)
    else { return value }
    return value.placed(atPosition: T - 1, of: T, axis: 0)
  }

  private static func equalEntries(_ a: Tensor, _ b: Tensor) -> [Bool] {
    a.withUnsafeBufferPointer { x in b.withUnsafeBufferPointer { y in (0..<x.count).map { x[$0] == y[$0] } } }
  }

  /// Drops everything recorded in block `layer`, once the backward pass is
  /// below it: memory then shifts from the tape to the gradients as the pass
  /// goes down instead of holding both in full.
  func discard(layer: Int) {
    for key in values.keys where key.layer == layer { values[key] = nil }
    for key in flowing.keys where key.layer == layer { flowing[key] = nil }
    for key in before.keys where key.layer == layer { before[key] = nil }
    for key in untouched.keys where key.layer == layer { untouched[key] = nil }
  }

  func value(_ p: HookPoint) -> Tensor {
    guard let v = values[p] else { preconditionFailure("backward: \(p) was not recorded") }
    return v
  }

  func keepHeadNormInputs(layer l: Int, q: Tensor, k: Tensor) { headNormInputs[l] = (q, k) }

  func flowingValue(_ p: HookPoint) -> Tensor {
    guard let v = flowing[p] else { preconditionFailure("backward: the value flowing from \(p) was not recorded") }
    return v
  }

  func beforeValue(_ p: HookPoint) -> Tensor {
    guard let v = before[p] else { preconditionFailure("backward: \(p) before its interventions was not recorded") }
    return v
  }
}
