import XCTest

@testable import Engine

/// The analyses on models whose layers write through a post-norm (Gemma 2
/// and 3) and whose logits are soft-capped (Gemma 2): direct logit
/// attribution still sums to the logit difference, and node attribution's
/// direct effects regroup into it, with the norms' scales frozen.
final class PostNormAnalysisTests: XCTestCase {
  func tinyModel(_ name: String) throws -> (TransformerModel, SafeTensorsFile) { try hfTinyModel(name) }

  func testDirectLogitAttributionSumsToTheLogitDifferenceOnEveryFamily() throws {
    for name in TinyModelTests.families {
      let (m, ref) = try tinyModel(name)
      let metric = try ref.integers("metric")
      for k in 0..<3 {
        let tokens = try ref.integers("p\(k).tokens")
        let r = try m.forward(tokens, options: ForwardOptions(logits: .last))
        let expected = Double(r.logits.pointer[metric[0]] - r.logits.pointer[metric[1]])
        for by in [AttributionGranularity.head, .layer, .neuron] {
          let parts = try m.directLogitAttribution(
            tokens, position: -1, target: metric[0], distractor: metric[1], by: by)
          XCTAssertEqual(
            parts.map { Double($0.value) }.reduce(0, +), expected, accuracy: 1e-4 * max(1, abs(expected)),
            "\(name) p\(k) by \(by)")
        }
      }
    }
  }

  /// Without a final soft-cap, the direct effects of head and neuron nodes
  /// are the DLA of their components.
  func testDirectEffectsRegroupIntoTheDLAThroughPostNorms() throws {
    for name in ["gemma3", "llama"] {
      let (m, ref) = try tinyModel(name)
      let metric = try ref.integers("metric"), tokens = try ref.integers("p2.tokens")
      let table = try m.attributeNodes(
        tokens, metric: .logitDifference(position: -1, target: metric[0], distractor: metric[1]))
      let byHead = try m.directLogitAttribution(
        tokens, position: -1, target: metric[0], distractor: metric[1], by: .head)
      let byNeuron = try m.directLogitAttribution(
        tokens, position: -1, target: metric[0], distractor: metric[1], by: .neuron)
      var heads: [String: Double] = [:], neurons: [String: Double] = [:]
      for n in table.attributed {
        switch n.node.kind {
        case .head: heads[n.node.component!.description, default: 0] += Double(n.scores.direct!)
        case .neuron where n.node.position == tokens.count - 1:
          neurons[n.node.component!.description] = Double(n.scores.direct!)
        default: break
        }
      }
      var checked = 0
      for a in byHead where a.kind == "head" {
        XCTAssertEqual(
          heads[a.name]!, Double(a.value), accuracy: 1e-4 + 1e-3 * abs(Double(a.value)), "\(name) \(a.name)")
        checked += 1
      }
      for a in byNeuron where a.kind == "neuron" {
        XCTAssertEqual(
          neurons[a.name]!, Double(a.value), accuracy: 1e-5 + 1e-3 * abs(Double(a.value)), "\(name) \(a.name)")
        checked += 1
      }
      XCTAssertGreaterThan(checked, 2 * 4 + 100, name)  // neurons whose activation is exactly 0 are left out of the DLA
    }
  }

  /// On Gemma 3 270M too (the IOI prompt of its reference).
  func testDirectEffectsOnGemma3() throws {
    let model = Gemma3Tests.model
    let reference = try SafeTensorsFile(
      url: repoRoot.appendingPathComponent("Tests/Fixtures/gemma3/reference.safetensors"))
    let tokens = try reference.integers("p2.tokens"), metric = try reference.integers("metric")
    let table = try model.attributeNodes(
      tokens, metric: .logitDifference(position: -1, target: metric[0], distractor: metric[1]), kinds: [.head])
    XCTAssertEqual(table.metricValue, try reference.tensor("p2.logitdiff").scalars[0], accuracy: 1e-3)
    let byHead = try model.directLogitAttribution(
      tokens, position: -1, target: metric[0], distractor: metric[1], by: .head)
    var heads: [String: Double] = [:]
    for n in table.attributed { heads[n.node.component!.description, default: 0] += Double(n.scores.direct!) }
    for a in byHead where a.kind == "head" {
      XCTAssertEqual(heads[a.name]!, Double(a.value), accuracy: 1e-3 + 1e-3 * abs(Double(a.value)), a.name)
    }
  }

  func testAttributionPatchingRefusesSoftCappedLogits() throws {
    let (m, _) = try tinyModel("gemma2")
    XCTAssertThrowsError(
      try LogitCombination.logitDifference(position: -1, target: 1, distractor: 2).metric(model: m, tokens: 3)
    ) { error in
      XCTAssertEqual(error as? BackwardError, .softcappedLogits)
    }
  }
}
