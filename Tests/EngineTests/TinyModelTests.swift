import XCTest

@testable import Engine

/// Random-weight models of every family, made and measured by Hugging Face
/// transformers (scripts/make-tiny-models.py): every hook value, the logits
/// and the gradients of a logit difference, on three prompts each.
final class TinyModelTests: XCTestCase {
  static let families = [
    "gpt2", "llama", "llama3", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3", "neox", "neox-seq",
  ]

  func model(_ name: String) throws -> (TransformerModel, SafeTensorsFile) { try hfTinyModel(name) }

  func testConfigurationsAreRead() throws {
    let expected: [String: (ModelFamily, Int, Int, Int, Bool)] = [
      "gpt2": (.gpt2, 4, 4, 8, true), "llama": (.llama, 4, 2, 8, false), "llama3": (.llama, 4, 4, 8, true),
      "mistral": (.mistral, 4, 1, 8, true), "qwen2": (.qwen2, 4, 2, 8, true), "qwen3": (.qwen3, 4, 2, 16, false),
      "gemma": (.gemma, 4, 1, 8, true), "gemma2": (.gemma2, 4, 2, 8, true), "gemma3": (.gemma3, 4, 2, 16, true),
      "neox": (.gptNeoX, 4, 4, 8, false), "neox-seq": (.gptNeoX, 4, 4, 8, false),
    ]
    for name in Self.families {
      let (m, _) = try model(name)
      let (family, heads, kv, dHead, tied) = expected[name]!
      XCTAssertEqual(m.config.family, family, name)
      XCTAssertEqual([m.config.heads, m.config.kvHeads, m.config.dHead], [heads, kv, dHead], name)
      XCTAssertEqual(m.config.tiedEmbeddings || family == .gpt2, tied, name)
    }
    let (llama3, _) = try model("llama3")
    guard case .rotary(let r) = llama3.config.positions, case .llama3(let factor, _, _, let original) = r.scaling else {
      return XCTFail("llama3 rope scaling not read")
    }
    XCTAssertEqual(factor, 8)
    XCTAssertEqual(original, 16)
    let (gemma2, _) = try model("gemma2"), (gemma3, _) = try model("gemma3")
    XCTAssertEqual(gemma2.config.attentionWindows, [4, nil])
    XCTAssertEqual(gemma2.config.attentionSoftcap, 2)
    XCTAssertEqual(gemma2.config.finalSoftcap, 5)
    XCTAssertEqual(gemma2.config.attentionScale, 1 / Float(12).squareRoot())
    XCTAssertEqual(gemma3.config.attentionWindows, [4, nil])
    XCTAssertEqual(
      gemma3.config.positions, .rotary(RotaryConfig(theta: 1e6, dimensions: 16, scaling: .linear(factor: 2))))
    XCTAssertEqual(gemma3.config.localPositions, .rotary(RotaryConfig(theta: 1e4, dimensions: 16)))
  }

  func testEveryHookValueAndLogitsMatchTransformers() throws {
    for name in Self.families {
      let (m, ref) = try model(name)
      let columns = try ref.integers("logit_columns")
      for k in 0..<3 {
        let tokens = try ref.integers("p\(k).tokens")
        let r = try m.forward(tokens, options: ForwardOptions(cache: .all))
        assertClose(
          logitColumns(r.logits, columns), try ref.tensor("p\(k).logits"), tolerance: 1e-4, "\(name) p\(k) logits")
        var checked = 0
        for key in ref.names where key.hasPrefix("p\(k).") && !key.hasPrefix("p\(k).grad.") {
          let hookName = String(key.dropFirst("p\(k).".count))
          guard let point = HookPoint(name: hookName) else { continue }
          let mine = try XCTUnwrap(r.cache[point], "\(name): no \(hookName)")
          assertClose(mine, try ref.tensor(key), tolerance: 1e-4, "\(name) p\(k) \(hookName)")
          checked += 1
        }
        XCTAssertEqual(checked, HookPoint.all(config: m.config).count, "\(name): every hook point checked")
      }
    }
  }

  func testGradientsOfALogitDifferenceMatchAutograd() throws {
    for name in Self.families {
      let (m, ref) = try model(name)
      let metric = try ref.integers("metric")
      for k in 0..<3 {
        let tokens = try ref.integers("p\(k).tokens")
        let r = try m.gradients(
          tokens, metric: .logitDifference(position: -1, target: metric[0], distractor: metric[1]))
        var checked = 0
        for key in ref.names where key.hasPrefix("p\(k).grad.") {
          let hookName = String(key.dropFirst("p\(k).grad.".count))
          let point = try XCTUnwrap(HookPoint(name: hookName), hookName)
          let mine = try XCTUnwrap(r.gradients[point], "\(name): no gradient for \(hookName)")
          assertClose(mine, try ref.tensor(key), tolerance: 1e-3, "\(name) p\(k) grad \(hookName)")
          checked += 1
        }
        XCTAssertEqual(checked, HookPoint.all(config: m.config).count, "\(name): every gradient checked")
      }
    }
  }

  /// With nothing asked of the last block, the gradient's forward pass runs
  /// that block's MLP at the last position only (`readsLastBlockAtLastPositionOnly`),
  /// for a logit difference and for the seed at ln_final's output that `grad`
  /// states it as; every gradient below the block still matches autograd.
  func testGradientsBelowALastBlockRunOnOneRowMatchAutograd() throws {
    for name in Self.families {
      let (m, ref) = try model(name)
      let ids = try ref.integers("metric")
      let below = HookPoint.all(config: m.config).filter { p in
        p.layer.map { $0 < m.config.layers - 1 } ?? (p.site == .embed || p.site == .posEmbed)
      }
      for k in 0..<3 {
        let tokens = try ref.integers("p\(k).tokens"), T = tokens.count
        var metrics: [Metric] = [.logitDifference(position: -1, target: ids[0], distractor: ids[1])]
        if m.config.finalSoftcap == nil {
          metrics.append(
            try LogitCombination.logitDifference(position: -1, target: ids[0], distractor: ids[1]).metric(
              model: m, tokens: T))
        }
        for metric in metrics {
          let resolved = try ResolvedMetric(
            metric, tokens: T, vocab: m.config.vocabSize, shape: { $0.shape(config: m.config, tokens: T) })
          var forward = ForwardOptions()
          forward.logits = .none
          let backward = BackwardOptions(wanted: .points(Set(below)))
          XCTAssertTrue(
            m.readsLastBlockAtLastPositionOnly(resolved, tokens: T, forward: forward, backward: backward, saeAt: [:]),
            "\(name) \(metric)")
          let r = try m.gradients(tokens, metric: metric, forward: forward, backward: backward)
          XCTAssertEqual(r.gradients.count, below.count, name)
          for point in below {
            let mine = try XCTUnwrap(r.gradients[point], "\(name): no gradient for \(point)")
            assertClose(
              mine, try ref.tensor("p\(k).grad.\(point.name)"), tolerance: 1e-3, "\(name) p\(k) grad \(point)")
          }
        }
      }
    }
  }

  func testTheLastBlockRunsWholeWhenAnythingThereIsAsked() throws {
    let (m, ref) = try model("llama")
    let tokens = try ref.integers("p0.tokens"), T = tokens.count, last = m.config.layers - 1
    let ids = try ref.integers("metric")
    func engaged(
      _ metric: Metric = .logitDifference(position: -1, target: 0, distractor: 1), logits: LogitsRequest = .none,
      cache: CacheRequest = .none, interventions: [Intervention] = [],
      wanted: CacheRequest = .points([.block(0, .residPre)])
    ) throws -> Bool {
      let resolved = try ResolvedMetric(
        metric, tokens: T, vocab: m.config.vocabSize, shape: { $0.shape(config: m.config, tokens: T) })
      var forward = ForwardOptions(cache: cache, interventions: interventions)
      forward.logits = logits
      return m.readsLastBlockAtLastPositionOnly(
        resolved, tokens: T, forward: forward, backward: BackwardOptions(wanted: wanted), saeAt: [:])
    }
    XCTAssertTrue(try engaged())
    XCTAssertTrue(try engaged(logits: .last))
    XCTAssertFalse(try engaged(logits: .all))
    XCTAssertFalse(try engaged(wanted: .all))
    XCTAssertFalse(try engaged(wanted: .points([.block(last, .mlpPost)])))
    XCTAssertFalse(try engaged(cache: .points([HookPoint(.lnFinalScale)])))
    XCTAssertFalse(try engaged(interventions: [Intervention(hook: .block(last, .residMid), label: "x") { _, _ in }]))
    XCTAssertFalse(try engaged(.logitDifference(position: -2, target: ids[0], distractor: ids[1])))
    XCTAssertFalse(try engaged(.loss))
    let earlier = try LogitCombination.logitDifference(position: -2, target: ids[0], distractor: ids[1])
    XCTAssertTrue(
      try engaged(
        try LogitCombination.logitDifference(position: -1, target: 0, distractor: 1).metric(model: m, tokens: T)))
    XCTAssertFalse(try engaged(try earlier.metric(model: m, tokens: T)))
    // Below the last block an intervention changes nothing of this.
    XCTAssertTrue(try engaged(interventions: [Intervention(hook: .block(0, .mlpPost), label: "x") { _, _ in }]))
  }

  func testAHeadAblatedAtTheLastPositionMatchesPyTorch() throws {
    for name in Self.families {
      let (m, ref) = try model(name)
      let metric = try ref.integers("metric")
      for k in 0..<3 {
        let tokens = try ref.integers("p\(k).tokens")
        let D = m.config.dHead, H = m.config.heads
        let ablate = Intervention(hook: .block(1, .z), label: "ablate L1H1 --pos -1", rows: .local([-1])) { z, T in
          let p = z.mutablePointer() + ((T - 1) * H + 1) * D
          for i in 0..<D { p[i] = 0 }
        }
        let r = try m.forward(tokens, options: ForwardOptions(interventions: [ablate], logits: .last))
        let diff = r.logits.pointer[metric[0]] - r.logits.pointer[metric[1]]
        let expected = try ref.tensor("p\(k).ablated_logitdiff").scalars[0]
        XCTAssertEqual(diff, expected, accuracy: 1e-4 * max(1, abs(expected)), "\(name) p\(k)")
      }
    }
  }

  func testResumedPassesEqualWholePassesOnRotaryModels() throws {
    for name in ["llama", "qwen3", "gemma2", "gemma3", "neox"] {
      let (m, ref) = try model(name)
      let tokens = try ref.integers("p2.tokens")
      var keep = ForwardOptions()
      keep.keepCheckpoint = true
      let base = try m.forward(tokens, options: keep)
      let steer = Intervention(hook: .block(1, .residPre), label: "steer", rows: .local([-1])) { x, T in
        let p = x.mutablePointer() + (T - 1) * m.config.dModel
        p[0] += 1
      }
      let whole = try m.forward(tokens, options: ForwardOptions(interventions: [steer]))
      var resumed = ForwardOptions(interventions: [steer])
      resumed.resume = ResumePoint(checkpoint: base.checkpoint!, position: tokens.count - 1, layer: 1)
      let part = try m.forward(tokens, options: resumed)
      assertClose(part.lastLogits, whole.lastLogits, tolerance: 1e-5, "\(name) resumed")
      // And a prompt that only shares a prefix (positions continue the rotation).
      var prefix = ForwardOptions()
      prefix.resume = ResumePoint(checkpoint: base.checkpoint!, position: 10, layer: nil)
      let longer = tokens + [tokens[3]]
      assertClose(
        try m.forward(longer, options: prefix).lastLogits, try m.forward(longer).lastLogits, tolerance: 1e-5,
        "\(name) resumed on a longer prompt")
    }
  }

  /// Asking for the last position's logits only computes the last block at
  /// that position alone (past its keys and values): the same logits as the
  /// whole pass, on every family (parallel residual, post-norms, q/k norms),
  /// resumed too, and with a hook in the last block (which computes it whole).
  func testLastLogitsOnlyEqualTheWholePassesLastRow() throws {
    for name in Self.families {
      let (m, ref) = try model(name)
      let tokens = try ref.integers("p2.tokens")
      let whole = try m.forward(tokens)
      let last = try m.forward(tokens, options: ForwardOptions(logits: .last))
      XCTAssertEqual(last.logits.shape, [1, m.config.vocabSize])
      assertClose(last.lastLogits, whole.lastLogits, tolerance: 1e-5, "\(name) last only")
      let L = m.config.layers
      let hooked = try m.forward(
        tokens, options: ForwardOptions(cache: .points([.block(L - 1, .mlpPost)]), logits: .last))
      XCTAssertEqual(hooked.cache[.block(L - 1, .mlpPost)]?.shape[0], tokens.count, "\(name) hooked block is whole")
      assertClose(hooked.lastLogits, whole.lastLogits, tolerance: 1e-5, "\(name) hooked")
      var keep = ForwardOptions()
      keep.keepCheckpoint = true
      let base = try m.forward(tokens, options: keep)
      var resumed = ForwardOptions(logits: .last)
      resumed.resume = ResumePoint(checkpoint: base.checkpoint!, position: tokens.count - 3, layer: nil)
      assertClose(
        try m.forward(tokens, options: resumed).lastLogits, whole.lastLogits, tolerance: 1e-5, "\(name) resumed")
    }
  }

  /// Which layers slide: every layer of Mistral; Qwen2's from max_window_layers
  /// on (or as layer_types says); none without use_sliding_window.
  func testSlidingWindowLayersFromConfig() throws {
    func windows(_ json: String) throws -> [Int?] {
      let url = scratchDirectory().appendingPathComponent("config.json")
      try json.write(to: url, atomically: true, encoding: .utf8)
      return try ModelConfig(url: url).attentionWindows
    }
    let sizes =
      #""num_hidden_layers": 4, "hidden_size": 32, "num_attention_heads": 4, "intermediate_size": 64, "max_position_embeddings": 64, "vocab_size": 100"#
    XCTAssertEqual(try windows(#"{"model_type": "mistral", "sliding_window": 8, "# + sizes + "}"), [8, 8, 8, 8])
    XCTAssertEqual(
      try windows(
        #"{"model_type": "qwen2", "use_sliding_window": true, "sliding_window": 8, "max_window_layers": 2, "#
          + sizes + "}"), [nil, nil, 8, 8])
    XCTAssertEqual(
      try windows(
        #"{"model_type": "qwen2", "use_sliding_window": true, "sliding_window": 8, "layer_types": ["sliding_attention", "full_attention", "full_attention", "sliding_attention"], "#
          + sizes + "}"), [8, nil, nil, 8])
    XCTAssertEqual(
      try windows(#"{"model_type": "qwen2", "use_sliding_window": false, "sliding_window": 8, "# + sizes + "}"),
      [nil, nil, nil, nil])
  }

  func testUnsupportedArchitectureIsOneLineNamingIt() throws {
    let dir = scratchDirectory()
    try #"{"model_type": "mamba", "architectures": ["MambaForCausalLM"]}"#.write(
      to: dir.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
    XCTAssertThrowsError(try ModelConfig(url: dir.appendingPathComponent("config.json"))) { error in
      let text = "\(error)"
      XCTAssertTrue(text.contains("'mamba' is not supported"), text)
      XCTAssertTrue(text.contains("llama, mistral, qwen2, qwen3, gemma, gemma2, gemma3, gpt_neox"), text)
      XCTAssertFalse(text.contains("\n"))
    }
  }
}
