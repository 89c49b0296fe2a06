import Engine
import Lang

/// grad, attribute, trace, attrpatch: gradients and TDB's attribution.
func registerAttributionCommands(_ r: CommandRegistry, _ lazy: LazyModelSession) {
  let group = "attribution"
  let prompt = "When Mary and John went to the store, John gave a drink to"
  let ioi = #"(run "\#(prompt)")"#
  let topFlag = FlagSpec(
    "top", .count, valueName: "K",
    "rows: per kind, the K largest of each metric and the K smallest direct and total effects", default: "10")
  let kindFlag = FlagSpec(
    "kind", .word, valueName: "KIND", "neurons, heads, latents, embeddings or all", default: "all")

  r.register(
    CommandSpec(
      name: "grad", group: group,
      summary:
        "The gradient of a metric (by default logit[target] - logit[distractor] at the last position) with respect to a hook value or a component's activation",
      parameters: [
        ParameterSpec("run", .any),
        ParameterSpec(
          "what", .any,
          "a hook point (blocks.0.hook_resid_pre), or a component: a head's z [pos, d_head], a neuron's or latent's [pos]"
        ),
      ],
      flags: [
        FlagSpec("target", .any, valueName: "T", "the target token"),
        FlagSpec("distractor", .any, valueName: "D", "the distractor token"),
        FlagSpec("pos", .int, valueName: "P", "the metric's position", default: "-1"),
        FlagSpec(
          "metric", .word, valueName: "M",
          "logitdiff (needs --target and --distractor), logit or logprob (--target), loss (the prompt's mean next-token loss)",
          default: "logitdiff"),
        .switch("detach-ln", "treat ln_final's scale as a constant (TDB's convention for direct effects)"),
        .switch("detach-all-ln", "treat every LayerNorm scale as a constant"),
      ],
      examples: [
        #"grad \#(ioi) blocks.0.hook_resid_pre --target " Mary" --distractor " John""#,
        #"(grad \#(ioi) blocks.5.hook_resid_post --target " Mary" --distractor " John" --detach-ln)[-1].norm"#,
        #"grad (run "The cow said") L2N5 --metric loss"#,
      ])
  ) { call, _ in
    let s = try lazy.get()
    let run = try s.run(try call.arg(0), deferred: true)
    let metric = try gradientMetric(s, call, tokens: run.tokens.count)
    var options = run.forwardOptions
    let point: HookPoint
    var slice: HookSelection? = nil
    switch try s.target(try call.arg(1), what: "WHAT") {
    case .hook(let p): point = p
    case .component(let c):
      point = try c.hook(saes: s.saes)
      slice = HookSelection(hook: point, index: c.index)
    }
    // Values inside an SAE need it spliced; with its error term the forward pass is unchanged.
    if point.sae != nil, !options.saes.contains(where: { $0.sae.hook == point.base }) {
      guard let sae = s.saes.values.first(where: { $0.hook == point.base }) else {
        throw EvalError("\(point.name): no loaded SAE sits at \(point.base.name)")
      }
      options.saes.append(SAESplice(sae, keepError: true))
    }
    options.logits = .none
    options.shouldStop = { Interrupt.requested }
    let backward = BackwardOptions(
      detachFinalLayerNormScale: call.isSet("detach-ln"), detachLayerNormScales: call.isSet("detach-all-ln"),
      wanted: .points([point]))
    let g: GradientResult
    do {
      g = try s.model.gradients(run.tokens, metric: metric, forward: options, backward: backward)
    } catch ModelError.interrupted {
      throw LangError.interrupted(call.location)
    }
    let gradient = g.gradients[point]!
    return .host(TensorValue(try slice.map { try gather(gradient, $0) } ?? gradient))
  }

  r.register(
    CommandSpec(
      name: "attribute", group: group,
      summary:
        "TDB's node table: neurons, head (query, key) pairs, SAE latents and embeddings ranked by activation, write magnitude, direct and estimated total effect on logit[target] - logit[distractor]",
      parameters: [
        ParameterSpec("run", .any), ParameterSpec("target", .any, "a token"),
        ParameterSpec("distractor", .any, "a token"),
      ],
      flags: [
        topFlag, kindFlag,
        FlagSpec(
          "against", .any, valueName: "RUN_B",
          "a second prompt of the same length: columns for A, B and A - B, rows ranked by the differences"),
        FlagSpec("pos", .int, valueName: "P", "the position of the logits", default: "-1"),
      ],
      examples: [
        #"attribute \#(ioi) " Mary" " John" --top 3"#,
        #"attribute \#(ioi) " Mary" " John" --kind heads | sort total --desc | head 5"#,
        #"let r = \#(ioi); attribute r " Mary" " John" --kind neurons | sort total | head 1 | ablate"#,
        #"attribute \#(ioi) " Mary" " John" --kind neurons --top 2 --against (run "When Mary and John went to the store, Mary gave a drink to")"#,
      ],
      details:
        "activation: a neuron's post-activation, a head's attention weight from the query to the key, a latent's activation, an "
        + "embedding's norm. write: the norm of what the node adds to the residual stream. direct: that write dotted with the "
        + "gradient at the final residual stream with ln_final's scale detached (zero away from the metric's position). total: "
        + "activation × gradient, the first-order estimate of what the node adds (ablating it changes the metric by about -total). "
        + "One forward and one backward pass. Latents come from every loaded SAE, read as if spliced with the error term; rows "
        + "are, within each kind, the K largest of each metric and the K smallest direct and total effects, ordered by |total|. Each row's "
        + "node pipes into ablate (a head pair ablates that one attention weight) and trace.")
  ) { call, _ in
    let s = try lazy.get()
    let run = try s.run(try call.arg(0), deferred: true)
    let metric = AttributionMetric.logitDifference(
      position: try call.flag("pos", default: -1), target: try s.tokenID(try call.arg(1), what: "TARGET"),
      distractor: try s.tokenID(try call.arg(2), what: "DISTRACTOR"))
    let k = try topCount(call)
    let kinds = try nodeKinds(try call.flag("kind", default: "all"))
    let a = try s.attributeNodes(run, metric: metric, kinds: kinds)
    guard let other = call.flags["against"] else { return .table(s.nodeTable(a, top: k)) }
    let runB = try s.run(other, what: "--against", deferred: true)
    guard runB.tokens.count == run.tokens.count else {
      throw EvalError(
        "--against: the runs have \(run.tokens.count) and \(runB.tokens.count) tokens; compare prompts of the same length"
      )
    }
    return .table(s.pairedNodeTable(a, try s.attributeNodes(runB, metric: metric, kinds: kinds), top: k))
  }

  r.register(
    CommandSpec(
      name: "trace", group: group,
      summary:
        "The node table for one node's pre-activation (a neuron's, a latent's, a head's attention score or its write): walk a circuit upstream one hop at a time",
      parameters: [
        ParameterSpec(
          "node", .any, optional: true,
          "a neuron, head or latent (L3N77, L4H1, sae.F12), or a row of attribute/trace (or pipe the row in)"),
        ParameterSpec("run", .any, optional: true),
      ],
      flags: [
        FlagSpec(
          "through", .word, valueName: "SIDE",
          "heads: q (query side), k (key side), qk (both) or v (its write on the direction of interest, needs --target and --distractor); with grouped-query attention, k and v trace the key/value head the query head reads (L4H1's k side is its group's L4KV0 keys)",
          default: "qk"),
        FlagSpec("pos", .int, valueName: "P", "the node's token (for a head, the query)", default: "the row's, or -1"),
        FlagSpec("key", .int, valueName: "K", "a head's key position", default: "the row's, or where it attends most"),
        FlagSpec("target", .any, valueName: "T", "--through v: the target token"),
        FlagSpec("distractor", .any, valueName: "D", "--through v: the distractor token"),
        topFlag, kindFlag,
      ],
      examples: [
        #"trace L3N77 \#(ioi) --top 3"#,
        #"trace L4H1 \#(ioi) --through q --key 1 --kind heads --top 3"#,
        #"let r = \#(ioi); attribute r " Mary" " John" --kind heads | sort total --desc | head 1 | trace r --through v --target " Mary" --distractor " John" --top 2"#,
        #"trace blocks_3_hook_resid_pre.F1605 \#(ioi) --kind neurons --top 3"#,
      ],
      takesInput: true, input: "a row of attribute or trace naming the node (then the one argument is RUN)",
      details:
        "The columns are attribute's, for the traced value instead of the logit difference. A neuron: its pre-activation "
        + "(mlp.hook_pre) at its token; a latent: its activation (it must be active); a head: its attention score at (query, key) "
        + "through the query side, the key side (the other side's gradient is cut) or both, or through the value side its write "
        + "at that pair projected on the direction of interest, pattern held. Only nodes upstream of the traced value appear; direct "
        + "effects are writes dotted with the gradient where the traced value reads the residual stream, that LayerNorm's scale detached."
    )
  ) { call, _ in
    let s = try lazy.get()
    let nodeValue: Value, runValue: Value
    if let input = call.input {
      guard let r = call[0], call[1] == nil else {
        throw EvalError("with a node piped in, give only the run: ... | trace RUN")
      }
      (nodeValue, runValue) = (input, r)
    } else {
      guard let n = call[0], let r = call[1] else {
        throw EvalError("trace needs a NODE and a RUN (trace L3N77 RUN), or a row piped in (... | trace RUN)")
      }
      (nodeValue, runValue) = (n, r)
    }
    let run = try s.run(runValue, deferred: true)
    let row: NodeRow
    if nodeValue.host(as: ComponentValue.self) != nil || nodeValue.string != nil {
      row = NodeRow(target: try s.target(nodeValue, what: "NODE"), position: nil, key: nil)
    } else {
      let rows = try s.nodeRows(nodeValue, what: "NODE")
      guard rows.count == 1 else {
        throw EvalError("NODE: \(rows.count) rows; trace one node (... | head 1 | trace RUN)")
      }
      row = rows[0]
    }
    let pos = try call.flag("pos", as: Int.self) ?? row.position ?? -1
    let through = try call.flag("through", as: String.self)
    let metric: AttributionMetric
    switch row.target {
    case .component(.head(let l, let h)):
      let q = try run.position(pos)
      let key: Int
      if let k = try call.flag("key", as: Int.self) ?? row.key {
        key = k
      } else {
        // Where the head attends most from the query.
        let pattern = try run.value(.block(l, .pattern))
        key = (0...q).max { pattern[h, q, $0] < pattern[h, q, $1] }!
      }
      switch through ?? "qk" {
      case "v":
        guard let t = call.flags["target"], let d = call.flags["distractor"] else {
          throw EvalError(
            "--through v traces the head's write on the direction of interest: give --target T and --distractor D")
        }
        metric = .headWrite(
          layer: l, head: h, query: q, key: key, target: try s.tokenID(t, what: "--target"),
          distractor: try s.tokenID(d, what: "--distractor"))
      case let side:
        guard let side = AttentionSide(rawValue: side) else {
          throw EvalError("--through: expected q, k, qk or v, got '\(side)'")
        }
        metric = .attentionScore(layer: l, head: h, query: q, key: key, through: side)
      }
    case .component(let c):
      if through != nil { throw EvalError("--through is for heads; \(c) has one input") }
      switch c {
      case .neuron(let l, let n): metric = .neuron(layer: l, index: n, position: pos)
      case .latent(let name, let f): metric = .latent(try s.sae(named: name), index: f, position: pos)
      case .head: fatalError("unreachable: heads are handled above")
      }
    case .hook(let p):
      throw EvalError(
        "NODE: \(p.name) is a hook point; trace a neuron, head or latent (an embedding has nothing upstream)")
    }
    let table = try s.attributeNodes(run, metric: metric, kinds: try nodeKinds(try call.flag("kind", default: "all")))
    return .table(s.nodeTable(table, top: try topCount(call)))
  }

  registerAttributionPatching(r, lazy)
}

/// `--top K`, at least 1.
func topCount(_ call: CommandCall) throws -> Int {
  let k = try call.flag("top", default: 10)
  guard k >= 1 else { throw EvalError("--top must be at least 1, got \(k)") }
  return k
}

/// grad's metric from --metric, --target, --distractor and --pos. Logits and
/// their differences become seeds at ln_final's output: the same gradient
/// without computing a whole row of logits for the metric's value.
private func gradientMetric(_ s: ModelSession, _ call: CommandCall, tokens T: Int) throws -> Metric {
  let pos = try call.flag("pos", default: -1)
  let target = try call.flags["target"].map { try s.tokenID($0, what: "--target") }
  let distractor = try call.flags["distractor"].map { try s.tokenID($0, what: "--distractor") }
  let name = try call.flag("metric", default: "logitdiff")
  switch name {
  case "logitdiff":
    guard let target, let distractor else {
      throw EvalError("--metric logitdiff needs --target T and --distractor D (or use --metric logit, logprob or loss)")
    }
    return try LogitCombination.logitDifference(position: pos, target: target, distractor: distractor).metric(
      model: s.model, tokens: T)
  case "logit", "logprob":
    guard let target else { throw EvalError("--metric \(name) needs --target T") }
    guard distractor == nil else { throw EvalError("--metric \(name) takes no --distractor (--metric logitdiff does)") }
    if name == "logprob" { return .logProbability(position: pos, token: target) }
    return try LogitCombination(terms: [.init(position: pos, token: target, coefficient: 1)]).metric(
      model: s.model, tokens: T)
  case "loss":
    guard target == nil && distractor == nil else { throw EvalError("--metric loss takes no --target or --distractor") }
    return .loss
  default:
    throw EvalError("--metric: expected logitdiff, logit, logprob or loss, got '\(name)'")
  }
}

/// A component's slice of a hook value: [pos, d_head] for a head, [pos] for a neuron or latent.
func gather(_ full: Tensor, _ selection: HookSelection) throws -> Tensor {
  let T = full.shape[0], n = try selection.runLength(full.shape)
  var out = Tensor(zeros: n == 1 ? [T] : [T, n])
  let dst = out.mutablePointer(), src = full.pointer
  var t = 0
  try selection.forEachRun(full.shape) { offset, length in
    (dst + t * length).update(from: src + offset, count: length)
    t += 1
  }
  return out
}
