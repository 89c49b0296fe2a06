import Foundation

/// Explains a component from its top examples with no language model: the
/// tokens where it fires, sorted by how much activation they account for,
/// kept while they are reliable (the component fires on most of their
/// occurrences); a shared preceding token; a token category when no few
/// tokens cover the firing; and for heads, what the strongest key is.
public enum LocalExplainer {
  /// A position counts as firing at this fraction of its example's maximum.
  static let firingFraction: Float = 0.5
  /// Tokens listed at most.
  static let maxTokens = 5

  /// The explanation of a component from its training examples (the ones
  /// the score will not use). `text` gives a token id's text.
  public static func explain(
    kind: ComponentKind, train: [DatasetExample], text: (Int) -> String, promotes: [String] = [],
    frequency: Double? = nil
  ) -> LocalExplanation {
    var e = LocalExplanation(kind: kind)
    e.promotes = promotes
    if kind == .head {
      explainHead(&e, train, text)
    } else {
      e.frequency = frequency
      explainUnit(&e, train, text)
    }
    return e
  }

  /// Per normalised token text: activation weight where it fires, firing count, occurrences.
  struct TokenTally {
    var weight = 0.0
    var fires = 0
    var seen = 0
    var display = ""
  }

  private static func explainUnit(_ e: inout LocalExplanation, _ train: [DatasetExample], _ text: (Int) -> String) {
    let peak = Double(train.map(\.activation).max() ?? 0)
    guard peak > 0 else {
      e.neverFires = true
      return
    }
    var tally: [String: TokenTally] = [:]
    var firingTexts: [String] = []
    var previous: [String: Int] = [:]
    var firingCount = 0
    for ex in train {
      let top = ex.acts.max() ?? 0
      guard top > 0 else { continue }
      for (i, id) in ex.tokens.enumerated() {
        let t = text(Int(id)), key = normalised(t)
        tally[key, default: TokenTally(display: t)].seen += 1
        guard ex.acts[i] >= firingFraction * top && ex.acts[i] > 0 else { continue }
        tally[key]!.fires += 1
        tally[key]!.weight += Double(ex.acts[i]) / peak
        firingTexts.append(t)
        firingCount += 1
        if i > 0 { previous[normalised(text(Int(ex.tokens[i - 1]))), default: 0] += 1 }
      }
    }
    guard firingCount > 0 else { return }
    let totalWeight = tally.values.reduce(0) { $0 + $1.weight }
    // Reliable tokens by weight, until they cover most of the firing.
    var covered = 0.0
    for (_, t) in tally.sorted(by: {
      $0.value.weight > $1.value.weight || ($0.value.weight == $1.value.weight && $0.key < $1.key)
    }) {
      guard e.tokens.count < maxTokens, covered < 0.8 * totalWeight else { break }
      let precision = Double(t.fires) / Double(t.seen)
      guard precision >= 0.3, t.fires >= 2 || train.count < 4 else { continue }
      e.tokens.append(t.display)
      covered += t.weight
    }
    // Firing the listed tokens leave out: name a category if one holds most of it.
    if covered < 0.7 * totalWeight {
      let listed = Set(e.tokens.map(normalised))
      var counts: [TokenCategory: Int] = [:]
      var rest = 0
      for t in firingTexts where !listed.contains(normalised(t)) {
        rest += 1
        if let c = TokenCategory.of(t) { counts[c, default: 0] += 1 }
      }
      if let (c, n) = counts.max(by: {
        $0.value < $1.value || ($0.value == $1.value && $0.key.rawValue > $1.key.rawValue)
      }),
        Double(n) >= 0.6 * Double(rest), n >= 2
      {
        e.category = c
      }
    }
    // A shared context: one preceding token before most of the firing positions.
    if let (p, n) = previous.max(by: { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }),
      Double(n) > 0.5 * Double(firingCount), n >= 2 || train.count < 4, !e.tokens.map(normalised).contains(p)
    {
      e.contexts = [tally[p]?.display ?? p]
    }
  }

  private static func explainHead(_ e: inout LocalExplanation, _ train: [DatasetExample], _ text: (Int) -> String) {
    var queries: [String: TokenTally] = [:], keys: [String: TokenTally] = [:]
    var relations: [HeadRelation: Int] = [:]
    var n = 0
    for ex in train {
      guard let k = ex.keyPosition, ex.activation > 0 else { continue }
      n += 1
      let q = ex.position
      let qt = text(ex.token)
      queries[normalised(qt), default: TokenTally(display: qt)].fires += 1
      if k >= ex.start, k - ex.start < ex.tokens.count {
        let kt = text(Int(ex.tokens[k - ex.start]))
        keys[normalised(kt), default: TokenTally(display: kt)].fires += 1
        let window = ex.tokens.map { normalised(text(Int($0))) }
        let qi = q - ex.start, ki = k - ex.start
        if k == q {
          relations[.selfToken, default: 0] += 1
        } else if k == q - 1 {
          relations[.previousToken, default: 0] += 1
        } else if window[ki] == window[qi] {
          relations[.sameToken, default: 0] += 1
        } else if ki > 0 && window[ki - 1] == window[qi] {
          relations[.induction, default: 0] += 1
        }
      }
      if k == 0 { relations[.firstToken, default: 0] += 1 }
    }
    guard n > 0 else { return }
    func reliable(_ t: [String: TokenTally]) -> [String] {
      // Tokens at the query (or key) of at least a fifth of the examples.
      t.sorted { $0.value.fires > $1.value.fires || ($0.value.fires == $1.value.fires && $0.key < $1.key) }
        .filter { Double($0.value.fires) >= 0.2 * Double(n) && ($0.value.fires >= 2 || n < 4) }.prefix(maxTokens).map(
          \.value.display)
    }
    e.tokens = reliable(queries)
    if let (r, c) = relations.max(by: {
      $0.value < $1.value || ($0.value == $1.value && $0.key.rawValue > $1.key.rawValue)
    }),
      Double(c) >= 0.5 * Double(n)
    {
      e.relation = r
    }
    e.keys = e.relation == .previousToken || e.relation == .selfToken ? [] : reliable(keys)
  }
}
