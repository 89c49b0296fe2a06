/// What attribution patching estimates patching for.
public enum PatchSite: String, Sendable, CaseIterable {
  /// Each head's output z at each position.
  case heads
  /// Each MLP neuron's post-activation at each position.
  case neurons
  /// The residual stream entering each block (resid_pre) at each position.
  case resid
}

/// One patchable place and the linear estimate of patching it.
public struct PatchEstimate: Sendable {
  /// The part of a hook value that patching copies (one position).
  public let selection: HookSelection
  public let layer: Int
  /// The head or neuron; nil for the residual stream.
  public let index: Int?
  public let position: Int
  /// (a_clean - a_corrupt) · ∂metric/∂a on the corrupt run.
  public let estimate: Float
}

/// The outcome of attribution patching.
public struct AttributionPatching: Sendable {
  /// The metric on the corrupt run (the backward pass's run).
  public let corruptValue: Float
  /// Every place in forward order: layer, then position, then head or neuron.
  public let estimates: [PatchEstimate]
}

extension TransformerModel {
  /// Attribution patching (Nanda 2023): the effect of patching each place's
  /// clean activation into the corrupt run, estimated to first order as
  /// (a_clean - a_corrupt) · ∂metric/∂a at the corrupt run — two forward
  /// passes and one backward pass for every place at once.
  public func attributionPatching(
    clean: [Int], corrupt: [Int], cleanOptions: ForwardOptions = ForwardOptions(),
    corruptOptions: ForwardOptions = ForwardOptions(),
    metric: Metric, over site: PatchSite
  ) throws -> AttributionPatching {
    guard clean.count == corrupt.count else {
      throw AttributionError.lengthMismatch(clean: clean.count, corrupt: corrupt.count)
    }
    let c = config, T = corrupt.count, L = c.layers
    let hookSite: HookPoint.Site = site == .heads ? .z : site == .neurons ? .mlpPost : .residPre
    let points = Set((0..<L).map { HookPoint.block($0, hookSite) })
    var o = cleanOptions
    o.cache = .points(points)
    o.logits = .none
    let cleanValues = try forward(clean, options: o).cache
    var k = corruptOptions
    k.cache = .points(points)
    k.logits = .none
    let run = try gradients(corrupt, metric: metric, forward: k, backward: BackwardOptions(wanted: .points(points)))

    var out: [PatchEstimate] = []
    let (units, width): (Int, Int) =
      switch site {
      case .heads: (c.heads, c.dHead)
      case .neurons: (c.dMLP, 1)
      case .resid: (1, c.dModel)
      }
    out.reserveCapacity(L * T * units)
    for l in 0..<L {
      let p = HookPoint.block(l, hookSite)
      let a = cleanValues[p]!.pointer, b = run.result.cache[p]!.pointer, g = run.gradients[p]!.pointer
      for t in 0..<T {
        for u in 0..<units {
          let base = (t * units + u) * width
          var s: Float = 0
          for i in base..<(base + width) { s += (a[i] - b[i]) * g[i] }
          let index = site == .resid ? nil : u
          out.append(
            PatchEstimate(
              selection: HookSelection(hook: p, positions: [t], index: index), layer: l, index: index, position: t,
              estimate: s))
        }
      }
    }
    return AttributionPatching(corruptValue: run.metricValue, estimates: out)
  }
}
