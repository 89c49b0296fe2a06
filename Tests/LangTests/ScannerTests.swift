import XCTest

@testable import Lang

final class ScannerTests: XCTestCase {
  func scan(_ text: String) -> [Token] {
    var s = Scanner(file: SourceFile(name: "t", text: text))
    return s.scanAll()
  }

  func kinds(_ text: String) -> [TokenKind] { scan(text).map(\.kind) }

  func testPunctuationAndOperators() {
    XCTAssertEqual(
      kinds("a == b != c <= d >= e < f > g"),
      [
        .word, .equalEqual, .word, .bangEqual, .word, .lessEqual, .word, .greaterEqual, .word,
        .less,
        .word, .greater, .word, .eof,
      ])
    XCTAssertEqual(
      kinds("x += 1; y -= 2"),
      [.word, .plusEqual, .number, .semicolon, .word, .minusEqual, .number, .eof])
    XCTAssertEqual(
      kinds("a && b || !c | d"),
      [.word, .ampAmp, .word, .pipePipe, .bang, .word, .pipe, .word, .eof])
    XCTAssertEqual(kinds("0..5"), [.number, .dotDot, .number, .eof])
    XCTAssertEqual(kinds("a..b"), [.word, .dotDot, .word, .eof])
  }

  func testDottedWordsAreOneToken() {
    let t = scan("blocks.3.hook_resid_pre sae_name.F12 r.total")
    XCTAssertEqual(t.map(\.kind), [.word, .word, .word, .eof])
    XCTAssertEqual(t[0].text, "blocks.3.hook_resid_pre")
    XCTAssertEqual(t[1].text, "sae_name.F12")
    XCTAssertFalse(t[0].isPlainIdentifier)
  }

  func testWordInterpolation() {
    let t = scan("blocks.$L.hook_mlp_out")
    XCTAssertEqual(t.count, 2)
    XCTAssertEqual(t[0].parts.count, 3)
    guard case .variable(let name, _) = t[0].parts[1] else { return XCTFail("no variable part") }
    XCTAssertEqual(name, "L")
  }

  func testNumbers() {
    let t = scan("1 1.5 1e-3 2E4 7")
    XCTAssertEqual(t.prefix(5).map(\.number), [1, 1.5, 0.001, 20000, 7])
    XCTAssertEqual(scan("3abc")[0].kind, .error)
  }

  func testFlagsAndMinus() {
    let t = scan("run --top 5 --pos -1 --with-cache")
    XCTAssertEqual(t.map(\.kind), [.word, .flag, .number, .flag, .minus, .number, .flag, .eof])
    XCTAssertEqual(t[1].text, "top")
    XCTAssertEqual(t[6].text, "with-cache")
    XCTAssertTrue(t[4].spaceBefore)
    XCTAssertFalse(t[5].spaceBefore)
  }

  func testStringsAndEscapes() {
    let t = scan(#""a\tb\n\"q\" \\ \$x \u{1F916}" 'raw $x'"#)
    guard case .text(let s) = t[0].parts[0] else { return XCTFail() }
    XCTAssertEqual(s, "a\tb\n\"q\" \\ $x 🤖")
    guard case .text(let r) = t[1].parts[0] else { return XCTFail() }
    XCTAssertEqual(r, "raw $x")
  }

  func testStringInterpolationParts() {
    let t = scan(#""layer $L: $(1 + 2)!""#)
    XCTAssertEqual(t[0].parts.count, 5)
    guard case .code(let tokens, _) = t[0].parts[3] else { return XCTFail() }
    XCTAssertEqual(tokens.map(\.kind), [.number, .plus, .number, .eof])
  }

  func testNewlinesInsideBracketsAreSkipped() {
    XCTAssertEqual(
      kinds("[1,\n2]\nx"),
      [.leftBracket, .number, .comma, .number, .rightBracket, .newline, .word, .eof])
    XCTAssertEqual(kinds("{\na\n}"), [.leftBrace, .newline, .word, .newline, .rightBrace, .eof])
    XCTAssertEqual(
      kinds("(f {\na\n})"),
      [.leftParen, .word, .leftBrace, .newline, .word, .newline, .rightBrace, .rightParen, .eof])
  }

  func testCommentsAndContinuations() {
    XCTAssertEqual(
      kinds("#!/usr/bin/env tdb\na # comment\nb \\\n c"), [.word, .newline, .word, .word, .eof])
  }

  func testLocations() {
    let t = scan("let x = 1\n  print x")
    XCTAssertEqual(t[5].text, "print")
    XCTAssertEqual(t[5].location.line, 2)
    XCTAssertEqual(t[5].location.column, 3)
  }

  func testErrors() {
    let t = scan("print \"abc")
    XCTAssertEqual(t[1].kind, .error)
    XCTAssertEqual(t[1].text, "unterminated string")
    XCTAssertEqual(t[1].location.column, 7)
    XCTAssertEqual(scan("a & b")[1].kind, .error)
    XCTAssertEqual(scan("\"\\q\"")[0].text, "unknown escape '\\q'")
  }
}
