import XCTest

@testable import Engine

/// GPT-NeoX (Pythia) beyond TinyModelTests' hook-by-hook checks: what the
/// parallel residual changes (no resid_mid; the MLP reads the block's input,
/// not its attention's output), partial rotary and the exact GELU, on the
/// tiny random NeoX models (`neox` parallel, `neox-seq` sequential).
final class GPTNeoXTests: XCTestCase {
  static let parallel = try! load("neox")
  static let sequential = try! load("neox-seq")

  static func load(_ name: String) throws -> (model: TransformerModel, reference: SafeTensorsFile) {
    try hfTinyModel(name)
  }

  func testConfigurationsAreRead() throws {
    let p = Self.parallel.model.config, s = Self.sequential.model.config
    XCTAssertEqual(p.family, .gptNeoX)
    XCTAssertTrue(p.parallelResidual)
    XCTAssertFalse(s.parallelResidual)
    XCTAssertEqual(p.mlp, .exactGELU)
    XCTAssertEqual(p.norm, .layerNorm)
    XCTAssertFalse(p.tiedEmbeddings)
    // Pythia's keys (rotary_pct 0.5, rotary_emb_base) and transformers 5's
    // rope_parameters (partial_rotary_factor 0.25, rope_theta 1000).
    XCTAssertEqual(p.positions, .rotary(RotaryConfig(theta: 10_000, dimensions: 4)))
    XCTAssertEqual(s.positions, .rotary(RotaryConfig(theta: 1000, dimensions: 2)))
    // attention_bias false: no q/k/v or output biases in the file, zeros here.
    let b = Self.sequential.model.weights.blocks[0]
    XCTAssertEqual(b.attnBias.scalars.filter { $0 != 0 }.count + b.attnProjBias.scalars.filter { $0 != 0 }.count, 0)
    XCTAssertGreaterThan(Self.parallel.model.weights.blocks[0].attnBias.scalars.filter { $0 != 0 }.count, 0)
  }

  /// What a config.json may leave out (Pythia's defaults) and what tdb refuses.
  func testConfigDefaultsAndRefusals() throws {
    let dir = scratchDirectory(), url = dir.appendingPathComponent("config.json")
    func config(_ extra: String) throws -> ModelConfig {
      try
        (#"{"hidden_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2, "vocab_size": 100, "#
        + #""max_position_embeddings": 32"# + extra + "}").write(to: url, atomically: true, encoding: .utf8)
      return try ModelConfig(url: url)
    }
    let c = try config(#", "model_type": "gpt_neox""#)
    XCTAssertEqual(c.family, .gptNeoX)
    XCTAssertEqual(c.positions, .rotary(RotaryConfig(theta: 10_000, dimensions: 4)))  // rotary_pct 0.25 of 16
    XCTAssertEqual([c.dHead, c.dMLP], [16, 256])
    XCTAssertTrue(c.parallelResidual)
    XCTAssertEqual(c.mlp, .exactGELU)
    XCTAssertEqual(try config(#", "architectures": ["GPTNeoXForCausalLM"], "hidden_act": "gelu_new""#).mlp, .gelu)
    XCTAssertThrowsError(try config(#", "model_type": "gpt_neox", "hidden_act": "relu""#)) {
      XCTAssertTrue("\($0)".contains("hidden_act \"relu\" is not supported"), "\($0)")
    }
    XCTAssertThrowsError(
      try config(#", "model_type": "gpt_neox_japanese", "architectures": ["GPTNeoXJapaneseForCausalLM"]"#)
    ) { XCTAssertTrue("\($0)".contains("'gpt_neox_japanese' is not supported"), "\($0)") }
  }

  func testResidMidIsRefusedWhenAttentionAndMLPRunInParallel() throws {
    let m = Self.parallel.model
    XCTAssertFalse(HookPoint.all(config: m.config).contains { $0.site == .residMid })
    XCTAssertTrue(HookPoint.all(config: Self.sequential.model.config).contains(.block(1, .residMid)))
    let steer = Intervention(hook: .block(0, .residMid), label: "steer") { _, _ in }
    XCTAssertThrowsError(try m.forward([1, 2, 3], options: ForwardOptions(interventions: [steer]))) { error in
      let text = "\(error)"
      XCTAssertTrue(text.contains("blocks.0.hook_resid_mid"), text)
      XCTAssertTrue(text.contains("in parallel"), text)
      XCTAssertTrue(text.contains("hook_resid_pre"), text)
    }
    XCTAssertNoThrow(try Self.sequential.model.forward([1, 2, 3], options: ForwardOptions(interventions: [steer])))
  }

  func testDLAPartsSumToTheLogitDifference() throws {
    for (model, reference) in [Self.parallel, Self.sequential] {
      let tokens = try reference.integers("p1.tokens"), metric = try reference.integers("metric")
      let logits = try model.forward(tokens, options: ForwardOptions(logits: .last)).lastLogits
      let total = logits[metric[0]] - logits[metric[1]]
      for g in [AttributionGranularity.layer, .head, .neuron] {
        let parts = try model.directLogitAttribution(
          tokens, position: -1, target: metric[0], distractor: metric[1], by: g)
        XCTAssertEqual(parts.map(\.value).reduce(0, +), total, accuracy: 1e-4, "\(model.config.parallelResidual) \(g)")
      }
    }
  }

  /// The node table of a neuron's pre-activation: with attention and MLP in
  /// parallel its own block's heads are not upstream; every total effect is
  /// a central difference, every direct effect the change when the node's
  /// write is added to resid_pre, which ln2 reads (its scale pinned).
  func testNodeTableOfANeuronWhenAttentionAndMLPRunInParallel() throws {
    let m = Self.parallel.model
    let tokens = try Self.parallel.reference.integers("p0.tokens"), T = tokens.count
    let (l, n, t) = (1, 17, T - 1)
    let table = try m.attributeNodes(tokens, metric: .neuron(layer: l, index: n, position: t))
    // Embeddings, block 0's heads and neurons; not block 1's heads.
    XCTAssertEqual(table.attributed.count, T + 4 * T * (T + 1) / 2 + m.config.dMLP * T)
    XCTAssertFalse(table.attributed.contains { $0.node.layer == 1 })

    func cache(_ points: Set<HookPoint>, _ interventions: [Intervention] = []) throws -> [HookPoint: Tensor] {
      try m.forward(
        tokens, options: ForwardOptions(cache: .points(points), interventions: interventions, logits: .none)
      )
      .cache
    }
    let pre = HookPoint.block(l, .mlpPre), scaleHook = HookPoint.block(l, .ln2Scale)
    func measure(_ i: [Intervention]) throws -> Double { Double(try cache([pre], i)[pre]![t, n]) }
    assertNear(Double(table.metricValue), try measure([]), "metric")
    let values = try cache([.block(0, .residPre), .block(0, .mlpPost), .block(0, .pattern), .block(0, .v)])
    let pin = pinning(scaleHook, to: try cache([scaleHook])[scaleHook]!)
    let base = try measure([pin])
    for node in table.attributed {
      let (hook, entries) = activationSite(node.node, tokens: T, config: m.config)
      assertNear(
        Double(node.scores.total), try scaledDerivative(measure, hook, entries), absolute: 2e-4, relative: 5e-3,
        "\(node.node) total")
      let write = writeVector(m, node.node, cache: values)
      let direct = try measure([pin, adding(.block(l, .residPre), row: node.node.position, write)]) - base
      assertNear(Double(node.scores.direct!), direct, absolute: 1e-4, relative: 2e-3, "\(node.node) direct")
    }
  }

  /// The logit difference's node table: direct effects and biases sum to it.
  func testDirectEffectsAndBiasesSumToTheLogitDifference() throws {
    for (model, reference) in [Self.parallel, Self.sequential] {
      let tokens = try reference.integers("p1.tokens"), metric = try reference.integers("metric")
      let table = try model.attributeNodes(
        tokens, metric: .logitDifference(position: -1, target: metric[0], distractor: metric[1]))
      let dla = try model.directLogitAttribution(
        tokens, position: -1, target: metric[0], distractor: metric[1], by: .neuron)
      let heads = try model.directLogitAttribution(
        tokens, position: -1, target: metric[0], distractor: metric[1], by: .head)
      let biases =
        (dla.filter { ["mlp_bias", "ln_final_bias"].contains($0.kind) } + heads.filter { $0.kind == "attn_bias" })
        .map { Double($0.value) }.reduce(0, +)
      let direct = table.attributed.compactMap(\.scores.direct).map(Double.init).reduce(0, +)
      XCTAssertEqual(direct + biases, Double(table.metricValue), accuracy: 1e-3, "\(model.config.parallelResidual)")
    }
  }

  /// Metrics that read every position (the loss) or one log-probability,
  /// against central differences of the forward pass, at hooks on both
  /// parallel branches and where they meet.
  func testGradientsOfOtherMetricsAgainstFiniteDifferences() throws {
    let (m, reference) = Self.parallel
    let tokens = try reference.integers("p1.tokens")
    let hooks: [HookPoint] = [
      HookPoint(.embed), .block(0, .residPre), .block(0, .ln2Scale), .block(0, .mlpPre), .block(0, .rotK),
      .block(1, .ln1Scale), .block(1, .k), .block(1, .pattern), .block(1, .attnOut), .block(1, .mlpOut),
      .block(1, .residPost), HookPoint(.lnFinalScale),
    ]
    try checkDirectionalDerivatives(tokens, .loss, hooks: hooks, model: m)
    try checkDirectionalDerivatives(tokens, .logProbability(position: -2, token: 7), hooks: hooks, seed: 2, model: m)
  }

  func testExactGELUAndItsDerivative() {
    let xs: [Float] = [-6, -3, -1.5, -0.7, -0.1, 0, 0.05, 0.5, 1, 2.5, 4, 9]
    var out = [Float](repeating: 0, count: xs.count), grad = out
    let ones = [Float](repeating: 1, count: xs.count)
    exactGELUForward(&out, xs, count: xs.count)
    exactGELUBackward(&grad, xs, ones, count: xs.count)
    func gelu(_ x: Double) -> Double { 0.5 * x * (1 + erf(x / 2.0.squareRoot())) }
    for (i, x) in xs.enumerated() {
      XCTAssertEqual(Double(out[i]), gelu(Double(x)), accuracy: 1e-6 * max(1, abs(Double(x))), "gelu(\(x))")
      let h = 1e-5, fd = (gelu(Double(x) + h) - gelu(Double(x) - h)) / (2 * h)
      XCTAssertEqual(Double(grad[i]), fd, accuracy: 1e-6, "gelu'(\(x))")
    }
  }
}
