/// Command calls: binding arguments to a spec, running bodies, `def`, pipelines.
extension Interpreter {
  /// `def name(params) { body }`: a command in group "user". A pipeline input
  /// becomes its first argument (`21 | double` calls `double 21`).
  func defineCommand(_ decl: FunctionDecl, _ env: Environment) {
    let name = decl.name ?? "?"
    let fn = Function(body: .user(decl), environment: env, name: name, parameters: decl.parameters)
    let spec = CommandSpec(
      name: name, group: "user",
      summary: "user command defined at \(decl.location)",
      parameters: decl.parameters.map { ParameterSpec($0, .any) },
      takesInput: true)
    registry.registerUserDefined(spec) { call, interpreter in
      var arguments = call.positional
      if let input = call.input { arguments.insert(input, at: 0) }
      return try interpreter.callFunction(fn, arguments, at: call.location)
    }
  }

  /// A stage after `|`: a command (given the input), or an expression that
  /// evaluates to a function (called with the input).
  func evaluateStage(_ stage: Expr, input: Value, _ env: Environment) throws -> Value {
    switch stage {
    case .command(let c):
      return try invokeCommand(c, input: input, env)
    case .word(let name, let segments, let loc)
    where segments.count == 1 && env.lookup(name) == nil && registry.lookup(name) != nil:
      let command = registry.lookup(name)!
      let call = try bindValues(command, [], input: input, at: loc)
      return try runCommand(command, call)
    default:
      let v: Value
      if case .word(let name, let segments, let loc) = stage, segments.count == 1,
        env.lookup(name) == nil
      {
        // A bare name after `|` is meant as a command.
        guard
          let resolved = try wordResolver.flatMap({ r in try withLocation(loc) { try r(name) } })
        else {
          throw LangError.runtime(
            "unknown command '\(name)'\(didYouMean(name, among: registry.names + env.visibleNames))",
            loc)
        }
        v = resolved
      } else {
        v = try evaluate(stage, env)
      }
      if case .function(let fn) = v { return try callFunction(fn, [input], at: stage.location) }
      throw LangError.runtime(
        "the right side of '|' must be a command or a function, got \(article(v))", stage.location)
    }
  }

  func invokeCommand(_ c: CommandExpr, input: Value?, _ env: Environment) throws -> Value {
    if let command = registry.lookup(c.name) {
      let call = try bind(command, c, input: input, env)
      return try runCommand(command, call)
    }
    if let v = env.lookup(c.name) {
      if case .function(let fn) = v {
        var arguments: [Value] = []
        if let input { arguments.append(input) }
        for a in c.arguments {
          switch a {
          case .positional(let e): arguments.append(try evaluate(e, env))
          case .flag(let f, let loc):
            throw LangError.runtime("\(c.name): a function takes no flags (got --\(f))", loc)
          }
        }
        return try callFunction(fn, arguments, at: c.location)
      }
      if c.arguments.isEmpty && input == nil { return v }
      var hint = ""
      if case .positional(.negate) = c.arguments.first {
        hint = " (to subtract, put spaces around '-': \(c.name) - x)"
      } else if case .positional(.literal(.number(let d), _)) = c.arguments.first, d < 0 {
        hint = " (to subtract, put spaces around '-': \(c.name) - \(formatNumber(-d)))"
      }
      throw LangError.runtime(
        "'\(c.name)' is a variable holding \(article(v)), not a command\(hint)", c.location)
    }
    if c.arguments.isEmpty && input == nil, let resolver = wordResolver {
      if let v = try withLocation(c.location, { try resolver(c.name) }) { return v }
    }
    throw LangError.runtime(
      "unknown command '\(c.name)'\(didYouMean(c.name, among: registry.names + env.visibleNames))",
      c.location)
  }

  /// Evaluates a call's arguments against the command's spec.
  func bind(_ command: Command, _ c: CommandExpr, input: Value?, _ env: Environment) throws
    -> CommandCall
  {
    let spec = command.spec
    var positional: [Value] = []
    var flags: [String: Value] = [:]
    var i = 0
    let arguments = c.arguments
    var positionalLocations: [SourceLocation] = []
    var flagLocations: [String: SourceLocation] = [:]
    while i < arguments.count {
      switch arguments[i] {
      case .flag(let name, let loc):
        guard let flag = spec.flags.first(where: { $0.name == name }) else {
          throw LangError.runtime(unknownFlag(spec, name), loc)
        }
        if let kind = flag.kind {
          guard i + 1 < arguments.count, case .positional(let e) = arguments[i + 1] else {
            throw LangError.runtime(
              "\(spec.name): --\(name) needs a value (\(spec.name) ... --\(name) \(flag.valueName))",
              loc)
          }
          flags[name] = try evaluateArgument(e, kind, "--\(name)", spec, env)
          flagLocations[name] = e.location
          i += 2
        } else {
          flags[name] = .bool(true)
          i += 1
        }
      case .positional(let e):
        guard let parameter = spec.parameter(at: positional.count) else {
          throw LangError.runtime(tooMany(spec), e.location)
        }
        positional.append(
          try evaluateArgument(e, parameter.kind, parameter.name.uppercased(), spec, env))
        positionalLocations.append(e.location)
        i += 1
      }
    }
    var call = try finishBinding(command, positional, flags, input: input, at: c.location)
    call.positionalLocations = positionalLocations
    call.flagLocations = flagLocations
    return call
  }

  /// Checks values passed with call syntax, `name(a, b)`.
  func bindValues(_ command: Command, _ values: [Value], input: Value?, at loc: SourceLocation)
    throws -> CommandCall
  {
    let spec = command.spec
    for (i, v) in values.enumerated() {
      guard let parameter = spec.parameter(at: i) else {
        throw LangError.runtime(tooMany(spec), loc)
      }
      if parameter.kind == .rowExpression {
        guard case .function = v else {
          throw LangError.runtime(
            "\(spec.name): \(parameter.name.uppercased()) must be a function, got \(v.typeName)",
            loc)
        }
      } else {
        try check(v, parameter.kind, parameter.name.uppercased(), spec, loc)
      }
    }
    return try finishBinding(command, values, [:], input: input, at: loc)
  }

  private func finishBinding(
    _ command: Command, _ positional: [Value], _ flags: [String: Value], input: Value?,
    at loc: SourceLocation
  ) throws -> CommandCall {
    let spec = command.spec
    if !command.isUserDefined {
      for (j, p) in spec.parameters.enumerated() where !p.optional && j >= positional.count {
        throw LangError.runtime(
          "\(spec.name): missing argument \(p.name.uppercased()) (usage: \(spec.usage))", loc)
      }
    }
    if input != nil && !spec.takesInput {
      throw LangError.runtime("\(spec.name) does not take a pipeline input", loc)
    }
    return CommandCall(
      name: spec.name, positional: positional, flags: flags, input: input, location: loc, spec: spec
    )
  }

  private func unknownFlag(_ spec: CommandSpec, _ name: String) -> String {
    var m = "\(spec.name): unknown flag --\(name)"
    if let s = suggest(name, among: spec.flags.map(\.name)) {
      m += " (did you mean --\(s)?)"
    } else if spec.flags.isEmpty {
      m += " (\(spec.name) takes no flags)"
    } else {
      m += " (flags: " + spec.flags.map { "--\($0.name)" }.joined(separator: ", ") + ")"
    }
    return m
  }

  private func tooMany(_ spec: CommandSpec) -> String {
    let n = spec.parameters.count
    let most = n == 0 ? "no arguments" : "at most \(n) argument\(n == 1 ? "" : "s")"
    return "\(spec.name): too many arguments (it takes \(most); usage: \(spec.usage))"
  }

  private func evaluateArgument(
    _ e: Expr, _ kind: ValueKind, _ what: String, _ spec: CommandSpec, _ env: Environment
  ) throws -> Value {
    switch kind {
    case .rowExpression:
      if case .closure = e { return try evaluate(e, env) }
      return .function(
        Function(body: .rowExpression(e), environment: env, name: nil, parameters: ["row"]))
    case .word, .wordOrValue:
      if case .word(let text, _, _) = e { return .string(text) }
      if case .interpolatedWord(let parts, _) = e { return .string(try interpolate(parts, env)) }
    default:
      break
    }
    let v = try evaluate(e, env)
    try check(v, kind, what, spec, e.location)
    return v
  }

  private func check(
    _ v: Value, _ kind: ValueKind, _ what: String, _ spec: CommandSpec, _ loc: SourceLocation
  ) throws {
    let ok: Bool
    switch kind {
    case .any, .rowExpression, .wordOrValue: ok = true
    case .number: ok = v.number != nil
    case .int: ok = v.int != nil
    case .count: ok = (v.int ?? -1) >= 0
    case .string, .word: ok = v.string != nil
    case .bool: ok = v.bool != nil
    case .list: ok = v.list != nil
    case .record: ok = v.record != nil
    case .table: ok = Table(tabular: v) != nil
    case .function: ok = v.function != nil
    }
    if !ok {
      let got = v.number != nil && (kind == .int || kind == .count) ? "\(v.repr)" : article(v)
      throw LangError.runtime("\(spec.name): \(what) must be \(kind.article), got \(got)", loc)
    }
  }

  /// Runs a command body; errors that are not language errors are reported
  /// as `NAME: message` at the call.
  func runCommand(_ command: Command, _ call: CommandCall) throws -> Value {
    if Interrupt.requested { throw LangError.interrupted(call.location) }
    do {
      return try command.body(call, self)
    } catch let e as LangError {
      throw e
    } catch let e as ControlFlow {
      throw e
    } catch {
      let message = messageOf(error)
      let prefix = "\(command.spec.name): "
      throw LangError.runtime(
        message.hasPrefix(prefix) ? message : prefix + message,
        call.argument(mentionedIn: message) ?? call.location)
    }
  }
}
