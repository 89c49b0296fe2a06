import Engine
import Foundation
import Lang

/// explain, top, search, annotate: reading activation datasets.
func registerExplainQueryCommands(_ r: CommandRegistry, _ lazy: LazyModelSession, _ datasets: DatasetContext) {
  let group = "datasets"
  let db = #"--db (collect demo --tokens 2048 --db "/tmp/tdb-example.db").db"#
  let dbHeads = #"--db (collect demo --tokens 1024 --kind heads --db "/tmp/tdb-example-heads.db").db"#
  let dbFlag = FlagSpec(
    "db", .word, valueName: "FILE",
    "the dataset (default: the one last collected or used, else $TDB_DB, else activations.db)")

  /// The explainer `--explainer` asks for: local, or chat (needs TDB_EXPLAINER_URL).
  func chat(_ call: CommandCall) throws -> ChatExplainer? {
    let configured = try ChatExplainer.fromEnvironment()
    switch try call.flag("explainer", as: String.self) {
    case nil: return configured
    case "local": return nil
    case "chat":
      guard let configured else {
        throw EvalError("--explainer chat needs TDB_EXPLAINER_URL (an OpenAI-compatible endpoint)")
      }
      return configured
    case let other?: throw EvalError("--explainer: expected local or chat, got '\(other)'")
    }
  }
  let explainerFlag = FlagSpec(
    "explainer", .word, valueName: "local|chat", "who writes and simulates the explanation",
    default: "chat if TDB_EXPLAINER_URL is set, else local")

  r.register(
    CommandSpec(
      name: "explain", group: group,
      summary:
        "A component's page from a dataset: explanation and score, statistics, histogram, output tokens, and examples coloured by activation",
      parameters: [ParameterSpec("component", .any, "L3N77, L1H2 or sae.F12")],
      flags: [dbFlag, explainerFlag],
      examples: ["explain L3N77 \(db)", "explain L2H3 \(dbHeads)", "(explain L3N77 \(db)).score"],
      details: """
        The explanation is written from the even-ranked top examples: locally, the tokens (and preceding token) where the component fires, or for a head where it attends, and the tokens it promotes; with TDB_EXPLAINER_URL (and TDB_EXPLAINER_KEY, TDB_EXPLAINER_MODEL) set, by that OpenAI-compatible chat endpoint. It is scored as in Bills et al. (2023): activations simulated from the explanation alone on the odd-ranked top examples and the random ones, correlated with the real activations. The explanation and score are saved in the dataset. Into a pipe the page is a record (use `to json` or --format json).
        """)
  ) { call, _ in
    let s = try lazy.get()
    let c = try s.component(try call.arg(0), what: "COMPONENT")
    let store = try datasets.open(try datasets.path(call))
    let (page, _) = try ComponentExplainer(session: s, store: store, chat: try chat(call)).explainAndSave(c)
    return .host(ComponentPageValue(page, tokenText: s.tokenText))
  }

  r.register(
    CommandSpec(
      name: "top", group: group,
      summary:
        "Rank a dataset's components of one kind by firing frequency, maximum activation, mean, variance or explanation score",
      parameters: [ParameterSpec("kind", .word, "neurons, heads or latents")],
      flags: [
        FlagSpec("by", .word, valueName: "frequency|max|mean|variance|score", "the ranking", default: "max"),
        FlagSpec("n", .count, "how many", default: "20"), .switch("asc", "lowest first"), dbFlag,
      ],
      examples: ["top neurons --by max --n 5 \(db)", "top heads --by score --n 5 \(dbHeads)"],
      details: """
        --by score explains (locally) and scores every component of the kind that has no saved explanation yet, saving them in the dataset, so the first ranking of a kind takes a while. Frequency is the share of tokens with a positive activation; a head writes at every token, so rank heads by max or score.
        """)
  ) { call, _ in
    let kindName = try call.arg(0, as: String.self)
    guard let kind = ComponentKind(plural: kindName) else {
      throw EvalError("KIND: expected neurons, heads or latents, got '\(kindName)'")
    }
    let by = try call.flag("by", default: "max")
    let n = try call.flag("n", default: 20)
    let store = try datasets.open(try datasets.path(call))
    let summaries = try store.summaries(kind: kind)
    guard !summaries.isEmpty else { throw EvalError("the dataset \(store.path) has no \(kind.plural)") }
    var saved = try store.explanations()
    if by == "score" {
      let s = try lazy.get()
      let explainer = ComponentExplainer(session: s, store: store, chat: nil)
      let missing = summaries.filter { saved[$0.name] == nil && $0.summary.tokens > 0 }
      let bar = ProgressBar()
      var batch: [SavedExplanation] = []
      let started = Date()
      for (i, item) in missing.enumerated() {
        if Interrupt.requested {
          try store.saveExplanations(batch)
          throw LangError.interrupted(call.location)
        }
        guard let c = Component(name: item.name) else { continue }
        let p = try explainer.page(c)
        let e = SavedExplanation(component: item.name, explanation: p.explanation, score: p.score, method: p.method)
        batch.append(e)
        saved[item.name] = e
        if batch.count >= 256 {
          try store.saveExplanations(batch)
          batch.removeAll()
        }
        let elapsed = Date().timeIntervalSince(started)
        let rate = Double(i + 1) / max(elapsed, 1e-9)
        bar.update(
          done: i + 1, total: missing.count, unit: kind.plural, rate: rate,
          secondsLeft: Double(missing.count - i - 1) / rate)
      }
      try store.saveExplanations(batch)
      bar.finish()
    }
    let key: (ComponentSummary, String) -> Double
    switch by {
    case "frequency": key = { s, _ in s.frequency }
    case "max": key = { s, _ in s.max }
    case "mean": key = { s, _ in s.mean }
    case "variance": key = { s, _ in s.variance }
    case "score": key = { _, name in saved[name]?.score ?? -.infinity }
    default: throw EvalError("--by: expected frequency, max, mean, variance or score, got '\(by)'")
    }
    let asc = call.isSet("asc")
    let ranked = summaries.map { (item: $0, k: key($0.summary, $0.name)) }.filter { !$0.k.isNaN }
      .sorted { asc ? $0.k < $1.k : $0.k > $1.k }.prefix(max(0, n))
    return .table(
      Table(
        columns: ["component", "max", "mean", "frequency", "score", "explanation"],
        rows: ranked.map { r in
          let e = saved[r.item.name]
          let comp: Value = Component(name: r.item.name).map { .host(ComponentValue($0)) } ?? Value(r.item.name)
          return [
            comp, Value(r.item.summary.max), Value(r.item.summary.mean), Value(r.item.summary.frequency),
            e?.score.map { Value($0) } ?? .null, e.map { Value($0.explanation) } ?? .null,
          ]
        }))
  }

  r.register(
    CommandSpec(
      name: "search", group: group,
      summary:
        "Components whose top examples centre on a token: how many of their top examples do, and the mean activation there",
      parameters: [ParameterSpec("token", .any, "a string that is one token, or a token id")],
      flags: [
        FlagSpec("n", .count, "how many", default: "20"),
        FlagSpec("kind", .word, valueName: "neurons|heads|latents|all", "which components", default: "all"), dbFlag,
      ],
      examples: [#"search " she" --n 5 \#(db)"#])
  ) { call, _ in
    let s = try lazy.get()
    let token = try s.tokenID(try call.arg(0), what: "TOKEN")
    let n = try call.flag("n", default: 20)
    let kinds = try parseKinds(try call.flag("kind", default: "all"))
    let store = try datasets.open(try datasets.path(call))
    let topN = try store.info()?.topExamples ?? 1
    let saved = try store.explanations()
    // Ask for more rows than shown, then filter by kind.
    let hits = try store.search(token: token, limit: kinds.count == 3 ? n : max(n * 50, 1000))
      .filter { Component(name: $0.name).map { kinds.contains($0.kind) } ?? false }.prefix(n)
    return .table(
      Table(
        columns: ["component", "examples", "share", "mean_activation", "max", "explanation"],
        rows: hits.map { h in
          [
            Component(name: h.name).map { .host(ComponentValue($0)) } ?? Value(h.name), Value(h.examples),
            Value(Double(h.examples) / Double(topN)), Value(h.activation), Value(h.maximum),
            saved[h.name].map { Value($0.explanation) } ?? .null,
          ]
        }))
  }

  r.register(
    CommandSpec(
      name: "annotate", group: group,
      summary:
        "Add each row's explanation and score (from the dataset; explained locally if not saved yet) beside its component, as TDB's node table shows",
      flags: [
        dbFlag,
        FlagSpec("column", .word, valueName: "NAME", "the column naming components", default: "component, else node"),
      ],
      examples: [
        #"dla (run "When Mary and John went to the store, John gave a drink to") " Mary" " John" --by head | sort total --desc | head 3 | annotate \#(dbHeads)"#
      ],
      input: "a table with a component column", writesFiles: true)
  ) { call, _ in
    let table = try Table.from(try call.requireInput())
    // dla and sweeps name their rows in "component", attribute and trace in "node".
    let column =
      try call.flag("column", as: String.self) ?? (table.columns.contains("component") ? "component" : "node")
    guard let ci = table.columns.firstIndex(of: column) else {
      throw EvalError("the input has no '\(column)' column (columns: \(table.columns.joined(separator: ", ")))")
    }
    let s = try lazy.get()
    let store = try datasets.open(try datasets.path(call))
    let explainer = ComponentExplainer(session: s, store: store, chat: nil)
    var saved = try store.explanations()
    var rows: [[Value]] = []
    var fresh: [SavedExplanation] = []
    for row in table.rows {
      var explanation: Value = .null, score: Value = .null
      let name: String? = {
        switch row[ci] {
        case .host(let c as ComponentValue): return c.component.description
        case .string(let s): return s
        default: return nil
        }
      }()
      if let name, let c = Component(name: name), try store.component(name) != nil {
        if saved[name] == nil, let p = try? explainer.page(c) {
          let e = SavedExplanation(component: name, explanation: p.explanation, score: p.score, method: p.method)
          saved[name] = e
          fresh.append(e)
        }
        if let e = saved[name] {
          explanation = Value(e.explanation)
          score = e.score.map { Value($0) } ?? .null
        }
      }
      rows.append(row + [explanation, score])
    }
    try store.saveExplanations(fresh)
    return .table(Table(columns: table.columns + ["explanation", "score"], rows: rows))
  }
}
