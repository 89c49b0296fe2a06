import XCTest

@testable import Engine

/// TDB's four metrics, checked on hand-built models where they can be
/// computed directly, and on the demo model against DLA and real ablations.
final class NodeAttributionTests: XCTestCase {
  let tokens = [1, 4, 2, 7, 3, 9]
  let (target, distractor) = (5, 2)

  /// With every block weight zero the final residual stream is just the
  /// embeddings: the last token's embedding directly makes the whole logit
  /// difference, but its total effect is ~0 (LayerNorm undoes any scaling of
  /// the only thing in the stream), and no head or neuron writes anything.
  func testEmptyNetworkByHand() throws {
    let model = tinyModel(seed: 3, zeroBlocks: true)
    let table = try model.attributeNodes(
      tokens, metric: .logitDifference(position: -1, target: target, distractor: distractor))
    let T = tokens.count, C = 8
    let w = model.weights, wpe = model.weights.wpe!
    // By hand: x = wte[token] + wpe[pos]; logit diff = ((x - mean) / s · w_lnf) · (wte[a] - wte[b]).
    let x = (0..<C).map { Double(w.wte[tokens[T - 1], $0] + wpe[T - 1, $0]) }
    let mean = x.reduce(0, +) / Double(C)
    let s = (x.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(C) + 1e-5).squareRoot()
    let diff = (0..<C).reduce(0.0) { acc, i in
      acc + (x[i] - mean) / s * Double(w.lnfWeight[i]) * Double(w.wte[target, i] - w.wte[distractor, i])
    }
    assertNear(Double(table.metricValue), diff, "logit difference")
    XCTAssertEqual(table.attributed.count, T + 2 * 2 * T * (T + 1) / 2 + 2 * 16 * T)
    for n in table.attributed {
      switch n.node.kind {
      case .embedding:
        let t = n.node.position
        let xt = (0..<C).map { w.wte[tokens[t], $0] + wpe[t, $0] }
        assertNear(Double(n.scores.activation), norm(xt), "embedding \(t) norm")
        XCTAssertEqual(n.scores.write, n.scores.activation)
        if t == T - 1 {
          assertNear(Double(n.scores.direct!), diff, "the last embedding's direct effect is the logit difference")
          XCTAssertLessThan(abs(Double(n.scores.total)), 1e-3 * abs(diff), "LayerNorm is scale invariant")
        } else {
          XCTAssertEqual(n.scores.direct, 0)
          XCTAssertEqual(n.scores.total, 0)
        }
      case .head, .neuron:
        XCTAssertEqual(n.scores.write, 0, "\(n.node)")
        XCTAssertEqual(n.scores.direct, 0, "\(n.node)")
        XCTAssertEqual(n.scores.total, 0, "\(n.node)")
      case .latent:
        XCTFail("no SAE was given")
      }
    }
  }

  /// A random two-layer model, every node: activation and write from the
  /// cache, the direct effect as the exact change of the logit difference
  /// when the node's write is added to the final residual stream with
  /// ln_final's scale pinned, the total effect by central differences in
  /// the node's activation.
  func testEveryNodeOfATinyModel() throws {
    let model = tinyModel()
    let c = model.config, T = tokens.count, L = c.layers
    let table = try model.attributeNodes(
      tokens, metric: .logitDifference(position: -1, target: target, distractor: distractor))
    var points: Set<HookPoint> = [.block(0, .residPre), HookPoint(.lnFinalScale)]
    for l in 0..<L { points.formUnion([.block(l, .mlpPost), .block(l, .pattern), .block(l, .v)]) }
    let cache = try model.forward(tokens, options: ForwardOptions(cache: .points(points))).cache
    func measure(_ i: [Intervention]) throws -> Double {
      try logitDifference(model, tokens, i, position: -1, target: target, distractor: distractor)
    }
    let clean = try measure([])
    assertNear(Double(table.metricValue), clean, "metric")
    let pinScale = pinning(HookPoint(.lnFinalScale), to: cache[HookPoint(.lnFinalScale)]!)
    let pinnedClean = try measure([pinScale])
    XCTAssertEqual(table.attributed.count, T + L * c.heads * T * (T + 1) / 2 + L * c.dMLP * T)
    for n in table.attributed {
      let node = n.node
      let (hook, entries) = activationSite(node, tokens: T, config: c)
      let write = writeVector(model, node, cache: cache)
      // Activation and write magnitude.
      let activation = node.kind == .embedding ? Float(norm(write)) : cache[hook]![flat: entries[0]]
      assertNear(Double(n.scores.activation), Double(activation), absolute: 1e-6, relative: 1e-5, "\(node) activation")
      assertNear(Double(n.scores.write!), norm(write), absolute: 1e-5, relative: 1e-4, "\(node) write")
      // Direct effect: exact, since with the scale pinned the logits are affine in the stream.
      let direct = try measure([adding(.block(L - 1, .residPost), row: node.position, write), pinScale]) - pinnedClean
      assertNear(Double(n.scores.direct!), direct, absolute: 1e-4, relative: 1e-3, "\(node) direct")
      if node.position != T - 1 { XCTAssertEqual(n.scores.direct, 0, "\(node) is not at the metric's position") }
      // Total effect: activation × gradient = d metric / d log(activation).
      let total = try scaledDerivative(measure, hook, entries)
      assertNear(Double(n.scores.total), total, absolute: 2e-4, relative: 5e-3, "\(node) total")
    }
    // The nodes' direct effects at the last position and the biases make up the logit difference.
    let biases = try biasTerms(model, tokens, position: -1, target: target, distractor: distractor)
    let directSum = table.attributed.compactMap(\.scores.direct).map(Double.init).reduce(0, +)
    assertNear(directSum + biases, clean, absolute: 1e-4, relative: 1e-4, "direct effects + biases")
  }

  let ioi = [2215, 5335, 290, 1757, 1816, 284, 262, 3650, 11, 1757, 2921, 257, 4144, 284]
  let (mary, john) = (5335, 1757)

  /// On the demo model: direct effects regroup into DLA by head and by
  /// neuron and, with the biases, sum to the logit difference.
  func testDirectEffectsAreTheDLAOnTheDemoModel() throws {
    let table = try demoModel.attributeNodes(
      ioi, metric: .logitDifference(position: -1, target: mary, distractor: john))
    XCTAssertEqual(Double(table.metricValue), 12.2629, accuracy: 1e-3)
    let byHead = try demoModel.directLogitAttribution(ioi, position: -1, target: mary, distractor: john, by: .head)
    let byNeuron = try demoModel.directLogitAttribution(ioi, position: -1, target: mary, distractor: john, by: .neuron)
    var headSums: [String: Double] = [:], neuronDirect: [String: Double] = [:]
    var embeddings: Double = 0
    for n in table.attributed {
      switch n.node.kind {
      case .head: headSums[n.node.component!.description, default: 0] += Double(n.scores.direct!)
      case .neuron where n.node.position == ioi.count - 1:
        neuronDirect[n.node.component!.description] = Double(n.scores.direct!)
      case .embedding: embeddings += Double(n.scores.direct!)
      default: XCTAssertEqual(n.scores.direct, 0, "\(n.node)")
      }
    }
    for a in byHead where a.kind == "head" {
      assertNear(headSums[a.name]!, Double(a.value), absolute: 1e-4, relative: 1e-3, a.name)
    }
    for a in byNeuron where a.kind == "neuron" {
      assertNear(neuronDirect[a.name]!, Double(a.value), absolute: 1e-5, relative: 1e-3, a.name)
    }
    let dlaEmbed = byHead.filter { $0.kind == "embed" || $0.kind == "pos_embed" }.map { Double($0.value) }.reduce(0, +)
    assertNear(embeddings, dlaEmbed, absolute: 1e-4, relative: 1e-3, "embeddings")
    let biases = try biasTerms(demoModel, ioi, position: -1, target: mary, distractor: john)
    let sum = table.attributed.compactMap(\.scores.direct).map(Double.init).reduce(0, +)
    XCTAssertEqual(sum + biases, Double(table.metricValue), accuracy: 2e-3)
  }

  /// The estimated total effect predicts the direction of real zero-ablations
  /// of the top neurons and head pairs (an ablation removes ≈ the total effect).
  func testTotalEffectPredictsAblationsOnTheDemoModel() throws {
    let table = try demoModel.attributeNodes(
      ioi, metric: .logitDifference(position: -1, target: mary, distractor: john), kinds: [.neuron, .head])
    let T = ioi.count
    func measure(_ i: [Intervention]) throws -> Double {
      try logitDifference(demoModel, ioi, i, position: -1, target: mary, distractor: john)
    }
    let clean = try measure([])
    for kind in [NodeKind.neuron, .head] {
      let top = table.attributed.filter { $0.node.kind == kind }.sorted { abs($0.scores.total) > abs($1.scores.total) }
        .prefix(4)
      for n in top {
        let (hook, entries) = activationSite(n.node, tokens: T, config: demoModel.config)
        let ablated = try measure([scaling(hook, entries, by: 0)])
        let change = ablated - clean
        XCTAssertEqual(
          change.sign, (-Double(n.scores.total)).sign,
          "\(n.node): total \(n.scores.total), ablation changes the metric by \(change)")
      }
    }
  }

  /// Latents: activations are the SAE's, the total effect is the spliced
  /// latent's act × grad, and the direct effect is exact through the decoder.
  func testLatentNodesOnTheDemoModel() throws {
    let metric = AttributionMetric.logitDifference(position: -1, target: mary, distractor: john)
    let table = try demoModel.attributeNodes(ioi, metric: metric, kinds: [.latent], saes: [residSAE, mlpSAE])
    let T = ioi.count, C = demoModel.config.dModel
    for sae in [residSAE, mlpSAE] {
      let acts = HookPoint(sae.hook.site, layer: 3, sae: .actsPost)
      let spliced = try demoModel.gradients(
        ioi, metric: .logitDifference(position: -1, target: mary, distractor: john),
        forward: ForwardOptions(
          cache: .points([acts, HookPoint(.lnFinalScale)]), saes: [SAESplice(sae, keepError: true)]))
      let a = spliced.result.cache[acts]!, g = spliced.gradients[acts]!
      let latents = table.attributed.filter { $0.node.sae == sae.name }
      XCTAssertEqual(latents.count, a.scalars.filter { $0 != 0 }.count, "one node per active latent")
      XCTAssertLessThanOrEqual(latents.count, 32 * T)
      for n in latents {
        let (t, f) = (n.node.position, n.node.index)
        assertNear(
          Double(n.scores.activation), Double(a[t, f]), absolute: 1e-5, relative: 1e-4, "\(sae.name).F\(f) activation")
        assertNear(
          Double(n.scores.total), Double(a[t, f] * g[t, f]), absolute: 1e-5, relative: 1e-3, "\(sae.name).F\(f) total")
      }
      // Direct and write for the largest few at the last token.
      let scale = spliced.result.cache[HookPoint(.lnFinalScale)]!
      let pinScale = pinning(HookPoint(.lnFinalScale), to: scale)
      func measure(_ i: [Intervention]) throws -> Double {
        try logitDifference(demoModel, ioi, i, position: -1, target: mary, distractor: john)
      }
      let pinned = try measure([pinScale])
      for n in latents.filter({ $0.node.position == T - 1 }).sorted(by: {
        abs($0.scores.direct!) > abs($1.scores.direct!)
      }).prefix(3) {
        let f = n.node.index
        var write = (0..<sae.dIn).map { n.scores.activation * sae.wDec[f, $0] }
        if sae.hook.site == .mlpPost {
          write = (0..<C).map { i in
            (0..<sae.dIn).reduce(Float(0)) { $0 + write[$1] * demoModel.weights.blocks[3].fcProjWeight[$1, i] }
          }
        }
        assertNear(Double(n.scores.write!), norm(write), absolute: 1e-4, relative: 1e-3, "\(sae.name).F\(f) write")
        let direct = try measure([adding(.block(5, .residPost), row: T - 1, write), pinScale]) - pinned
        assertNear(Double(n.scores.direct!), direct, absolute: 1e-3, relative: 2e-3, "\(sae.name).F\(f) direct")
      }
    }
  }

  /// A run that splices an SAE keeps it; two SAEs at one hook are refused.
  func testRunsSplicedSAEIsUsedAndTheSelectionIsAUnionOfExtremes() throws {
    let metric = AttributionMetric.logitDifference(position: -1, target: mary, distractor: john)
    let spliced = try demoModel.attributeNodes(
      ioi, options: ForwardOptions(saes: [SAESplice(residSAE, keepError: true)]), metric: metric, kinds: [.latent],
      saes: [residSAE])
    let plain = try demoModel.attributeNodes(ioi, metric: metric, kinds: [.latent], saes: [residSAE])
    XCTAssertEqual(spliced.nodes, plain.nodes)
    for (a, b) in zip(spliced.attributed, plain.attributed) {
      assertNear(Double(a.scores.total), Double(b.scores.total), absolute: 1e-5, relative: 1e-3, "\(a.node)")
    }
    let all = try demoModel.attributeNodes(ioi, metric: metric, kinds: [.head, .neuron, .embedding])
    let picked = all.selected(top: 3)
    XCTAssertEqual(picked.map { abs($0.scores.total) }, picked.map { abs($0.scores.total) }.sorted(by: >))
    for kind in [NodeKind.head, .neuron, .embedding] {
      let nodes = all.attributed.filter { $0.node.kind == kind }
      let best = nodes.max { $0.scores.total < $1.scores.total }!,
        worst = nodes.min { $0.scores.total < $1.scores.total }!
      let mostWrite = nodes.max { $0.scores.write! < $1.scores.write! }!
      for n in [best, worst, mostWrite] {
        XCTAssertTrue(picked.contains { $0.node == n.node }, "\(n.node) is an extreme")
      }
      XCTAssertLessThanOrEqual(picked.filter { $0.node.kind == kind }.count, 6 * 3)
    }
  }

  /// The biases' share of the logit difference (DLA's attn_bias, mlp_bias and ln_final_bias parts).
  func biasTerms(_ model: TransformerModel, _ tokens: [Int], position: Int, target: Int, distractor: Int) throws
    -> Double
  {
    let parts = try model.directLogitAttribution(
      tokens, position: position, target: target, distractor: distractor, by: .neuron)
    let attn = try model.directLogitAttribution(
      tokens, position: position, target: target, distractor: distractor, by: .head)
    return
      (parts.filter { $0.kind == "mlp_bias" || $0.kind == "ln_final_bias" } + attn.filter { $0.kind == "attn_bias" })
      .map { Double($0.value) }.reduce(0, +)
  }
}
