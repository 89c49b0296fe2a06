import Engine
import Lang

/// Conversions from language values to engine arguments, shared by the model commands.
extension ModelSession {
  /// A run argument; a prompt is run on the spot (convenient at the prompt).
  /// - Parameter deferred: for a prompt, compute nothing until asked (commands
  ///   that make their own forward and backward passes from the tokens).
  /// - Parameter logitsOnly: for a prompt, keep no activations and unembed only
  ///   the positions asked for (predict, prob, logitdiff, logits on a prompt
  ///   read one row of logits; the other rows and the cache are wasted work).
  /// - Parameter position: with `logitsOnly`, the one position the command
  ///   reads (negative from the end); when it is the last, only that
  ///   position's logits are computed.
  func run(
    _ v: Value, what: String = "RUN", deferred: Bool = false, logitsOnly: Bool = false, position: Int? = nil
  ) throws -> RunValue {
    if case .host(let h as RunValue) = v { return h }
    if v.string != nil || v.list != nil {
      let tokens = try promptTokens(v)
      let last = logitsOnly && (position == -1 || position == tokens.count - 1)
      return try RunValue(
        session: self, tokens: tokens, hooks: [], saes: [], cacheAll: !deferred && !logitsOnly,
        lazyLogits: logitsOnly, deferred: deferred, lastLogitsOnly: last)
    }
    throw EvalError("\(what): expected a run (run PROMPT) or a prompt, got \(v.typeName)")
  }

  /// The `--clean RUN --corrupt RUN` of a patching command: runs of the same length.
  func patchingRuns(_ call: CommandCall, for command: String) throws -> (clean: RunValue, corrupt: RunValue) {
    guard let cv = call.flags["clean"], let kv = call.flags["corrupt"] else {
      throw EvalError("\(command) needs --clean RUN and --corrupt RUN")
    }
    let clean = try run(cv, what: "--clean"), corrupt = try run(kv, what: "--corrupt")
    guard clean.tokens.count == corrupt.tokens.count else {
      throw EvalError(
        "\(command): the clean run has \(clean.tokens.count) tokens and the corrupt run \(corrupt.tokens.count); use prompts of the same length"
      )
    }
    return (clean, corrupt)
  }

  /// Hooks from a hook value or a list of them (nested lists flatten).
  func hooks(_ v: Value?) throws -> [HookValue] {
    guard let v, !v.isNull else { return [] }
    switch v {
    case .host(let h as HookValue): return [h]
    case .list(let items): return try items.flatMap { try hooks($0) }
    default:
      throw EvalError("--with: expected a hook (ablate, patch, steer, set) or a list of hooks, got \(v.typeName)")
    }
  }

  /// A component or hook point argument.
  enum Target {
    case component(Component)
    case hook(HookPoint)
  }

  func target(_ v: Value, what: String) throws -> Target {
    switch v {
    case .host(let c as ComponentValue):
      try c.component.validate(in: config, saes: saes)
      return .component(c.component)
    case .host(let p as HookPointValue):
      return .hook(p.point)
    case .string(let s):
      if let p = HookPoint(name: s) {
        try model.validate(p)
        return .hook(p)
      }
      if let c = Component(name: s) {
        try c.validate(in: config, saes: saes)
        return .component(c)
      }
      throw EvalError(
        "\(what): '\(s)' is neither a component (L1H2, L3N77, sae.F12) nor a hook point (blocks.0.hook_resid_pre)")
    default:
      throw EvalError("\(what): expected a component or hook point, got \(v.typeName)")
    }
  }

  func hookPoint(_ v: Value, what: String) throws -> HookPoint {
    switch try target(v, what: what) {
    case .hook(let p): return p
    case .component(let c): throw EvalError("\(what): expected a hook point, got the component \(c)")
    }
  }

  func component(_ v: Value, what: String) throws -> Component {
    switch try target(v, what: what) {
    case .component(let c): return c
    case .hook(let p):
      throw EvalError("\(what): expected a component (L1H2, L3N77, sae.F12), got the hook point \(p.name)")
    }
  }

  /// The SAEs spliced by `--sae`: a name, a list of names, or "all".
  func splices(_ v: Value?, keepError: Bool) throws -> [SparseAutoencoder] {
    guard let v, !v.isNull else { return [] }
    if v.string == "all" { return saeNames.map { saes[$0]! } }
    if case .host(let h as SAEValue) = v { return [h.sae] }
    // An SAE folder named like its hook (SAELens repos do this) reads as a hook point.
    if case .host(let p as HookPointValue) = v { return [try sae(named: p.point.name)] }
    if let s = v.string { return [try sae(named: s)] }
    if let l = v.list { return try l.flatMap { try splices($0, keepError: keepError) } }
    throw EvalError("--sae: expected an SAE name or a list of names, got \(v.typeName)")
  }

  /// The word resolver: component and hook-point names as values.
  func resolveWord(_ word: String) throws -> Value? {
    if let p = HookPoint(name: word) {
      try model.validate(p)
      return .host(HookPointValue(p))
    }
    if let sae = saes[word] { return .host(SAEValue(sae)) }
    if let c = Component(name: word) {
      if case .latent(let s, _) = c, saes[s] == nil {
        return nil  // maybe a record field path; the interpreter reports unknown names
      }
      try c.validate(in: config, saes: saes)
      return .host(ComponentValue(c))
    }
    if let kv = KeyValueHead(name: word) {
      try kv.validate(in: config)
      return .host(KeyValueHeadValue(kv))
    }
    return nil
  }

  /// Names for completion: components' shapes and every hook point.
  var completionWords: [String] {
    var words = HookPoint.all(config: config).map(\.name)
    for s in saeNames {
      let h = saes[s]!.hook
      words += HookPoint.SAESite.allCases.map { HookPoint(h.site, layer: h.layer, sae: $0).name }
    }
    for l in 0..<config.layers { words += (0..<config.heads).map { "L\(l)H\($0)" } }
    return words
  }
}

/// Positions from `--pos`: a number or a list of numbers; nil when absent.
func positions(_ call: CommandCall) throws -> [Int]? {
  guard let v = call.flags["pos"], !v.isNull else { return nil }
  if let i = v.int { return [i] }
  if let l = v.list { return try l.map { try Int.from($0) } }
  throw EvalError("--pos: expected a position or a list of positions, got \(v.typeName)")
}

/// A command's `--metric FUNCTION`, and the measurement it makes of a run (a number).
func metricFlag(_ call: CommandCall, _ interp: Interpreter, for command: String) throws -> (
  function: Function, measure: (RunValue) throws -> Double
) {
  guard let value = call.flags["metric"], case .function(let function) = value else {
    throw EvalError("\(command) needs --metric FUNCTION, e.g. --metric { |x| logitdiff x \" Mary\" \" John\" }")
  }
  return (
    function,
    { run in
      let v = try interp.call(function, [.host(run)], at: call.location)
      guard let d = v.number else { throw EvalError("--metric must return a number, got \(v.typeName)") }
      return d
    }
  )
}
