/// A tdb value. Lists, records and tables have value semantics (copy on write);
/// functions and host values are references.
public enum Value {
  case null
  case bool(Bool)
  case number(Double)
  case string(String)
  case list([Value])
  case record(Record)
  case table(Table)
  case function(Function)
  /// A domain value defined outside Lang (tensor, run, hook, component ...).
  case host(any HostValue)

  /// The name `type` prints: `number`, `string`, `list`, ... or the host value's own.
  public var typeName: String {
    switch self {
    case .null: return "null"
    case .bool: return "bool"
    case .number: return "number"
    case .string: return "string"
    case .list: return "list"
    case .record: return "record"
    case .table: return "table"
    case .function: return "function"
    case .host(let h): return h.typeName
    }
  }

  /// An integer number as `Int`, else nil.
  public var int: Int? {
    guard case .number(let d) = self, d.rounded() == d, abs(d) < 9.0e15 else { return nil }
    return Int(d)
  }
  public var number: Double? {
    if case .number(let d) = self { return d }
    return nil
  }
  public var string: String? {
    if case .string(let s) = self { return s }
    return nil
  }
  public var bool: Bool? {
    if case .bool(let b) = self { return b }
    return nil
  }
  public var list: [Value]? {
    if case .list(let l) = self { return l }
    return nil
  }
  public var record: Record? {
    if case .record(let r) = self { return r }
    return nil
  }
  public var function: Function? {
    if case .function(let f) = self { return f }
    return nil
  }
  /// The host value inside, if it is a `T`.
  public func host<T: HostValue>(as type: T.Type = T.self) -> T? {
    if case .host(let h) = self { return h as? T }
    return nil
  }
  public var isNull: Bool {
    if case .null = self { return true }
    return false
  }

  /// Wraps an integer.
  public init(_ n: Int) { self = .number(Double(n)) }
  /// Wraps a float.
  public init(_ d: Double) { self = .number(d) }
  /// Wraps a float.
  public init(_ f: Float) { self = .number(Double(f)) }
  /// Wraps a string.
  public init(_ s: String) { self = .string(s) }
}

extension Value: ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByStringLiteral,
  ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
  public init(integerLiteral value: Int) { self = .number(Double(value)) }
  public init(floatLiteral value: Double) { self = .number(value) }
  public init(stringLiteral value: String) { self = .string(value) }
  public init(booleanLiteral value: Bool) { self = .bool(value) }
  public init(arrayLiteral elements: Value...) { self = .list(elements) }
  /// A record literal; keys keep their order.
  public init(dictionaryLiteral elements: (String, Value)...) {
    var r = Record()
    for (k, v) in elements { r[k] = v }
    self = .record(r)
  }
}

/// Fields with ordered keys.
public struct Record: Equatable, Sequence {
  public private(set) var keys: [String] = []
  public private(set) var values: [Value] = []

  public init() {}

  /// Fields from ordered pairs; a repeated key keeps its first position and last value.
  public init(_ pairs: [(String, Value)]) {
    for (k, v) in pairs { self[k] = v }
  }

  public var count: Int { keys.count }
  public var isEmpty: Bool { keys.isEmpty }

  /// The field's value; setting nil removes the field, setting a new key appends it.
  public subscript(key: String) -> Value? {
    get {
      guard let i = keys.firstIndex(of: key) else { return nil }
      return values[i]
    }
    set {
      if let i = keys.firstIndex(of: key) {
        if let newValue {
          values[i] = newValue
        } else {
          keys.remove(at: i)
          values.remove(at: i)
        }
      } else if let newValue {
        keys.append(key)
        values.append(newValue)
      }
    }
  }

  public func makeIterator() -> Zip2Sequence<[String], [Value]>.Iterator {
    zip(keys, values).makeIterator()
  }
}

/// Rows under named columns.
public struct Table: Equatable {
  public var columns: [String]
  /// Each row holds one value per column.
  public var rows: [[Value]]

  public init(columns: [String], rows: [[Value]] = []) {
    self.columns = columns
    self.rows = rows
  }

  /// Rows from records; columns are the union of their keys in first-seen order,
  /// missing fields become null.
  public init(records: [Record]) {
    var columns: [String] = []
    var seen = Set<String>()
    for r in records {
      for k in r.keys where !seen.contains(k) {
        seen.insert(k)
        columns.append(k)
      }
    }
    self.columns = columns
    self.rows = records.map { r in columns.map { r[$0] ?? .null } }
  }

  /// A table, a non-empty list of records, or a single record, as a table; nil otherwise.
  public init?(tabular value: Value) {
    switch value {
    case .table(let t): self = t
    case .record(let r): self.init(records: [r])
    case .host(let h):
      // Host values that are tables underneath (heatmaps, sweeps) pipe as tables.
      guard case .table(let t) = h.plain() else { return nil }
      self = t
    case .list(let items):
      guard !items.isEmpty else { return nil }
      var records: [Record] = []
      records.reserveCapacity(items.count)
      for item in items {
        guard case .record(let r) = item else { return nil }
        records.append(r)
      }
      self.init(records: records)
    default: return nil
    }
  }

  public var count: Int { rows.count }

  /// Row `i` as a record.
  public func record(_ i: Int) -> Record {
    var r = Record()
    for (c, v) in zip(columns, rows[i]) { r[c] = v }
    return r
  }

  /// All rows as records.
  public var records: [Record] { rows.indices.map(record) }

  /// The values of a column, or nil if there is no such column.
  public func column(_ name: String) -> [Value]? {
    guard let i = columns.firstIndex(of: name) else { return nil }
    return rows.map { $0[i] }
  }
}

extension Value {
  /// True for a table or a non-empty list whose elements are all records.
  public var isTabular: Bool {
    switch self {
    case .table: return true
    case .list(let items):
      return !items.isEmpty
        && items.allSatisfy {
          if case .record = $0 { return true }
          return false
        }
    default: return false
    }
  }
}
