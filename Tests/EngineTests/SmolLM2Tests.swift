import XCTest

@testable import Engine

/// SmolLM2-135M-Instruct from its Q4_1 GGUF file against Hugging Face
/// transformers' dequantized fp32 model (scripts/make-smollm2-reference.py).
final class SmolLM2Tests: XCTestCase {
  let reference = try! SafeTensorsFile(
    url: repoRoot.appendingPathComponent("Tests/Fixtures/smollm2/reference.safetensors"))

  func testConfigurationFromMetadata() {
    let c = smolLM2.config
    XCTAssertEqual(c.family, .llama)
    XCTAssertEqual(
      [c.layers, c.dModel, c.heads, c.kvHeads, c.dHead, c.dMLP, c.vocabSize], [30, 576, 9, 3, 64, 1536, 49152])
    XCTAssertEqual(c.positions, .rotary(RotaryConfig(theta: 100_000, dimensions: 64)))
    XCTAssertEqual(c.norm, .rmsNorm)
    XCTAssertTrue(c.tiedEmbeddings)
  }

  func testTokensLogitsAndHookValuesMatchTransformers() throws {
    let columns = try reference.integers("logit_columns")
    let texts = [
      "When Mary and John went to the store, John gave a drink to", "The Eiffel Tower is in the city of",
    ]
    for k in 0..<4 {
      let tokens = try reference.integers("p\(k).tokens")
      if k < texts.count { XCTAssertEqual(smolLM2.tokenizer.encode(texts[k]), tokens, "p\(k) tokens") }
      let r = try smolLM2.forward(tokens, options: ForwardOptions(cache: .all))
      assertClose(
        r.lastLogits.reshaped([smolLM2.config.vocabSize]), try reference.tensor("p\(k).last_logits"), tolerance: 1e-4,
        "p\(k) last logits")
      assertClose(
        logitColumns(r.logits, columns), try reference.tensor("p\(k).logits"), tolerance: 1e-4, "p\(k) logits")
      var checked = 0
      for key in reference.names where key.hasPrefix("p\(k).") && !key.hasPrefix("p\(k).grad.") {
        guard let point = HookPoint(name: String(key.dropFirst("p\(k).".count))) else { continue }
        assertClose(try XCTUnwrap(r.cache[point], key), try reference.tensor(key), tolerance: 1e-4, key)
        checked += 1
      }
      XCTAssertEqual(checked, 3 * 20 + 3, "p\(k) hook values checked (blocks 0, 10, 29, embed, ln_final)")
    }
  }

  func testLogitDifferenceGradientsAndAHeadAblation() throws {
    let tokens = try reference.integers("p0.tokens"), metric = try reference.integers("metric")
    let r = try smolLM2.gradients(
      tokens, metric: .logitDifference(position: -1, target: metric[0], distractor: metric[1]))
    XCTAssertEqual(r.metricValue, try reference.tensor("p0.logitdiff").scalars[0], accuracy: 1e-3)
    var checked = 0
    for key in reference.names where key.hasPrefix("p0.grad.") {
      let point = try XCTUnwrap(HookPoint(name: String(key.dropFirst("p0.grad.".count))), key)
      assertClose(try XCTUnwrap(r.gradients[point], key), try reference.tensor(key), tolerance: 1e-3, key)
      checked += 1
    }
    XCTAssertEqual(checked, 4)
    let D = smolLM2.config.dHead, H = smolLM2.config.heads
    let ablate = Intervention(hook: .block(10, .z), label: "ablate L10H2 --pos -1", rows: .local([-1])) { z, T in
      let p = z.mutablePointer() + ((T - 1) * H + 2) * D
      for i in 0..<D { p[i] = 0 }
    }
    let a = try smolLM2.forward(tokens, options: ForwardOptions(interventions: [ablate], logits: .last))
    XCTAssertEqual(
      a.logits.pointer[metric[0]] - a.logits.pointer[metric[1]],
      try reference.tensor("p0.ablated_L10H2_logitdiff").scalars[0], accuracy: 1e-3)
  }

  func testDirectLogitAttributionSumsToTheLogitDifference() throws {
    let tokens = try reference.integers("p0.tokens"), metric = try reference.integers("metric")
    for by in [AttributionGranularity.head, .layer] {
      let parts = try smolLM2.directLogitAttribution(
        tokens, position: -1, target: metric[0], distractor: metric[1], by: by)
      XCTAssertEqual(
        parts.map { Double($0.value) }.reduce(0, +), Double(try reference.tensor("p0.logitdiff").scalars[0]),
        accuracy: 1e-3, "\(by)")
    }
  }
}
