import XCTest

@testable import Engine

/// A pass resumed from another run's checkpoint computes only later positions
/// (and later blocks) and must equal the whole pass it stands for.
final class ResumeTests: XCTestCase {
  /// A prompt of `n` pseudo-random token ids (not a fixture: any prompt must work).
  func prompt(_ n: Int, seed: UInt64) -> [Int] {
    var x = seed
    return (0..<n).map { _ in
      x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Int((x >> 33) % UInt64(demoModel.config.vocabSize))
    }
  }

  /// Checks that `base` + `added`, resumed at (position, layer), equals the
  /// whole pass: logits and ln_final's output at every computed position.
  func assertResumeMatches(
    _ tokens: [Int], base: [Intervention] = [], added: [Intervention], saes: [SAESplice] = [], position: Int,
    layer: Int?, file: StaticString = #filePath, line: UInt = #line
  ) throws {
    let final = HookPoint(.lnFinalNormalized)
    var o = ForwardOptions(interventions: base, saes: saes)
    o.keepCheckpoint = true
    let checkpoint = try XCTUnwrap(try demoModel.forward(tokens, options: o).checkpoint)
    let whole = try demoModel.forward(
      tokens, options: ForwardOptions(cache: .points([final]), interventions: base + added, saes: saes))
    var r = ForwardOptions(cache: .points([final]), interventions: base + added, saes: saes)
    r.resume = ResumePoint(checkpoint: checkpoint, position: position, layer: layer)
    let resumed = try demoModel.forward(tokens, options: r)
    let T = tokens.count
    XCTAssertEqual(resumed.firstPosition, position, file: file, line: line)
    assertClose(resumed.logits, whole.logits.rows(position..<T), tolerance: 1e-5, "logits", file: file, line: line)
    assertClose(
      resumed.cache[final]!, whole.cache[final]!.rows(position..<T), tolerance: 1e-5, "ln_final", file: file,
      line: line)
    // And the intervention did change something, so the test can fail.
    let clean = try demoModel.forward(tokens, options: ForwardOptions(interventions: base, saes: saes))
    XCTAssertGreaterThan(
      relativeError(whole.logits.rows(position..<T), clean.logits.rows(position..<T)), 1e-4, file: file, line: line)
  }

  func testAblatingAHeadAtTheLastPositionFromItsBlock() throws {
    let tokens = prompt(21, seed: 7)
    for l in [0, 2, 5] {
      let ablate = Interventions.zero(HookSelection(hook: .block(l, .z), positions: [-1], index: 3), label: "ablate")
      try assertResumeMatches(tokens, added: [ablate], position: 20, layer: l)
      // Starting earlier than needed is the same computation.
      try assertResumeMatches(tokens, added: [ablate], position: 11, layer: 0)
      try assertResumeMatches(tokens, added: [ablate], position: 20, layer: nil)
      // At every position: only the blocks before it are skipped.
      let everywhere = Interventions.zero(HookSelection(hook: .block(l, .z), index: 3), label: "ablate everywhere")
      try assertResumeMatches(tokens, added: [everywhere], position: 0, layer: l)
    }
  }

  func testPatchingTheResidualStreamAtOnePosition() throws {
    let tokens = prompt(17, seed: 11), other = prompt(17, seed: 12)
    for (l, t) in [(0, 0), (1, 5), (3, 16), (5, 9)] {
      let point = HookPoint.block(l, .residPre)
      let source = try demoModel.forward(other, options: ForwardOptions(cache: .points([point]))).cache[point]!
      let patch = Interventions.copy(HookSelection(hook: point, positions: [t]), from: source, label: "patch")
      try assertResumeMatches(tokens, added: [patch], position: t, layer: l)
    }
  }

  func testPatternsEmbeddingsAndEarlierInterventions() throws {
    let tokens = prompt(15, seed: 3)
    // A pattern is [H, T, T]: its positions are the query rows.
    let pattern = Interventions.zero(
      HookSelection(hook: .block(2, .pattern), positions: [12, 13], index: 1), label: "pattern")
    // An earlier block's ablation everywhere belongs to the base run.
    let base = [Interventions.zero(HookSelection(hook: .block(1, .mlpOut)), label: "mlp 1")]
    try assertResumeMatches(tokens, base: base, added: [pattern], position: 12, layer: 2)
    // Embedding hooks recompute the embeddings (layer nil); LayerNorm removes
    // a constant shift, so the steering vector is not constant.
    let embed = Interventions.add(
      HookSelection(hook: HookPoint(.posEmbed), positions: [-2]),
      vector: (0..<demoModel.config.dModel).map { Float($0 % 5) - 2 }, scale: 1, label: "steer")
    try assertResumeMatches(tokens, base: base, added: [embed], position: 13, layer: nil)
    let set = Interventions.set(.block(4, .mlpPost), index: [-3, 100], to: 40, label: "set")
    try assertResumeMatches(tokens, base: base, added: [set], position: 12, layer: 4)
  }

  func testSAELatentsWithTheSAESplicedInBoth() throws {
    let tokens = prompt(19, seed: 5)
    let splice = SAESplice(residSAE, keepError: true)
    let acts = HookPoint(residSAE.hook.site, layer: residSAE.hook.layer, sae: .actsPost)
    let encoded = residSAE.encode(
      try demoModel.forward(tokens, options: ForwardOptions(cache: .points([residSAE.hook]))).cache[residSAE.hook]!)
    let latent = try XCTUnwrap((0..<residSAE.dSAE).first { encoded[18, $0] > 0.1 })
    let ablate = Interventions.zero(HookSelection(hook: acts, positions: [-1], index: latent), label: "latent")
    try assertResumeMatches(tokens, added: [ablate], saes: [splice], position: 18, layer: residSAE.hook.layer)
  }

  func testAPromptThatSharesOnlyAPrefix() throws {
    let a = prompt(12, seed: 1), b = Array(a[0..<8]) + prompt(6, seed: 2)
    var o = ForwardOptions()
    o.keepCheckpoint = true
    let checkpoint = try demoModel.forward(a, options: o).checkpoint!
    var r = ForwardOptions()
    r.resume = ResumePoint(checkpoint: checkpoint, position: 8, layer: nil)
    let resumed = try demoModel.forward(b, options: r)
    let whole = try demoModel.forward(b)
    assertClose(resumed.logits, whole.logits.rows(8..<14), tolerance: 1e-5, "continuation")
  }

  func testRefusesWhatItCannotResume() throws {
    let a = prompt(10, seed: 9)
    var o = ForwardOptions()
    o.keepCheckpoint = true
    let checkpoint = try demoModel.forward(a, options: o).checkpoint!
    func refusal(_ tokens: [Int], _ interventions: [Intervention] = [], position: Int, layer: Int?) -> String? {
      var r = ForwardOptions(interventions: interventions)
      r.resume = ResumePoint(checkpoint: checkpoint, position: position, layer: layer)
      do {
        _ = try demoModel.forward(tokens, options: r)
        return nil
      } catch {
        return "\(error)"
      }
    }
    XCTAssertNil(refusal(a, position: 4, layer: 2))
    XCTAssertTrue(refusal(prompt(10, seed: 8), position: 4, layer: nil)?.contains("first 4 tokens") ?? false)
    XCTAssertTrue(refusal(Array(a[0..<9]) + [1], position: 4, layer: 2)?.contains("another prompt") ?? false)
    XCTAssertTrue(refusal(a, position: 10, layer: nil)?.contains("outside the prompt") ?? false)
    let mixed = Intervention(hook: .block(1, .z), label: "custom") { _, _ in }
    XCTAssertTrue(refusal(a, [mixed], position: 4, layer: 1)?.contains("'custom'") ?? false)
  }
}

extension ResumeTests {
  /// Generation: each step resumes from the last one's checkpoint and keeps
  /// its own, one token longer.
  func testCheckpointsGrowOneTokenAtATime() throws {
    var tokens = prompt(6, seed: 21)
    let ablate = Interventions.zero(HookSelection(hook: .block(2, .z), positions: [3], index: 0), label: "ablate")
    var o = ForwardOptions(interventions: [ablate], logits: .last)
    o.keepCheckpoint = true
    var checkpoint = try XCTUnwrap(try demoModel.forward(tokens, options: o).checkpoint)
    for step in 0..<6 {
      tokens.append((step * 977 + 13) % demoModel.config.vocabSize)
      var r = o
      r.resume = ResumePoint(checkpoint: checkpoint, position: tokens.count - 1, layer: nil)
      let resumed = try demoModel.forward(tokens, options: r)
      let whole = try demoModel.forward(tokens, options: o)
      assertClose(resumed.logits, whole.logits, tolerance: 1e-5, "step \(step)")
      checkpoint = try XCTUnwrap(resumed.checkpoint)
      XCTAssertEqual(checkpoint.tokens, tokens)
      for l in [0, 5] {
        assertClose(checkpoint.keys[l], whole.checkpoint!.keys[l], tolerance: 1e-5, "keys \(l)")
        assertClose(checkpoint.residIn[l], whole.checkpoint!.residIn[l], tolerance: 1e-5, "resid \(l)")
      }
    }
  }
}
