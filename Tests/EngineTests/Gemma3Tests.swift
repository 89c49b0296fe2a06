import XCTest

@testable import Engine

/// Gemma 3 270M from its Q4_K_M GGUF file against Hugging Face transformers'
/// dequantized fp32 `Gemma3ForCausalLM` with eager attention
/// (scripts/make-gemma3-reference.py). Its layers are local (sliding window
/// of 512, rope theta 10,000) and global (theta 1,000,000) in a 5:1 pattern,
/// with q/k norms, post-norms, a GeGLU MLP and scaled embeddings.
final class Gemma3Tests: XCTestCase {
  static let model: TransformerModel = try! TransformerModel(gguf: try! gemma3File())
  let reference = try! SafeTensorsFile(
    url: repoRoot.appendingPathComponent("Tests/Fixtures/gemma3/reference.safetensors"))
  var model: TransformerModel { Self.model }

  func testConfigurationFromMetadata() {
    let c = model.config
    XCTAssertEqual(c.family, .gemma3)
    XCTAssertEqual(
      [c.layers, c.dModel, c.heads, c.kvHeads, c.dHead, c.dMLP, c.vocabSize], [18, 640, 4, 1, 256, 2048, 262_144])
    XCTAssertEqual(c.positions, .rotary(RotaryConfig(theta: 1_000_000, dimensions: 256)))
    XCTAssertEqual(c.localPositions, .rotary(RotaryConfig(theta: 10_000, dimensions: 256)))
    XCTAssertEqual(c.attentionWindows.map { $0 == nil }, (0..<18).map { ($0 + 1) % 6 == 0 })
    XCTAssertEqual(c.attentionWindows.compactMap { $0 }.first, 512)
    XCTAssertEqual(c.mlp, .gatedGELU)
    XCTAssertTrue(c.postNorms && c.qkNorm && c.tiedEmbeddings)
    XCTAssertEqual(c.embeddingScale ?? 0, Float(640).squareRoot(), accuracy: 1e-6)
    XCTAssertNil(c.finalSoftcap)
  }

  /// Every prompt: the last logits, a sample of logits and the residual
  /// stream entering local and global blocks; the fourth prompt is longer
  /// than the sliding window (its references keep the last 16 positions).
  func testLogitsAndResidualStreamMatchTransformers() throws {
    let columns = try reference.integers("logit_columns"), tail = 16
    for k in 0..<4 {
      let tokens = try reference.integers("p\(k).tokens")
      if k == 3 { XCTAssertGreaterThan(tokens.count, 512, "the long prompt passes the sliding window") }
      let r = try model.forward(tokens, options: ForwardOptions(cache: .points(Set(residPoints))))
      assertClose(
        r.lastLogits.reshaped([model.config.vocabSize]), try reference.tensor("p\(k).last_logits"), tolerance: 1e-4,
        "p\(k) last logits")
      let keep = k < 3 ? 0..<tokens.count : (tokens.count - tail)..<tokens.count
      assertClose(
        logitColumns(r.logits.rows(keep), columns), try reference.tensor("p\(k).logits"), tolerance: 1e-4,
        "p\(k) logits")
      for point in residPoints {
        let key = "p\(k).\(point.name)"
        assertClose(try XCTUnwrap(r.cache[point], key).rows(keep), try reference.tensor(key), tolerance: 1e-4, key)
      }
    }
  }

  /// The prompt's tokens as transformers gives them, BOS first.
  func testPromptsTokenizeAsTransformersDoes() throws {
    let prompts = [
      "The capital of France is", "The capital of Japan is the city of",
      "When Mary and John went to the store, John gave a drink to",
    ]
    for (k, text) in prompts.enumerated() {
      XCTAssertEqual(model.tokenizer.encode(text), try reference.integers("p\(k).tokens"), text)
    }
  }

  func testLogitDifferenceGradientsAndAHeadAblation() throws {
    let tokens = try reference.integers("p2.tokens"), metric = try reference.integers("metric")
    let r = try model.gradients(
      tokens, metric: .logitDifference(position: -1, target: metric[0], distractor: metric[1]),
      backward: BackwardOptions(wanted: .points(Set(residPoints))))
    XCTAssertEqual(r.metricValue, try reference.tensor("p2.logitdiff").scalars[0], accuracy: 1e-3)
    for point in residPoints {
      let key = "p2.grad.\(point.name)"
      assertClose(try XCTUnwrap(r.gradients[point], key), try reference.tensor(key), tolerance: 1e-3, key)
    }
    let D = model.config.dHead, H = model.config.heads
    let ablate = Intervention(hook: .block(6, .z), label: "ablate L6H2 --pos -1", rows: .local([-1])) { z, T in
      let p = z.mutablePointer() + ((T - 1) * H + 2) * D
      for i in 0..<D { p[i] = 0 }
    }
    let a = try model.forward(tokens, options: ForwardOptions(interventions: [ablate], logits: .last))
    XCTAssertEqual(
      a.logits.pointer[metric[0]] - a.logits.pointer[metric[1]],
      try reference.tensor("p2.ablated_L6H2_logitdiff").scalars[0], accuracy: 1e-3)
  }

  /// Direct logit attribution with the post-norms' and ln_final's scales
  /// frozen: the parts still sum to the logit difference.
  func testDirectLogitAttributionSumsToTheLogitDifference() throws {
    let tokens = try reference.integers("p2.tokens"), metric = try reference.integers("metric")
    for by in [AttributionGranularity.head, .layer, .neuron] {
      let parts = try model.directLogitAttribution(
        tokens, position: -1, target: metric[0], distractor: metric[1], by: by)
      XCTAssertEqual(
        parts.map { Double($0.value) }.reduce(0, +), Double(try reference.tensor("p2.logitdiff").scalars[0]),
        accuracy: 2e-3, "\(by)")
    }
  }

  /// A pass resumed at the last position (as sweeps and generate do) equals
  /// a whole pass, also past the sliding window.
  func testResumedPassesEqualWholePasses() throws {
    for k in [2, 3] {
      let tokens = try reference.integers("p\(k).tokens")
      var keep = ForwardOptions(logits: .last)
      keep.keepCheckpoint = true
      let base = try model.forward(Array(tokens.dropLast()), options: keep)
      var resumed = ForwardOptions(logits: .last)
      resumed.resume = ResumePoint(checkpoint: base.checkpoint!, position: tokens.count - 1, layer: nil)
      let r = try model.forward(tokens, options: resumed)
      let whole = try model.forward(tokens, options: ForwardOptions(logits: .last))
      assertClose(r.lastLogits, whole.lastLogits, tolerance: 1e-5, "p\(k) resumed")
    }
  }

  private var residPoints: [HookPoint] {
    [0, 5, 6, 11, 17].map { HookPoint.block($0, .residPre) }
  }
}
