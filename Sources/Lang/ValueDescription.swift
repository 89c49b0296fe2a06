extension Value: Equatable {
  /// Structural equality; numbers compare numerically, functions by identity,
  /// host values through `isEqual(to:)`. Values of different types are unequal.
  public static func == (a: Value, b: Value) -> Bool {
    switch (a, b) {
    case (.null, .null): return true
    case (.bool(let x), .bool(let y)): return x == y
    case (.number(let x), .number(let y)): return x == y
    case (.string(let x), .string(let y)): return x == y
    case (.list(let x), .list(let y)): return x == y
    case (.record(let x), .record(let y)): return x == y
    case (.table(let x), .table(let y)): return x == y
    case (.function(let x), .function(let y)): return x === y
    case (.host(let x), .host(let y)): return x.isEqual(to: y)
    default: return false
    }
  }
}

extension Value: CustomStringConvertible {
  /// Text for `print` and string interpolation: strings raw, everything else
  /// as `repr` would show it.
  public var description: String {
    if case .string(let s) = self { return s }
    return repr
  }

  /// A one-line literal-like form: strings quoted, `[1, "a"]`, `{a: 1}`.
  public var repr: String {
    switch self {
    case .null: return "null"
    case .bool(let b): return b ? "true" : "false"
    case .number(let d): return formatNumber(d)
    case .string(let s): return quoted(s)
    case .list(let items): return "[" + items.map(\.repr).joined(separator: ", ") + "]"
    case .record(let r):
      return "{" + r.map { "\(recordKey($0.0)): \($0.1.repr)" }.joined(separator: ", ") + "}"
    case .table(let t):
      let rows = t.rows.count == 1 ? "1 row" : "\(t.rows.count) rows"
      return "<table: \(rows); \(t.columns.joined(separator: ", "))>"
    case .function(let f): return f.summary
    case .host(let h): return h.summary()
    }
  }
}

/// A string as a tdb literal: `"a \"b\"\n"`.
func quoted(_ s: String) -> String { "\"" + Escapes.tdb.apply(s) + "\"" }

/// A record key as written in a literal: bare if it is a plain identifier.
func recordKey(_ k: String) -> String {
  guard let first = k.unicodeScalars.first, first == "_" || first.properties.isAlphabetic,
    k.unicodeScalars.allSatisfy({
      $0 == "_" || $0.properties.isAlphabetic || ("0"..."9").contains($0)
    }),
    keywords[k] == nil
  else { return quoted(k) }
  return k
}
