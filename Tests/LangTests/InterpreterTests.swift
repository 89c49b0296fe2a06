import XCTest

@testable import Lang

final class InterpreterTests: XCTestCase {
  func testArithmetic() {
    assertEval("1 + 2 * 3", 7)
    assertEval("(1 + 2) * 3", 9)
    assertEval("-2 * 3", -6)
    assertEval("7 % 3", 1)
    assertEval("-1 % 5", 4)
    assertEval("1 / 4", 0.25)
    assertEval("let a = 5; a - 1", 4)
    assertEval("let a = 5; a-1", 4)
    assertEval("let a = 5; let b = a -1; b", 4)
    assertError("1 / 0", "division by zero", at: (1, 3))
    assertError("\"a\" + 1", "cannot apply '+' to a string and a number")
  }

  func testStringsListsRecords() {
    assertEval("\"a\" + \"b\"", "ab")
    assertEval("\"-\" * 3", "---")
    assertEval("[1] + [2]", [1, 2])
    assertEval("{a: 1} + {b: 2}", ["a": 1, "b": 2])
    assertEval("let L = 3; \"layer $L, next $(L + 1)\"", "layer 3, next 4")
    assertEval("'no $L here'", "no $L here")
    assertEval("\"\\u{1F916}\"", "🤖")
    assertEval("[1,\n 2,\n 3,\n]", [1, 2, 3])
    assertEval("{\n  a: 1,\n  b: \"x\"\n}", ["a": 1, "b": "x"])
  }

  func testComparisonAndLogic() {
    assertEval("1 < 2 and 2 < 3", true)
    assertEval("1 > 2 || not false", true)
    assertEval("!(1 == 1)", false)
    assertEval("[1, 2] == [1, 2]", true)
    assertEval("{a: 1} != {a: 2}", true)
    assertEval("1 == \"1\"", false)
    assertEval("\"a\" < \"b\"", true)
    assertEval("false and (1 / 0 == 1)", false)
    assertError("1 and true", "left operand of 'and' must be a bool")
    assertError("1 < \"a\"", "cannot apply '<'")
  }

  func testRanges() {
    assertEval("0..4", [0, 1, 2, 3])
    assertEval("3..1", [])
    assertEval("let n = 2; 0..n+1", [0, 1, 2])
    assertError("0..1.5", "range bounds must be integers")
  }

  func testIndexingAndSlicing() {
    assertEval("let xs = [10, 20, 30, 40]; xs[0]", 10)
    assertEval("let xs = [10, 20, 30, 40]; xs[-1]", 40)
    assertEval("let xs = [10, 20, 30, 40]; xs[1:3]", [20, 30])
    assertEval("let xs = [10, 20, 30, 40]; xs[::-2]", [40, 20])
    assertEval("let xs = [10, 20, 30, 40]; xs[:]", [10, 20, 30, 40])
    assertEval("let xs = [10, 20, 30, 40]; xs[-2:]", [30, 40])
    assertEval("let m = [[1, 2], [3, 4]]; m[1, 0]", 3)
    assertEval("let m = [[1, 2], [3, 4]]; m[:, 1]", [2, 4])
    assertEval("\"hello\"[1:3]", "el")
    assertEval("\"hello\"[-1]", "o")
    assertEval("let r = {a: {b: [1, 2]}}; r.a.b[1]", 2)
    assertEval("let r = {a: 1}; r[\"a\"]", 1)
    assertError("let xs = [1]; xs[3]", "index 3 out of range for a list of 1", at: (1, 17))
    assertError("let r = {total: 1}; r.totl", "did you mean 'total'?")
    assertError("let xs = [1]; xs[0:1:0]", "slice step cannot be zero")
  }

  func testHostValues() {
    assertEval("let g = grid; g[1, 2]", 6)
    assertEval("let g = grid; g[0, 1:]", [2, 3])
    assertEval("let g = grid; g.total", 21)
    assertEval("(grid).shape", [2, 3])
    assertEval("let g = grid * 2; g.total", 42)
    assertEval("(grid) == (grid)", true)
    assertError("echo grid", "'grid' is a command: call it in parentheses")
    assertEval("let rows = []; for r in grid { rows = rows + [r[0]] }; rows", [1, 4])
    assertError("let g = grid; g.totl", "did you mean 'total'?")
    assertError("let g = grid; g[0]", "a grid takes [row, column]")
  }

  func testAssignment() {
    assertEval("let x = 1; x = x + 1; x += 10; x", 12)
    assertEval("let xs = [1, 2, 3]; xs[1] = 20; xs[-1] *= 2; xs", [1, 20, 6])
    assertEval(
      "let r = {a: {b: 1}}; r.a.b = 2; r.a.c = 3; r[\"d\"] = 4; r",
      ["a": ["b": 2, "c": 3], "d": 4])
    assertError("y = 1", "undefined variable 'y'")
    assertError("let xs = [1]; xs[2] = 0", "out of range")
  }

  func testScopes() {
    assertEval("let x = 1; if true { let x = 2 }; x", 1)
    assertEval("let x = 1; if true { x = 2 }; x", 2)
    assertEval("let x = 1; for i in 0..3 { x += i }; x", 4)
    assertError("if true { let y = 1 }; y", "unknown name 'y'")
  }

  func testControlFlow() {
    assertEval("if 1 > 2 { \"a\" } else if 2 > 1 { \"b\" } else { \"c\" }", "b")
    assertEval("let v = if false { 1 }; v", Value.null)
    assertEval(
      "let s = 0; for x in [1, 2, 3, 4] { if x == 2 { continue }; if x == 4 { break }; s += x }; s",
      4)
    assertEval("let i = 0; while i < 5 { i += 1 }; i", 5)
    assertEval("let n = 0; for r in [{a: 1}, {a: 2}] { n += r.a }; n", 3)
    assertEval("let ks = []; for f in {x: 1, y: 2} { ks = ks + [f.key] }; ks", ["x", "y"])
    assertEval("let cs = []; for c in \"ab\" { cs = cs + [c] }; cs", ["a", "b"])
    assertEval("let s = 0; for i in 0..10 { let v = if i > 2 { break } else { i }; s += v }; s", 3)
    assertError("if 1 { 2 }", "if condition must be a bool, got number")
  }

  func testFunctionsAndClosures() {
    assertEval("def f(a) { a + 1 }; f 41", 42)
    assertEval("def f(a, b) { a * b }; f(6, 7)", 42)
    assertEval("def f(a) { return a * 2; 0 }; f 4", 8)
    assertEval("def fact(n) { if n <= 1 { return 1 }; n * fact(n - 1) }; fact 10", 3_628_800)
    assertEval("let add = { |a, b| a + b }; add(1, 2)", 3)
    assertEval("let add = { |a, b| a + b }; add 3 4", 7)
    assertEval("def adder(n) { { |x| x + n } }; let f = adder 10; f(5)", 15)
    assertEval("let k = 1; let f = { k * 10 }; k = 2; f()", 20)
    assertEval("def double(x) { x * 2 }; 21 | double", 42)
    assertEval("let inc = { |x| x + 1 }; 1 | inc", 2)
    assertEval("useLater 2\ndef useLater(x) { x * 3 }", Value.null)
    assertEval("let v = useLater 2\ndef useLater(x) { x * 3 }\nv", 6)
    assertError("def f(a) { a }; f 1 2", "f: too many arguments")
    assertError("def f(a, b) { a }; f(1)", "f: expected 2 arguments, got 1")
    assertError("let f = { |x| x }; f(1, 2)", "closure: expected 1 argument, got 2")
    assertError("1(2)", "a number cannot be called")
  }

  func testDeepRecursionIsAnError() {
    let h = Harness()
    h.interpreter.maxCallDepth = 200
    let e = h.error("def f(n) { 1 + f(n + 1) }; f 0")
    XCTAssertTrue(e?.message.contains("recursion too deep") ?? false, "\(String(describing: e))")
    // Unbounded by the depth limit, the stack guard still stops it.
    let h2 = Harness()
    h2.interpreter.maxCallDepth = 10_000_000
    let e2 = h2.error("def g(n) { 1 + g(n + 1) }; g 0")
    XCTAssertTrue(e2?.message.contains("recursion too deep") ?? false, "\(String(describing: e2))")
  }

  func testResultsHistory() throws {
    let h = Harness()
    let p = try h.interpreter.parse("1 + 1\nlet x = 5\nx * 2\n$1 + $2\n$_", file: "t")
    var shown: [Value] = []
    try h.interpreter.run(p) { shown.append($0) }
    XCTAssertEqual(shown, [2, 10, 12, 12])
    XCTAssertEqual(h.interpreter.results.count, 4)
    XCTAssertEqual(h.error("$9")?.message, "no result $9 (results are $1 to $4)")
  }

  func testArgsAndEnv() throws {
    let h = Harness()
    h.interpreter.scriptArguments = ["a", "b"]
    XCTAssertEqual(try h.eval("$args"), ["a", "b"])
    XCTAssertEqual(try h.eval("args[1]"), "b")
    XCTAssertEqual(try h.eval("$env.HOME").string, ProcessInfo.processInfo.environment["HOME"])
  }

  func testBareWordsGoToTheResolver() {
    assertEval("L1H2", "component L1H2")
    assertEval("echo L3N77", ["component L3N77"])
    assertEval("let L = 3; echo blocks.$L.hook_mlp_out", ["hook blocks.3.hook_mlp_out"])
    assertEval("let L1H2 = 5; echo L1H2", [5])
    assertError("echo blocks.9.hook_x", "layer 9 out of range", at: (1, 6))
    assertError("echo blocks", "unknown name 'blocks'")
    assertError("let count = 1; echo cout", "unknown name 'cout' (did you mean 'count'?)")
  }

  func testPrintAndPipelines() throws {
    let h = Harness()
    _ = try h.eval("let xs = [3, 1, 2]; for x in xs { print (x * 2) }")
    XCTAssertEqual(h.output, "6\n2\n4\n")
    XCTAssertEqual(try h.eval("[1, 2] | echo 3"), [[1, 2], 3])
    XCTAssertEqual(try h.eval("[1, 2] | echo 3 | echo"), [[[1, 2], 3]])
    XCTAssertEqual(try h.eval("[1, 2]\n  | echo"), [[1, 2]])
    XCTAssertEqual(
      h.error("1 | 2")?.message,
      "the right side of '|' must be a command or a function, got a number")
  }

  func testInterrupt() {
    let h = Harness()
    Interrupt.requested = true
    defer { Interrupt.requested = false }
    guard case .interrupted = h.error("let i = 0; while true { i += 1 }") else {
      return XCTFail("not interrupted")
    }
  }

  func testErrorLocationsInFunctions() {
    assertError("def f(x) {\n  x + \"a\"\n}\nf 1", "cannot apply '+'", at: (2, 5))
    assertError("let xs = [1]\nfor x in xs {\n  print nope\n}", "unknown name 'nope'", at: (3, 9))
  }

  func testDiagnosticFormat() {
    let e = Harness().error("let a = 1\nprint (a +)", file: "-")!
    XCTAssertEqual(
      e.diagnostic, "-:2:11: error: expected an expression, found ')'\nprint (a +)\n          ^\n")
  }
}
