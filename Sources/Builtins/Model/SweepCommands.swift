import Engine
import Foundation
import Lang

/// sweep and compare: many interventions at once, and two runs side by side.
func registerSweepCommands(_ r: CommandRegistry, _ lazy: LazyModelSession) {
  let group = "interventions"
  r.register(
    CommandSpec(
      name: "sweep", group: group,
      summary:
        "Patch or ablate every component in turn and measure a metric: a (layer, position or head, effect) table, a heatmap on a terminal",
      parameters: [
        ParameterSpec("mode", .word, "patch or ablate"),
        ParameterSpec("run", .any, optional: true, "for ablate: the run to ablate"),
      ],
      flags: [
        FlagSpec("clean", .any, valueName: "RUN", "patch: the run whose activations are copied in"),
        FlagSpec("corrupt", .any, valueName: "RUN", "patch: the run they are copied into"),
        FlagSpec(
          "metric", .function, valueName: "FUNCTION",
          "a function of a run returning a number, e.g. { |x| logitdiff x \" Mary\" \" John\" }"),
        FlagSpec(
          "over", .word, valueName: "WHAT",
          "patch: resid|heads|heads-by-pos|mlp|attn; ablate: heads|neurons|latents|mlp|attn",
          default: "resid (patch), heads (ablate)"),
        FlagSpec("pos", .any, valueName: "P", "ablate: only at these positions"),
        FlagSpec("layer", .int, valueName: "L", "ablate neurons: only this layer"),
        FlagSpec("sae", .word, valueName: "NAME", "ablate latents: the SAE (default: the first loaded)"),
      ],
      examples: [
        #"sweep ablate (run "When Mary and John went to the store, John gave a drink to") --metric { |x| logitdiff x " Mary" " John" } --over heads --pos -1"#,
        #"sweep patch --clean (run "When Mary and John went to the store, John gave a drink to") --corrupt (run "When Mary and John went to the store, Anna gave a drink to") --metric { |x| logitdiff x " Mary" " John" } --over resid"#,
      ],
      details:
        "Every run is the base run (ablate: RUN; patch: the corrupt run) plus one intervention, so it "
        + "starts from the base run's keys, values and residual stream and computes only the positions "
        + "from the first one the intervention touches, in the blocks from its own on. "
        + "TDB_SWEEP_REUSE=0 makes every run a whole forward pass (to check or benchmark this).")
  ) { call, interp in
    let s = try lazy.get()
    let mode = try call.arg(0, as: String.self)
    let measure = try metricFlag(call, interp, for: "sweep").measure
    // Every run a sweep makes is its base run plus one hook, so it resumes from
    // the base's checkpoint and computes only the positions and blocks the
    // hook can change (TDB_SWEEP_REUSE=0 recomputes every run whole, to check
    // or benchmark this).
    let reuse = ProcessInfo.processInfo.environment["TDB_SWEEP_REUSE"] != "0"
    var splicedBases: [[ObjectIdentifier]: RunValue] = [:]
    var extended: [RunValue] = []
    defer { for run in extended { run.releaseCheckpoint() } }
    func runWith(_ base: RunValue, _ hook: HookValue) throws -> RunValue {
      try interp.checkInterrupt(at: call.location)
      var splices = base.saes
      for sae in hook.saes where !splices.contains(where: { $0.sae.hook == sae.hook }) {
        splices.append(SAESplice(sae, keepError: true))
      }
      // A hook on SAE latents resumes from the base with that SAE spliced in.
      var source = base
      if splices.count != base.saes.count {
        let key = splices.map { ObjectIdentifier($0.sae) }
        if splicedBases[key] == nil {
          splicedBases[key] = try RunValue(
            session: s, tokens: base.tokens, hooks: base.hooks, saes: splices, cacheAll: false, lazyLogits: true)
        }
        source = splicedBases[key]!
      }
      if reuse && !extended.contains(where: { $0 === source }) { extended.append(source) }
      return try RunValue(
        session: s, tokens: base.tokens, hooks: base.hooks + [hook], saes: splices, cacheAll: false, lazyLogits: true,
        extending: reuse ? source : nil)
    }
    let c = s.config
    switch mode {
    case "patch":
      let (clean, corrupt) = try s.patchingRuns(call, for: "sweep patch")
      let over = try call.flag("over", default: "resid")
      let mClean = try measure(clean), mCorrupt = try measure(corrupt)
      let T = clean.tokens.count
      let labels = corrupt.tokens.map { s.tokenText($0) }
      var rows: [[Value]] = []
      var grid: [[Float]] = []
      func effect(_ sel: HookSelection, _ name: String) throws -> (Double, Double) {
        let source = try clean.value(sel.hook)
        let hook = HookValue(
          label: "patch \(name)", interventions: [Interventions.copy(sel, from: source, label: "patch \(name)")])
        let m = try measure(try runWith(corrupt, hook))
        let denom = mClean - mCorrupt
        return (m, denom == 0 ? .nan : (m - mCorrupt) / denom)
      }
      switch over {
      case "resid", "mlp", "attn":
        let site: HookPoint.Site = over == "resid" ? .residPre : over == "mlp" ? .mlpOut : .attnOut
        for l in 0..<c.layers {
          var line: [Float] = []
          for t in 0..<T {
            let (m, n) = try effect(
              HookSelection(hook: .block(l, site), positions: [t]), "blocks.\(l).\(site.rawValue) --pos \(t)")
            rows.append([Value(l), Value(t), Value(labels[t]), Value(m), Value(n)])
            line.append(Float(n))
          }
          grid.append(line)
        }
        let table = Table(columns: ["layer", "pos", "token", "metric", "normalized"], rows: rows)
        return .host(
          SweepValue(
            table: table,
            heatmap: HeatmapValue(
              title: "patching \(over) (normalised effect; layer ↓, position →)", rowName: "layer", columnName: "pos",
              rowLabels: (0..<c.layers).map { "\($0)" }, columnLabels: labels, values: grid, signed: true)))
      case "heads", "heads-by-pos":
        for l in 0..<c.layers {
          var line: [Float] = []
          for h in 0..<c.heads {
            if over == "heads" {
              let (m, n) = try effect(HookSelection(hook: .block(l, .z), index: h), "L\(l)H\(h)")
              rows.append([.host(ComponentValue(.head(layer: l, head: h))), Value(l), Value(h), Value(m), Value(n)])
              line.append(Float(n))
            } else {
              for t in 0..<T {
                let (m, n) = try effect(
                  HookSelection(hook: .block(l, .z), positions: [t], index: h), "L\(l)H\(h) --pos \(t)")
                rows.append([
                  .host(ComponentValue(.head(layer: l, head: h))), Value(l), Value(h), Value(t), Value(labels[t]),
                  Value(m), Value(n),
                ])
              }
            }
          }
          grid.append(line)
        }
        if over == "heads" {
          let table = Table(columns: ["component", "layer", "head", "metric", "normalized"], rows: rows)
          return .host(
            SweepValue(
              table: table,
              heatmap: headsHeatmap("patching heads (normalised effect; layer ↓, head →)", grid, c)))
        }
        return .table(
          Table(columns: ["component", "layer", "head", "pos", "token", "metric", "normalized"], rows: rows))
      default:
        throw EvalError("sweep patch --over: expected resid, heads, heads-by-pos, mlp or attn, got '\(over)'")
      }
    case "ablate":
      guard let rv = call[1] else {
        throw EvalError("sweep ablate needs a RUN: sweep ablate RUN --metric FUNCTION --over heads")
      }
      let base = try s.run(rv)
      let over = try call.flag("over", default: "heads")
      let pos = try positions(call)
      let m0 = try measure(base)
      var rows: [[Value]] = []
      func effect(_ sel: HookSelection, _ c: Component?, _ name: String, saes: [SparseAutoencoder] = []) throws
        -> Double
      {
        let hook = HookValue(
          label: "ablate \(name)", interventions: [Interventions.zero(sel, label: "ablate \(name)")], saes: saes)
        return try measure(try runWith(base, hook)) - m0
      }
      switch over {
      case "heads":
        var grid: [[Float]] = []
        for l in 0..<c.layers {
          var line: [Float] = []
          for h in 0..<c.heads {
            let e = try effect(
              HookSelection(hook: .block(l, .z), positions: pos, index: h), .head(layer: l, head: h), "L\(l)H\(h)")
            rows.append([.host(ComponentValue(.head(layer: l, head: h))), Value(l), Value(h), Value(e)])
            line.append(Float(e))
          }
          grid.append(line)
        }
        let table = Table(columns: ["component", "layer", "head", "effect"], rows: rows)
        return .host(
          SweepValue(
            table: table,
            heatmap: headsHeatmap("ablating heads (metric change; layer ↓, head →)", grid, c)))
      case "mlp", "attn":
        let site: HookPoint.Site = over == "mlp" ? .mlpOut : .attnOut
        for l in 0..<c.layers {
          rows.append([
            Value("blocks.\(l).\(site.rawValue)"), Value(l),
            Value(
              try effect(HookSelection(hook: .block(l, site), positions: pos), nil, "blocks.\(l).\(site.rawValue)")),
          ])
        }
        return .table(Table(columns: ["hook", "layer", "effect"], rows: rows))
      case "neurons":
        let layers = try call.flag("layer", as: Int.self).map { [$0] } ?? Array(0..<c.layers)
        for l in layers {
          guard l >= 0 && l < c.layers else { throw EvalError("--layer: the model has \(c.layers) layers") }
          // Only neurons that are active at the ablated positions can matter.
          let post = try base.value(.block(l, .mlpPost))
          let ts = try HookSelection(hook: .block(l, .mlpPost), positions: pos).resolvedPositions(base.tokens.count)
          for n in 0..<c.dMLP where ts.contains(where: { post[$0, n] != 0 }) {
            let e = try effect(
              HookSelection(hook: .block(l, .mlpPost), positions: pos, index: n), .neuron(layer: l, index: n),
              "L\(l)N\(n)")
            rows.append([.host(ComponentValue(.neuron(layer: l, index: n))), Value(l), Value(n), Value(e)])
          }
        }
        return .table(Table(columns: ["component", "layer", "neuron", "effect"], rows: rows))
      case "latents":
        let name = try call.flag("sae", as: String.self) ?? s.saeNames.first
        guard let name else { throw EvalError("sweep ablate --over latents needs an SAE; load one with --sae PATH") }
        let sae = try s.sae(named: name)
        let acts = sae.encode(try base.value(sae.hook))
        let ts = try HookSelection(hook: sae.hook, positions: pos).resolvedPositions(base.tokens.count)
        let point = HookPoint(sae.hook.site, layer: sae.hook.layer, sae: .actsPost)
        for f in 0..<sae.dSAE where ts.contains(where: { acts[$0, f] != 0 }) {
          let e = try effect(
            HookSelection(hook: point, positions: pos, index: f), .latent(sae: name, index: f), "\(name).F\(f)",
            saes: [sae])
          rows.append([.host(ComponentValue(.latent(sae: name, index: f))), Value(f), Value(e)])
        }
        return .table(Table(columns: ["component", "latent", "effect"], rows: rows))
      default:
        throw EvalError("sweep ablate --over: expected heads, neurons, latents, mlp or attn, got '\(over)'")
      }
    default:
      throw EvalError("sweep: the mode is patch or ablate, not '\(mode)'")
    }
  }

  r.register(
    CommandSpec(
      name: "compare", group: group,
      summary: "Two runs side by side: top next tokens of each, and the hook values that differ most",
      parameters: [ParameterSpec("a", .any, "a run"), ParameterSpec("b", .any, "a run")],
      flags: [
        FlagSpec("top", .count, "rows of each part", default: "5"),
        FlagSpec("pos", .int, valueName: "P", "position compared", default: "-1"),
      ],
      examples: [
        #"compare (run "When Mary and John went to the store, John gave a drink to") (run "When Mary and John went to the store, Mary gave a drink to")"#
      ])
  ) { call, _ in
    let s = try lazy.get()
    let a = try s.run(try call.arg(0), what: "A"), b = try s.run(try call.arg(1), what: "B")
    let k = try call.flag("top", default: 5), p = try call.flag("pos", default: -1)
    let ta = try a.top(k, position: p), tb = try b.top(k, position: p)
    var top: [[Value]] = []
    for i in 0..<min(ta.count, tb.count) {
      top.append([
        Value(i + 1), Value(ta[i].token), Value(Double(ta[i].logit)), Value(tb[i].token), Value(Double(tb[i].logit)),
      ])
    }
    // Differences at the compared position of every residual-stream-sized hook.
    let pa = try a.position(p), pb = try b.position(p)
    var diffs: [(String, Double, Double)] = []
    for point in HookPoint.all(config: s.config) where point.site != .pattern && point.site != .attnScores {
      let va = try a.value(point).row(pa), vb = try b.value(point).row(pb)
      var d: Double = 0, n: Double = 0
      for i in 0..<va.count {
        d += Double((va[flat: i] - vb[flat: i]) * (va[flat: i] - vb[flat: i]))
        n += Double(va[flat: i] * va[flat: i])
      }
      diffs.append((point.name, d.squareRoot(), n == 0 ? 0 : (d / n).squareRoot()))
    }
    diffs.sort { $0.2 > $1.2 }
    return .record(
      Record([
        ("top", .table(Table(columns: ["rank", "a_token", "a_logit", "b_token", "b_logit"], rows: top))),
        (
          "hooks",
          .table(
            Table(
              columns: ["hook", "distance", "relative"],
              rows: diffs.prefix(k * 2).map { [Value($0.0), Value($0.1), Value($0.2)] }))
        ),
      ]))
  }
}

/// A layer × head heatmap of a sweep's effects (signed, so red and blue).
private func headsHeatmap(_ title: String, _ grid: [[Float]], _ c: ModelConfig) -> HeatmapValue {
  HeatmapValue(
    title: title, rowName: "layer", columnName: "head", rowLabels: (0..<c.layers).map { "\($0)" },
    columnLabels: (0..<c.heads).map { "H\($0)" }, values: grid, signed: true)
}

/// A sweep's result: a table that pipes like any table, shown as a heatmap on a terminal.
final class SweepValue: HostValue, RichDisplay {
  let table: Table
  let heatmap: HeatmapValue
  init(table: Table, heatmap: HeatmapValue) {
    self.table = table
    self.heatmap = heatmap
  }
  var typeName: String { "table" }
  func plain() -> Value { .table(table) }
  func summary() -> String { heatmap.summary() }
  func elements() throws -> [Value] { table.records.map { .record($0) } }
  func display(width: Int, color: Bool) -> String { heatmap.display(width: width, color: color) }
}
