/// The outcome of `TransformerModel.gradients`: the forward pass, the metric's value
/// and its gradient with respect to the hook values asked for.
public struct GradientResult: @unchecked Sendable {
  /// The forward pass as `forward(_:options:)` would have returned it.
  public let result: ForwardResult
  public let metricValue: Float
  /// d metric / d (hook value), each with the hook value's shape.
  public let gradients: [HookPoint: Tensor]
}
