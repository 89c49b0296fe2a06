import XCTest

@testable import Lang

final class ParserTests: XCTestCase {
  func parse(_ text: String, commands: Set<String> = ["print", "run"]) throws -> Program {
    try Parser.parse(SourceFile(name: "t", text: text)) { commands.contains($0) }
  }

  func syntaxError(_ text: String) -> LangError? {
    do {
      _ = try parse(text)
      return nil
    } catch let e as LangError {
      return e
    } catch {
      return nil
    }
  }

  func assertSyntaxError(
    _ text: String, _ message: String, _ line: Int, _ column: Int, file: StaticString = #filePath,
    sourceLine: UInt = #line
  ) {
    guard let e = syntaxError(text) else {
      return XCTFail("\(text): parsed", file: file, line: sourceLine)
    }
    guard case .syntax = e else {
      return XCTFail("\(text): \(e) is not a syntax error", file: file, line: sourceLine)
    }
    XCTAssertTrue(
      e.message.contains(message), "\(text): \(e.message)", file: file, line: sourceLine)
    XCTAssertEqual(e.location.line, line, "\(text): \(e)", file: file, line: sourceLine)
    XCTAssertEqual(e.location.column, column, "\(text): \(e)", file: file, line: sourceLine)
  }

  func testStatementsParse() throws {
    let p = try parse(
      """
      let x = 1; x = 2
      def f(a, b) { a + b }
      for i in 0..3 { print i }
      while false { break }
      if x > 1 { 1 } else if x < 0 { 2 } else { 3 }
      [1, 2] | print
      """)
    XCTAssertEqual(p.statements.count, 7)
    XCTAssertEqual(p.definedCommands, ["f"])
  }

  func testCommandVersusExpression() throws {
    // `print` is a command: arguments follow.
    guard case .expression(.command(let c)) = try parse("print a -1 (b) [1]").statements[0] else {
      return XCTFail("not a command")
    }
    XCTAssertEqual(c.arguments.count, 4)
    // A variable followed by an operator is an expression.
    guard case .expression(.binary(.subtract, _, _, _)) = try parse("x - 1").statements[0] else {
      return XCTFail("not a subtraction")
    }
    // Inside arguments `a - 1` is one argument.
    guard case .expression(.command(let d)) = try parse("print a - 1").statements[0] else {
      return XCTFail("not a command")
    }
    XCTAssertEqual(d.arguments.count, 1)
    // A def later in the source is already a command.
    guard case .expression(.command) = try parse("f\ndef f() { 1 }").statements[0] else {
      return XCTFail("f is not a command")
    }
  }

  func testFlagsAreArguments() throws {
    guard
      case .expression(.command(let c)) = try parse("run p --top 5 --desc --pos -1").statements[0]
    else { return XCTFail() }
    XCTAssertEqual(c.arguments.count, 6)
    guard case .positional(.literal(.number(-1), _)) = c.arguments[5] else {
      return XCTFail("--pos -1 is not a negative number")
    }
  }

  func testRecordsClosuresAndBlocks() throws {
    guard case .expression(.record(let fields, _)) = try parse("{a: 1, \"b c\": 2}").statements[0]
    else {
      return XCTFail()
    }
    XCTAssertEqual(fields.map(\.key), ["a", "b c"])
    guard case .expression(.closure(let f)) = try parse("{ |x, y| x + y }").statements[0] else {
      return XCTFail()
    }
    XCTAssertEqual(f.parameters, ["x", "y"])
    guard case .expression(.closure(let g)) = try parse("{ 1 + 1 }").statements[0] else {
      return XCTFail()
    }
    XCTAssertEqual(g.parameters, [])
    guard case .expression(.record(let empty, _)) = try parse("{}").statements[0] else {
      return XCTFail()
    }
    XCTAssertTrue(empty.isEmpty)
  }

  func testIfHeaderStopsAtBrace() throws {
    XCTAssertNoThrow(try parse("let x = true; if x { 1 }"))
    XCTAssertNoThrow(try parse("if run \"p\" --desc { 1 }"))
  }

  func testSyntaxErrorsHaveLocations() {
    assertSyntaxError("let a = 1\nprint (a +)", "expected an expression, found ')'", 2, 11)
    assertSyntaxError("let = 1", "expected a variable name after 'let'", 1, 5)
    assertSyntaxError("[1, 2", "to close '[' at 1:1", 1, 6)
    assertSyntaxError("f(1, 2", "to close '(' at 1:2", 1, 7)
    assertSyntaxError("def f(a) {\n  a + 1\n", "expected '}' to close '{' at 1:10", 3, 1)
    assertSyntaxError("x = 1 2", "expected end of statement, found number 2", 1, 7)
    assertSyntaxError("print \"abc", "unterminated string", 1, 7)
    assertSyntaxError("break", "'break' outside a loop", 1, 1)
    assertSyntaxError("return 1", "'return' outside a function", 1, 1)
    assertSyntaxError("for x 1 { }", "expected 'in'", 1, 7)
    assertSyntaxError("{a: 1,, b: 2}", "expected a field name, found ','", 1, 7)
    assertSyntaxError("1 + )", "expected an expression, found ')'", 1, 5)
    assertSyntaxError("1 + 2)", "unmatched ')'", 1, 6)
    assertSyntaxError("\"a $(1 +) b\"", "expected an expression", 1, 9)
    assertSyntaxError("def f(a, a) { }", "duplicate parameter 'a'", 1, 10)
    assertSyntaxError("x[]", "expected a subscript", 1, 3)
  }

  func testFirstErrorWins() {
    // The unterminated string on line 3 comes after the error on line 1.
    assertSyntaxError("let = 1\nok\n\"abc", "expected a variable name", 1, 5)
  }

  func testDeepNestingIsAnErrorNotACrash() {
    let deep = String(repeating: "(", count: 5000) + "1" + String(repeating: ")", count: 5000)
    XCTAssertEqual(syntaxError(deep)?.message, "expression nested too deeply")
    let deepList = String(repeating: "[", count: 5000)
    XCTAssertNotNil(syntaxError(deepList))
    let deepNeg = String(repeating: "-", count: 5000) + "1"
    XCTAssertNotNil(syntaxError(deepNeg))
  }
}
