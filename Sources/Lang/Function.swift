/// A callable value: a user function or closure with the scope it captured, a
/// per-row expression (`where total > 1`), or a native Swift body.
public final class Function {
  enum Body {
    case user(FunctionDecl)
    /// An expression evaluated with a row's fields bound as variables.
    case rowExpression(Expr)
    case native(([Value]) throws -> Value)
  }

  let body: Body
  let environment: Environment?
  /// The `def` name, or nil for a closure.
  public let name: String?
  /// Parameter names, in order.
  public let parameters: [String]

  init(body: Body, environment: Environment?, name: String?, parameters: [String]) {
    self.body = body
    self.environment = environment
    self.name = name
    self.parameters = parameters
  }

  /// A function implemented in Swift, taking `parameters.count` arguments.
  public init(
    native name: String, parameters: [String], _ body: @escaping ([Value]) throws -> Value
  ) {
    self.body = .native(body)
    self.environment = nil
    self.name = name
    self.parameters = parameters
  }

  /// True for the implicit function of a per-row expression such as `where total > 1`.
  public var isRowExpression: Bool {
    if case .rowExpression = body { return true }
    return false
  }

  /// `<function f(a, b)>`, `<closure |x|>`.
  public var summary: String {
    if case .rowExpression = body { return "<row expression>" }
    if let name { return "<function \(name)(\(parameters.joined(separator: ", ")))>" }
    return "<closure |\(parameters.joined(separator: ", "))|>"
  }
}
