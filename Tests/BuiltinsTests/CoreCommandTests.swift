import Builtins
import Foundation
import Lang
import XCTest

/// The generic commands of Builtins/Core, in process.
final class CoreCommandTests: XCTestCase {
  func session() -> (Interpreter, () -> String) {
    let registry = CommandRegistry()
    registerCoreCommands(into: registry)
    let interpreter = Interpreter(registry: registry)
    final class Sink { var text = "" }
    let sink = Sink()
    interpreter.write = { sink.text += $0 }
    return (interpreter, { sink.text })
  }

  func eval(_ source: String) throws -> Value {
    try session().0.evaluate(source)
  }

  func message(_ source: String) -> String {
    do {
      _ = try session().0.evaluate(source)
      return "no error"
    } catch {
      return (error as? LangError)?.message ?? "\(error)"
    }
  }

  let people = """
    let people = [
      {name: "Mary", age: 31},
      {name: "John", age: 25},
      {name: "Anna", age: 40},
    ]

    """

  func testEveryExampleRuns() throws {
    let registry = CommandRegistry()
    registerCoreCommands(into: registry)
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "tdb-examples-\(UUID())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let saved = FileManager.default.currentDirectoryPath
    _ = FileManager.default.changeCurrentDirectoryPath(dir.path)
    defer {
      _ = FileManager.default.changeCurrentDirectoryPath(saved)
      try? FileManager.default.removeItem(at: dir)
    }
    var count = 0
    for command in registry.all {
      XCTAssertFalse(command.spec.examples.isEmpty, "\(command.spec.name) has no examples")
      for example in command.spec.examples {
        let (interpreter, _) = session()
        XCTAssertNoThrow(
          try interpreter.evaluate(example, file: "example"), "\(command.spec.name): \(example)")
        count += 1
      }
    }
    XCTAssertGreaterThan(count, 30)
  }

  func testWhere() throws {
    XCTAssertEqual(try eval(people + "people | where age > 30 | get name"), ["Mary", "Anna"])
    XCTAssertEqual(
      try eval(people + "let min = 30; people | where { |p| p.age < min } | get name"), ["John"])
    XCTAssertEqual(
      try eval("[{a: 1}, {a: 3}] | where a > 1 | to csv"), "a\n3\n")
    let table = Value.table(Table(columns: ["a", "b"], rows: [[1, "x"], [2, "y"]]))
    let (interpreter, _) = session()
    interpreter.define("t", table)
    XCTAssertEqual(
      try interpreter.evaluate("t | where a == 2"),
      .table(Table(columns: ["a", "b"], rows: [[2, "y"]])))
    XCTAssertEqual(
      message("[{a: 1}] | where a + 1"), "where: the condition must be a bool, got number for row 0"
    )
    XCTAssertEqual(message("[{a: 1}] | where b > 1"), "unknown name 'b' (did you mean 'a'?)")
    XCTAssertEqual(message("where a > 1"), "where: needs a pipeline input (value | where ...)")
  }

  func testSortSelectHeadTail() throws {
    XCTAssertEqual(try eval(people + "people | sort age | get name"), ["John", "Mary", "Anna"])
    XCTAssertEqual(
      try eval(people + "people | sort name --desc | get name"), ["Mary", "John", "Anna"])
    XCTAssertEqual(try eval("[3, null, \"b\", 1, true] | sort"), [.null, true, 1, 3, "b"])
    XCTAssertEqual(
      try eval("[{k: 1, i: 0}, {k: 0, i: 1}, {k: 1, i: 2}] | sort k | get i"), [1, 0, 2])
    XCTAssertEqual(
      try eval(people + "people | select age name | head 1"), [["age": 31, "name": "Mary"]])
    XCTAssertEqual(try eval("0..20 | head"), .list((0..<10).map { Value($0) }))
    XCTAssertEqual(try eval("0..20 | tail 2"), [18, 19])
    XCTAssertEqual(try eval("\"hello\" | head 2"), "he")
    XCTAssertEqual(
      message(people + "people | sort agee"), "sort: no column 'agee' (did you mean 'age'?)")
    XCTAssertEqual(
      message(people + "people | select nam"), "select: no column 'nam' (did you mean 'name'?)")
    XCTAssertEqual(message("[1] | head -1"), "head: N must be a whole number, 0 or more, got -1")
  }

  func testCountLenGetTypeRange() throws {
    XCTAssertEqual(try eval(people + "people | count"), 3)
    XCTAssertEqual(try eval("len [1, 2]"), 2)
    XCTAssertEqual(try eval("\"héllo\" | len"), 5)
    XCTAssertEqual(try eval("{a: 1} | get a"), 1)
    XCTAssertEqual(try eval("type {a: 1}"), "record")
    XCTAssertEqual(try eval("range 3"), [0, 1, 2])
    XCTAssertEqual(try eval("range 1 2 0.5"), [1, 1.5])
    XCTAssertEqual(try eval("range 3 0 -1"), [3, 2, 1])
    XCTAssertEqual(message("len 5"), "len: number has no length")
    XCTAssertEqual(message("range 1 2 0"), "range: STEP cannot be zero")
  }

  func testToAndSave() throws {
    XCTAssertEqual(try eval("[{a: 1, b: \"x,y\"}] | to csv"), "a,b\n1,\"x,y\"\n")
    XCTAssertEqual(try eval("[1, 2] | to json"), "[1,2]\n")
    XCTAssertEqual(try eval("[1, 2] | to ndjson"), "1\n2\n")
    XCTAssertEqual(
      message("1 | to xml"), "to: unknown format 'xml' (use one of json, ndjson, csv, tsv, html)")
    XCTAssertEqual(
      message("1 | to jsn"),
      "to: unknown format 'jsn' (use one of json, ndjson, csv, tsv, html; did you mean 'json'?)")
    XCTAssertTrue(
      message("1 | save \"/nonexistent/dir/x.json\"").hasPrefix(
        "save: cannot write '/nonexistent/dir/x.json'"))
  }

  func testPrint() throws {
    let (interpreter, output) = session()
    _ = try interpreter.evaluate("print \"a\" 1 [1, \"b\"] {k: null}; 5 | print \"x\"; print")
    XCTAssertEqual(output(), "a 1 [1, \"b\"] {k: null}\n5 x\n\n")
  }

  func testTime() throws {
    let v = try eval("time { 1 + 1 } --repeat 3")
    guard case .record(let r) = v else { return XCTFail("\(v)") }
    XCTAssertEqual(r.keys, ["median_ms", "min_ms", "max_ms", "repeat", "result"])
    XCTAssertEqual(r["repeat"], 3)
    XCTAssertEqual(r["result"], 2)
    XCTAssertLessThanOrEqual(r["min_ms"]!.number!, r["median_ms"]!.number!)
    XCTAssertEqual(message("time { 1 } --repeat 0"), "time: --repeat must be at least 1, got 0")
  }

  func testHelp() throws {
    XCTAssertTrue(try eval("help").string!.contains("tables\n"))
    XCTAssertTrue(try eval("help sort").string!.hasPrefix("sort [COLUMN] [--desc]\n"))
    XCTAssertEqual(message("help srot"), "help: unknown command 'srot' (did you mean 'sort'?)")
    XCTAssertTrue(try eval("apropos csv").string!.contains("to "))
    XCTAssertTrue(try eval("help --markdown").string!.hasPrefix("# tdb reference\n"))
  }
}
