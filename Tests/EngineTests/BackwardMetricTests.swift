import XCTest

@testable import Engine

/// Each metric's gradient against central differences of the forward pass.
final class BackwardMetricTests: XCTestCase {
  let tokens = try! golden.integers("p0.tokens")
  let spread: [HookPoint] = [
    HookPoint(.embed), HookPoint(.posEmbed), .block(0, .ln1Scale), .block(0, .ln1Normalized), .block(1, .q),
    .block(1, .k),
    .block(1, .v), .block(2, .attnScores), .block(2, .pattern), .block(2, .z), .block(2, .attnOut),
    .block(3, .residMid),
    .block(3, .ln2Scale), .block(3, .mlpPre), .block(4, .mlpPost), .block(4, .mlpOut), .block(5, .residPost),
    HookPoint(.lnFinalScale), HookPoint(.lnFinalNormalized),
  ]

  func testLogitDifferenceAtAnEarlierPosition() throws {
    try checkDirectionalDerivatives(
      tokens, .logitDifference(position: 9, target: 1757, distractor: 5335), hooks: spread)
  }

  func testLogit() throws {
    try checkDirectionalDerivatives(tokens, .logit(position: -1, token: 5335), hooks: spread, seed: 2)
  }

  func testLogProbability() throws {
    try checkDirectionalDerivatives(tokens, .logProbability(position: -2, token: 4144), hooks: spread, seed: 3)
  }

  func testLoss() throws {
    // Every position's logits matter here, so fewer hooks keep the test quick.
    try checkDirectionalDerivatives(
      tokens, .loss,
      hooks: [
        HookPoint(.embed), .block(0, .ln1Scale), .block(1, .k), .block(2, .pattern), .block(3, .mlpPre),
        HookPoint(.lnFinalScale),
      ],
      seed: 4)
  }

  func testMetricValuesMatchTheForwardPass() throws {
    let r = try demoModel.forward(tokens)
    for metric: Metric in [
      .logitDifference(position: 3, target: 11, distractor: 12), .logit(position: -1, token: 7),
      .logProbability(position: 0, token: 5335), .loss,
    ] {
      // The metric computes the logits it needs when the forward pass keeps fewer.
      for logits: LogitsRequest in [.all, .last, .none] {
        let g = try demoModel.gradients(
          tokens, metric: metric, forward: ForwardOptions(logits: logits), backward: BackwardOptions(wanted: .none))
        XCTAssertEqual(
          Double(g.metricValue), evaluate(metric, r), accuracy: 1e-4 * max(1, abs(evaluate(metric, r))), "\(metric)")
        XCTAssertTrue(g.gradients.isEmpty)
      }
    }
  }

  func testNeuronPreActivationSeedStartsAtItsLayer() throws {
    var seed = Tensor(zeros: [tokens.count, 1024])
    seed[10, 77] = 1
    let metric = Metric.hookValue(.block(2, .mlpPre), seed: seed)
    let g = try demoModel.gradients(tokens, metric: metric)
    let r = try demoModel.forward(tokens, options: ForwardOptions(cache: .points([.block(2, .mlpPre)])))
    XCTAssertEqual(g.metricValue, r.cache[.block(2, .mlpPre)]![10, 77])
    XCTAssertEqual(g.gradients[.block(2, .mlpPre)], seed)
    for p in [HookPoint.block(2, .mlpPost), .block(2, .residPost), .block(4, .q), HookPoint(.lnFinalNormalized)] {
      XCTAssertTrue(isZero(g.gradients[p]!), "\(p) is downstream of the seed")
    }
    // Causal: later tokens cannot affect token 10.
    XCTAssertTrue(
      isZero(Tensor(shape: [3, 256], scalars: Array(g.gradients[.block(1, .residPost)]!.scalars[(11 * 256)...]))))
    try checkDirectionalDerivatives(
      tokens, metric,
      hooks: [HookPoint(.embed), .block(0, .pattern), .block(1, .residPost), .block(2, .ln2Scale), .block(2, .v)],
      seed: 5)
  }

  func testAttentionScoreSeed() throws {
    var seed = Tensor(zeros: [8, tokens.count, tokens.count])
    seed[5, 13, 4] = 1
    seed[2, 12, 12] = -0.5
    try checkDirectionalDerivatives(
      tokens, .hookValue(.block(3, .attnScores), seed: seed),
      hooks: [.block(3, .q), .block(3, .k), .block(2, .residPost), .block(1, .mlpPre), .block(0, .ln1Scale)], seed: 6)
    // A masked score is -inf whatever q and k are: nothing flows back from it.
    var masked = Tensor(zeros: seed.shape)
    masked[5, 3, 9] = 1
    let g = try demoModel.gradients(tokens, metric: .hookValue(.block(3, .attnScores), seed: masked))
    XCTAssertEqual(g.gradients[.block(3, .attnScores)], masked)
    XCTAssertTrue(isZero(g.gradients[.block(3, .q)]!) && isZero(g.gradients[.block(3, .k)]!))
    XCTAssertTrue(isZero(g.gradients[HookPoint(.embed)]!))
  }
}
