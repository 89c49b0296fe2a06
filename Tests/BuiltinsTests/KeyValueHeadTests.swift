@testable import Builtins
@testable import Engine
import Lang
import XCTest

/// `L1KV1`, a key/value head of a grouped-query model (the tiny random Llama:
/// 4 query heads sharing 2 key/value heads): ablating or patching it changes
/// its keys and values together, exactly as the same interventions made on
/// the engine's hooks by hand.
final class KeyValueHeadTests: XCTestCase {
  static let session = tinyModelSession("llama")
  let prompt = "When Mary and John went to the store, John gave a drink to"
  let other = "When Mary and John went to the store, Anna gave a drink to"

  func evaluate(_ source: String) throws -> Value {
    try eval(source, makeInterpreter(session: Self.session).0)
  }

  /// The last position's logits with these interventions, by the engine.
  func lastLogits(_ text: String, _ interventions: [Intervention]) throws -> [Float] {
    let s = Self.session
    let tokens = try s.promptTokens(.string(text))
    var options = ForwardOptions(logits: .last)
    options.interventions = interventions
    let logits = try s.forward(tokens, options).logits
    return Array(UnsafeBufferPointer(start: logits.pointer, count: logits.count))
  }

  func logitDifference(_ logits: [Float]) throws -> Double {
    let t = Self.session.model.tokenizer
    let mary = try XCTUnwrap(t.singleTokenID(" Mary")), john = try XCTUnwrap(t.singleTokenID(" John"))
    return Double(logits[mary] - logits[john])
  }

  func keysAndValues(_ layer: Int, _ head: Int, positions: [Int]?) -> [HookSelection] {
    [HookPoint.Site.k, .v].map { HookSelection(hook: .block(layer, $0), positions: positions, index: head) }
  }

  func testAblatingAKeyValueHeadZeroesItsKeysAndValues() throws {
    let md = "logitdiff x \" Mary\" \" John\""
    let ablated = try XCTUnwrap(evaluate("let x = run \"\(prompt)\" --with (ablate L1KV1 --pos -1); \(md)").number)
    let byHand = try logitDifference(
      try lastLogits(prompt, keysAndValues(1, 1, positions: [-1]).map { Interventions.zero($0, label: "") }))
    XCTAssertEqual(ablated, byHand, accuracy: 1e-5)
    let clean = try XCTUnwrap(evaluate("let x = run \"\(prompt)\"; \(md)").number)
    XCTAssertNotEqual(ablated, clean, accuracy: 1e-4)
    // Everywhere, it is not the same as knocking out the other key/value head.
    let all = try XCTUnwrap(evaluate("let x = run \"\(prompt)\" --with (ablate L0KV1); \(md)").number)
    let otherHead = try XCTUnwrap(evaluate("let x = run \"\(prompt)\" --with (ablate L0KV0); \(md)").number)
    XCTAssertNotEqual(all, otherHead, accuracy: 1e-4)
  }

  func testPatchingAKeyValueHeadCopiesItsKeysAndValues() throws {
    let md = "logitdiff x \" Mary\" \" John\""
    let patched = try XCTUnwrap(
      evaluate("let c = run \"\(other)\"; let x = run \"\(prompt)\" --with (patch L0KV0 --from c); \(md)").number)
    let s = Self.session
    var cache = ForwardOptions(logits: .none)
    cache.cache = .points(Set(keysAndValues(0, 0, positions: nil).map(\.hook)))
    let source = try s.forward(try s.promptTokens(.string(other)), cache).cache
    let byHand = try logitDifference(
      try lastLogits(
        prompt, keysAndValues(0, 0, positions: nil).map { Interventions.copy($0, from: source[$0.hook]!, label: "") }))
    XCTAssertEqual(patched, byHand, accuracy: 1e-5)
    let itself = try XCTUnwrap(
      evaluate("let c = run \"\(prompt)\"; let x = run \"\(prompt)\" --with (patch L0KV0 --from c); \(md)").number)
    let clean = try XCTUnwrap(evaluate("let x = run \"\(prompt)\"; \(md)").number)
    XCTAssertEqual(itself, clean, accuracy: 1e-6)
    XCTAssertNotEqual(patched, clean, accuracy: 1e-5)
  }

  func testKeyValueHeadsThatDoNotExist() {
    XCTAssertThrowsError(try evaluate("ablate L1KV2")) {
      XCTAssertEqual("\($0)".contains("L1KV2: the model has 2 key/value heads per layer (0...1)"), true, "\($0)")
    }
    XCTAssertThrowsError(try evaluate("ablate L5KV0")) {
      XCTAssertEqual("\($0)".contains("L5KV0: the model has 2 layers"), true, "\($0)")
    }
  }
}
