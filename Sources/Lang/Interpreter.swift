import Foundation

/// Evaluates programs (jlox's Interpreter): statements, expressions, lexical
/// scopes, closures, command calls and pipelines.
///
/// Top-level expression statements produce numbered results: `$_` is the
/// last, `$1`, `$2` ... the first, second ... of the session.
public final class Interpreter {
  /// The commands this interpreter calls; `def` adds to it.
  public let registry: CommandRegistry
  let globals = Environment(parent: nil)

  /// Turns a bare word that is not a variable into a value (`L1H2`,
  /// `blocks.3.hook_resid_pre`); nil means "not mine", a thrown error is
  /// reported at the word.
  public var wordResolver: ((String) throws -> Value?)? = nil
  /// Words the resolver knows that are close to a misspelt one, for "did you mean".
  public var wordSuggestions: ((String) -> [String])? = nil
  /// Where `print` writes (standard output by default).
  public var write: (String) -> Void = { text in
    FileHandle.standardOutput.write(text.data(using: .utf8)!)
  }
  /// How `print` shows a value (the shell renders tables here).
  public var display: (Value) -> String = { $0.description }

  /// Results of top-level expressions, oldest first (`$1` is `results[0]`).
  public private(set) var results: [Value] = []
  /// Nested function calls allowed before "recursion too deep".
  public var maxCallDepth = 10_000

  var callDepth = 0
  private var entries = 0
  private var stackLimit: UInt = 0

  public init(registry: CommandRegistry = CommandRegistry()) {
    self.registry = registry
    globals.define("args", .list([]))
  }

  // MARK: - Public API

  /// The script arguments, `$args`.
  public var scriptArguments: [String] {
    get { (globals.lookup("args")?.list ?? []).compactMap(\.string) }
    set { globals.define("args", .list(newValue.map(Value.string))) }
  }

  /// Binds a global variable.
  public func define(_ name: String, _ value: Value) { globals.define(name, value) }

  /// A global variable's value.
  public func variable(_ name: String) -> Value? { globals.lookup(name) }

  /// Global variable names (for completion).
  public var variableNames: [String] { globals.visibleNames.sorted() }

  /// Parses source without running it; commands known now (and `def`s in the
  /// source) decide how bare words at the start of a stage parse.
  public func parse(_ file: SourceFile) throws -> Program {
    try Parser.parse(file) { [registry] in registry.lookup($0) != nil }
  }

  /// Parses `text`, reported under the name `file`.
  public func parse(_ text: String, file: String) throws -> Program {
    try parse(SourceFile(name: file, text: text))
  }

  /// Runs a program. Each top-level expression statement whose value is not
  /// null becomes a numbered result and is passed to `onResult` (the shell
  /// prints it).
  public func run(_ program: Program, onResult: (Value) throws -> Void = { _ in }) throws {
    try enter()
    defer { leave() }
    hoistDefinitions(program)
    for statement in program.statements {
      try checkInterrupt(at: statement)
      if case .expression(let e) = statement {
        let value = try evaluateStatementExpression(e)
        if !value.isNull {
          results.append(value)
          try onResult(value)
        }
      } else {
        _ = try execute(statement, globals)
      }
    }
  }

  /// Parses and runs `text`, returning the value of its last statement (null
  /// if that is not an expression). Results are numbered as in `run`.
  @discardableResult
  public func evaluate(_ text: String, file: String = "<eval>") throws -> Value {
    let program = try parse(text, file: file)
    var last: Value = .null
    try enter()
    defer { leave() }
    hoistDefinitions(program)
    for statement in program.statements {
      try checkInterrupt(at: statement)
      if case .expression(let e) = statement {
        last = try evaluateStatementExpression(e)
        if !last.isNull { results.append(last) }
      } else {
        _ = try execute(statement, globals)
        last = .null
      }
    }
    return last
  }

  /// Calls a function value (a closure argument, a `def`) with arguments.
  public func call(
    _ function: Function, _ arguments: [Value], at location: SourceLocation = .unknown
  )
    throws -> Value
  {
    try enter()
    defer { leave() }
    return try callFunction(function, arguments, at: location)
  }

  /// Calls a function on one row: a per-row expression or a closure without
  /// parameters sees the row's fields as variables (and the whole row as
  /// `it`); a closure with a parameter receives the row.
  public func callRow(_ function: Function, _ row: Value, at location: SourceLocation = .unknown)
    throws -> Value
  {
    try enter()
    defer { leave() }
    return try callRowFunction(function, row, at: location)
  }

  /// Calls a command by name as if written in source (for commands built on others).
  public func invoke(
    command name: String, positional: [Value] = [], flags: [String: Value] = [:],
    input: Value? = nil,
    at location: SourceLocation = .unknown
  ) throws -> Value {
    guard let command = registry.lookup(name) else {
      throw LangError.runtime("unknown command '\(name)'", location)
    }
    try enter()
    defer { leave() }
    let call = CommandCall(
      name: name, positional: positional, flags: flags, input: input, location: location,
      spec: command.spec)
    return try runCommand(command, call)
  }

  /// Throws `LangError.interrupted` if Ctrl-C was pressed.
  public func checkInterrupt(at location: SourceLocation = .unknown) throws {
    if Interrupt.requested { throw LangError.interrupted(location) }
  }

  /// The name closest to `name` among variables and commands, if any is close.
  public func suggestion(for name: String) -> String? {
    suggest(name, among: globals.visibleNames + registry.names)
  }

  /// Defines a program's top-level `def`s before it runs, so a script can
  /// call commands defined further down.
  private func hoistDefinitions(_ program: Program) {
    for statement in program.statements {
      if case .def(let decl) = statement { defineCommand(decl, globals) }
    }
  }

  private func enter() throws {
    if entries == 0 { stackLimit = StackGuard.limitForCurrentThread() }
    entries += 1
  }

  private func leave() { entries -= 1 }

  private func checkInterrupt(at statement: Stmt) throws {
    if Interrupt.requested { throw LangError.interrupted(location(of: statement)) }
  }

  func location(of statement: Stmt) -> SourceLocation {
    switch statement {
    case .expression(let e): return e.location
    case .letBinding(_, _, let l), .assign(_, _, _, let l), .forIn(_, _, _, let l),
      .whileLoop(_, _, let l), .breakLoop(let l), .continueLoop(let l), .returnValue(_, let l):
      return l
    case .def(let d): return d.location
    }
  }

  private func evaluateStatementExpression(_ e: Expr) throws -> Value {
    if case .ifElse(let i) = e, case .normal(let v) = try executeIf(i, globals) { return v }
    return try evaluate(e, globals)
  }

  // MARK: - Statements

  enum Flow {
    case normal(Value)
    case breakLoop
    case continueLoop
    case returnValue(Value)
  }

  func executeBlock(_ statements: [Stmt], _ env: Environment) throws -> Flow {
    var last: Value = .null
    for statement in statements {
      if Interrupt.requested { throw LangError.interrupted(location(of: statement)) }
      switch try execute(statement, env) {
      case .normal(let v): last = v
      case let other: return other
      }
    }
    return .normal(last)
  }

  func execute(_ statement: Stmt, _ env: Environment) throws -> Flow {
    switch statement {
    case .expression(let e):
      if case .ifElse(let i) = e { return try executeIf(i, env) }
      return .normal(try evaluate(e, env))
    case .letBinding(let name, let e, _):
      env.define(name, try evaluate(e, env))
      return .normal(.null)
    case .assign(let target, let op, let e, let loc):
      let value = try evaluate(e, env)
      try mutate(target, env) { old in
        // `xs += [x]` and `s += "x"` append in place.
        if op == .add, case .list(let more) = value, var items = takeList(&old) {
          items.append(contentsOf: more)
          old = .list(items)
        } else if op == .add, case .string(let more) = value, case .string(var text) = old {
          old = .null
          text += more
          old = .string(text)
        } else {
          old = try op.map { try binaryOp($0, old, value, at: loc) } ?? value
        }
      }
      return .normal(.null)
    case .def(let decl):
      defineCommand(decl, env)
      return .normal(.null)
    case .forIn(let name, let iterable, let body, let loc):
      return try executeFor(name, iterable, body, loc, env)
    case .whileLoop(let condition, let body, let loc):
      while try truth(try evaluate(condition, env), "while condition", condition.location) {
        if Interrupt.requested { throw LangError.interrupted(loc) }
        switch try loopBody(body, Environment(parent: env)) {
        case .breakLoop: return .normal(.null)
        case .returnValue(let v): return .returnValue(v)
        default: continue
        }
      }
      return .normal(.null)
    case .breakLoop:
      return .breakLoop
    case .continueLoop:
      return .continueLoop
    case .returnValue(let e, _):
      return .returnValue(try e.map { try evaluate($0, env) } ?? .null)
    }
  }

  /// Runs a loop body, turning control flow thrown out of nested expressions into flows.
  private func loopBody(_ body: [Stmt], _ scope: Environment) throws -> Flow {
    do {
      return try executeBlock(body, scope)
    } catch ControlFlow.breakLoop {
      return .breakLoop
    } catch ControlFlow.continueLoop {
      return .continueLoop
    }
  }

  private func executeFor(
    _ name: String, _ iterable: Expr, _ body: [Stmt], _ loc: SourceLocation, _ env: Environment
  ) throws -> Flow {
    // `for i in a..b` counts without building the list.
    if case .range(let a, let b, let rloc) = iterable {
      let (lo, hi) = try rangeBounds(a, b, rloc, env)
      var i = lo
      while i < hi {
        if Interrupt.requested { throw LangError.interrupted(loc) }
        let scope = Environment(parent: env)
        scope.define(name, .number(Double(i)))
        switch try loopBody(body, scope) {
        case .breakLoop: return .normal(.null)
        case .returnValue(let v): return .returnValue(v)
        default: break
        }
        i += 1
      }
      return .normal(.null)
    }
    let elements = try iterate(try evaluate(iterable, env), at: iterable.location)
    for element in elements {
      if Interrupt.requested { throw LangError.interrupted(loc) }
      let scope = Environment(parent: env)
      scope.define(name, element)
      switch try loopBody(body, scope) {
      case .breakLoop: return .normal(.null)
      case .returnValue(let v): return .returnValue(v)
      default: continue
      }
    }
    return .normal(.null)
  }

  func executeIf(_ node: IfExpr, _ env: Environment) throws -> Flow {
    for (condition, body) in node.branches {
      if try truth(try evaluate(condition, env), "if condition", condition.location) {
        return try executeBlock(body, Environment(parent: env))
      }
    }
    if let elseBody = node.elseBody { return try executeBlock(elseBody, Environment(parent: env)) }
    return .normal(.null)
  }

  func truth(_ v: Value, _ what: String, _ loc: SourceLocation) throws -> Bool {
    guard case .bool(let b) = v else {
      throw LangError.runtime("\(what) must be a bool, got \(v.typeName)", loc)
    }
    return b
  }

  // MARK: - Expressions

  func evaluate(_ expr: Expr, _ env: Environment) throws -> Value {
    if StackGuard.currentAddress() < stackLimit {
      throw LangError.runtime("recursion too deep (the stack is nearly full)", expr.location)
    }
    switch expr {
    case .literal(let v, _):
      return v
    case .interpolated(let parts, _):
      return .string(try interpolate(parts, env))
    case .word(let name, let segments, let loc):
      return try evaluateWord(name, segments, loc, env)
    case .interpolatedWord(let parts, let loc):
      return try resolveWord(try interpolate(parts, env), loc, env)
    case .variable(let name, let loc):
      return try lookupVariable(name, loc, env)
    case .list(let items, _):
      var out: [Value] = []
      out.reserveCapacity(items.count)
      for item in items { out.append(try evaluate(item, env)) }
      return .list(out)
    case .record(let fields, _):
      var r = Record()
      for (k, e) in fields { r[k] = try evaluate(e, env) }
      return .record(r)
    case .closure(let decl):
      return .function(
        Function(body: .user(decl), environment: env, name: nil, parameters: decl.parameters))
    case .negate(let e, let loc):
      let v = try evaluate(e, env)
      if case .number(let d) = v { return .number(-d) }
      if case .host(let h) = v, let r = try hostBinary(h, .subtract, .number(0), false, loc) {
        return r
      }
      throw LangError.runtime("cannot negate \(article(v))", loc)
    case .not(let e, let loc):
      return .bool(!(try truth(try evaluate(e, env), "operand of 'not'", loc)))
    case .binary(let op, let l, let r, let loc):
      let a = try evaluate(l, env)
      let b = try evaluate(r, env)
      return try binaryOp(op, a, b, at: loc)
    case .and(let l, let r, _):
      guard try truth(try evaluate(l, env), "left operand of 'and'", l.location) else {
        return .bool(false)
      }
      return .bool(try truth(try evaluate(r, env), "right operand of 'and'", r.location))
    case .or(let l, let r, _):
      if try truth(try evaluate(l, env), "left operand of 'or'", l.location) { return .bool(true) }
      return .bool(try truth(try evaluate(r, env), "right operand of 'or'", r.location))
    case .range(let a, let b, let loc):
      let (lo, hi) = try rangeBounds(a, b, loc, env)
      if hi - lo > 10_000_000 {
        throw LangError.runtime("range \(lo)..\(hi) is too long to build as a list", loc)
      }
      return .list(lo < hi ? (lo..<hi).map { .number(Double($0)) } : [])
    case .index(let target, let subscripts, let loc):
      let value = try evaluate(target, env)
      let subs = try subscripts.map { try evaluateSubscript($0, env) }
      return try withLocation(loc) { try indexValue(value, subs) }
    case .member(let target, let name, let loc):
      let value = try evaluate(target, env)
      return try withLocation(loc) { try memberValue(value, name) }
    case .call(let callee, let arguments, let loc):
      return try evaluateCall(callee, arguments, loc, env)
    case .command(let c):
      return try invokeCommand(c, input: nil, env)
    case .pipeline(let stages, _):
      var value = try evaluate(stages[0], env)
      for stage in stages.dropFirst() {
        if Interrupt.requested { throw LangError.interrupted(stage.location) }
        value = try evaluateStage(stage, input: value, env)
      }
      return value
    case .ifElse(let node):
      switch try executeIf(node, env) {
      case .normal(let v): return v
      case .breakLoop: throw ControlFlow.breakLoop
      case .continueLoop: throw ControlFlow.continueLoop
      case .returnValue(let v): throw ControlFlow.returnValue(v)
      }
    }
  }

  /// Runs `body`, reporting an `EvalError` (or any non-language error) at `loc`.
  func withLocation<T>(_ loc: SourceLocation, _ body: () throws -> T) throws -> T {
    do {
      return try body()
    } catch let e as LangError {
      throw e
    } catch let e as ControlFlow {
      throw e
    } catch {
      throw LangError.runtime(messageOf(error), loc)
    }
  }

  private func rangeBounds(_ a: Expr, _ b: Expr, _ loc: SourceLocation, _ env: Environment) throws
    -> (Int, Int)
  {
    let lo = try evaluate(a, env)
    let hi = try evaluate(b, env)
    guard let l = lo.int, let h = hi.int else {
      let bad = lo.int == nil ? lo : hi
      throw LangError.runtime("range bounds must be integers, got \(bad.repr)", loc)
    }
    return (l, h)
  }

  func interpolate(_ parts: [InterpolationPart], _ env: Environment) throws -> String {
    var s = ""
    for part in parts {
      switch part {
      case .text(let t): s += t
      case .expr(let e): s += try evaluate(e, env).description
      }
    }
    return s
  }

  private func evaluateWord(
    _ name: String, _ segments: [String], _ loc: SourceLocation, _ env: Environment
  ) throws -> Value {
    if segments.count == 1 {
      if let v = env.lookup(name) { return v }
    } else if let base = env.lookup(segments[0]) {
      var v = base
      for s in segments.dropFirst() {
        v = try withLocation(loc) { try memberValue(v, s) }
      }
      return v
    }
    return try resolveWord(name, loc, env)
  }

  func resolveWord(_ word: String, _ loc: SourceLocation, _ env: Environment) throws -> Value {
    if let resolver = wordResolver {
      if let v = try withLocation(loc, { try resolver(word) }) { return v }
    }
    if registry.lookup(word) != nil {
      throw LangError.runtime(
        "unknown name '\(word)' ('\(word)' is a command: call it in parentheses, (\(word) ...))",
        loc)
    }
    var candidates = env.visibleNames + registry.names
    if let more = wordSuggestions?(word) { candidates += more }
    throw LangError.runtime("unknown name '\(word)'\(didYouMean(word, among: candidates))", loc)
  }

  private func lookupVariable(_ name: String, _ loc: SourceLocation, _ env: Environment) throws
    -> Value
  {
    if name == "_" { return results.last ?? .null }
    if let n = Int(name) {
      guard n >= 1, n <= results.count else {
        let have = results.isEmpty ? "no results yet" : "results are $1 to $\(results.count)"
        throw LangError.runtime("no result $\(name) (\(have))", loc)
      }
      return results[n - 1]
    }
    if let v = env.lookup(name) { return v }
    if name == "env" {
      var r = Record()
      for (k, v) in ProcessInfo.processInfo.environment.sorted(by: { $0.key < $1.key }) {
        r[k] = .string(v)
      }
      return .record(r)
    }
    throw LangError.runtime(
      "undefined variable '$\(name)'\(didYouMean(name, among: env.visibleNames, prefix: "$"))", loc)
  }

  // MARK: - Functions

  private func evaluateCall(
    _ callee: Expr, _ arguments: [Expr], _ loc: SourceLocation, _ env: Environment
  ) throws -> Value {
    var values: [Value] = []
    values.reserveCapacity(arguments.count)
    for a in arguments { values.append(try evaluate(a, env)) }
    if case .word(let name, let segments, let wloc) = callee, segments.count == 1,
      env.lookup(name) == nil
    {
      if let command = registry.lookup(name) {
        let call = try bindValues(command, values, input: nil, at: wloc)
        return try runCommand(command, call)
      }
      throw LangError.runtime(
        "unknown function '\(name)'\(didYouMean(name, among: env.visibleNames + registry.names))",
        wloc)
    }
    let f = try evaluate(callee, env)
    guard case .function(let fn) = f else {
      throw LangError.runtime("\(article(f)) cannot be called", loc)
    }
    return try callFunction(fn, values, at: loc)
  }

  func callFunction(_ fn: Function, _ arguments: [Value], at loc: SourceLocation) throws -> Value {
    switch fn.body {
    case .native(let body):
      guard arguments.count == fn.parameters.count else {
        throw arityError(fn, arguments.count, loc)
      }
      return try withLocation(loc) { try body(arguments) }
    case .rowExpression:
      guard arguments.count == 1 else { throw arityError(fn, arguments.count, loc) }
      return try callRowFunction(fn, arguments[0], at: loc)
    case .user(let decl):
      guard arguments.count == decl.parameters.count else {
        throw arityError(fn, arguments.count, loc)
      }
      let scope = Environment(parent: fn.environment)
      for (p, a) in zip(decl.parameters, arguments) { scope.define(p, a) }
      return try runBody(decl, scope, at: loc)
    }
  }

  private func arityError(_ fn: Function, _ got: Int, _ loc: SourceLocation) -> LangError {
    let n = fn.parameters.count
    let what = fn.name ?? "closure"
    return .runtime(
      "\(what): expected \(n) argument\(n == 1 ? "" : "s"), got \(got)", loc)
  }

  private func runBody(_ decl: FunctionDecl, _ scope: Environment, at loc: SourceLocation) throws
    -> Value
  {
    callDepth += 1
    defer { callDepth -= 1 }
    if callDepth > maxCallDepth {
      throw LangError.runtime("recursion too deep (more than \(maxCallDepth) nested calls)", loc)
    }
    if Interrupt.requested { throw LangError.interrupted(loc) }
    do {
      switch try executeBlock(decl.body, scope) {
      case .normal(let v), .returnValue(let v): return v
      case .breakLoop, .continueLoop: return .null
      }
    } catch ControlFlow.returnValue(let v) {
      return v
    }
  }

  func callRowFunction(_ fn: Function, _ row: Value, at loc: SourceLocation) throws -> Value {
    switch fn.body {
    case .rowExpression(let e):
      let scope = Environment(parent: fn.environment)
      bindRow(row, scope)
      let v = try evaluate(e, scope)
      if case .function(let inner) = v { return try callRowFunction(inner, row, at: loc) }
      return v
    case .user(let decl) where decl.parameters.isEmpty:
      let scope = Environment(parent: fn.environment)
      bindRow(row, scope)
      return try runBody(decl, scope, at: loc)
    default:
      return try callFunction(fn, [row], at: loc)
    }
  }

  private func bindRow(_ row: Value, _ scope: Environment) {
    if case .record(let r) = row {
      for (k, v) in r { scope.define(k, v) }
    }
    scope.define("it", row)
  }

  // MARK: - Assignment

  /// Applies `body` to the storage `target` names, in place where possible.
  private func mutate(
    _ target: AssignTarget, _ env: Environment, _ body: (inout Value) throws -> Void
  ) throws {
    switch target {
    case .variable(let name, let loc):
      let found = try env.modify(name, body)
      if !found {
        throw LangError.runtime(
          "undefined variable '\(name)' (declare it with 'let \(name) = ...')"
            + didYouMean(name, among: env.visibleNames), loc)
      }
    case .member(let base, let name, let loc):
      try mutate(base, env) { container in
        guard var r = takeRecord(&container) else {
          throw LangError.runtime("cannot set field '\(name)' of \(article(container))", loc)
        }
        try updateField(&r, name, body)
        container = .record(r)
      }
    case .index(let base, let indexExpr, let loc):
      let index = try evaluate(indexExpr, env)
      try mutate(base, env) { container in
        if case .string(let key) = index, var r = takeRecord(&container) {
          try updateField(&r, key, body)
          container = .record(r)
          return
        }
        guard case .number = index, case .list = container else {
          throw LangError.runtime(
            "cannot assign to \(article(container)) indexed by \(index.typeName)", loc)
        }
        guard let i = index.int, let k = normalizeIndex(i, count: container.list!.count) else {
          throw LangError.runtime(
            "index \(index.repr) out of range for a list of \(container.list!.count)", loc)
        }
        var items = takeList(&container)!
        var element = items[k]
        items[k] = .null
        defer {
          items[k] = element
          container = .list(items)
        }
        try body(&element)
      }
    }
  }

  /// Applies `body` to field `name` of `r` (a missing field starts as null).
  private func updateField(_ r: inout Record, _ name: String, _ body: (inout Value) throws -> Void)
    throws
  {
    let existed = r[name] != nil
    var field = r[name] ?? .null
    if existed { r[name] = .null }
    defer { if existed || !field.isNull { r[name] = field } }
    try body(&field)
  }
}

/// Moves the list out of `v` (leaving null) so it can be changed in place.
private func takeList(_ v: inout Value) -> [Value]? {
  guard case .list(let items) = v else { return nil }
  v = .null
  return items
}

/// Moves the record out of `v` (leaving null) so it can be changed in place.
private func takeRecord(_ v: inout Value) -> Record? {
  guard case .record(let r) = v else { return nil }
  v = .null
  return r
}

extension Environment {
  /// Applies `body` to the innermost binding of `name` in place; false if unbound.
  func modify(_ name: String, _ body: (inout Value) throws -> Void) throws -> Bool {
    var env: Environment? = self
    while let e = env {
      if try e.modifyLocal(name, body) { return true }
      env = e.parent
    }
    return false
  }
}

/// "a number", "an integer list" ...: a value's type with an article.
func article(_ v: Value) -> String {
  let t = v.typeName
  return (["a", "e", "i", "o", "u"].contains(t.first.map(String.init) ?? "") ? "an " : "a ") + t
}
