import Engine
import Foundation
import Lang

/// tokens, run, predict, logits, prob, logitdiff, act, generate, model, saes, hooks.
func registerRunCommands(_ r: CommandRegistry, _ lazy: LazyModelSession) {
  let group = "model"
  r.register(
    CommandSpec(
      name: "tokens", group: group, summary: "Tokenise text: a table of position, id and token",
      parameters: [ParameterSpec("text", .any, "a string (or a run: its tokens)")],
      examples: [#"tokens "When Mary and John went to the store""#])
  ) { call, _ in
    let s = try lazy.get()
    let text: Value = try call.arg(0)
    // The empty string has no tokens: an empty table (a run on it is an error).
    let ids = text.string == "" ? [] : try s.promptTokens(text)
    return .table(
      Table(
        columns: ["pos", "id", "token"], rows: ids.enumerated().map { [Value($0), Value($1), Value(s.tokenText($1))] }))
  }

  r.register(
    CommandSpec(
      name: "run", group: group,
      summary: "Run the model on a prompt: a run value with tokens, logits and the cache of hook values",
      parameters: [ParameterSpec("prompt", .any, "a string or a list of token ids")],
      flags: [
        FlagSpec(
          "with", .any, valueName: "HOOKS", "an intervention or list of interventions (ablate, patch, steer, set)"),
        FlagSpec(
          "sae", .wordOrValue, valueName: "NAME",
          "splice SAEs in (a name, a list of names, or all); the model sees the reconstruction"),
        .switch("keep-error", "with --sae, add the SAE's error term back so the forward pass is unchanged"),
        .switch("nocache", "keep no hook values (they are recomputed when asked for)"),
      ],
      examples: [
        #"run "When Mary and John went to the store, John gave a drink to""#,
        #"run "When Mary and John went to the store, John gave a drink to" --with (ablate L1H2 --pos -1)"#,
        #"run "When Mary and John went to the store" --sae blocks_3_hook_resid_pre"#,
      ])
  ) { call, _ in
    let s = try lazy.get()
    let tokens = try s.promptTokens(try call.arg(0))
    let hooks = try s.hooks(call.flags["with"])
    let keepError = call.isSet("keep-error")
    var splices = try s.splices(call.flags["sae"], keepError: keepError).map { SAESplice($0, keepError: keepError) }
    // Latent interventions need their SAE spliced; with its error term, only the latent's change shows.
    for h in hooks {
      for sae in h.saes where !splices.contains(where: { $0.sae.hook == sae.hook }) {
        splices.append(SAESplice(sae, keepError: true))
      }
    }
    let cacheAll = !call.isSet("nocache") && RunValue.cacheAllIsCheap(s.config, tokens: tokens.count)
    return .host(try RunValue(session: s, tokens: tokens, hooks: hooks, saes: splices, cacheAll: cacheAll))
  }

  r.register(
    CommandSpec(
      name: "predict", group: group, summary: "The most likely next tokens: rank, token, id, logit, probability",
      parameters: [ParameterSpec("prompt", .any, "a prompt or a run")],
      flags: [
        FlagSpec("top", .count, "how many tokens", default: "10"),
        FlagSpec("pos", .int, valueName: "P", "position to predict from", default: "-1"),
      ],
      examples: [#"predict "When Mary and John went to the store, John gave a drink to" --top 5"#])
  ) { call, _ in
    let s = try lazy.get()
    let position = try call.flag("pos", default: -1)
    let run = try s.run(try call.arg(0), what: "PROMPT", logitsOnly: true, position: position)
    return run.topTable(try call.flag("top", default: 10), position: position)
  }

  r.register(
    CommandSpec(
      name: "logits", group: group,
      summary: "The logits at a position (a tensor [vocab]); --all for every position [pos, vocab]",
      parameters: [ParameterSpec("run", .any)],
      flags: [FlagSpec("pos", .int, valueName: "P", "position", default: "-1"), .switch("all", "every position")],
      examples: [#"logits (run "The cow said") --pos -1"#])
  ) { call, _ in
    let s = try lazy.get()
    // attrpatch's stand-in run: logits it can differentiate.
    if call[0]?.host(as: MetricProbe.self) != nil {
      return .host(LogitsProbe(position: call.isSet("all") ? nil : try call.flag("pos", default: -1)))
    }
    let all = call.isSet("all"), position = try call.flag("pos", default: -1)
    let run = try s.run(try call.arg(0), logitsOnly: true, position: all ? nil : position)
    if all { return try .host(TensorValue(run.logits)) }
    return .host(TensorValue(try run.logits(at: position)))
  }

  r.register(
    CommandSpec(
      name: "prob", group: group, summary: "The probability of a token at a position",
      parameters: [ParameterSpec("run", .any), ParameterSpec("token", .any, "a string that is one token, or an id")],
      flags: [FlagSpec("pos", .int, valueName: "P", "position", default: "-1")],
      examples: [#"prob (run "When Mary and John went to the store, John gave a drink to") " Mary""#])
  ) { call, _ in
    let s = try lazy.get()
    let position = try call.flag("pos", default: -1)
    let run = try s.run(try call.arg(0), logitsOnly: true, position: position)
    let id = try s.tokenID(try call.arg(1), what: "TOKEN")
    return Value(Double(softmax(try run.logits(at: position))[id]))
  }

  r.register(
    CommandSpec(
      name: "logitdiff", group: group,
      summary: "logit[target] - logit[distractor] at a position: TDB's direction of interest",
      parameters: [
        ParameterSpec("run", .any), ParameterSpec("target", .any, "a token"),
        ParameterSpec("distractor", .any, "a token"),
      ],
      flags: [FlagSpec("pos", .int, valueName: "P", "position", default: "-1")],
      examples: [#"logitdiff (run "When Mary and John went to the store, John gave a drink to") " Mary" " John""#])
  ) { call, _ in
    let s = try lazy.get()
    let t = try s.tokenID(try call.arg(1), what: "TARGET"), d = try s.tokenID(try call.arg(2), what: "DISTRACTOR")
    // attrpatch's stand-in run: a logit difference it can differentiate.
    if let probe = call[0]?.host(as: MetricProbe.self) {
      return probe.logitDifference(position: try call.flag("pos", default: -1), target: t, distractor: d)
    }
    let position = try call.flag("pos", default: -1)
    let run = try s.run(try call.arg(0), logitsOnly: true, position: position)
    let l = try run.logits(at: position, tokens: [t, d])
    return Value(Double(l[0] - l[1]))
  }

  r.register(
    CommandSpec(
      name: "act", group: group,
      summary:
        "A hook value of a run (a tensor), or a component's activation: a head's z [pos, d_head], a neuron's or latent's [pos]",
      parameters: [ParameterSpec("run", .any), ParameterSpec("what", .any, "a hook point or component")],
      flags: [FlagSpec("pos", .int, valueName: "P", "only this position")],
      examples: [
        #"act (run "When Mary and John") blocks.3.hook_resid_pre"#, #"act (run "When Mary and John") L1H2 --pos -1"#,
        #"act (run "When Mary and John" --sae blocks_3_hook_resid_pre) blocks_3_hook_resid_pre.F12"#,
      ])
  ) { call, _ in
    let s = try lazy.get()
    let run = try s.run(try call.arg(0))
    var value: Tensor
    switch try s.target(try call.arg(1), what: "WHAT") {
    case .hook(let p):
      value = try run.value(p)
    case .component(let c):
      let hook = try c.hook(saes: s.saes)
      let full = try run.value(hook)
      let sel = HookSelection(hook: hook, index: c.index)
      let T = full.shape[0]
      let n = try sel.runLength(full.shape)
      var out = Tensor(zeros: n == 1 ? [T] : [T, n])
      let dst = out.mutablePointer(), src = full.pointer
      var t = 0
      try sel.forEachRun(full.shape) { offset, len in
        (dst + t * len).update(from: src + offset, count: len)
        t += 1
      }
      value = out
    }
    if let p = try call.flag("pos", as: Int.self) {
      let headFirst =
        value.rank == 3 && (value.shape[1] == value.shape[2]) && value.shape[0] == s.config.heads
        && value.shape[1] == run.tokens.count
      guard !headFirst else { throw EvalError("--pos: index a pattern as t[head, query, key] instead") }
      value = value.row(try run.position(p))
    }
    return wrap(value)
  }

  r.register(
    CommandSpec(
      name: "generate", group: group,
      summary: "Continue a prompt token by token (greedy unless --temperature); stops at <|endoftext|>",
      parameters: [ParameterSpec("prompt", .any)],
      flags: [
        FlagSpec("n", .count, "how many tokens at most", default: "20"),
        FlagSpec("temperature", .number, valueName: "T", "sample at this temperature", default: "0"),
        FlagSpec("seed", .int, "random seed for sampling", default: "0"),
        FlagSpec("with", .any, valueName: "HOOKS", "interventions applied at every step"),
      ],
      examples: [#"generate "Anna made a list: stone, river, milk, door. Later Anna read the list again:" --n 8"#])
  ) { call, interp in
    let s = try lazy.get()
    var tokens = try s.promptTokens(try call.arg(0))
    let n = try call.flag("n", default: 20), temperature = try call.flag("temperature", default: 0.0)
    var rng = SplitMix64(seed: UInt64(truncatingIfNeeded: try call.flag("seed", default: 0)))
    let hooks = try s.hooks(call.flags["with"])
    var options = RunValue.options(hooks: hooks, saes: hooks.flatMap(\.saes).map { SAESplice($0, keepError: true) })
    options.logits = .last
    // Each step is the previous prompt plus one token, so it computes only that
    // token from the previous step's keys and values — unless an intervention
    // counts positions from the end, which then lands on another token at
    // every step and so changes the earlier positions too.
    let incremental = options.interventions.allSatisfy {
      if case .local(let positions) = $0.rows { return positions?.allSatisfy { $0 >= 0 } ?? true }
      return false
    }
    options.keepCheckpoint = incremental
    var checkpoint: ForwardCheckpoint?
    var generated: [Int] = []
    for _ in 0..<n {
      try interp.checkInterrupt(at: call.location)
      guard tokens.count < s.config.context else { break }
      var step = options
      step.resume = checkpoint.map { ResumePoint(checkpoint: $0, position: $0.tokens.count, layer: nil) }
      let result = try s.forward(tokens, step)
      checkpoint = result.checkpoint
      let logits = result.logits.row(0)
      let next: Int
      if temperature <= 0 {
        next = logits.withUnsafeBufferPointer { topK($0, 1)[0].id }
      } else {
        let probs = softmax(Tensor(shape: [logits.count], scalars: logits.scalars.map { $0 / Float(temperature) }))
        var u = Float(Double(rng.next() >> 11) / Double(1 << 53)), pick = probs.count - 1
        for (i, p) in probs.enumerated() {
          u -= p
          if u <= 0 { pick = i; break }
        }
        next = pick
      }
      if next == s.tokenizer.endOfSequenceID { break }
      tokens.append(next)
      generated.append(next)
    }
    return Value(s.tokenizer.decode(generated))
  }

  r.register(
    CommandSpec(
      name: "model", group: group,
      summary:
        "The loaded model: folder, family and hyperparameters (heads and key/value heads, norm, positions, attention)",
      examples: ["model"])
  ) { _, _ in
    let s = try lazy.get()
    let c = s.config
    var positions = c.positions.summary
    if case .rotary(let r) = c.positions, r.dimensions < c.dHead { positions += " of \(c.dHead) (partial)" }
    return .record(
      Record([
        ("folder", Value(s.model.folder.path)), ("family", Value(c.family.displayName)), ("layers", Value(c.layers)),
        ("heads", Value(c.heads)), ("kv_heads", Value(c.kvHeads)), ("d_model", Value(c.dModel)),
        ("d_head", Value(c.dHead)), ("d_mlp", Value(c.dMLP)), ("mlp", Value(mlpSummary(c))),
        ("norm", Value(normSummary(c))), ("positions", Value(positions)), ("attention", Value(c.attentionSummary)),
        ("residual", Value(c.parallelResidual ? "parallel attention and MLP" : "sequential")),
        ("context", Value(c.context)), ("vocab", Value(c.vocabSize)),
        ("saes", .list(s.saeNames.map { Value($0) })),
      ]))
  }

  r.register(
    CommandSpec(
      name: "saes", group: group, summary: "The loaded SAEs: name, hook, width, architecture", examples: ["saes"])
  ) { _, _ in
    let s = try lazy.get()
    return .table(
      Table(
        columns: ["name", "hook", "d_in", "d_sae", "architecture"],
        rows: s.saeNames.map { n in
          let e = s.saes[n]!
          let arch: String
          switch e.architecture {
          case .standard: arch = "relu"
          case .topK(let k): arch = "topk (k=\(k))"
          case .jumpReLU: arch = "jumprelu"
          }
          return [Value(n), Value(e.hook.name), Value(e.dIn), Value(e.dSAE), Value(arch)]
        }))
  }

  r.register(
    CommandSpec(
      name: "hooks", group: group, summary: "Every hook point of the model with its shape for a prompt of N tokens",
      flags: [FlagSpec("tokens", .count, "prompt length for the shapes", default: "1")],
      examples: ["hooks | head 5", "hooks | count"])
  ) { call, _ in
    let s = try lazy.get()
    let T = try call.flag("tokens", default: 1)
    return .table(
      Table(
        columns: ["name", "shape"],
        rows: HookPoint.all(config: s.config).map { p in
          [Value(p.name), .list(p.shape(config: s.config, tokens: T).map { Value($0) })]
        }))
  }
}

/// The MLP as `model` shows it.
private func mlpSummary(_ c: ModelConfig) -> String {
  switch c.mlp {
  case .gelu: "gelu"
  case .exactGELU: "gelu (exact)"
  case .gatedSiLU: "gated silu"
  case .gatedGELU: "gated gelu (tanh)"
  }
}

/// The norms as `model` shows them: kind, and where a model adds post-norms.
private func normSummary(_ c: ModelConfig) -> String {
  let kind = c.norm == .layerNorm ? "LayerNorm" : "RMSNorm"
  return c.postNorms ? kind + ", before and after attention and the MLP" : kind
}
