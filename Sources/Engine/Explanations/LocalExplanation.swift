import Foundation

/// A coarse class of token, for components that fire on many different
/// tokens of one sort.
public enum TokenCategory: String, Sendable, CaseIterable {
  case number = "numbers"
  case punctuation = "punctuation"
  case capitalized = "capitalised words"
  case lowercase = "lower-case words"
  case newline = "line breaks"
  case endOfText = "document boundaries"

  /// The category of a token's text.
  public static func of(_ text: String) -> TokenCategory? {
    if text == GPT2Tokenizer.endOfText { return .endOfText }
    if text.contains("\n") { return .newline }
    let t = text.trimmingCharacters(in: .whitespaces)
    guard let first = t.unicodeScalars.first else { return nil }
    if t.unicodeScalars.allSatisfy({ CharacterSet.decimalDigits.contains($0) || $0 == "," || $0 == "." })
      && CharacterSet.decimalDigits.contains(first)
    {
      return .number
    }
    if t.unicodeScalars.allSatisfy({
      CharacterSet.punctuationCharacters.contains($0) || CharacterSet.symbols.contains($0)
    }) {
      return .punctuation
    }
    if CharacterSet.uppercaseLetters.contains(first) { return .capitalized }
    if CharacterSet.lowercaseLetters.contains(first) { return .lowercase }
    return nil
  }
}

/// How an attention head picks its key, when one relation dominates.
public enum HeadRelation: String, Sendable {
  case previousToken = "the previous token"
  case sameToken = "an earlier copy of the current token"
  case induction = "the token after an earlier copy of the current token (induction)"
  case firstToken = "the first token of the context"
  case selfToken = "the current token itself"
}

/// An explanation built locally from a component's dataset: which tokens
/// (and contexts) it fires on and what it writes. Its sentence says exactly
/// what `simulate` uses, so the score measures the sentence.
public struct LocalExplanation: Sendable, Equatable {
  public var kind: ComponentKind
  /// Tokens it fires on (heads: query tokens), as token text, most important first.
  public var tokens: [String] = []
  /// A category of tokens it fires on, if one dominates.
  public var category: TokenCategory? = nil
  /// Tokens that come just before where it fires.
  public var contexts: [String] = []
  /// Heads: the tokens attended to, and the relation between query and key.
  public var keys: [String] = []
  public var relation: HeadRelation? = nil
  /// What it writes: tokens its output promotes.
  public var promotes: [String] = []
  /// Fraction of tokens it fires on (neurons, latents), for the sentence.
  public var frequency: Double? = nil
  /// No example has a positive activation.
  public var neverFires = false

  public init(kind: ComponentKind) { self.kind = kind }

  /// The explanation as one sentence.
  public var sentence: String {
    var parts: [String] = []
    if neverFires { return "never fires in this dataset" }
    if kind == .head {
      var s = "attends"
      if !tokens.isEmpty { s += " from " + quotedList(tokens) }
      if let relation {
        s += " to " + relation.rawValue
        if !keys.isEmpty { s += ", often " + quotedList(keys) }
      } else if !keys.isEmpty {
        s += " to " + quotedList(keys)
      } else {
        s += " to no consistent token"
      }
      parts.append(s)
      if !promotes.isEmpty { parts.append("copies " + quotedList(promotes, limit: 4) + " forward") }
    } else {
      var s: String
      if !tokens.isEmpty {
        s = "fires on " + quotedList(tokens)
        if let category { s += " and other " + category.rawValue }
      } else if let category {
        s = "fires on " + category.rawValue
      } else {
        s = "fires on no consistent token"
      }
      if !contexts.isEmpty { s += " after " + quotedList(contexts, conjunction: "or") }
      if let frequency, frequency.isFinite { s += " (\(percent(frequency)) of tokens)" }
      parts.append(s)
      if !promotes.isEmpty { parts.append("promotes " + quotedList(promotes, limit: 4)) }
    }
    return parts.joined(separator: "; ")
  }

  /// The simulated activation, 0...1, at every token of an example (token texts in order).
  public func simulate(_ text: [String]) -> [Double] {
    let names = Set(tokens.map(normalised))
    let before = Set(contexts.map(normalised))
    let keyNames = Set(keys.map(normalised))
    var out = [Double](repeating: 0, count: text.count)
    let norm = text.map(normalised)
    for i in 0..<text.count {
      if kind == .head {
        // A query token the explanation names, and a key it says the head looks for.
        let hasQuery = !names.isEmpty, hasKey = !keyNames.isEmpty || relation != nil
        if !hasQuery && !hasKey { continue }
        let queryOK = !hasQuery || names.contains(norm[i])
        var keyOK = !hasKey
        if !keyNames.isEmpty, norm[..<i].contains(where: keyNames.contains) { keyOK = true }
        if let relation, relationHolds(relation, norm, at: i) { keyOK = true }
        out[i] = !queryOK ? 0 : keyOK ? 1 : 0.5
      } else {
        var v = 0.0
        if names.contains(norm[i]) {
          v = 1
        } else if let category, TokenCategory.of(text[i]) == category {
          v = names.isEmpty ? 1 : 0.5
        }
        if v > 0, !before.isEmpty, !(i > 0 && before.contains(norm[i - 1])) { v *= 0.5 }
        out[i] = v
      }
    }
    return out
  }

  private func relationHolds(_ r: HeadRelation, _ t: [String], at i: Int) -> Bool {
    switch r {
    case .previousToken, .firstToken, .selfToken: return i > 0
    case .sameToken: return t[..<i].contains(t[i])
    case .induction: return i >= 2 && t[..<(i - 1)].contains(t[i])
    }
  }
}

/// Token text compared loosely, as a reader of the explanation would: case and surrounding space ignored.
func normalised(_ s: String) -> String { s.trimmingCharacters(in: .whitespacesAndNewlines).lowercased() }

/// `" Mary", " John" and " Anna"`
func quotedList(_ items: [String], limit: Int = 6, conjunction: String = "and") -> String {
  let shown = items.prefix(limit).map(quoteToken)
  guard shown.count > 1 else { return shown.first ?? "" }
  return shown.dropLast().joined(separator: ", ") + " \(conjunction) " + shown.last!
}

/// A token in double quotes with newlines and tabs escaped.
public func quoteToken(_ s: String) -> String {
  "\""
    + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(
      of: "\t", with: "\\t"
    )
    .replacingOccurrences(of: "\"", with: "\\\"") + "\""
}

func percent(_ f: Double) -> String {
  let p = f * 100
  if p >= 10 { return String(format: "%.0f%%", p) }
  if p >= 1 { return String(format: "%.1f%%", p) }
  return String(format: "%.2f%%", p)
}
