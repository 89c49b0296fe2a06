import Lang

func registerTableCommands(into registry: CommandRegistry) {
  let tableInput = "a table, or a list (a list of records acts as a table)"

  registry.register(
    CommandSpec(
      name: "where", group: "tables",
      summary: "Keep the rows for which a condition is true",
      parameters: [
        ParameterSpec(
          "condition", .rowExpression,
          "evaluated per row, with the row's fields as variables and the row as `it`")
      ],
      examples: [
        "[{a: 1}, {a: 3}] | where a > 1",
        "[{a: 1}, {a: 3}] | where { |r| r.a > 1 }",
        "[1, 5, 2] | where it > 1",
      ],
      input: tableInput)
  ) { call, interpreter in
    let condition: Function = try call.arg(0)
    let rows = try Rows(try call.requireInput(), command: call.name)
    var kept: [Value] = []
    for (i, row) in rows.elements.enumerated() {
      if i & 1023 == 0 { try interpreter.checkInterrupt(at: call.location) }
      let v = try interpreter.callRow(condition, row, at: call.location)
      guard case .bool(let keep) = v else {
        throw EvalError("the condition must be a bool, got \(v.typeName) for row \(i)")
      }
      if keep { kept.append(row) }
    }
    return rows.rebuild(kept)
  }

  registry.register(
    CommandSpec(
      name: "sort", group: "tables",
      summary: "Sort rows by a column, or a list by its values",
      parameters: [ParameterSpec("column", .word, optional: true, "the column to sort by")],
      flags: [.switch("desc", "largest first")],
      examples: ["[3, 1, 2] | sort", "[{n: \"b\", v: 2}, {n: \"a\", v: 1}] | sort v --desc"],
      input: tableInput,
      details: "The sort is stable. Mixed values order as null, bools, numbers, strings, lists.")
  ) { call, _ in
    let column: String? = try call.optionalArg(0)
    let rows = try Rows(try call.requireInput(), command: call.name)
    var keyed: [(key: Value, index: Int)] = []
    keyed.reserveCapacity(rows.elements.count)
    for (i, row) in rows.elements.enumerated() {
      keyed.append((try column.map { try field(row, $0, index: i) } ?? row, i))
    }
    let desc = call.isSet("desc")
    keyed.sort { a, b in
      if a.key == b.key { return a.index < b.index }
      return desc ? Value.sortOrder(b.key, a.key) : Value.sortOrder(a.key, b.key)
    }
    return rows.rebuild(keyed.map { rows.elements[$0.index] })
  }

  registry.register(
    CommandSpec(
      name: "select", group: "tables",
      summary: "Keep only the named columns, in that order",
      parameters: [ParameterSpec("columns", .word, variadic: true, "column names")],
      examples: ["[{a: 1, b: 2, c: 3}] | select c a"],
      input: "a table, a list of records, or a record")
  ) { call, _ in
    let columns = try call.rest(from: 0).map { try String.from($0) }
    let input = try call.requireInput()
    func pick(_ r: Record, _ i: Int) throws -> Value {
      var out = Record()
      for c in columns { out[c] = try field(.record(r), c, index: i) }
      return .record(out)
    }
    switch input {
    case .table(let t):
      for c in columns where !t.columns.contains(c) {
        var m = "no column '\(c)'"
        if let s = suggest(c, among: t.columns) { m += " (did you mean '\(s)'?)" }
        throw EvalError(m)
      }
      let idx = columns.map { t.columns.firstIndex(of: $0)! }
      return .table(Table(columns: columns, rows: t.rows.map { row in idx.map { row[$0] } }))
    case .record(let r):
      return try pick(r, 0)
    case .list(let items):
      return .list(
        try items.enumerated().map { i, item in
          guard case .record(let r) = item else {
            throw EvalError("row \(i) is a \(item.typeName), not a record")
          }
          return try pick(r, i)
        })
    default:
      throw EvalError("expected a table, a list of records or a record, got \(input.typeName)")
    }
  }

  for (name, fromEnd) in [("head", false), ("tail", true)] {
    registry.register(
      CommandSpec(
        name: name, group: "tables",
        summary: fromEnd ? "The last N rows or elements" : "The first N rows or elements",
        parameters: [ParameterSpec("n", .count, optional: true, "how many (default 10)")],
        examples: ["0..100 | \(name) 3"],
        input: "a table, a list or a string")
    ) { call, _ in
      let n: Int = try call.optionalArg(0) ?? 10
      let input = try call.requireInput()
      if case .string(let s) = input {
        return .string(String(fromEnd ? s.suffix(n) : s.prefix(n)))
      }
      let rows = try Rows(input, command: call.name)
      let picked = fromEnd ? Array(rows.elements.suffix(n)) : Array(rows.elements.prefix(n))
      return rows.rebuild(picked)
    }
  }

  registry.register(
    CommandSpec(
      name: "count", group: "tables",
      summary: "The number of rows or elements of the input",
      examples: ["0..5 | count", "[{a: 1}, {a: 3}] | where a > 1 | count"],
      input: "a table, a list, a record or a string")
  ) { call, _ in
    try length(call.requireInput())
  }

  registry.register(
    CommandSpec(
      name: "get", group: "tables",
      summary: "A column as a list, or a field of a record",
      parameters: [ParameterSpec("name", .word, "the column or field")],
      examples: ["[{a: 1}, {a: 3}] | get a", "{a: 1, b: 2} | get b"],
      input: "a table, a list of records, a record, or a value with members")
  ) { call, _ in
    let name: String = try call.arg(0)
    let input = try call.requireInput()
    switch input {
    case .table(let t):
      if let c = t.column(name) { return .list(c) }
      var m = "no column '\(name)'"
      if let s = suggest(name, among: t.columns) { m += " (did you mean '\(s)'?)" }
      throw EvalError(m)
    case .record:
      return try field(input, name, index: 0)
    case .list(let items):
      return .list(try items.enumerated().map { i, row in try field(row, name, index: i) })
    case .host(let h):
      return try h.member(name)
    default:
      throw EvalError("expected a table, a list of records or a record, got \(input.typeName)")
    }
  }

  registry.register(
    CommandSpec(
      name: "each", group: "tables",
      summary: "Apply a function to every element or row, giving a list of results",
      parameters: [
        ParameterSpec(
          "function", .function,
          "a closure taking the element, or without parameters seeing a row's fields")
      ],
      examples: ["[1, 2, 3] | each { |x| x * 10 }", "[{a: 1}, {a: 2}] | each { a + 1 }"],
      input: tableInput)
  ) { call, interpreter in
    let fn: Function = try call.arg(0)
    let rows = try Rows(try call.requireInput(), command: call.name)
    var out: [Value] = []
    out.reserveCapacity(rows.elements.count)
    for (i, row) in rows.elements.enumerated() {
      if i & 1023 == 0 { try interpreter.checkInterrupt(at: call.location) }
      out.append(try interpreter.callRow(fn, row, at: call.location))
    }
    return .list(out)
  }
}

/// Elements of a list, rows of a table, fields of a record, characters of a string.
func length(_ v: Value) throws -> Value {
  switch v {
  case .list(let l): return Value(l.count)
  case .table(let t): return Value(t.rows.count)
  case .record(let r): return Value(r.count)
  case .string(let s): return Value(s.count)
  case .host(let h):
    if let n = try? h.elements().count { return Value(n) }
    throw EvalError("a \(h.typeName) has no length")
  default: throw EvalError("\(v.typeName) has no length")
  }
}
