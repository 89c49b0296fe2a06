import Engine
import Foundation
import Lang

/// attn, heads, neurons, latents, lens, tokensof, dla: looking inside a run.
func registerLookCommands(_ r: CommandRegistry, _ lazy: LazyModelSession) {
  let group = "inspect"
  let ioi = #"(run "When Mary and John went to the store, John gave a drink to")"#

  r.register(
    CommandSpec(
      name: "attn", group: group,
      summary:
        "A head's attention pattern: a heatmap with token labels on a terminal, a (query, key, weight) table into a pipe",
      parameters: [ParameterSpec("run", .any), ParameterSpec("head", .any, "a head, L1H2")],
      examples: ["attn \(ioi) L1H2", "attn \(ioi) L1H2 | where query_label == \" to\" | sort value --desc | head 3"])
  ) { call, _ in
    let s = try lazy.get()
    let run = try s.run(try call.arg(0))
    guard case .head(let l, let h) = try s.component(try call.arg(1), what: "HEAD") else {
      throw EvalError("HEAD: expected an attention head like L1H2")
    }
    let pattern = try run.value(.block(l, .pattern))
    let T = run.tokens.count
    let labels = run.tokens.map { s.tokenText($0) }
    let values = (0..<T).map { q in (0..<T).map { k in k > q ? Float.nan : pattern[h, q, k] } }
    return .host(
      HeatmapValue(
        title: "L\(l)H\(h) attention (query ↓, key →)", rowName: "query", columnName: "key", rowLabels: labels,
        columnLabels: labels, values: values, signed: false))
  }

  r.register(
    CommandSpec(
      name: "heads", group: group,
      summary: "Where every head attends most from a position: layer, head, key position, key token, weight",
      parameters: [ParameterSpec("run", .any)],
      flags: [FlagSpec("pos", .int, valueName: "P", "query position", default: "-1")],
      examples: ["heads \(ioi) | sort weight --desc | head 5"])
  ) { call, _ in
    let s = try lazy.get()
    let run = try s.run(try call.arg(0))
    let q = try run.position(try call.flag("pos", default: -1))
    var rows: [[Value]] = []
    for l in 0..<s.config.layers {
      let p = try run.value(.block(l, .pattern))
      for h in 0..<s.config.heads {
        var best = 0
        for k in 0...q where p[h, q, k] > p[h, q, best] { best = k }
        rows.append([
          .host(ComponentValue(.head(layer: l, head: h))), Value(l), Value(h), Value(best),
          Value(s.tokenText(run.tokens[best])), Value(Double(p[h, q, best])),
        ])
      }
    }
    return .table(Table(columns: ["component", "layer", "head", "key", "key_token", "weight"], rows: rows))
  }

  r.register(
    CommandSpec(
      name: "neurons", group: group, summary: "The most active MLP neurons of a layer at a position",
      parameters: [ParameterSpec("run", .any), ParameterSpec("layer", .int)],
      flags: [
        FlagSpec("pos", .int, valueName: "P", "position", default: "-1"),
        FlagSpec("top", .count, "how many", default: "10"),
      ],
      examples: ["neurons \(ioi) 3 --top 5"])
  ) { call, _ in
    let s = try lazy.get()
    let run = try s.run(try call.arg(0))
    let l = try call.arg(1, as: Int.self)
    guard l >= 0 && l < s.config.layers else {
      throw EvalError("LAYER: the model has \(s.config.layers) layers (0...\(s.config.layers - 1))")
    }
    let t = try run.position(try call.flag("pos", default: -1))
    let post = try run.value(.block(l, .mlpPost)).row(t)
    let best = post.withUnsafeBufferPointer { topK($0, try! call.flag("top", default: 10)) }
    return .table(
      Table(
        columns: ["component", "neuron", "activation"],
        rows: best.map {
          [.host(ComponentValue(.neuron(layer: l, index: $0.id))), Value($0.id), Value(Double($0.score))]
        }))
  }

  r.register(
    CommandSpec(
      name: "latents", group: group,
      summary: "The most active latents of an SAE at a position (the SAE reads the run's activations)",
      parameters: [ParameterSpec("run", .any), ParameterSpec("sae", .word, "an SAE name (see saes)")],
      flags: [
        FlagSpec("pos", .int, valueName: "P", "position", default: "-1"),
        FlagSpec("top", .count, "how many", default: "10"),
      ],
      examples: ["latents \(ioi) blocks_3_hook_resid_pre --top 5"])
  ) { call, _ in
    let s = try lazy.get()
    let run = try s.run(try call.arg(0))
    let sae = try s.sae(named: try call.arg(1, as: String.self))
    let t = try run.position(try call.flag("pos", default: -1))
    let spliced = HookPoint(sae.hook.site, layer: sae.hook.layer, sae: .actsPost)
    let acts: Tensor
    if run.saes.contains(where: { $0.sae === sae }) {
      acts = try run.value(spliced).row(t)
    } else {
      let x = try run.value(sae.hook)
      acts = sae.encode(x).row(t)
    }
    let best = acts.withUnsafeBufferPointer { topK($0, try! call.flag("top", default: 10)) }.filter { $0.score > 0 }
    return .table(
      Table(
        columns: ["component", "latent", "activation"],
        rows: best.map {
          [.host(ComponentValue(.latent(sae: sae.name, index: $0.id))), Value($0.id), Value(Double($0.score))]
        }))
  }

  r.register(
    CommandSpec(
      name: "lens", group: group,
      summary: "The logit lens: top tokens read from each layer's residual stream through ln_final and the unembedding",
      parameters: [ParameterSpec("run", .any)],
      flags: [
        FlagSpec("pos", .int, valueName: "P", "position", default: "-1"),
        FlagSpec("top", .count, "tokens per layer", default: "3"),
      ],
      examples: ["lens \(ioi)"])
  ) { call, _ in
    let s = try lazy.get()
    let run = try s.run(try call.arg(0))
    let k = try call.flag("top", default: 3)
    let rows = try s.model.logitLens(
      run.tokens, options: run.forwardOptions, position: try call.flag("pos", default: -1), top: k)
    var out: [[Value]] = []
    for (i, row) in rows.enumerated() {
      for (rank, t) in row.tokens.enumerated() {
        out.append([
          Value(i < s.config.layers ? "\(i)" : "final"), Value(row.stream), Value(rank + 1), Value(s.tokenText(t.id)),
          Value(t.id), Value(Double(t.score)),
        ])
      }
    }
    return .table(Table(columns: ["layer", "stream", "rank", "token", "id", "logit"], rows: out))
  }

  r.register(
    CommandSpec(
      name: "tokensof", group: group,
      summary:
        "The output tokens a component promotes and suppresses (a neuron's or latent's write direction; a head's OV copying score)",
      parameters: [ParameterSpec("component", .any, "L3N77, L1H2 or sae.F12")],
      flags: [FlagSpec("top", .count, "tokens each way", default: "10")],
      examples: ["tokensof L5N10 --top 5", "tokensof L4H1 --top 5", "tokensof blocks_3_hook_resid_pre.F12"])
  ) { call, _ in
    let s = try lazy.get()
    let c = try s.component(try call.arg(0), what: "COMPONENT")
    let k = try call.flag("top", default: 10)
    let out = try s.model.outputTokens(c, saes: s.saes, top: k)
    var rows: [[Value]] = []
    for (i, t) in out.promoted.enumerated() {
      rows.append([Value("promoted"), Value(i + 1), Value(s.tokenText(t.id)), Value(t.id), Value(Double(t.score))])
    }
    for (i, t) in out.suppressed.enumerated() {
      rows.append([Value("suppressed"), Value(i + 1), Value(s.tokenText(t.id)), Value(t.id), Value(Double(t.score))])
    }
    return .table(Table(columns: ["direction", "rank", "token", "id", "score"], rows: rows))
  }

  r.register(
    CommandSpec(
      name: "dla", group: group,
      summary:
        "Direct logit attribution: each component's direct contribution to logit[target] - logit[distractor] (final LayerNorm scale frozen); the parts sum to the logit difference",
      parameters: [
        ParameterSpec("run", .any), ParameterSpec("target", .any, "a token"),
        ParameterSpec("distractor", .any, optional: true, "a token (omit for the target's logit)"),
      ],
      flags: [
        FlagSpec("by", .word, valueName: "layer|head|neuron|latent", "granularity", default: "head"),
        FlagSpec("pos", .int, valueName: "P", "position", default: "-1"),
      ],
      examples: [
        "dla \(ioi) \" Mary\" \" John\" --by head | sort total --desc | head 5",
        "dla \(ioi) \" Mary\" \" John\" --by layer",
      ],
      details:
        "With a final logit soft-cap (Gemma 2) the capped logits are not linear in the components: every part is scaled by this run's secant ratio, the capped over the uncapped logit difference, so the parts still sum to the capped difference the model outputs."
    )
  ) { call, _ in
    let s = try lazy.get()
    let run = try s.run(try call.arg(0))
    let t = try s.tokenID(try call.arg(1), what: "TARGET")
    let d = try call.optionalArg(2, as: Value.self).map { try s.tokenID($0, what: "DISTRACTOR") }
    let byName = try call.flag("by", default: "head")
    guard let by = AttributionGranularity(rawValue: byName) else {
      throw EvalError("--by: expected layer, head, neuron or latent, got '\(byName)'")
    }
    let parts = try s.model.directLogitAttribution(
      run.tokens, options: run.forwardOptions, position: try call.flag("pos", default: -1), target: t, distractor: d,
      by: by)
    return .table(
      Table(
        columns: ["component", "layer", "kind", "total"],
        rows: parts.map { p in
          let name: Value = Component(name: p.name).map { .host(ComponentValue($0)) } ?? Value(p.name)
          return [name, p.layer.map { Value($0) } ?? .null, Value(p.kind), Value(Double(p.value))]
        }))
  }
}
