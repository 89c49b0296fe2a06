import XCTest

@testable import Lang

final class CommandTests: XCTestCase {
  func testFlagsAndDefaults() throws {
    let h = Harness()
    XCTAssertEqual(
      try h.eval("run \"p\" --top 3 --desc"), ["prompt": "p", "top": 3, "desc": true])
    XCTAssertEqual(try h.eval("run \"p\""), ["prompt": "p", "top": 5, "desc": false])
    XCTAssertEqual(try h.eval("run \"p\" --pos -1").record?["pos"], -1)
    XCTAssertEqual(try h.eval("let n = 2; run \"p\" --top n + 1").record?["top"], 3)
    XCTAssertEqual(try h.eval("run \"p\" --with (echo 1)").record?["with"], [1])
  }

  func testArgumentErrors() {
    assertError("run \"p\" --tpo 3", "run: unknown flag --tpo (did you mean --top?)", at: (1, 9))
    assertError("run", "run: missing argument PROMPT (usage: run PROMPT")
    assertError("run 1", "run: PROMPT must be a string, got a number")
    assertError("run \"p\" --top", "run: --top needs a value")
    assertError("run \"p\" --top 1.5", "run: --top must be an integer, got 1.5")
    assertError("run \"p\" \"q\"", "run: too many arguments")
    assertError("1 | run \"p\"", "run does not take a pipeline input")
    assertError("fail", "fail: it broke", at: (1, 1))
    assertError("pritn 1", "unknown command 'pritn' (did you mean 'print'?)")
  }

  func testWordAndRowExpressionParameters() throws {
    let h = Harness()
    XCTAssertEqual(try h.eval("[] | sortby total"), "total")
    XCTAssertEqual(try h.eval("let c = \"x\"; [] | sortby $c"), "x")
    XCTAssertEqual(
      try h.eval("[{a: 1}, {a: 3}] | keep a > 1"), [["a": 3]])
    XCTAssertEqual(
      try h.eval("let t = 2; [{a: 1}, {a: 3}] | keep a > t"), [["a": 3]])
    XCTAssertEqual(try h.eval("[{a: 1}, {a: 3}] | keep { |r| r.a < 2 }"), [["a": 1]])
    XCTAssertEqual(try h.eval("[{a: 1}, {a: 3}] | keep { a == 3 }"), [["a": 3]])
    XCTAssertEqual(try h.eval("[1, 5, 2] | keep it > 1"), [5, 2])
    XCTAssertEqual(
      h.error("[{a: 1}] | keep b > 1")?.message, "unknown name 'b' (did you mean 'a'?)")
  }

  func testCallSyntaxOnCommands() throws {
    let h = Harness()
    XCTAssertEqual(try h.eval("echo(1, 2)"), [1, 2])
    XCTAssertEqual(try h.eval("let v = 1 + len_of([1])\ndef len_of(xs) { 1 }\nv"), 2)
  }

  func testHelpAndReference() {
    let h = Harness()
    let help = h.registry.help(for: "run")!
    XCTAssertTrue(help.hasPrefix("run PROMPT [--top N] [--desc] [--pos N] [--with WITH]\n"), help)
    XCTAssertTrue(help.contains("--top N") && help.contains("how many (default 5)"), help)
    XCTAssertTrue(h.registry.helpIndex().contains("test\n  echo"))
    XCTAssertEqual(h.registry.apropos("descending").map(\.spec.name), ["run"])
    let md = h.registry.markdownReference()
    XCTAssertTrue(md.contains("#### `run`"))
    XCTAssertTrue(md.contains("| `--top N` | how many | `5` |"))
    XCTAssertTrue(md.contains("## The language"))
  }

  func testIncompleteInput() {
    let h = Harness()
    for text in [
      "let x = ", "1 +\n", "[1,\n", "def f() {\n  1", "x |", "\"abc", "f(1,",
    ] {
      XCTAssertTrue(h.interpreter.isIncomplete(text), text)
    }
    for text in ["1 + 2", "1 + )", "let = 3", "def f() { 1 }", "x ]"] {
      XCTAssertFalse(h.interpreter.isIncomplete(text), text)
    }
  }

  func testUserDefsAreCommands() throws {
    let h = Harness()
    _ = try h.eval("def greet(name) { \"hi $name\" }")
    XCTAssertNotNil(h.registry.lookup("greet"))
    XCTAssertEqual(h.registry.lookup("greet")?.spec.group, "user")
    XCTAssertEqual(try h.eval("greet \"bob\""), "hi bob")
    XCTAssertEqual(try h.eval("\"al\" | greet"), "hi al")
  }

  func testCallAccessors() throws {
    let spec = CommandSpec(
      name: "x", group: "g", summary: "s", parameters: [ParameterSpec("n", .int)],
      flags: [FlagSpec("top", .int, "t")])
    let call = CommandCall(name: "x", positional: [3, "a"], flags: ["top": 2.5], spec: spec)
    XCTAssertEqual(try call.arg(0) as Int, 3)
    XCTAssertThrowsError(try call.arg(1) as Int) { e in
      XCTAssertEqual((e as? EvalError)?.message, "argument 2: expected an integer, got string")
    }
    XCTAssertThrowsError(try call.flag("top") as Int?) { e in
      XCTAssertEqual((e as? EvalError)?.message, "--top: expected an integer, got 2.5")
    }
    XCTAssertNil(try call.optionalArg(5) as String?)
    let withGrid = CommandCall(
      name: "x", positional: [.host(Grid([[1]])), 1], input: .host(Grid([[2]])))
    XCTAssertEqual(try withGrid.host(0, as: Grid.self, what: "a grid").rows, [[1]])
    XCTAssertEqual(try withGrid.hostInput(as: Grid.self, what: "a grid").rows, [[2]])
    XCTAssertThrowsError(try withGrid.host(1, as: Grid.self, what: "a grid")) { e in
      XCTAssertEqual((e as? EvalError)?.message, "argument 2: expected a grid, got number")
    }
    XCTAssertThrowsError(try call.arg(5) as String)
    XCTAssertFalse(call.isSet("desc"))
  }
}
