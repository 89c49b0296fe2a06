import Engine
import Lang

/// attrpatch: attribution patching beside real activation patching.
func registerAttributionPatching(_ r: CommandRegistry, _ lazy: LazyModelSession) {
  let clean = #"(run "When Mary and John went to the store, John gave a drink to")"#
  let corrupt = #"(run "When Mary and John went to the store, Anna gave a drink to")"#
  let linearOnly = "the metric must be linear in the logits (logitdiff, logits, and sums and multiples of them)"
  r.register(
    CommandSpec(
      name: "attrpatch", group: "attribution",
      summary:
        "Attribution patching: the effect of patching each component and position from the clean run into the corrupt one, estimated as (a_clean - a_corrupt) · gradient, beside the real patching effect for the top entries",
      flags: [
        FlagSpec("clean", .any, valueName: "RUN", "the run whose activations would be copied in"),
        FlagSpec("corrupt", .any, valueName: "RUN", "the run they would be copied into (same length)"),
        FlagSpec(
          "metric", .function, valueName: "FUNCTION",
          "a function of a run, linear in its logits, e.g. { |x| logitdiff x \" Mary\" \" John\" }"),
        FlagSpec(
          "over", .word, valueName: "WHAT", "heads (z), neurons (mlp.hook_post) or resid (resid_pre)", default: "heads"),
        FlagSpec(
          "check", .count, valueName: "K", "really patch the K entries with the largest estimates", default: "5"),
        FlagSpec("top", .count, valueName: "N", "rows, largest |estimate| first (0: every entry)", default: "20"),
      ],
      examples: [
        #"attrpatch --clean \#(clean) --corrupt \#(corrupt) --metric { |x| logitdiff x " Mary" " John" } --top 5"#,
        #"attrpatch --clean \#(clean) --corrupt \#(corrupt) --metric { |x| (logits x)[5335] - (logits x)[1757] } --over resid --check 3 --top 3"#,
      ],
      details:
        "Two forward passes and one backward pass (on the corrupt run) estimate every entry at once (Nanda's attribution "
        + "patching). estimate and actual are changes of the metric from the corrupt run's value; actual is null past the checked "
        + "entries. To differentiate the metric, attrpatch calls it once on a stand-in run on which logitdiff and logits return "
        + "linear combinations of logits, so the metric must be linear in the logits.")
  ) { call, interp in
    let s = try lazy.get()
    let (function, measure) = try metricFlag(call, interp, for: "attrpatch")
    let (clean, corrupt) = try s.patchingRuns(call, for: "attrpatch")
    let overName = try call.flag("over", default: "heads")
    guard let over = PatchSite(rawValue: overName) else {
      throw EvalError("--over: expected heads, neurons or resid, got '\(overName)'")
    }
    let check = try call.flag("check", default: 5), top = try call.flag("top", default: 20)

    // The metric as a combination of logits, read off a probe run.
    let combination: LogitCombination
    do {
      let probed = try interp.call(function, [.host(MetricProbe())], at: call.location)
      guard let linear = probed.host(as: LinearMetricValue.self), !linear.combination.isConstant else {
        throw EvalError(
          "it returned \(probed.typeName == "number" ? "a number that does not depend on the run" : probed.typeName)")
      }
      combination = linear.combination
    } catch LangError.runtime(let message, _) {
      throw EvalError("\(linearOnly); \(message)")
    } catch let e as EvalError {
      throw EvalError("\(linearOnly); \(e.message)")
    }
    // A metric that only looks linear on the probe (it branches on the run, say) shows here.
    let corruptValue = try measure(corrupt)
    for (run, m) in [(clean, try measure(clean)), (corrupt, corruptValue)] {
      let linear = try combination.value(logits: run.logits)
      guard abs(linear - m) <= 1e-3 * (1 + abs(m)) else {
        throw EvalError("\(linearOnly); on a real run it gives \(m) but its logit terms give \(linear)")
      }
    }

    var cleanOptions = clean.forwardOptions, corruptOptions = corrupt.forwardOptions
    cleanOptions.shouldStop = { Interrupt.requested }
    corruptOptions.shouldStop = { Interrupt.requested }
    let result: AttributionPatching
    do {
      result = try s.model.attributionPatching(
        clean: clean.tokens, corrupt: corrupt.tokens, cleanOptions: cleanOptions, corruptOptions: corruptOptions,
        metric: try combination.metric(model: s.model, tokens: corrupt.tokens.count), over: over)
    } catch ModelError.interrupted {
      throw LangError.interrupted(call.location)
    }
    let ranked = result.estimates.indices.sorted {
      let (a, b) = (abs(result.estimates[$0].estimate), abs(result.estimates[$1].estimate))
      return a != b ? a > b : $0 < $1
    }
    let shown = top == 0 ? ranked : Array(ranked.prefix(top))
    var rows: [[Value]] = []
    defer { corrupt.releaseCheckpoint() }
    for (rank, i) in shown.enumerated() {
      let e = result.estimates[i]
      var actual: Value = .null
      if rank < check {
        try interp.checkInterrupt(at: call.location)
        let label = "patch \(e.selection)"
        let hook = HookValue(
          label: label,
          interventions: [Interventions.copy(e.selection, from: try clean.value(e.selection.hook), label: label)])
        let patched = try RunValue(
          session: s, tokens: corrupt.tokens, hooks: corrupt.hooks + [hook], saes: corrupt.saes, cacheAll: false,
          lazyLogits: true, extending: corrupt)
        actual = Value(try measure(patched) - corruptValue)
      }
      let node: Value
      switch over {
      case .heads: node = .host(ComponentValue(.head(layer: e.layer, head: e.index!)))
      case .neurons: node = .host(ComponentValue(.neuron(layer: e.layer, index: e.index!)))
      case .resid: node = .host(HookPointValue(e.selection.hook))
      }
      rows.append([
        node, Value(e.layer), Value(e.position), Value(s.tokenText(corrupt.tokens[e.position])),
        Value(s.tokenText(clean.tokens[e.position])),
        Value(Double(e.estimate)), actual,
      ])
    }
    return .table(Table(columns: ["node", "layer", "pos", "token", "clean_token", "estimate", "actual"], rows: rows))
  }
}
