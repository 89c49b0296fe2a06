@testable import Builtins
@testable import Engine
import Lang
import XCTest

/// predict, prob, logitdiff and logits on a prompt (not a run) unembed only
/// the position they read and keep no activations (at the last position the
/// engine runs the last block there alone); their values must be the ones a
/// whole run gives, soft-capped logits included (the tiny Gemma 2 caps them
/// at 5).
final class PromptLogitsTests: XCTestCase {
  static let session = tinyModelSession("gemma2")
  let prompt = #""When Mary and John went to the store, John gave a drink to""#

  func evaluate(_ source: String) throws -> Value {
    try eval(source, makeInterpreter(session: Self.session).0)
  }

  func number(_ source: String) throws -> Double { try XCTUnwrap(try evaluate(source).number, source) }

  func testAPromptGivesTheLogitsOfAWholeRun() throws {
    XCTAssertNotNil(Self.session.config.finalSoftcap, "the fixture soft-caps its logits")
    for pos in [-1, 3] {
      let lean = try number(#"logitdiff \#(prompt) " Mary" " John" --pos \#(pos)"#)
      let whole = try number(#"logitdiff (run \#(prompt)) " Mary" " John" --pos \#(pos)"#)
      XCTAssertEqual(lean, whole, accuracy: 1e-5 * max(1, abs(whole)), "logitdiff at \(pos)")
      let leanProb = try number(#"prob \#(prompt) " Mary" --pos \#(pos)"#)
      let wholeProb = try number(#"prob (run \#(prompt)) " Mary" --pos \#(pos)"#)
      XCTAssertEqual(leanProb, wholeProb, accuracy: 1e-6, "prob at \(pos)")
    }
    XCTAssertEqual(
      try evaluate("predict \(prompt) --top 3").description, try evaluate("predict (run \(prompt)) --top 3").description
    )
    let last = try number("(logits \(prompt)).max")
    XCTAssertEqual(last, try number("(logits (run \(prompt)) --pos -1).max"), accuracy: 1e-5)
    let row = try number("(logits \(prompt) --pos 2).max")
    XCTAssertEqual(row, try number("(logits (run \(prompt)) --pos 2).max"), accuracy: 1e-6)
    XCTAssertLessThanOrEqual(row, 5, "soft-capped")
  }
}
