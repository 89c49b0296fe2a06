import Lang
import XCTest

@testable import Shell

/// Tab completion's choices, without a terminal (the pseudo-terminal test in
/// REPLTests checks the same through libedit).
final class CompletionTests: XCTestCase {
  let session = Session(options: SessionOptions())
  /// Loads requested, to check that only model-looking words ask for the model.
  var loads: [Bool] = []

  lazy var completer = Completer(interpreter: session.interpreter) { [unowned self] load in
    self.loads.append(load)
    return [
      "blocks.0.hook_resid_pre", "blocks.0.attn.hook_q", "blocks.1.hook_resid_pre", "L0H0",
      "L0H1", "L1H0",
    ]
  }

  func complete(_ line: String) -> [String] {
    // The word is what follows the last break character, as libedit finds it.
    let breaks = Set(" \t\n\"'`@<>=;|&{}()[],:+*/%!")
    let start =
      line.lastIndex(where: { breaks.contains($0) }).map { line.index(after: $0) }
      ?? line.startIndex
    return completer.complete(
      CompletionRequest(word: String(line[start...]), before: String(line[..<start])))
  }

  func testCommandNames() {
    XCTAssertEqual(complete("predi"), ["predict"])
    XCTAssertEqual(complete("let r = predi"), ["predict"])
    XCTAssertEqual(complete("[1, 2] | so"), ["sort"])
    XCTAssertEqual(complete("print (predi"), ["predict"])
  }

  func testFlagsOfTheCommandBeingTyped() {
    XCTAssertEqual(complete("predict \"The cow\" --t"), ["--top"])
    XCTAssertEqual(complete("[3, 1] | sort --d"), ["--desc"])
    XCTAssertEqual(complete("nosuchcommand --t"), [])
  }

  func testVariables() throws {
    try session.interpreter.evaluate("let prompt_text = \"x\"; let pair = {left: 1, right: 2}")
    XCTAssertEqual(complete("print $prompt_"), ["$prompt_text"])
    XCTAssertEqual(complete("print prompt_"), ["prompt_text"])
    XCTAssertEqual(complete("prompt_"), ["prompt_text"])
    XCTAssertEqual(complete("print $pair.l"), ["$pair.left"])
    XCTAssertEqual(complete("print pair."), ["pair.left", "pair.right"])
    XCTAssertEqual(complete("$a"), ["$args"])
  }

  func testModelWordsOneSegmentAtATime() {
    XCTAssertEqual(complete("attn r L0"), ["L0H0", "L0H1"])
    XCTAssertEqual(complete("print blocks."), ["blocks.0.", "blocks.1."])
    XCTAssertEqual(complete("print blocks.0."), ["blocks.0.attn.", "blocks.0.hook_resid_pre"])
    XCTAssertEqual(loads.last, true)
    _ = complete("print x")
    XCTAssertEqual(loads.last, false, "an ordinary word does not load the model")
  }

  func testNothingInsideStringsCommentsOrLoopNames() {
    XCTAssertEqual(complete("print \"predi"), [])
    XCTAssertEqual(complete("1 # predi"), [])
    XCTAssertEqual(complete("for pre"), [])
  }

  func testPositions() {
    XCTAssertEqual(Completer.position(before: ""), .head)
    XCTAssertEqual(Completer.position(before: "a | "), .head)
    XCTAssertEqual(Completer.position(before: "for x in xs { "), .head)
    XCTAssertEqual(Completer.position(before: "if "), .head)
    XCTAssertEqual(Completer.position(before: "run p "), .argument(command: "run"))
    XCTAssertEqual(Completer.position(before: "x == "), .argument(command: "x"))
    XCTAssertEqual(Completer.position(before: "[1, "), .argument(command: nil))
    XCTAssertEqual(Completer.position(before: "print \"a|b\" "), .argument(command: "print"))
  }

  func testCommonPrefix() {
    XCTAssertEqual(commonPrefix(["blocks.0.", "blocks.1."]), "blocks.")
    XCTAssertEqual(commonPrefix(["abc"]), "abc")
    XCTAssertEqual(commonPrefix(["x", "y"]), "")
  }
}
