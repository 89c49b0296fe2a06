import XCTest

@testable import Lang

/// `isIncomplete` decides when the REPL shows a continuation prompt.
final class InputCompletenessTests: XCTestCase {
  let harness = Harness()

  func incomplete(_ text: String) -> Bool { harness.interpreter.isIncomplete(text) }

  func testCompleteInput() {
    for text in [
      "", "1 + 2", "[1, 2]", "echo 1 2 --sep x", "let a = 1", "for i in 0..3 { print i }",
      "def f(a) {\n  a + 1\n}", "\"a string\"", "'single'", "# a comment \\",
      "echo 1 | echo", "\"with \\\\\"",
    ] {
      XCTAssertFalse(incomplete(text), "\(text.debugDescription) should be complete")
    }
  }

  func testOpenBracketsStringsAndContinuations() {
    for text in [
      "[1,", "[1,\n2", "(1 +", "{a: 1,", "for i in 0..3 {", "for i in 0..3 {\n  print i",
      "def f(a) {", "if true {\n", "\"open string", "'open", "\"a $(1 +", "echo 1 \\",
      "echo 1 |", "let a =", "1 +", "xs[0", "print \"line one\nline two",
    ] {
      XCTAssertTrue(incomplete(text), "\(text.debugDescription) should need more input")
    }
  }

  /// An error that more input cannot fix is complete, so running it reports it.
  /// (`1 +` is not one: an operator at the end of a line continues it.)
  func testErrorsAreComplete() {
    for text in ["print (a +)", "let = 3", "]", "12abc", "a & b", "[1, 2))", "echo --"] {
      XCTAssertFalse(incomplete(text), "\(text.debugDescription) should be complete (an error)")
    }
  }

  /// A trailing backslash in a script is an error that says why.
  func testTrailingBackslashInScript() {
    guard case .syntax(let message, _)? = harness.error("print 1 \\") else {
      return XCTFail("expected a syntax error")
    }
    XCTAssertTrue(message.contains("end of the input"), message)
  }
}
