import XCTest

@testable import Engine

/// Detaching LayerNorm scales, gradient hooks, forward interventions, errors.
final class BackwardOptionsTests: XCTestCase {
  let tokens = try! golden.integers("p0.tokens")
  let metric = Metric.logitDifference(position: -1, target: 5335, distractor: 1757)
  var T: Int { tokens.count }

  /// Interventions that pin every listed scale hook to its clean value.
  func pinnedScales(_ points: [HookPoint]) throws -> [Intervention] {
    let clean = try demoModel.forward(tokens, options: ForwardOptions(cache: .points(Set(points)))).cache
    return points.map { p in Intervention(hook: p, label: "pin \(p)") { v, _ in v = clean[p]! } }
  }

  func testDetachedFinalScaleIsTheDirectProjection() throws {
    let g = try demoModel.gradients(tokens, metric: metric, backward: BackwardOptions(detachFinalLayerNormScale: true))
    let scale = try demoModel.forward(tokens, options: ForwardOptions(cache: .points([HookPoint(.lnFinalScale)])))
      .cache[HookPoint(.lnFinalScale)]!
    // resid_final → ((x - mean) / s) · w + b with s constant: the gradient at
    // the last token is (u - mean(u)) / s for u = w ⊙ (E[target] - E[distractor]).
    let w = demoModel.weights
    let C = demoModel.config.dModel
    let u = (0..<C).map { i in w.lnfWeight[i] * (w.lmHead[5335, i] - w.lmHead[1757, i]) }
    let mean = u.reduce(0, +) / Float(C)
    var expected = Tensor(zeros: [T, C])
    for i in 0..<C { expected[T - 1, i] = (u[i] - mean) / scale[T - 1, 0] }
    let resid = g.gradients[.block(5, .residPost)]!
    assertClose(resid, expected, tolerance: 1e-5, "direct projection")
    var direction = Tensor(zeros: [T, C])
    for i in 0..<C { direction[T - 1, i] = w.lmHead[5335, i] - w.lmHead[1757, i] }
    assertClose(g.gradients[HookPoint(.lnFinalNormalized)]!, direction, tolerance: 1e-6, "at ln_final.hook_normalized")
    // The full gradient is different: the scale depends on the residual stream.
    let full = try demoModel.gradients(tokens, metric: metric)
    XCTAssertGreaterThan(relativeError(full.gradients[.block(5, .residPost)]!, resid), 1e-2)
    // And the detached one is the derivative with ln_final's scale pinned.
    try checkDirectionalDerivatives(
      tokens, metric, hooks: [.block(5, .residPost), .block(3, .mlpOut)],
      forward: ForwardOptions(interventions: try pinnedScales([HookPoint(.lnFinalScale)])),
      backward: BackwardOptions(detachFinalLayerNormScale: true), seed: 11)
  }

  func testDetachingEveryScaleIsTheDerivativeWithScalesPinned() throws {
    let scales =
      [HookPoint(.lnFinalScale)] + (0..<6).flatMap { [HookPoint.block($0, .ln1Scale), .block($0, .ln2Scale)] }
    let pinned = ForwardOptions(interventions: try pinnedScales(scales))
    let detached = BackwardOptions(detachLayerNormScales: true)
    // Pinning to equal values leaves the hooks "untouched", so the plain
    // backward pass of the pinned run must be detached explicitly.
    try checkDirectionalDerivatives(
      tokens, metric, hooks: [HookPoint(.embed), .block(1, .q), .block(2, .residMid), .block(4, .mlpPre)],
      forward: pinned,
      backward: detached, seed: 12)
    let g = try demoModel.gradients(tokens, metric: metric, backward: detached)
    XCTAssertFalse(isZero(g.gradients[.block(2, .ln1Scale)]!), "a detached scale still has a gradient of its own")
  }

  func testZeroingAGradientZeroesEverythingUpstream() throws {
    var seen: Tensor? = nil
    let cut = HookPoint.block(3, .residMid)
    let options = BackwardOptions(gradientInterventions: [
      Intervention(hook: .block(4, .mlpPost), label: "read") { g, _ in seen = g },
      Intervention(hook: cut, label: "zero") { g, _ in g = Tensor(zeros: g.shape) },
    ])
    let g = try demoModel.gradients(tokens, metric: metric, backward: options)
    let plain = try demoModel.gradients(tokens, metric: metric)
    XCTAssertEqual(seen, g.gradients[.block(4, .mlpPost)], "a reading hook sees the returned gradient")
    for p in HookPoint.all(config: demoModel.config) {
      if p < HookPoint.block(3, .ln2Scale) {
        XCTAssertTrue(isZero(g.gradients[p]!), "\(p) is upstream of \(cut)")
      } else {
        XCTAssertEqual(g.gradients[p], plain.gradients[p], "\(p) is downstream of \(cut)")
      }
    }
  }

  func testReplacingAGradientIsSeedingThere() throws {
    var rng = SeededRandom(13)
    let seed = rng.tensor([T, 256])
    let replaced = try demoModel.gradients(
      tokens, metric: metric,
      backward: BackwardOptions(gradientInterventions: [
        Intervention(hook: .block(4, .residPre), label: "set") { g, _ in g = seed }
      ]))
    // Everything upstream of resid_pre reaches the logits only through it.
    let seeded = try demoModel.gradients(tokens, metric: .hookValue(.block(4, .residPre), seed: seed))
    for p in [HookPoint.block(4, .residPre), .block(3, .pattern), .block(2, .mlpPre), HookPoint(.posEmbed)] {
      XCTAssertEqual(replaced.gradients[p], seeded.gradients[p], "\(p)")
    }
    XCTAssertThrowsError(
      try demoModel.gradients(
        tokens, metric: metric,
        backward: BackwardOptions(gradientInterventions: [
          Intervention(hook: .block(1, .z), label: "squash") { g, _ in g = Tensor(zeros: [1]) }
        ]))
    ) { XCTAssertEqual("\($0)", "'squash' changed the gradient at blocks.1.attn.hook_z from shape [14, 8, 32] to [1]") }
  }

  func testAblatedHeadPassesNoGradientUpstream() throws {
    let ablate = Intervention(hook: .block(2, .z), label: "ablate L2H3") { z, T in
      for t in 0..<T { for d in 0..<32 { z[t, 3, d] = 0 } }
    }
    let forward = ForwardOptions(interventions: [ablate])
    let g = try demoModel.gradients(tokens, metric: metric, forward: forward)
    func head(_ t: Tensor, _ h: Int, pattern: Bool) -> [Float] {
      pattern
        ? Array(t.scalars[(h * T * T)..<((h + 1) * T * T)]) : (0..<T).flatMap { t0 in (0..<32).map { t[t0, h, $0] } }
    }
    XCTAssertTrue(
      head(g.gradients[.block(2, .z)]!, 3, pattern: false).contains { $0 != 0 },
      "the ablated value still matters downstream")
    for (site, isPattern) in [
      (HookPoint.Site.v, false), (.q, false), (.k, false), (.pattern, true), (.attnScores, true),
    ] {
      XCTAssertTrue(
        head(g.gradients[.block(2, site)]!, 3, pattern: isPattern).allSatisfy { $0 == 0 }, "\(site) of the ablated head"
      )
      XCTAssertTrue(
        head(g.gradients[.block(2, site)]!, 2, pattern: isPattern).contains { $0 != 0 }, "\(site) of another head")
    }
    try checkDirectionalDerivatives(
      tokens, metric, hooks: [.block(1, .residPost), .block(2, .q), .block(2, .v), .block(2, .z)], forward: forward,
      seed: 14)
  }

  func testPatchedPatternRows() throws {
    // Head 1 of block 1 attends uniformly from token 5 on.
    let patch = Intervention(hook: .block(1, .pattern), label: "uniform") { p, T in
      for i in 5..<T { for j in 0..<T { p[1, i, j] = j <= i ? 1 / Float(i + 1) : 0 } }
    }
    let forward = ForwardOptions(interventions: [patch])
    let g = try demoModel.gradients(tokens, metric: metric, forward: forward)
    let scores = g.gradients[.block(1, .attnScores)]!
    XCTAssertTrue((5..<T).allSatisfy { i in (0..<T).allSatisfy { scores[1, i, $0] == 0 } }, "patched rows")
    XCTAssertTrue((1..<5).contains { i in (0..<T).contains { scores[1, i, $0] != 0 } }, "rows left alone")
    try checkDirectionalDerivatives(
      tokens, metric, hooks: [.block(1, .q), .block(1, .k), .block(1, .attnScores), .block(0, .mlpOut)],
      forward: forward, seed: 15)
  }

  func testSteeringPassesTheGradientStraightThrough() throws {
    var rng = SeededRandom(16)
    let vector = rng.tensor([256])
    let steer = Intervention(hook: .block(2, .residMid), label: "steer") { r, T in
      for t in 0..<T { for i in 0..<256 { r[t, i] += 0.5 * vector[i] } }
    }
    let forward = ForwardOptions(interventions: [steer])
    let blocked = try demoModel.gradients(tokens, metric: metric, forward: forward)
    XCTAssertTrue(isZero(blocked.gradients[.block(1, .residPost)]!), "every entry changed: a constant by default")
    try checkDirectionalDerivatives(
      tokens, metric, hooks: [.block(1, .residPost), .block(2, .attnOut), .block(0, .v)], forward: forward,
      backward: BackwardOptions(throughInterventions: .straightThrough), seed: 17)
  }

  func testWantedGradientsAndShapes() throws {
    let sae = residSAE
    let forward = ForwardOptions(cache: .points([.block(0, .q)]), saes: [SAESplice(sae, keepError: true)])
    let all = try demoModel.gradients(tokens, metric: .loss, forward: forward)
    XCTAssertEqual(Array(all.result.cache.keys), [.block(0, .q)], "the forward cache is the caller's")
    let saeSites = HookPoint.SAESite.allCases.map { HookPoint(.residPre, layer: 3, sae: $0) }
    XCTAssertEqual(Set(all.gradients.keys), Set(HookPoint.all(config: demoModel.config) + saeSites))
    for p in HookPoint.all(config: demoModel.config) {
      XCTAssertEqual(all.gradients[p]!.shape, p.shape(config: demoModel.config, tokens: T), "\(p)")
    }
    XCTAssertEqual(all.gradients[saeSites[1]]!.shape, [T, 4096])
    let some = try demoModel.gradients(
      tokens, metric: .loss, forward: forward, backward: BackwardOptions(wanted: .points([.block(2, .k), saeSites[1]])))
    XCTAssertEqual(Set(some.gradients.keys), [.block(2, .k), saeSites[1]])
    // Without the pattern's gradient wanted, attention's backward runs
    // blocked: the same values up to the BLAS's rounding of other shapes.
    assertClose(some.gradients[.block(2, .k)]!, all.gradients[.block(2, .k)]!, tolerance: 1e-6, "block 2's k")
  }

  func testBadRequestsAreOneLineErrors() {
    func message(_ metric: Metric, _ tokens: [Int]? = nil) -> String {
      do {
        _ = try demoModel.gradients(tokens ?? self.tokens, metric: metric)
        return "no error"
      } catch { return "\(error)" }
    }
    XCTAssertEqual(
      message(.logit(position: 14, token: 1)), "position 14 is outside the prompt (14 tokens: 0..<14 or -14...-1)")
    XCTAssertEqual(
      message(.logit(position: -15, token: 1)), "position -15 is outside the prompt (14 tokens: 0..<14 or -14...-1)")
    XCTAssertEqual(
      message(.logProbability(position: 0, token: 50257)), "token id 50257 is outside the vocabulary (0..<50257)")
    XCTAssertEqual(message(.loss, [5]), "the loss needs a prompt of at least 2 tokens")
    XCTAssertEqual(
      message(.hookValue(.block(1, .mlpPre), seed: Tensor(zeros: [14, 256]))),
      "the seed for blocks.1.mlp.hook_pre has shape [14, 256] but the hook value has shape [14, 1024]")
    XCTAssertEqual(
      message(.hookValue(HookPoint(.residPre, layer: 3, sae: .actsPost), seed: Tensor(zeros: [14, 4096]))),
      "blocks.3.hook_resid_pre.hook_sae_acts_post needs an SAE spliced at blocks.3.hook_resid_pre, and none is")
    XCTAssertEqual(
      message(.hookValue(.block(9, .z), seed: Tensor(zeros: [14, 8, 32]))),
      "unknown hook point 'blocks.9.attn.hook_z': this model has blocks 0...5")
  }
}
