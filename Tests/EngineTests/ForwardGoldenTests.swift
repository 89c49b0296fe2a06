import XCTest

@testable import Engine

/// The forward pass against Hugging Face transformers' fp32 values.
final class ForwardGoldenTests: XCTestCase {
  func prompts() -> Int { (goldenMeta["prompts"] as! [Any]).count }

  func testEveryHookValueAndLogitsMatchGolden() throws {
    for k in 0..<prompts() {
      let tokens = try golden.integers("p\(k).tokens")
      let result = try demoModel.forward(tokens, options: ForwardOptions(cache: .all))
      var checked = 0
      for name in golden.names where name.hasPrefix("p\(k).act.") {
        let hookName = String(name.dropFirst("p\(k).act.".count))
        let point = try XCTUnwrap(HookPoint(name: hookName), hookName)
        let mine = try XCTUnwrap(result.cache[point], "no cached \(hookName)")
        assertClose(mine, try golden.tensor(name), tolerance: 1e-4, "p\(k) \(hookName)")
        checked += 1
      }
      XCTAssertEqual(checked, 6 * 11 + 1 + 6, "hook values checked for p\(k)")
      if k == 0 {
        assertClose(result.logits, try golden.tensor("p0.logits"), tolerance: 1e-4, "p0 logits")
      } else {
        assertClose(result.lastLogits, try golden.tensor("p\(k).logits_last"), tolerance: 1e-4, "p\(k) last logits")
      }
    }
  }

  func testLastOnlyLogitsEqualFullLogits() throws {
    let tokens = try golden.integers("p1.tokens")
    let all = try demoModel.forward(tokens)
    let last = try demoModel.forward(tokens, options: ForwardOptions(logits: .last))
    assertClose(last.logits.row(0), all.lastLogits, tolerance: 1e-6, "last-only logits")
  }

  func testPromptLongerThanContextIsAClearError() {
    XCTAssertThrowsError(try demoModel.forward([Int](repeating: 11, count: 257))) { error in
      XCTAssertEqual("\(error)", "the prompt is 257 tokens but the model's context is 256; shorten it")
    }
    XCTAssertThrowsError(try demoModel.forward([])) { XCTAssertEqual("\($0)", "the prompt has no tokens") }
    XCTAssertThrowsError(try demoModel.forward([50257])) { XCTAssertTrue("\($0)".contains("outside the vocabulary")) }
  }

  func testEveryLengthUpToTheContextRuns() throws {
    for T in [1, 2, 255, 256] {
      let r = try demoModel.forward((0..<T).map { ($0 * 7919) % 50257 }, options: ForwardOptions(logits: .last))
      XCTAssertEqual(r.logits.shape, [1, 50257])
      XCTAssertTrue(r.logits.scalars.allSatisfy(\.isFinite))
    }
  }

  func testUnrequestedHooksAreNotCached() throws {
    let r = try demoModel.forward([1, 2, 3], options: ForwardOptions(cache: .points([.block(2, .z)])))
    XCTAssertEqual(Array(r.cache.keys), [.block(2, .z)])
    XCTAssertEqual(r.cache[.block(2, .z)]?.shape, [3, 8, 32])
  }
}
