import Engine
import Foundation
import Lang

/// ablate, patch, steer, set: interventions as values for `run --with`.
func registerInterventionCommands(_ r: CommandRegistry, _ lazy: LazyModelSession) {
  let group = "interventions"
  let posFlag = FlagSpec("pos", .any, valueName: "P", "only these positions (a number or list; negative from the end)")

  r.register(
    CommandSpec(
      name: "ablate", group: group,
      summary:
        "A hook that knocks out a component or hook value: zero (default), mean over prompts, or resampled from another run",
      parameters: [
        ParameterSpec(
          "what", .any, optional: true,
          "a component (L1H2, L3N77, sae.F12), a key/value head (L1KV0: its keys and values) or a hook point")
      ],
      flags: [
        posFlag, .switch("zero", "set to zero (the default)"),
        FlagSpec(
          "mean", .any, valueName: "PROMPTS",
          "replace by the mean over these prompts (a list, or a file with one prompt a line)"),
        FlagSpec("resample", .any, valueName: "RUN", "replace by the value in another run of the same length"),
      ],
      examples: [
        "ablate L1H2 --pos -1", "ablate L1KV0 --pos -1", "ablate blocks.2.hook_mlp_out",
        #"ablate L1H2 --mean ["When Anna and Tom went to the park, Tom gave a ball to", "Then, Sarah and Tom went to the park. Tom gave a ball to"]"#,
        #"attribute (run "When Mary and John went to the store, John gave a drink to") " Mary" " John" --kind heads | sort total --desc | head 2 | ablate"#,
      ],
      input:
        "rows of attribute, trace or attrpatch: zero each node at its position (a head pair: that attention weight)")
  ) { call, interp in
    let s = try lazy.get()
    if let rows = call.input {
      guard call[0] == nil, call.flags.isEmpty else {
        throw EvalError("with rows piped in, ablate takes no WHAT or flags: ... | ablate")
      }
      return .host(try s.ablation(of: try s.nodeRows(rows, what: "input")))
    }
    guard call[0] != nil else {
      throw EvalError("ablate needs WHAT (a component or hook point), or rows of attribute piped in")
    }
    let (sels, saes, name) = try selections(s, try call.arg(0), positions: try positions(call))
    let label = "ablate \(name)" + posLabel(call)
    if let m = call.flags["mean"] {
      let prompts = try meanPrompts(m)
      var values: [[Tensor]] = Array(repeating: [], count: sels.count)
      for p in prompts {
        try interp.checkInterrupt(at: call.location)
        let o = ForwardOptions(
          cache: .points(Set(sels.map(\.hook))), saes: saes.map { SAESplice($0, keepError: true) }, logits: .none)
        let cache = try s.forward(try s.promptTokens(.string(p)), o).cache
        for (i, sel) in sels.enumerated() { values[i].append(cache[sel.hook]!) }
      }
      // The mean over every position of every prompt; then applied at the chosen positions.
      let interventions = try zip(sels, values).map { sel, values in
        var all = sel
        all.positions = nil
        return Interventions.constant(sel, run: try Interventions.meanRun(of: values, all), label: label)
      }
      return .host(
        HookValue(label: label + " (mean of \(prompts.count))", interventions: interventions, saes: saes))
    }
    if let v = call.flags["resample"] {
      let other = try s.run(v, what: "--resample")
      let interventions = try sels.map { Interventions.copy($0, from: try other.value($0.hook), label: label) }
      return .host(HookValue(label: label + " (resampled)", interventions: interventions, saes: saes))
    }
    return .host(HookValue(label: label, interventions: sels.map { Interventions.zero($0, label: label) }, saes: saes))
  }

  r.register(
    CommandSpec(
      name: "patch", group: group,
      summary: "A hook that copies a component or hook value from another run (activation patching)",
      parameters: [
        ParameterSpec("what", .any, "a component, a key/value head (L1KV0: its keys and values) or a hook point")
      ],
      flags: [FlagSpec("from", .any, valueName: "RUN", "the run to copy from (same length)"), posFlag],
      examples: [
        #"let c = run "When Mary and John went to the store, Anna gave a drink to"; run "When Mary and John went to the store, John gave a drink to" --with (patch blocks.3.hook_resid_pre --from c --pos -1)"#
      ])
  ) { call, _ in
    let s = try lazy.get()
    guard let from = call.flags["from"] else { throw EvalError("patch needs --from RUN") }
    let (sels, saes, name) = try selections(s, try call.arg(0), positions: try positions(call))
    let source = try s.run(from, what: "--from")
    let label = "patch \(name)" + posLabel(call)
    let interventions = try sels.map { Interventions.copy($0, from: try source.value($0.hook), label: label) }
    return .host(HookValue(label: label, interventions: interventions, saes: saes))
  }

  r.register(
    CommandSpec(
      name: "steer", group: group,
      summary: "A hook that adds scale × a vector (or an SAE latent's decoder direction) to a hook value",
      parameters: [
        ParameterSpec("hook", .any, "a hook point"),
        ParameterSpec("direction", .any, "a tensor/list of numbers, or a latent (sae.F12)"),
      ],
      flags: [FlagSpec("scale", .number, valueName: "S", "multiplier", default: "1"), posFlag],
      examples: ["steer blocks.3.hook_resid_pre blocks_3_hook_resid_pre.F12 --scale 8 --pos -1"])
  ) { call, _ in
    let s = try lazy.get()
    let point = try s.hookPoint(try call.arg(0), what: "HOOK")
    let dirValue: Value = try call.arg(1)
    var vector: [Float]
    var name: String
    if case .host(let c as ComponentValue) = dirValue {
      guard case .latent(let sn, let f) = c.component else {
        throw EvalError("DIRECTION: a latent (sae.F12) or a vector, not \(c.component)")
      }
      try c.component.validate(in: s.config, saes: s.saes)
      let sae = s.saes[sn]!
      vector = Array(UnsafeBufferPointer(start: sae.wDec.pointer + f * sae.dIn, count: sae.dIn))
      name = c.component.description
    } else {
      vector = try tensorArgument(dirValue, what: "DIRECTION").scalars
      name = "a vector"
    }
    let scale = Float(try call.flag("scale", default: 1.0))
    let sel = HookSelection(hook: point, positions: try positions(call))
    let label = "steer \(point.name) \(name) --scale \(formatNumber(Double(scale)))" + posLabel(call)
    return .host(
      HookValue(label: label, interventions: [Interventions.add(sel, vector: vector, scale: scale, label: label)]))
  }

  r.register(
    CommandSpec(
      name: "set", group: group,
      summary: "A hook that sets one element of a hook value (full index, negative from the end)",
      parameters: [
        ParameterSpec("hook", .any, "a hook point"),
        ParameterSpec("index", .any, "a list with one index per dimension"), ParameterSpec("value", .number),
      ],
      examples: ["set blocks.0.mlp.hook_post [-1, 77] 0"])
  ) { call, _ in
    let s = try lazy.get()
    let point = try s.hookPoint(try call.arg(0), what: "HOOK")
    let idxValue: Value = try call.arg(1)
    let index: [Int] = try idxValue.int.map { [$0] } ?? (try [Value].from(idxValue)).map { try Int.from($0) }
    let x = Float(try call.arg(2, as: Double.self))
    let label = "set \(point.name) \(index) \(formatNumber(Double(x)))"
    return .host(HookValue(label: label, interventions: [Interventions.set(point, index: index, to: x, label: label)]))
  }
}

/// The selection a component or hook point addresses, the SAEs it needs, and its name.
func selection(_ s: ModelSession, _ v: Value, positions: [Int]?) throws -> (HookSelection, [SparseAutoencoder], String)
{
  switch try s.target(v, what: "WHAT") {
  case .hook(let p):
    if p.sae != nil {
      guard let sae = s.saes.values.first(where: { $0.hook == p.base }) else {
        throw EvalError("\(p.name): no loaded SAE sits at \(p.base.name)")
      }
      return (HookSelection(hook: p, positions: positions), [sae], p.name)
    }
    return (HookSelection(hook: p, positions: positions), [], p.name)
  case .component(let c):
    let hook = try c.hook(saes: s.saes)
    var saes: [SparseAutoencoder] = []
    if case .latent(let name, _) = c { saes = [s.saes[name]!] }
    return (HookSelection(hook: hook, positions: positions, index: c.index), saes, c.description)
  }
}

func posLabel(_ call: CommandCall) -> String {
  guard let p = call.flags["pos"] else { return "" }
  if let i = p.int { return " --pos \(i)" }
  return " --pos \(p.list?.compactMap(\.int).map(String.init).joined(separator: ",") ?? "")"
}

/// Prompts for mean ablation: a list of strings, or a file path with one prompt a line.
func meanPrompts(_ v: Value) throws -> [String] {
  if let l = v.list { return try l.map { try String.from($0) } }
  if let path = v.string {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
      throw EvalError("--mean: cannot read '\(path)'; give a list of prompts or a file with one prompt a line")
    }
    let lines = text.split(whereSeparator: \.isNewline).map(String.init).filter {
      !$0.trimmingCharacters(in: .whitespaces).isEmpty
    }
    guard !lines.isEmpty else { throw EvalError("--mean: '\(path)' has no prompts") }
    return lines
  }
  throw EvalError("--mean: expected a list of prompts or a file name, got \(v.typeName)")
}
