import XCTest

@testable import Engine

/// Node tables for a node's own pre-activation (tracing a circuit upstream),
/// checked against direct computations: central differences in each node's
/// activation for total effects, and the exact change of the traced value
/// when a node's write is added where it is read (LayerNorm scale pinned)
/// for direct effects.
final class TraceTests: XCTestCase {
  let tokens = [1, 4, 2, 7, 3, 9]
  let model = tinyModel()

  func cache(_ points: Set<HookPoint>, _ interventions: [Intervention] = []) throws -> [HookPoint: Tensor] {
    try model.forward(
      tokens, options: ForwardOptions(cache: .points(points), interventions: interventions, logits: .none)
    ).cache
  }

  /// Every node of `table`: total effect by central differences of `measure`
  /// with `held` held, direct effect as the change when its write is added at
  /// `readHook` (row = its own position) with `held` and the read's
  /// LayerNorm `scale` pinned.
  func check(
    _ table: NodeAttribution, measure: ([Intervention]) throws -> Double, readHook: HookPoint,
    held: [Intervention] = [],
    scale: Intervention, readRows: Set<Int>, file: StaticString = #filePath, line: UInt = #line
  ) throws {
    let T = tokens.count, L = model.config.layers
    var points: Set<HookPoint> = [.block(0, .residPre)]
    for l in 0..<L { points.formUnion([.block(l, .mlpPost), .block(l, .pattern), .block(l, .v)]) }
    let values = try cache(points)
    assertNear(Double(table.metricValue), try measure([]), "metric", file: file, line: line)
    let pins = held + [scale]
    let base = try measure(pins)
    for n in table.attributed {
      let (hook, entries) = activationSite(n.node, tokens: T, config: model.config)
      let total = try scaledDerivative({ try measure(held + $0) }, hook, entries)
      assertNear(
        Double(n.scores.total), total, absolute: 2e-4, relative: 5e-3, "\(n.node) total", file: file, line: line)
      let direct =
        try measure(pins + [adding(readHook, row: n.node.position, writeVector(model, n.node, cache: values))]) - base
      assertNear(
        Double(n.scores.direct!), direct, absolute: 1e-4, relative: 2e-3, "\(n.node) direct", file: file, line: line)
      if !readRows.contains(n.node.position) { XCTAssertEqual(n.scores.direct, 0, "\(n.node)", file: file, line: line) }
    }
  }

  func testNeuronPreActivation() throws {
    let (l, n, t) = (1, 11, 4)
    let table = try model.attributeNodes(tokens, metric: .neuron(layer: l, index: n, position: t))
    // Upstream: embeddings, block 0's heads and neurons, block 1's heads.
    let T = tokens.count
    XCTAssertEqual(table.attributed.count, T + 2 * 2 * T * (T + 1) / 2 + 16 * T)
    XCTAssertFalse(table.attributed.contains { $0.node.kind == .neuron && $0.node.layer == 1 })
    let pre = HookPoint.block(l, .mlpPre)
    let scale = try cache([.block(l, .ln2Scale)])[.block(l, .ln2Scale)]!
    try check(
      table, measure: { Double(try self.cache([pre], $0)[pre]![t, n]) }, readHook: .block(l, .residMid),
      scale: pinning(.block(l, .ln2Scale), to: scale), readRows: [t])
  }

  func testAttentionScoreThroughEachSide() throws {
    let (l, h, q, k) = (1, 1, 5, 2)
    let scores = HookPoint.block(l, .attnScores)
    let clean = try cache([.block(l, .ln1Scale), .block(l, .q), .block(l, .k)])
    let pinScale = pinning(.block(l, .ln1Scale), to: clean[.block(l, .ln1Scale)]!)
    func measure(_ i: [Intervention]) throws -> Double { Double(try cache([scores], i)[scores]![h, q, k]) }
    for side in AttentionSide.allCases {
      let table = try model.attributeNodes(
        tokens, metric: .attentionScore(layer: l, head: h, query: q, key: k, through: side))
      XCTAssertFalse(table.attributed.contains { $0.node.layer == 1 }, "block 1 is not upstream of its own scores")
      // The other side is held at its clean value.
      let held: [Intervention] =
        switch side {
        case .query: [pinning(.block(l, .k), to: clean[.block(l, .k)]!)]
        case .key: [pinning(.block(l, .q), to: clean[.block(l, .q)]!)]
        case .both: []
        }
      let rows: Set<Int> = side == .query ? [q] : side == .key ? [k] : [q, k]
      try check(table, measure: measure, readHook: .block(l, .residPre), held: held, scale: pinScale, readRows: rows)
    }
    // Both sides together are the sum of each side (to first order, exactly for act × grad).
    let parts = try AttentionSide.allCases.map {
      try model.attributeNodes(tokens, metric: .attentionScore(layer: l, head: h, query: q, key: k, through: $0))
        .attributed.map(\.scores.total)
    }
    for i in parts[0].indices {
      assertNear(Double(parts[0][i] + parts[1][i]), Double(parts[2][i]), absolute: 1e-5, relative: 1e-4, "node \(i)")
    }
    XCTAssertThrowsError(
      try model.attributeNodes(tokens, metric: .attentionScore(layer: l, head: h, query: 2, key: 4, through: .both))
    ) {
      XCTAssertEqual(
        "\($0)", "key position 4 comes after query position 2; a head attends only to earlier tokens (key ≤ query)")
    }
  }

  /// Through the value side: the pair's write on the direction of interest,
  /// pattern held; its value is the pair's direct effect on the logit difference.
  func testHeadWriteThroughTheValueSide() throws {
    let (l, h, q, k) = (1, 0, 5, 2)
    let (target, distractor) = (5, 2)
    let C = 8, D = 4
    let clean = try cache([.block(l, .pattern), .block(l, .ln1Scale), HookPoint(.lnFinalScale)])
    let w = model.weights
    // The direction of interest at the query, by hand: centre(u ⊙ w_lnf) / s.
    let u = (0..<C).map { Double(w.lnfWeight[$0] * (w.wte[target, $0] - w.wte[distractor, $0])) }
    let mean = u.reduce(0, +) / Double(C)
    let d = u.map { ($0 - mean) / Double(clean[HookPoint(.lnFinalScale)]![q, 0]) }
    let weight = Double(clean[.block(l, .pattern)]![h, q, k])
    let v = HookPoint.block(l, .v)
    func measure(_ i: [Intervention]) throws -> Double {
      let vk = try cache([v], i)[v]!
      var s = 0.0
      for j in 0..<D {
        for c in 0..<C { s += Double(vk[k, h, j]) * Double(w.blocks[l].attnProjWeight[h * D + j, c]) * d[c] }
      }
      return weight * s
    }
    let table = try model.attributeNodes(
      tokens, metric: .headWrite(layer: l, head: h, query: q, key: k, target: target, distractor: distractor))
    try check(
      table, measure: measure, readHook: .block(l, .residPre),
      held: [pinning(.block(l, .pattern), to: clean[.block(l, .pattern)]!)],
      scale: pinning(.block(l, .ln1Scale), to: clean[.block(l, .ln1Scale)]!),
      readRows: [k])
    let pair = try model.attributeNodes(
      tokens, metric: .logitDifference(position: q, target: target, distractor: distractor), kinds: [.head]
    )
    .attributed.first { $0.node == Node(kind: .head, layer: l, index: h, position: q, key: k) }!
    assertNear(
      Double(table.metricValue), Double(pair.scores.direct!), absolute: 1e-5, relative: 1e-4, "the pair's direct effect"
    )
  }

  let ioi = [2215, 5335, 290, 1757, 1816, 284, 262, 3650, 11, 1757, 2921, 257, 4144, 284]

  /// A latent of the resid_pre SAE on the demo model: the top upstream nodes
  /// against central differences of the latent's activation (SAE spliced
  /// with its error term), direct effects exact through the encoder.
  func testLatentOnTheDemoModel() throws {
    let T = ioi.count, t = T - 1
    let splice = SAESplice(residSAE, keepError: true)
    let acts = HookPoint(residSAE.hook.site, layer: 3, sae: .actsPost)
    let clean = try demoModel.forward(
      ioi, options: ForwardOptions(cache: .points([acts]), saes: [splice], logits: .none)
    ).cache[acts]!
    let f = (0..<residSAE.dSAE).max { clean[t, $0] < clean[t, $1] }!
    func measure(_ i: [Intervention]) throws -> Double {
      Double(
        try demoModel.forward(
          ioi, options: ForwardOptions(cache: .points([acts]), interventions: i, saes: [splice], logits: .none)
        ).cache[acts]![t, f])
    }
    let table = try demoModel.attributeNodes(
      ioi, metric: .latent(residSAE, index: f, position: -1), saes: [residSAE, mlpSAE])
    XCTAssertEqual(Double(table.metricValue), Double(clean[t, f]), accuracy: 1e-4)
    XCTAssertFalse(
      table.attributed.contains { $0.node.kind == .latent },
      "its own SAE's latents are parallel, the MLP SAE's downstream")
    XCTAssertFalse(table.attributed.contains { ($0.node.layer ?? 0) >= 3 })
    var points: Set<HookPoint> = [.block(0, .residPre)]
    for l in 0..<3 { points.formUnion([.block(l, .mlpPost), .block(l, .pattern), .block(l, .v)]) }
    let values = try demoModel.forward(ioi, options: ForwardOptions(cache: .points(points), logits: .none)).cache
    let base = try measure([])
    for kind in [NodeKind.neuron, .head, .embedding] {
      for n in table.attributed.filter({ $0.node.kind == kind }).sorted(by: {
        abs($0.scores.total) > abs($1.scores.total)
      }).prefix(3) {
        let (hook, entries) = activationSite(n.node, tokens: T, config: demoModel.config)
        assertNear(
          Double(n.scores.total), try scaledDerivative(measure, hook, entries), absolute: 1e-3, relative: 2e-2,
          "\(n.node) total")
        let direct =
          try measure([
            adding(.block(3, .residPre), row: n.node.position, writeVector(demoModel, n.node, cache: values))
          ]) - base
        assertNear(Double(n.scores.direct!), direct, absolute: 1e-3, relative: 1e-2, "\(n.node) direct")
      }
    }
    // An inactive latent has no gradient.
    let off = (0..<residSAE.dSAE).first { clean[t, $0] == 0 }!
    XCTAssertThrowsError(try demoModel.attributeNodes(ioi, metric: .latent(residSAE, index: off, position: -1))) {
      XCTAssertTrue("\($0)".contains("is not active at position 13"), "\($0)")
    }
  }

  /// A latent of the mlp_post SAE reads block 3's neurons directly: their
  /// direct effect is their total effect, and nothing else writes there.
  func testMLPLatentReadsItsNeurons() throws {
    let T = ioi.count, t = T - 1
    let acts = HookPoint(mlpSAE.hook.site, layer: 3, sae: .actsPost)
    let a = try demoModel.forward(
      ioi, options: ForwardOptions(cache: .points([acts]), saes: [SAESplice(mlpSAE, keepError: true)], logits: .none)
    ).cache[acts]!
    let f = (0..<mlpSAE.dSAE).max { a[t, $0] < a[t, $1] }!
    let table = try demoModel.attributeNodes(
      ioi, metric: .latent(mlpSAE, index: f, position: t), saes: [residSAE, mlpSAE])
    XCTAssertTrue(table.attributed.contains { $0.node.sae == residSAE.name }, "the resid_pre SAE is upstream")
    for n in table.attributed {
      if n.node.kind == .neuron && n.node.layer == 3 {
        XCTAssertEqual(n.scores.direct, n.node.position == t ? n.scores.total : 0, "\(n.node)")
      } else {
        XCTAssertEqual(n.scores.direct, 0, "\(n.node)")
      }
    }
  }
}
