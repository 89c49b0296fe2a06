import Foundation

/// Arithmetic and comparison.
///
/// - Numbers: `+ - * /` as usual, `%` is the floored remainder (`-1 % 5` is 4);
///   dividing by zero is an error.
/// - `+` joins two strings, two lists, or two records (right fields win).
/// - `*` repeats a string or a list: `"-" * 20`.
/// - `==`/`!=` work on any two values (different types are unequal); `<`
///   `<=` `>` `>=` compare two numbers or two strings.
/// - A host value on either side is asked first (`HostValue.binary`).
extension Interpreter {
  func binaryOp(_ op: BinaryOperator, _ a: Value, _ b: Value, at loc: SourceLocation) throws
    -> Value
  {
    if case .number(let x) = a, case .number(let y) = b {
      switch op {
      case .add: return .number(x + y)
      case .subtract: return .number(x - y)
      case .multiply: return .number(x * y)
      case .divide:
        if y == 0 { throw LangError.runtime("division by zero", loc) }
        return .number(x / y)
      case .remainder:
        if y == 0 { throw LangError.runtime("division by zero", loc) }
        return .number(x - y * (x / y).rounded(.down))
      case .equal: return .bool(x == y)
      case .notEqual: return .bool(x != y)
      case .less: return .bool(x < y)
      case .lessEqual: return .bool(x <= y)
      case .greater: return .bool(x > y)
      case .greaterEqual: return .bool(x >= y)
      }
    }
    if case .host(let h) = a, let r = try hostBinary(h, op, b, true, loc) { return r }
    if case .host(let h) = b, let r = try hostBinary(h, op, a, false, loc) { return r }
    switch (op, a, b) {
    case (.equal, _, _): return .bool(a == b)
    case (.notEqual, _, _): return .bool(a != b)
    case (.add, .string(let x), .string(let y)): return .string(x + y)
    case (.add, .list(let x), .list(let y)): return .list(x + y)
    case (.add, .record(var x), .record(let y)):
      for (k, v) in y { x[k] = v }
      return .record(x)
    case (.multiply, .string(let s), .number), (.multiply, .number, .string(let s)):
      let n = try repeatCount(a.number ?? b.number ?? 0, unit: s.utf8.count, loc)
      return .string(String(repeating: s, count: n))
    case (.multiply, .list(let l), .number), (.multiply, .number, .list(let l)):
      let n = try repeatCount(a.number ?? b.number ?? 0, unit: l.count, loc)
      return .list(Array([[Value]](repeating: l, count: n).joined()))
    case (.less, .string(let x), .string(let y)): return .bool(x < y)
    case (.lessEqual, .string(let x), .string(let y)): return .bool(x <= y)
    case (.greater, .string(let x), .string(let y)): return .bool(x > y)
    case (.greaterEqual, .string(let x), .string(let y)): return .bool(x >= y)
    default:
      var message = "cannot apply '\(op.rawValue)' to \(article(a)) and \(article(b))"
      if op == .add, a.string != nil || b.string != nil {
        message += " (build strings with interpolation: \"text $(x)\")"
      }
      throw LangError.runtime(message, loc)
    }
  }

  private func repeatCount(_ d: Double, unit: Int, _ loc: SourceLocation) throws -> Int {
    guard d >= 0, d == d.rounded(), d < 1e9 else {
      throw LangError.runtime(
        "repeat count must be a non-negative integer, got \(formatNumber(d))", loc)
    }
    if d * Double(max(unit, 1)) > 1e8 {
      throw LangError.runtime("the result would be too large (\(formatNumber(d)) copies)", loc)
    }
    return Int(d)
  }

  func hostBinary(
    _ h: any HostValue, _ op: BinaryOperator, _ other: Value, _ selfOnLeft: Bool,
    _ loc: SourceLocation
  ) throws -> Value? {
    try withLocation(loc) { try h.binary(op, other, selfOnLeft: selfOnLeft) }
  }
}

extension Value {
  /// A total order for sorting: null, then bools, numbers, strings, lists, and
  /// everything else by type name; numbers numerically, strings by Unicode order.
  public static func sortOrder(_ a: Value, _ b: Value) -> Bool {
    func rank(_ v: Value) -> Int {
      switch v {
      case .null: return 0
      case .bool: return 1
      case .number: return 2
      case .string: return 3
      case .list: return 4
      default: return 5
      }
    }
    switch (a, b) {
    case (.bool(let x), .bool(let y)): return !x && y
    case (.number(let x), .number(let y)):
      if x.isNaN { return false }
      if y.isNaN { return true }
      return x < y
    case (.string(let x), .string(let y)): return x < y
    case (.list(let x), .list(let y)):
      for (p, q) in zip(x, y) where p != q { return sortOrder(p, q) }
      return x.count < y.count
    default:
      let (ra, rb) = (rank(a), rank(b))
      if ra != rb { return ra < rb }
      return a.typeName < b.typeName
    }
  }
}
