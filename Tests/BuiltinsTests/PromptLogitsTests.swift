@testable import Builtins
@testable import Engine
import Lang
import XCTest

/// predict, prob, logitdiff and logits on a prompt (not a run) unembed only
/// the position they read and keep no activations; their values must be the
/// ones a whole run gives, soft-capped logits included (the tiny Gemma 2 caps
/// them at 5).
final class PromptLogitsTests: XCTestCase {
  static let session: ModelSession = {
    let tiny = repoRoot.appendingPathComponent("Tests/Fixtures/tiny-models")
    let folder = tiny.appendingPathComponent("gemma2")
    let config = try! ModelConfig(url: folder.appendingPathComponent("config.json"))
    let weights = try! ModelWeights(source: try! Checkpoint(folder: folder), config: config)
    let tokenizer = try! HFTokenizer(folder: tiny.appendingPathComponent("tokenizer"))
    return ModelSession(model: TransformerModel(config: config, weights: weights, tokenizer: tokenizer))
  }()
  let prompt = #""When Mary and John went to the store, John gave a drink to""#

  func evaluate(_ source: String) throws -> Value {
    let registry = CommandRegistry()
    registerCoreCommands(into: registry)
    let interp = Interpreter(registry: registry)
    interp.write = { _ in }
    registerModelCommands(into: registry, interpreter: interp, session: LazyModelSession { Self.session })
    return try interp.evaluate(source, file: "test")
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
    let row = try number("(logits \(prompt) --pos 2).max")
    XCTAssertEqual(row, try number("(logits (run \(prompt)) --pos 2).max"), accuracy: 1e-6)
    XCTAssertLessThanOrEqual(row, 5, "soft-capped")
  }
}
