import Engine
import Foundation
import Lang

/// Everything `explain` shows about one component.
struct ComponentPage {
  let component: Component
  let dataset: String
  let datasetTokens: Int
  let record: ComponentRecord
  let explanation: String
  /// The structured form, when the explanation was made locally.
  let local: LocalExplanation?
  /// Bills et al. score: correlation of simulated and real activations on held-out examples.
  let score: Double
  /// "local" or "chat <model>".
  let method: String
  let heldOutExamples: Int
  let heldOutTokens: Int
  let output: OutputTokens
  /// Tokens the top examples centre on: how often, and the mean activation there.
  let drivers: [(token: Int, count: Int, mean: Double)]
}

/// Builds component pages: statistics from the dataset, output tokens from
/// the model, an explanation (local, or from a chat endpoint) and its score.
struct ComponentExplainer {
  let session: ModelSession
  let store: ActivationStore
  let chat: ChatExplainer?

  func text(_ id: Int) -> String { session.tokenText(id) }

  func page(_ c: Component) throws -> ComponentPage {
    try c.validate(in: session.config, saes: session.saes)
    guard let record = try store.component(c.description) else {
      let kinds =
        try store.info().map { ComponentKind.allCases.filter($0.kinds.contains).map(\.plural).joined(separator: ", ") }
        ?? "nothing"
      throw EvalError("\(c) is not in the dataset \(store.path) (it holds \(kinds))")
    }
    guard !record.top.isEmpty else { throw EvalError("\(c) has no examples in \(store.path) yet; collect more tokens") }
    let output = try session.model.outputTokens(c, saes: session.saes, top: 8)
    let (train, heldOut) = ExplanationScore.split(top: record.top, random: record.random)
    let real = heldOut.map(\.acts)
    let texts = heldOut.map { $0.tokens.map { text(Int($0)) } }
    let explanation: String, method: String, local: LocalExplanation?
    let simulated: [[Double]]
    if let chat {
      explanation = try chat.explain(
        component: c.description, examples: train.map { ($0.tokens.map { text(Int($0)) }, $0.acts) })
      simulated = try texts.map { try chat.simulate(explanation: explanation, texts: $0) }
      method = "chat \(chat.model)"
      local = nil
    } else {
      // A head's OV copying scores are listed on the page but left out of the
      // sentence: for heads that do not copy (most), their top tokens are noise.
      let e = LocalExplainer.explain(
        kind: c.kind, train: train, text: text,
        promotes: c.kind == .head ? [] : output.promoted.prefix(4).map { text($0.id) },
        frequency: c.kind == .head ? nil : record.summary.frequency)
      explanation = e.sentence
      simulated = texts.map { e.simulate($0) }
      method = "local"
      local = e
    }
    let score = ExplanationScore.score(simulated: simulated, real: real)
    var tally: [Int: (count: Int, sum: Double)] = [:]
    for e in record.top {
      let t = e.token
      tally[t, default: (0, 0)].count += 1
      tally[t]!.sum += Double(e.activation)
    }
    let drivers = tally.map { (token: $0.key, count: $0.value.count, mean: $0.value.sum / Double($0.value.count)) }
      .sorted { $0.count != $1.count ? $0.count > $1.count : $0.mean > $1.mean }
    return ComponentPage(
      component: c, dataset: store.path, datasetTokens: try store.totals().tokens, record: record,
      explanation: explanation,
      local: local, score: score, method: method, heldOutExamples: heldOut.count,
      heldOutTokens: real.reduce(0) { $0 + $1.count },
      output: output, drivers: Array(drivers.prefix(8)))
  }

  /// Explains and saves, returning the saved form.
  func explainAndSave(_ c: Component) throws -> (ComponentPage, SavedExplanation) {
    let p = try page(c)
    let saved = SavedExplanation(component: c.description, explanation: p.explanation, score: p.score, method: p.method)
    try store.saveExplanations([saved])
    return (p, saved)
  }
}
