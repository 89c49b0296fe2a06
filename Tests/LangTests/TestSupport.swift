import XCTest

@testable import Lang

/// A host value for tests: a 2x3 grid of numbers that can be indexed, has
/// members and multiplies by numbers.
final class Grid: HostValue, Equatable {
  let rows: [[Double]]
  init(_ rows: [[Double]]) { self.rows = rows }

  var typeName: String { "grid" }
  func plain() -> Value { .list(rows.map { .list($0.map(Value.number)) }) }
  func summary() -> String { "grid[\(rows.count)x\(rows.first?.count ?? 0)]" }
  func index(_ subscripts: [Subscript]) throws -> Value {
    guard subscripts.count == 2, case .index(let i) = subscripts[0] else {
      throw EvalError("a grid takes [row, column]")
    }
    guard let r = normalizeIndex(i, count: rows.count) else {
      throw EvalError("row \(i) out of range")
    }
    switch subscripts[1] {
    case .index(let j): return .number(rows[r][j])
    case .slice(let a, let b, let c):
      return .list(
        sliceIndices(count: rows[r].count, start: a, end: b, step: c).map { .number(rows[r][$0]) })
    case .all: return .list(rows[r].map(Value.number))
    case .key(let k): throw EvalError("no key \(k)")
    }
  }
  var memberNames: [String] { ["shape", "total"] }
  func member(_ name: String) throws -> Value {
    switch name {
    case "shape": return [Value(rows.count), Value(rows.first?.count ?? 0)]
    case "total": return .number(rows.joined().reduce(0, +))
    default: throw EvalError("a grid has no member '\(name)'")
    }
  }
  func elements() throws -> [Value] { rows.map { .list($0.map(Value.number)) } }
  func binary(_ op: BinaryOperator, _ other: Value, selfOnLeft: Bool) throws -> Value? {
    guard op == .multiply, case .number(let k) = other else { return nil }
    return .host(Grid(rows.map { $0.map { $0 * k } }))
  }
  func isEqual(to other: any HostValue) -> Bool { (other as? Grid)?.rows == rows }
  static func == (a: Grid, b: Grid) -> Bool { a.rows == b.rows }
}

/// An interpreter with a few test commands and captured `print` output.
final class Harness {
  let registry = CommandRegistry()
  let interpreter: Interpreter
  var output = ""

  init() {
    registry.register(
      CommandSpec(
        name: "echo", group: "test", summary: "Return the arguments as a list",
        parameters: [ParameterSpec("values", .any, optional: true, variadic: true)],
        takesInput: true)
    ) { call, _ in
      var values = call.positional
      if let input = call.input { values.insert(input, at: 0) }
      return .list(values)
    }
    registry.register(
      CommandSpec(
        name: "print", group: "test", summary: "Print",
        parameters: [ParameterSpec("values", .any, optional: true, variadic: true)],
        takesInput: true)
    ) { call, interpreter in
      interpreter.write(call.positional.map(\.description).joined(separator: " ") + "\n")
      return .null
    }
    registry.register(
      CommandSpec(
        name: "run", group: "test", summary: "Flags",
        parameters: [ParameterSpec("prompt", .string)],
        flags: [
          FlagSpec("top", .int, "how many", default: "5"), .switch("desc", "descending"),
          FlagSpec("pos", .int, "position"), FlagSpec("with", .any, "a hook"),
        ])
    ) { call, _ in
      var r = Record()
      r["prompt"] = .string(try call.arg(0))
      r["top"] = Value(try call.flag("top", default: 5))
      r["desc"] = .bool(call.isSet("desc"))
      if let p: Int = try call.flag("pos") { r["pos"] = Value(p) }
      if let w = call.flags["with"] { r["with"] = w }
      return .record(r)
    }
    registry.register(
      CommandSpec(
        name: "sortby", group: "test", summary: "Word parameter",
        parameters: [ParameterSpec("column", .word)], takesInput: true)
    ) { call, _ in .string(try call.arg(0)) }
    registry.register(
      CommandSpec(
        name: "keep", group: "test", summary: "Row expression",
        parameters: [ParameterSpec("condition", .rowExpression)], takesInput: true)
    ) { call, interpreter in
      let f: Function = try call.arg(0)
      let items = try call.requireInput().list ?? []
      return .list(
        try items.filter { try interpreter.callRow(f, $0, at: call.location) == .bool(true) })
    }
    registry.register(
      CommandSpec(name: "fail", group: "test", summary: "Throws")
    ) { _, _ in throw EvalError("it broke") }
    registry.register(
      CommandSpec(name: "grid", group: "test", summary: "A grid")
    ) { _, _ in .host(Grid([[1, 2, 3], [4, 5, 6]])) }

    interpreter = Interpreter(registry: registry)
    interpreter.write = { [unowned self] in self.output += $0 }
    interpreter.wordResolver = { word in
      if word.hasPrefix("L"), word.count <= 6,
        word.dropFirst().allSatisfy({ $0.isNumber || $0 == "H" || $0 == "N" })
      {
        return .string("component \(word)")
      }
      if word.hasPrefix("blocks.") {
        let parts = word.split(separator: ".")
        guard parts.count == 3, let layer = Int(parts[1]) else { return nil }
        if layer > 5 { throw EvalError("layer \(layer) out of range (the model has 6)") }
        return .string("hook \(word)")
      }
      return nil
    }
  }

  /// The value of the last statement of `source`.
  func eval(_ source: String, file: String = "t") throws -> Value {
    try interpreter.evaluate(source, file: file)
  }

  /// The error `source` raises.
  func error(_ source: String, file: String = "t") -> LangError? {
    do {
      _ = try interpreter.evaluate(source, file: file)
      return nil
    } catch let e as LangError {
      return e
    } catch {
      XCTFail("not a LangError: \(error)")
      return nil
    }
  }
}

/// Asserts that `source` evaluates to `expected`.
func assertEval(
  _ source: String, _ expected: Value, file: StaticString = #filePath, line: UInt = #line
) {
  do {
    let v = try Harness().eval(source)
    XCTAssertEqual(v, expected, "\(source)", file: file, line: line)
  } catch {
    XCTFail(
      "\(source): \((error as? LangError)?.description ?? "\(error)")", file: file, line: line)
  }
}

/// Asserts that `source` fails with a message containing `message` at `line:column`.
func assertError(
  _ source: String, _ message: String, at position: (Int, Int)? = nil,
  file: StaticString = #filePath, line: UInt = #line
) {
  guard let e = Harness().error(source) else {
    XCTFail("\(source): no error", file: file, line: line)
    return
  }
  XCTAssertTrue(
    e.message.contains(message), "\(source): '\(e.message)' lacks '\(message)'", file: file,
    line: line)
  if let (l, c) = position {
    XCTAssertEqual(e.location.line, l, "\(source): line of \(e)", file: file, line: line)
    XCTAssertEqual(e.location.column, c, "\(source): column of \(e)", file: file, line: line)
  }
}
