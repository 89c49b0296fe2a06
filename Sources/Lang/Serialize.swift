import Foundation

/// Values as data: JSON, NDJSON, CSV and TSV.
///
/// - Numbers print compactly (`formatNumber`); NaN and infinities become JSON `null`.
/// - Host values serialise as their `plain()` form; functions as their summary string.
/// - CSV/TSV: a table, a list of records or a record is a header line then
///   one line per row; any other list is one value per line, any other value
///   one line. Nested lists and records in cells are written as JSON.
///   CSV quotes cells as RFC 4180 says; TSV escapes tab, newline, carriage
///   return and backslash as `\t \n \r \\`.
public enum DataFormat: String, CaseIterable, Sendable {
  case json, ndjson, csv, tsv
}

extension Value {
  /// Serialises in `format`; the text ends with a newline unless empty.
  public func serialized(as format: DataFormat, pretty: Bool = false) -> String {
    switch format {
    case .json: return json(pretty: pretty) + "\n"
    case .ndjson: return ndjson()
    case .csv: return delimited(separator: ",")
    case .tsv: return delimited(separator: "\t")
    }
  }

  /// One JSON document (no final newline).
  public func json(pretty: Bool = false) -> String {
    var out = ""
    writeJSON(into: &out, indent: pretty ? 0 : nil)
    return out
  }

  private func writeJSON(into out: inout String, indent: Int?) {
    let newline = indent.map { "\n" + String(repeating: "  ", count: $0 + 1) } ?? ""
    let close = indent.map { "\n" + String(repeating: "  ", count: $0) } ?? ""
    let inner = indent.map { $0 + 1 }
    let comma = indent == nil ? "," : ","
    switch self {
    case .null: out += "null"
    case .bool(let b): out += b ? "true" : "false"
    case .number(let d): out += d.isFinite ? formatNumber(d) : "null"
    case .string(let s): out += jsonString(s)
    case .list(let items):
      if items.isEmpty {
        out += "[]"
        return
      }
      out += "["
      for (i, v) in items.enumerated() {
        if i > 0 { out += comma }
        out += newline
        v.writeJSON(into: &out, indent: inner)
      }
      out += close + "]"
    case .record(let r):
      writeObject(r.keys, r.values, into: &out, indent: indent)
    case .table(let t):
      if t.rows.isEmpty {
        out += "[]"
        return
      }
      out += "["
      for (i, row) in t.rows.enumerated() {
        if i > 0 { out += comma }
        out += newline
        writeObject(t.columns, row, into: &out, indent: inner)
      }
      out += close + "]"
    case .function(let f): out += jsonString(f.summary)
    case .host(let h): h.plain().writeJSON(into: &out, indent: indent)
    }
  }

  private func writeObject(
    _ keys: [String], _ values: [Value], into out: inout String, indent: Int?
  ) {
    if keys.isEmpty {
      out += "{}"
      return
    }
    let newline = indent.map { "\n" + String(repeating: "  ", count: $0 + 1) } ?? ""
    let close = indent.map { "\n" + String(repeating: "  ", count: $0) } ?? ""
    out += "{"
    for (i, (k, v)) in zip(keys, values).enumerated() {
      if i > 0 { out += "," }
      out += newline + jsonString(k) + (indent == nil ? ":" : ": ")
      v.writeJSON(into: &out, indent: indent.map { $0 + 1 })
    }
    out += close + "}"
  }

  /// One JSON value per line: rows of a table or list of records, elements of
  /// a list, or the value itself.
  public func ndjson() -> String {
    switch self {
    case .table(let t):
      return t.rows.map { Value.record(Record(Array(zip(t.columns, $0)))).json() + "\n" }.joined()
    case .list(let items):
      return items.map { $0.json() + "\n" }.joined()
    case .host(let h):
      return h.plain().ndjson()
    default:
      return json() + "\n"
    }
  }

  private func delimited(separator: Character) -> String {
    let cell: (Value) -> String = { v in
      let text = v.cellText
      return separator == "," ? csvEscape(text) : tsvEscape(text)
    }
    if let t = Table(tabular: self) {
      var out = t.columns.map { cell(.string($0)) }.joined(separator: String(separator)) + "\n"
      for row in t.rows {
        out += row.map(cell).joined(separator: String(separator)) + "\n"
      }
      return out
    }
    switch self {
    case .list(let items): return items.map { cell($0) + "\n" }.joined()
    case .host(let h): return h.plain().delimited(separator: separator)
    case .null: return ""
    default: return cell(self) + "\n"
    }
  }

  /// A value in a CSV/TSV cell: strings raw, null empty, nested values as JSON.
  public var cellText: String {
    switch self {
    case .null: return ""
    case .string(let s): return s
    case .number(let d): return formatNumber(d)
    case .bool(let b): return b ? "true" : "false"
    case .host(let h):
      let p = h.plain()
      if case .list = p { return p.json() }
      if case .record = p { return p.json() }
      return p.cellText
    default: return json()
    }
  }
}

/// A JSON string literal.
public func jsonString(_ s: String) -> String { "\"" + Escapes.json.apply(s) + "\"" }

func csvEscape(_ s: String) -> String {
  guard s.unicodeScalars.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
  else { return s }
  return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
}

func tsvEscape(_ s: String) -> String {
  guard s.unicodeScalars.contains(where: { $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\\" })
  else { return s }
  var out = ""
  for c in s.unicodeScalars {
    switch c {
    case "\t": out += "\\t"
    case "\n": out += "\\n"
    case "\r": out += "\\r"
    case "\\": out += "\\\\"
    default: out.unicodeScalars.append(c)
    }
  }
  return out
}
