/// How a gradient crosses a hook whose value a forward intervention rewrote.
public enum InterventionGradient: Sendable {
  /// Rewritten entries are constants (ablation, patching): the gradient stops
  /// there, and entries the interventions left equal pass it on unchanged.
  case untouchedEntries
  /// The rewritten value counts as the original plus a constant (steering):
  /// the gradient passes through whole.
  case straightThrough
}

/// What the backward pass treats as constant, rewrites and returns.
public struct BackwardOptions: @unchecked Sendable {
  /// Treat ln_final's scale as a constant (TDB's convention for direct
  /// attributions): no gradient flows from it back into the residual stream.
  public var detachFinalLayerNormScale = false
  /// Treat every LayerNorm scale (ln1, ln2, ln_final) as a constant.
  public var detachLayerNormScales = false
  /// Rewrite (or just read) the gradient at a hook during the backward pass;
  /// `apply` gets the gradient of the metric with respect to the hook's value
  /// and whatever it leaves there is what flows further back (and is returned).
  public var gradientInterventions: [Intervention] = []
  /// Which hooks' gradients to return (`.all`: every hook of the model plus
  /// the sites of spliced SAEs).
  public var wanted: CacheRequest = .all
  /// How gradients cross the forward pass's interventions.
  public var throughInterventions: InterventionGradient = .untouchedEntries

  /// Whether the gradient at `p` is returned.
  func returns(_ p: HookPoint) -> Bool { wanted.includes(p) }

  public init(
    detachFinalLayerNormScale: Bool = false, detachLayerNormScales: Bool = false,
    gradientInterventions: [Intervention] = [], wanted: CacheRequest = .all,
    throughInterventions: InterventionGradient = .untouchedEntries
  ) {
    self.detachFinalLayerNormScale = detachFinalLayerNormScale
    self.detachLayerNormScales = detachLayerNormScales
    self.gradientInterventions = gradientInterventions
    self.wanted = wanted
    self.throughInterventions = throughInterventions
  }
}
