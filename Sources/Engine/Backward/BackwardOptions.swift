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

/// The outcome of `GPT2Model.gradients`: the forward pass, the metric's value
/// and its gradient with respect to the hook values asked for.
public struct GradientResult: @unchecked Sendable {
  /// The forward pass as `forward(_:options:)` would have returned it.
  public let result: ForwardResult
  public let metricValue: Float
  /// d metric / d (hook value), each with the hook value's shape.
  public let gradients: [HookPoint: Tensor]
}

/// Errors setting up a backward pass; one line each.
public enum BackwardError: Error, CustomStringConvertible, Equatable {
  case positionOutOfRange(Int, tokens: Int)
  case tokenOutOfRange(Int, vocab: Int)
  case lossNeedsTwoTokens
  case seedShape(hook: String, expected: [Int], found: [Int])
  case notSpliced(String, hook: String)
  case unsupportedSplice(String)
  case gradientShapeChanged(label: String, hook: String, from: [Int], to: [Int])

  public var description: String {
    switch self {
    case .positionOutOfRange(let p, let n): "position \(p) is outside the prompt (\(n) tokens: 0..<\(n) or -\(n)...-1)"
    case .tokenOutOfRange(let id, let vocab): "token id \(id) is outside the vocabulary (0..<\(vocab))"
    case .lossNeedsTwoTokens: "the loss needs a prompt of at least 2 tokens"
    case .seedShape(let h, let e, let f): "the seed for \(h) has shape \(f) but the hook value has shape \(e)"
    case .notSpliced(let site, let h): "\(site) needs an SAE spliced at \(h), and none is"
    case .unsupportedSplice(let h): "gradients through an SAE spliced at \(h) are not supported (only [tokens, d_in] hooks)"
    case .gradientShapeChanged(let label, let h, let from, let to): "'\(label)' changed the gradient at \(h) from shape \(from) to \(to)"
    }
  }
}
