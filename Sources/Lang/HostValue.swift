/// One subscript of `x[...]`, as handed to a host value.
public enum Subscript: Equatable, Sendable {
  /// `x[3]`, `x[-1]` (negative counts from the end; the host applies that rule).
  case index(Int)
  /// `x["name"]`
  case key(String)
  /// `x[a:b]`, `x[a:b:step]`; missing bounds are nil.
  case slice(start: Int?, end: Int?, step: Int?)
  /// `x[:]`
  case all
}

/// Operators a host value may implement (`t * 2`, `a - b`).
public enum BinaryOperator: String, Sendable {
  case add = "+", subtract = "-", multiply = "*", divide = "/", remainder = "%"
  case equal = "==", notEqual = "!=", less = "<", lessEqual = "<=", greater = ">"
  case greaterEqual = ">="
}

/// A domain value that Lang carries without understanding it: tensors, runs,
/// hooks, components, hook points, tokens. Builtins define them.
public protocol HostValue: AnyObject {
  /// The type name shown by `type` and in error messages: "tensor", "run" ...
  var typeName: String { get }
  /// Plain data for serialisation (a tensor as nested lists, a run as a record ...).
  func plain() -> Value
  /// One line of text for terminals and string interpolation.
  func summary() -> String
  /// `x[...]`. Default: an error saying the type cannot be indexed.
  func index(_ subscripts: [Subscript]) throws -> Value
  /// `x.name`. Default: an error saying the type has no such member.
  func member(_ name: String) throws -> Value
  /// Names `member` accepts, for suggestions and completion. Default: none.
  var memberNames: [String] { get }
  /// The elements `for x in value` visits. Default: an error.
  func elements() throws -> [Value]
  /// `self OP other` (or `other OP self` when `selfOnLeft` is false); nil if unsupported.
  func binary(_ op: BinaryOperator, _ other: Value, selfOnLeft: Bool) throws -> Value?
  /// Equality with another host value. Default: identity.
  func isEqual(to other: any HostValue) -> Bool
}

/// A host value with a richer, possibly multi-line form for terminals
/// (a heatmap, a tensor grid). The shell uses it instead of `summary()`.
public protocol RichDisplay {
  /// Text for a terminal `width` columns wide; `color` allows ANSI escapes.
  func display(width: Int, color: Bool) -> String
}

extension HostValue {
  public func index(_ subscripts: [Subscript]) throws -> Value {
    throw EvalError("a \(typeName) cannot be indexed")
  }
  public func member(_ name: String) throws -> Value {
    throw EvalError("a \(typeName) has no member '\(name)'")
  }
  public var memberNames: [String] { [] }
  public func elements() throws -> [Value] {
    throw EvalError("cannot iterate over a \(typeName)")
  }
  public func binary(_ op: BinaryOperator, _ other: Value, selfOnLeft: Bool) throws -> Value? {
    nil
  }
  public func isEqual(to other: any HostValue) -> Bool { self === other }
}
