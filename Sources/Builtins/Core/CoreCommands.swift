import Lang

/// Registers the generic commands: output, tables, values, data formats, help
/// and timing. The model commands come separately (`registerModelCommands`).
public func registerCoreCommands(into registry: CommandRegistry) {
  registerOutputCommands(into: registry)
  registerTableCommands(into: registry)
  registerValueCommands(into: registry)
  registerDataCommands(into: registry)
  registerHelpCommands(into: registry)
  registerTimingCommands(into: registry)
}

/// The elements a row-wise command works on, and how to put results back in
/// the input's shape (a table stays a table, a list a list).
struct Rows {
  var elements: [Value]
  var rebuild: ([Value]) -> Value

  init(_ input: Value, command: String) throws {
    // Host values that are tables underneath (heatmaps, sweeps) work as tables.
    var input = input
    if case .host(let h) = input, case .table(let t) = h.plain() { input = .table(t) }
    switch input {
    case .table(let t):
      elements = t.records.map(Value.record)
      rebuild = { items in
        var out = Table(columns: t.columns)
        out.rows = items.map { item in
          let r = item.record ?? Record()
          return t.columns.map { r[$0] ?? .null }
        }
        return .table(out)
      }
    case .list(let items):
      elements = items
      rebuild = { .list($0) }
    default:
      throw EvalError("expected a table or a list as input, got \(input.typeName)")
    }
  }
}

/// The field `name` of a row, or an error naming the row and suggesting a column.
func field(_ row: Value, _ name: String, index: Int) throws -> Value {
  guard case .record(let r) = row else {
    throw EvalError("row \(index) is a \(row.typeName), not a record (no column '\(name)')")
  }
  guard let v = r[name] else {
    var m = "no column '\(name)'"
    if let s = suggest(name, among: r.keys) { m += " (did you mean '\(s)'?)" }
    throw EvalError(m)
  }
  return v
}
