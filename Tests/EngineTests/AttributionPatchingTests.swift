import XCTest

@testable import Engine

/// Attribution patching against activation patching on the demo model, and
/// the logit-combination metric it differentiates.
final class AttributionPatchingTests: XCTestCase {
  let clean = demoModel.tokenizer.encode("When Mary and John went to the store, John gave a drink to")
  let corrupt = demoModel.tokenizer.encode("When Mary and John went to the store, Anna gave a drink to")
  let (mary, john) = (5335, 1757)

  func logitDiff(_ tokens: [Int], _ interventions: [Intervention] = []) throws -> Double {
    try logitDifference(demoModel, tokens, interventions, position: -1, target: mary, distractor: john)
  }

  func testALogitCombinationIsDifferentiatedExactly() throws {
    let combination =
      LogitCombination.logitDifference(position: -1, target: mary, distractor: john).scaled(by: 2)
      + LogitCombination(terms: [.init(position: 3, token: 11, coefficient: -0.5)], constant: 7)
    let T = clean.count
    let g = try demoModel.gradients(clean, metric: try combination.metric(model: demoModel, tokens: T))
    let a = try demoModel.gradients(clean, metric: .logitDifference(position: -1, target: mary, distractor: john))
    let b = try demoModel.gradients(clean, metric: .logit(position: 3, token: 11))
    let logits = try demoModel.forward(clean).logits
    XCTAssertEqual(
      try combination.value(logits: logits), 2 * (try logitDiff(clean)) - 0.5 * Double(logits[3, 11]) + 7,
      accuracy: 1e-3)
    XCTAssertEqual(Double(g.metricValue) + 7, try combination.value(logits: logits), accuracy: 1e-3)
    for p in [HookPoint.block(0, .residPre), .block(2, .pattern), .block(4, .mlpPost)] {
      var expected = a.gradients[p]!
      let e = expected.mutablePointer(), y = b.gradients[p]!.pointer
      for i in 0..<expected.count { e[i] = 2 * e[i] - 0.5 * y[i] }
      assertClose(g.gradients[p]!, expected, tolerance: 1e-4, p.name)
    }
    XCTAssertThrowsError(
      try LogitCombination(terms: [.init(position: 40, token: 1, coefficient: 1)]).metric(model: demoModel, tokens: T))
  }

  /// Heads by position: the estimate is zero where the prompts agree, and
  /// where they differ the largest estimates have the sign of the real
  /// patching effect and the same heads lead both rankings.
  func testHeadsAgreeWithActivationPatching() throws {
    XCTAssertEqual(clean.count, corrupt.count)
    let metric = try LogitCombination.logitDifference(position: -1, target: mary, distractor: john).metric(
      model: demoModel, tokens: clean.count)
    let result = try demoModel.attributionPatching(clean: clean, corrupt: corrupt, metric: metric, over: .heads)
    let base = try logitDiff(corrupt)
    XCTAssertEqual(Double(result.corruptValue), base, accuracy: 1e-3)
    XCTAssertEqual(result.estimates.count, 6 * 8 * clean.count)
    let cleanZ = try demoModel.forward(clean, options: ForwardOptions(cache: .all, logits: .none)).cache
    var actual: [Double] = []
    let differing = result.estimates.filter { $0.position >= 9 }
    for e in result.estimates where e.position < 9 {
      XCTAssertEqual(e.estimate, 0, "the prompts agree before position 9")
    }
    for e in differing {
      let patch = Interventions.copy(e.selection, from: cleanZ[e.selection.hook]!, label: "patch")
      actual.append(try logitDiff(corrupt, [patch]) - base)
    }
    let byEstimate = differing.indices.sorted { abs(differing[$0].estimate) > abs(differing[$1].estimate) }
    let byActual = differing.indices.sorted { abs(actual[$0]) > abs(actual[$1]) }
    for i in byEstimate.prefix(5) {
      XCTAssertEqual(
        Double(differing[i].estimate).sign, actual[i].sign,
        "L\(differing[i].layer)H\(differing[i].index!) at \(differing[i].position)")
    }
    XCTAssertTrue(byEstimate.prefix(3).contains(byActual[0]), "the largest real effect is among the top 3 estimates")
    XCTAssertTrue(byActual.prefix(3).contains(byEstimate[0]), "the largest estimate is among the top 3 real effects")
  }

  func testResidAndNeuronsCoverEveryPlace() throws {
    let metric = try LogitCombination.logitDifference(position: -1, target: mary, distractor: john).metric(
      model: demoModel, tokens: clean.count)
    let resid = try demoModel.attributionPatching(clean: clean, corrupt: corrupt, metric: metric, over: .resid)
    XCTAssertEqual(resid.estimates.count, 6 * clean.count)
    // Patching the whole stream at the differing token in block 0 restores the clean run;
    // the linear estimate has the right sign.
    let first = resid.estimates.first { $0.layer == 0 && $0.position == 9 }!
    XCTAssertGreaterThan(first.estimate, 0)
    let neurons = try demoModel.attributionPatching(clean: clean, corrupt: corrupt, metric: metric, over: .neurons)
    XCTAssertEqual(neurons.estimates.count, 6 * 1024 * clean.count)
    XCTAssertThrowsError(
      try demoModel.attributionPatching(clean: clean, corrupt: Array(corrupt.dropLast()), metric: metric, over: .heads)
    ) {
      XCTAssertEqual("\($0)", "the clean run has 14 tokens and the corrupt run 13; use prompts of the same length")
    }
  }
}
