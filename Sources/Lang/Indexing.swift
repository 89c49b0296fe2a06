/// Indexing, slicing, field access and iteration.
///
/// - `xs[i]`: element `i` of a list (negative counts from the end); a
///   character of a string; row `i` of a table (a record).
/// - `xs[a:b]`, `xs[a:b:step]`, `xs[:]`: Python-style slices of lists,
///   strings and tables (bounds clamp, negative bounds count from the end).
/// - `xs[i, j]`: `xs[i][j]` (after a slice, applied to each element).
/// - `r.name`, `r["name"]`: a record's field; `t.name`, `t["name"]`: a
///   table's column as a list.
/// - Host values receive the subscripts and member names themselves.

/// `i` as a position in `0..<count` (negative counts from the end), or nil if out of range.
public func normalizeIndex(_ i: Int, count: Int) -> Int? {
  let k = i < 0 ? i + count : i
  return k >= 0 && k < count ? k : nil
}

/// The positions a Python-style slice selects from `count` elements.
public func sliceIndices(count: Int, start: Int?, end: Int?, step: Int?) -> [Int] {
  let step = step ?? 1
  precondition(step != 0, "slice step 0")
  func norm(_ i: Int) -> Int { i < 0 ? i + count : i }
  if step > 0 {
    let lo = min(max(start.map(norm) ?? 0, 0), count)
    let hi = min(max(end.map(norm) ?? count, 0), count)
    return lo < hi ? Array(stride(from: lo, to: hi, by: step)) : []
  }
  let lo = min(max(start.map(norm) ?? count - 1, -1), count - 1)
  let hi = min(max(end.map(norm) ?? -1, -1), count - 1)
  return lo > hi ? Array(stride(from: lo, to: hi, by: step)) : []
}

extension Interpreter {
  func evaluateSubscript(_ s: SubscriptExpr, _ env: Environment) throws -> Subscript {
    switch s {
    case .all:
      return .all
    case .index(let e):
      let v = try evaluate(e, env)
      switch v {
      case .number:
        guard let i = v.int else {
          throw LangError.runtime("an index must be an integer, got \(v.repr)", e.location)
        }
        return .index(i)
      case .string(let k):
        return .key(k)
      default:
        throw LangError.runtime(
          "an index must be a number or a string, got \(article(v))", e.location)
      }
    case .slice(let a, let b, let c):
      func bound(_ e: Expr?) throws -> Int? {
        guard let e else { return nil }
        let v = try evaluate(e, env)
        if v.isNull { return nil }
        guard let i = v.int else {
          throw LangError.runtime("a slice bound must be an integer, got \(v.repr)", e.location)
        }
        return i
      }
      let step = try bound(c)
      if step == 0 { throw LangError.runtime("a slice step cannot be zero", c!.location) }
      return .slice(start: try bound(a), end: try bound(b), step: step)
    }
  }

  /// `value[subscripts]`; throws `EvalError`s (the caller adds the location).
  func indexValue(_ value: Value, _ subscripts: [Subscript]) throws -> Value {
    guard let first = subscripts.first else { return value }
    let rest = Array(subscripts.dropFirst())
    switch value {
    case .host(let h):
      return try h.index(subscripts)
    case .list(let items):
      switch first {
      case .index(let i):
        guard let k = normalizeIndex(i, count: items.count) else {
          throw EvalError("index \(i) out of range for a list of \(items.count)")
        }
        return try indexValue(items[k], rest)
      case .slice(let a, let b, let c):
        let picked = sliceIndices(count: items.count, start: a, end: b, step: c).map { items[$0] }
        return .list(rest.isEmpty ? picked : try picked.map { try indexValue($0, rest) })
      case .all:
        return .list(rest.isEmpty ? items : try items.map { try indexValue($0, rest) })
      case .key(let k):
        throw EvalError("a list is indexed by numbers, not by \(quoted(k))")
      }
    case .string(let s):
      guard rest.isEmpty else { throw EvalError("a string takes one subscript") }
      let chars = Array(s)
      switch first {
      case .index(let i):
        guard let k = normalizeIndex(i, count: chars.count) else {
          throw EvalError("index \(i) out of range for a string of \(chars.count) characters")
        }
        return .string(String(chars[k]))
      case .slice(let a, let b, let c):
        return .string(
          String(sliceIndices(count: chars.count, start: a, end: b, step: c).map { chars[$0] }))
      case .all:
        return value
      case .key(let k):
        throw EvalError("a string is indexed by numbers, not by \(quoted(k))")
      }
    case .record:
      guard case .key(let k) = first else {
        throw EvalError("a record is indexed by field name: r[\"name\"] or r.name")
      }
      return try indexValue(try memberValue(value, k), rest)
    case .table(let t):
      switch first {
      case .index(let i):
        guard let k = normalizeIndex(i, count: t.rows.count) else {
          throw EvalError("row \(i) out of range for a table of \(t.rows.count) rows")
        }
        return try indexValue(.record(t.record(k)), rest)
      case .key(let name):
        return try indexValue(try memberValue(value, name), rest)
      case .slice(let a, let b, let c):
        let rows = sliceIndices(count: t.rows.count, start: a, end: b, step: c).map { t.rows[$0] }
        let sliced = Value.table(Table(columns: t.columns, rows: rows))
        guard rest.isEmpty else { throw EvalError("a table slice takes no further subscripts") }
        return sliced
      case .all:
        return rest.isEmpty ? value : try .list(t.records.map { try indexValue(.record($0), rest) })
      }
    default:
      throw EvalError("cannot index \(article(value))")
    }
  }

  /// `value.name`; throws `EvalError`s (the caller adds the location).
  func memberValue(_ value: Value, _ name: String) throws -> Value {
    switch value {
    case .record(let r):
      if let v = r[name] { return v }
      throw EvalError("the record has no field '\(name)'\(didYouMean(name, among: r.keys))")
    case .table(let t):
      if let c = t.column(name) { return .list(c) }
      throw EvalError("the table has no column '\(name)'\(didYouMean(name, among: t.columns))")
    case .host(let h):
      do {
        return try h.member(name)
      } catch let e as EvalError {
        let hint = didYouMean(name, among: h.memberNames)
        throw hint.isEmpty || e.message.contains("did you mean") ? e : EvalError(e.message + hint)
      }
    case .list(let items):
      if let i = Int(name) {
        guard let k = normalizeIndex(i, count: items.count) else {
          throw EvalError("index \(i) out of range for a list of \(items.count)")
        }
        return items[k]
      }
      throw EvalError("a list has no field '\(name)' (index it: xs[0])")
    default:
      throw EvalError("\(article(value)) has no field '\(name)'")
    }
  }

  /// The elements `for x in value` visits: list elements, table rows (as
  /// records), record fields (as {key, value} records), string characters,
  /// or what a host value lists.
  func iterate(_ value: Value, at loc: SourceLocation) throws -> [Value] {
    switch value {
    case .list(let items): return items
    case .table(let t): return t.records.map(Value.record)
    case .record(let r):
      return r.map { .record(Record([("key", .string($0.0)), ("value", $0.1)])) }
    case .string(let s): return s.map { .string(String($0)) }
    case .host(let h): return try withLocation(loc) { try h.elements() }
    default: throw LangError.runtime("cannot iterate over \(article(value))", loc)
    }
  }
}
