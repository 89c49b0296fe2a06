/// The syntax tree. Every node keeps the location of its first token.

/// A function body with its parameters: `def name(a, b) { ... }` or `{ |x| ... }`.
final class FunctionDecl {
  let name: String?
  let parameters: [String]
  let body: [Stmt]
  let location: SourceLocation

  init(name: String?, parameters: [String], body: [Stmt], location: SourceLocation) {
    self.name = name
    self.parameters = parameters
    self.body = body
    self.location = location
  }
}

/// A piece of an interpolated string or word, parsed.
enum InterpolationPart {
  case text(String)
  case expr(Expr)
}

/// One item of a command call's argument list. Flags are bound to values at
/// run time, when the command's spec says whether a flag takes one.
enum Argument {
  case positional(Expr)
  case flag(String, SourceLocation)
}

/// One subscript inside `[...]`.
enum SubscriptExpr {
  case index(Expr)
  case slice(Expr?, Expr?, Expr?)
  case all
}

/// A command call: `name arg... --flag value`.
final class CommandExpr {
  let name: String
  let arguments: [Argument]
  let location: SourceLocation

  init(name: String, arguments: [Argument], location: SourceLocation) {
    self.name = name
    self.arguments = arguments
    self.location = location
  }
}

/// An `if` with its `else if` branches and optional `else`.
final class IfExpr {
  let branches: [(condition: Expr, body: [Stmt])]
  let elseBody: [Stmt]?
  let location: SourceLocation

  init(branches: [(condition: Expr, body: [Stmt])], elseBody: [Stmt]?, location: SourceLocation) {
    self.branches = branches
    self.elseBody = elseBody
    self.location = location
  }
}

indirect enum Expr {
  case literal(Value, SourceLocation)
  case interpolated([InterpolationPart], SourceLocation)
  /// A bare word: a variable, else whatever the host's word resolver makes of it.
  /// `segments` are the dot-separated pieces (`r.total` -> ["r", "total"]).
  case word(String, segments: [String], SourceLocation)
  /// A word built by interpolation, `blocks.$L.hook_mlp_out`: always goes to the resolver.
  case interpolatedWord([InterpolationPart], SourceLocation)
  /// `$name`: always a variable (`$_`, `$1`, `$args`, `$env`).
  case variable(String, SourceLocation)
  case list([Expr], SourceLocation)
  case record([(key: String, value: Expr)], SourceLocation)
  case closure(FunctionDecl)
  case negate(Expr, SourceLocation)
  case not(Expr, SourceLocation)
  case binary(BinaryOperator, Expr, Expr, SourceLocation)
  case and(Expr, Expr, SourceLocation)
  case or(Expr, Expr, SourceLocation)
  case range(Expr, Expr, SourceLocation)
  case index(Expr, [SubscriptExpr], SourceLocation)
  case member(Expr, String, SourceLocation)
  /// `f(a, b)`: call a function value or a command with positional arguments.
  case call(Expr, [Expr], SourceLocation)
  case command(CommandExpr)
  /// `a | b | c`: each later stage is a command that takes the previous value as input.
  case pipeline([Expr], SourceLocation)
  case ifElse(IfExpr)

  var location: SourceLocation {
    switch self {
    case .literal(_, let l), .interpolated(_, let l), .word(_, _, let l),
      .interpolatedWord(_, let l),
      .variable(_, let l), .list(_, let l), .record(_, let l), .negate(_, let l), .not(_, let l),
      .binary(_, _, _, let l), .and(_, _, let l), .or(_, _, let l), .range(_, _, let l),
      .index(_, _, let l), .member(_, _, let l), .call(_, _, let l), .pipeline(_, let l):
      return l
    case .closure(let f): return f.location
    case .command(let c): return c.location
    case .ifElse(let i): return i.location
    }
  }
}

/// What an assignment writes to: a variable, or a path of fields and indices inside one.
indirect enum AssignTarget {
  case variable(String, SourceLocation)
  case member(AssignTarget, String, SourceLocation)
  case index(AssignTarget, Expr, SourceLocation)
}

indirect enum Stmt {
  case expression(Expr)
  case letBinding(String, Expr, SourceLocation)
  /// `x = e`, `x += e` (operator nil for plain `=`).
  case assign(AssignTarget, BinaryOperator?, Expr, SourceLocation)
  case def(FunctionDecl)
  case forIn(String, Expr, [Stmt], SourceLocation)
  case whileLoop(Expr, [Stmt], SourceLocation)
  case breakLoop(SourceLocation)
  case continueLoop(SourceLocation)
  case returnValue(Expr?, SourceLocation)
}

/// A parsed source file, ready to run.
public struct Program {
  let statements: [Stmt]
  /// The file it came from.
  public let file: SourceFile
  /// Names of the `def`s in it, known before it runs.
  public let definedCommands: [String]
}
