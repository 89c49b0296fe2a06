/// What a parameter or flag accepts. The interpreter checks arguments against
/// it before a command's body runs.
public enum ValueKind: String, Sendable {
  case any, number, string, bool, list, record, function
  /// An integer number.
  case int
  /// A whole number, 0 or more (how many rows, tokens, examples).
  case count
  /// A table, or a list of records (which acts as a table), or a record (one row).
  case table
  /// A bare word is taken as its text (column names, format names, file
  /// names): `sort total` passes "total". Other arguments must evaluate to a
  /// string; write `$name` or `(name)` to pass a variable's value.
  case word
  /// A bare word is taken as its text, like `word`; anything else is
  /// evaluated and may be any value (`--sae all`, `--sae ["a", "b"]`).
  case wordOrValue
  /// An expression evaluated later, once per row, with the row's fields bound
  /// as variables (`where total > 1`), or a closure taking the row
  /// (`where { |r| r.total > 1 }`). The command receives a function either way
  /// and calls it through `Interpreter.callRow`.
  case rowExpression

  /// How help and error messages name the kind: "a number", "a word" ...
  public var article: String {
    switch self {
    case .any: return "a value"
    case .int: return "an integer"
    case .count: return "a whole number, 0 or more"
    case .table: return "a table"
    case .word: return "a word or string"
    case .wordOrValue: return "a word or a value"
    case .rowExpression: return "an expression or closure"
    default: return "a \(rawValue)"
    }
  }
}

/// A positional parameter of a command.
public struct ParameterSpec: Sendable {
  public var name: String
  public var kind: ValueKind
  /// May be left out.
  public var optional: Bool
  /// Takes all remaining positional arguments (must be last).
  public var variadic: Bool
  public var summary: String

  public init(
    _ name: String, _ kind: ValueKind = .any, optional: Bool = false, variadic: Bool = false,
    _ summary: String = ""
  ) {
    self.name = name
    self.kind = kind
    self.optional = optional
    self.variadic = variadic
    self.summary = summary
  }
}

/// A `--name` flag: a boolean switch, or a flag taking one value.
public struct FlagSpec: Sendable {
  public var name: String
  /// The value's kind, or nil for a switch (`--desc`).
  public var kind: ValueKind?
  /// The value's placeholder in usage lines (`--top N`).
  public var valueName: String
  public var summary: String
  /// The default shown in help ("10"); the command applies it itself.
  public var defaultValue: String?

  /// A flag taking a value.
  public init(
    _ name: String, _ kind: ValueKind, valueName: String? = nil, _ summary: String,
    default defaultValue: String? = nil
  ) {
    self.name = name
    self.kind = kind
    self.valueName = valueName ?? (kind == .int || kind == .count || kind == .number ? "N" : name.uppercased())
    self.summary = summary
    self.defaultValue = defaultValue
  }

  /// A boolean switch.
  public static func `switch`(_ name: String, _ summary: String) -> FlagSpec {
    var f = FlagSpec(name, .bool, summary)
    f.kind = nil
    f.valueName = ""
    return f
  }
}

/// Everything a command says about itself; help, apropos, argument checking,
/// completion and the Markdown reference come from it.
public struct CommandSpec: Sendable {
  public var name: String
  public var group: String
  /// One line, no final period.
  public var summary: String
  public var parameters: [ParameterSpec]
  public var flags: [FlagSpec]
  /// Runnable tdb source lines.
  public var examples: [String]
  /// Accepts a pipeline input (`a | name`).
  public var takesInput: Bool
  /// What the input is, for help ("a table or list of records").
  public var input: String?
  /// Longer help text (paragraphs), optional.
  public var details: String?
  /// Writes files (a file it is given, a dataset): `tdb serve` refuses it
  /// unless started with `--allow-write`.
  public var writesFiles: Bool

  public init(
    name: String, group: String, summary: String, parameters: [ParameterSpec] = [],
    flags: [FlagSpec] = [], examples: [String] = [], takesInput: Bool = false,
    input: String? = nil, details: String? = nil, writesFiles: Bool = false
  ) {
    self.name = name
    self.group = group
    self.summary = summary
    self.parameters = parameters
    self.flags = flags
    self.examples = examples
    self.takesInput = takesInput || input != nil
    self.input = input
    self.details = details
    self.writesFiles = writesFiles
  }

  /// `sort [COLUMN] [--desc]`
  public var usage: String {
    var parts = [name]
    for p in parameters {
      var s = p.name.uppercased()
      if p.variadic { s += "..." }
      parts.append(p.optional ? "[\(s)]" : s)
    }
    for f in flags {
      parts.append(f.kind == nil ? "[--\(f.name)]" : "[--\(f.name) \(f.valueName)]")
    }
    return parts.joined(separator: " ")
  }

  /// The parameter that positional argument `i` binds to.
  func parameter(at i: Int) -> ParameterSpec? {
    if i < parameters.count { return parameters[i] }
    if let last = parameters.last, last.variadic { return last }
    return nil
  }
}

/// A command's implementation: gets the checked call and the interpreter
/// (to call closures, run other commands, write output).
public typealias CommandBody = (CommandCall, Interpreter) throws -> Value

/// A registered command.
public final class Command {
  public let spec: CommandSpec
  let body: CommandBody
  /// Defined with `def` (arity is checked by the function call).
  public let isUserDefined: Bool

  init(spec: CommandSpec, body: @escaping CommandBody, isUserDefined: Bool) {
    self.spec = spec
    self.body = body
    self.isUserDefined = isUserDefined
  }
}

/// The commands a session knows, builtin and `def`ined.
public final class CommandRegistry {
  private var commands: [String: Command] = [:]

  public init() {}

  /// Adds (or replaces) a command.
  public func register(_ spec: CommandSpec, _ body: @escaping CommandBody) {
    commands[spec.name] = Command(spec: spec, body: body, isUserDefined: false)
  }

  func registerUserDefined(_ spec: CommandSpec, _ body: @escaping CommandBody) {
    commands[spec.name] = Command(spec: spec, body: body, isUserDefined: true)
  }

  /// Removes a command.
  public func unregister(_ name: String) {
    commands[name] = nil
  }

  public func lookup(_ name: String) -> Command? { commands[name] }

  /// Every command, sorted by name.
  public var all: [Command] { commands.values.sorted { $0.spec.name < $1.spec.name } }

  /// Command names, sorted (for completion).
  public var names: [String] { commands.keys.sorted() }

  /// Commands by group, groups and commands sorted by name.
  public var groups: [(group: String, commands: [Command])] {
    Dictionary(grouping: all, by: { $0.spec.group })
      .map { (group: $0.key, commands: $0.value) }
      .sorted { $0.group < $1.group }
  }
}

/// A command call with its arguments checked against the spec: positional
/// values, flag values (a switch that is set holds `true`) and the pipeline input.
public struct CommandCall {
  public let name: String
  public var positional: [Value]
  public var flags: [String: Value]
  public var input: Value?
  /// Where the call is written.
  public let location: SourceLocation
  public let spec: CommandSpec?
  /// Where each positional argument and each flag's value is written, for diagnostics.
  public var positionalLocations: [SourceLocation] = []
  public var flagLocations: [String: SourceLocation] = [:]

  public init(
    name: String, positional: [Value] = [], flags: [String: Value] = [:], input: Value? = nil,
    location: SourceLocation = .unknown, spec: CommandSpec? = nil
  ) {
    self.name = name
    self.positional = positional
    self.flags = flags
    self.input = input
    self.location = location
    self.spec = spec
  }

  /// Positional argument `i`, or nil.
  public subscript(_ i: Int) -> Value? { i < positional.count ? positional[i] : nil }

  private func parameterName(_ i: Int) -> String {
    spec?.parameter(at: i)?.name.uppercased() ?? "argument \(i + 1)"
  }

  /// Positional argument `i` as `T`; throws if it is missing or of another type.
  public func arg<T: ValueConvertible>(_ i: Int, as type: T.Type = T.self) throws -> T {
    guard let v = self[i] else { throw EvalError("missing argument \(parameterName(i))") }
    return try convert(v, T.self, what: parameterName(i))
  }

  /// Positional argument `i` as `T`, or nil if it is missing or null.
  public func optionalArg<T: ValueConvertible>(_ i: Int, as type: T.Type = T.self) throws -> T? {
    guard let v = self[i], !v.isNull else { return nil }
    return try convert(v, T.self, what: parameterName(i))
  }

  /// Positional argument `i` as a host value of class `T`; `what` names the
  /// expected value in the error ("a run").
  public func host<T: HostValue>(_ i: Int, as type: T.Type = T.self, what: String) throws -> T {
    guard let v = self[i] else { throw EvalError("missing argument \(parameterName(i))") }
    guard let h = v.host(as: T.self) else {
      throw EvalError("\(parameterName(i)): expected \(what), got \(v.typeName)")
    }
    return h
  }

  /// The pipeline input as a host value of class `T`; `what` names it in errors.
  public func hostInput<T: HostValue>(as type: T.Type = T.self, what: String) throws -> T {
    let v = try requireInput()
    guard let h = v.host(as: T.self) else {
      throw EvalError("expected \(what) as input, got \(v.typeName)")
    }
    return h
  }

  /// Positional arguments from `i` on (a variadic parameter).
  public func rest(from i: Int) -> [Value] { i < positional.count ? Array(positional[i...]) : [] }

  /// The value of `--name` as `T`, or nil if not given.
  public func flag<T: ValueConvertible>(_ name: String, as type: T.Type = T.self) throws -> T? {
    guard let v = flags[name] else { return nil }
    return try convert(v, T.self, what: "--\(name)")
  }

  /// The value of `--name` as `T`, or `defaultValue` if not given.
  public func flag<T: ValueConvertible>(_ name: String, default defaultValue: T) throws -> T {
    try flag(name, as: T.self) ?? defaultValue
  }

  /// Whether switch `--name` is set.
  public func isSet(_ name: String) -> Bool {
    if case .bool(true) = flags[name] { return true }
    return false
  }

  /// The pipeline input; throws if there is none.
  public func requireInput() throws -> Value {
    guard let input else { throw EvalError("needs a pipeline input (value | \(name) ...)") }
    return input
  }

  private func convert<T: ValueConvertible>(_ v: Value, _ t: T.Type, what: String) throws -> T {
    do {
      return try T.from(v)
    } catch let e as EvalError {
      throw EvalError("\(what): \(e.message)")
    }
  }
}

/// Swift types a `Value` converts to for `CommandCall.arg` and `flag`.
public protocol ValueConvertible {
  /// Converts, or throws an `EvalError` such as "expected a number, got string".
  static func from(_ value: Value) throws -> Self
}

func mismatch(_ kind: ValueKind, _ v: Value) -> EvalError {
  EvalError("expected \(kind.article), got \(v.typeName)")
}

extension Value: ValueConvertible {
  public static func from(_ value: Value) throws -> Value { value }
}
extension Double: ValueConvertible {
  public static func from(_ value: Value) throws -> Double {
    guard let d = value.number else { throw mismatch(.number, value) }
    return d
  }
}
extension Int: ValueConvertible {
  public static func from(_ value: Value) throws -> Int {
    guard let i = value.int else {
      if case .number(let d) = value {
        throw EvalError("expected an integer, got \(formatNumber(d))")
      }
      throw mismatch(.int, value)
    }
    return i
  }
}
extension String: ValueConvertible {
  public static func from(_ value: Value) throws -> String {
    guard let s = value.string else { throw mismatch(.string, value) }
    return s
  }
}
extension Bool: ValueConvertible {
  public static func from(_ value: Value) throws -> Bool {
    guard let b = value.bool else { throw mismatch(.bool, value) }
    return b
  }
}
extension Array: ValueConvertible where Element == Value {
  public static func from(_ value: Value) throws -> [Value] {
    guard let l = value.list else { throw mismatch(.list, value) }
    return l
  }
}
extension Record: ValueConvertible {
  public static func from(_ value: Value) throws -> Record {
    guard let r = value.record else { throw mismatch(.record, value) }
    return r
  }
}
extension Table: ValueConvertible {
  public static func from(_ value: Value) throws -> Table {
    guard let t = Table(tabular: value) else { throw mismatch(.table, value) }
    return t
  }
}
extension Function: ValueConvertible {
  public static func from(_ value: Value) throws -> Self {
    guard case .function(let f) = value, let g = f as? Self else {
      throw mismatch(.function, value)
    }
    return g
  }
}
