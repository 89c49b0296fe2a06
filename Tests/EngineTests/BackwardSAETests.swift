import XCTest

@testable import Engine

/// Gradients through spliced SAEs: latents, TopK gating, the error term.
final class BackwardSAETests: XCTestCase {
  let tokens = try! golden.integers("p0.tokens")
  let metric = Metric.logitDifference(position: -1, target: 5335, distractor: 1757)
  /// TopK is discontinuous where two latents swap places (at every token at
  /// once here), so finite differences through it need small steps.
  let topKStep = 3e-3

  func site(_ sae: SparseAutoencoder, _ s: HookPoint.SAESite) -> HookPoint {
    HookPoint(sae.hook.site, layer: sae.hook.layer, sae: s)
  }

  /// Without the error term the model sees the reconstruction: the backward
  /// pass is the plain derivative of that forward pass.
  func testSplicedWithoutErrorMatchesFiniteDifferences() throws {
    for (sae, upstream) in [(residSAE, HookPoint.block(1, .residPost)), (mlpSAE, .block(3, .ln2Normalized))] {
      let forward = ForwardOptions(saes: [SAESplice(sae, keepError: false)])
      try checkDirectionalDerivatives(
        tokens, metric,
        hooks: [
          upstream, sae.hook, site(sae, .input), site(sae, .actsPost), site(sae, .recons), site(sae, .output),
          .block(4, .q),
        ], forward: forward, seed: 7, largestStep: topKStep)
      let g = try demoModel.gradients(tokens, metric: metric, forward: forward)
      XCTAssertTrue(isZero(g.gradients[site(sae, .error)]!), "the error does not reach the output")
    }
  }

  /// With the error term the error is a constant (SAELens computes it under
  /// no_grad): the same as a forward pass with the error pinned to its value.
  func testSplicedWithErrorTreatsTheErrorAsAConstant() throws {
    for (sae, upstream) in [(residSAE, HookPoint.block(2, .mlpOut)), (mlpSAE, .block(3, .mlpPre))] {
      let splice = ForwardOptions(saes: [SAESplice(sae, keepError: true)])
      let error = try demoModel.forward(
        tokens, options: ForwardOptions(cache: .points([site(sae, .error)]), saes: splice.saes)
      )
      .cache[site(sae, .error)]!
      var pinned = splice
      pinned.interventions = [Intervention(hook: site(sae, .error), label: "pin error") { v, _ in v = error }]
      let g = try demoModel.gradients(tokens, metric: metric, forward: splice)
      let gPinned = try demoModel.gradients(tokens, metric: metric, forward: pinned)
      for p in [upstream, sae.hook, site(sae, .actsPost), site(sae, .input)] {
        assertClose(g.gradients[p]!, gPinned.gradients[p]!, tolerance: 1e-6, "\(p) pinned")
      }
      try checkDirectionalDerivatives(
        tokens, metric, hooks: [upstream, sae.hook, site(sae, .actsPost)], forward: pinned, seed: 8,
        largestStep: topKStep)
      // The output's gradient is the error's, and downstream nothing changed.
      XCTAssertEqual(g.gradients[site(sae, .error)], g.gradients[site(sae, .output)])
      let plain = try demoModel.gradients(tokens, metric: metric)
      assertClose(
        g.gradients[.block(4, .residPre)]!, plain.gradients[.block(4, .residPre)]!, tolerance: 1e-6, "downstream")
    }
  }

  /// TopK: the latents' gradient is dense (the decoder is linear) but only the
  /// kept latents pass it on to the SAE's input.
  func testTopKPassesGradientOnlyThroughKeptLatents() throws {
    let sae = residSAE
    let forward = ForwardOptions(cache: .points([site(sae, .actsPost)]), saes: [SAESplice(sae, keepError: true)])
    let g = try demoModel.gradients(tokens, metric: metric, forward: forward)
    let acts = g.result.cache[site(sae, .actsPost)]!
    let gActs = g.gradients[site(sae, .actsPost)]!
    XCTAssertGreaterThan(gActs.scalars.filter { $0 != 0 }.count, tokens.count * 1000, "dense latent gradient")
    // gInput = (gActs ⊙ [acts ≠ 0]) · W_encᵀ, computed directly.
    let T = tokens.count, d = sae.dIn, S = sae.dSAE
    var expected = Tensor(zeros: [T, d])
    for t in 0..<T {
      for j in 0..<S where acts[t, j] != 0 {
        let gj = gActs[t, j]
        for i in 0..<d { expected[t, i] += gj * sae.wEnc[i, j] }
      }
    }
    assertClose(g.gradients[site(sae, .input)]!, expected, tolerance: 1e-5, "input gradient through kept latents")
  }

  /// An SAE latent as the metric: a kept latent's gradient checks against
  /// finite differences; a latent TopK dropped has no gradient upstream.
  func testLatentSeed() throws {
    let sae = residSAE
    let forward = ForwardOptions(saes: [SAESplice(sae, keepError: true)])
    let acts = try demoModel.forward(
      tokens, options: ForwardOptions(cache: .points([site(sae, .actsPost)]), saes: forward.saes)
    )
    .cache[site(sae, .actsPost)]!
    let t = 11
    let kept = (0..<sae.dSAE).first { acts[t, $0] > 0 }!, dropped = (0..<sae.dSAE).first { acts[t, $0] == 0 }!
    var seed = Tensor(zeros: acts.shape)
    seed[t, kept] = 1
    let latent = Metric.hookValue(site(sae, .actsPost), seed: seed)
    let g = try demoModel.gradients(tokens, metric: latent, forward: forward)
    XCTAssertEqual(g.metricValue, acts[t, kept])
    try checkDirectionalDerivatives(
      tokens, latent, hooks: [HookPoint(.embed), .block(1, .residPost), .block(2, .attnScores), sae.hook],
      forward: forward, seed: 9,
      largestStep: topKStep)
    XCTAssertTrue(isZero(g.gradients[.block(3, .ln1Scale)]!), "downstream of the latent")

    var other = Tensor(zeros: acts.shape)
    other[t, dropped] = 1
    let none = try demoModel.gradients(tokens, metric: .hookValue(site(sae, .actsPost), seed: other), forward: forward)
    XCTAssertEqual(none.gradients[site(sae, .actsPost)], other)
    XCTAssertTrue(isZero(none.gradients[site(sae, .input)]!))
    XCTAssertTrue(isZero(none.gradients[HookPoint(.embed)]!))
  }

  /// SAE normalisations (constant_norm_rescale, layer_norm) are differentiated
  /// through; the demo SAEs use none, so copies with another cfg.json are used,
  /// as ReLU SAEs: TopK is discontinuous where two latents swap places, which
  /// finite differences over every token at once can straddle.
  func testNormalisedSAEsMatchFiniteDifferences() throws {
    for normalization in ["constant_norm_rescale", "layer_norm"] {
      let folder = scratchDirectory().appendingPathComponent("sae")
      try FileManager.default.copyItem(at: residSAE.folder, to: folder)
      let cfgURL = folder.appendingPathComponent("cfg.json")
      var cfg = try JSONSerialization.jsonObject(with: Data(contentsOf: cfgURL)) as! [String: Any]
      cfg["normalize_activations"] = normalization
      cfg["architecture"] = "standard"
      cfg["activation_fn"] = "relu"
      try JSONSerialization.data(withJSONObject: cfg).write(to: cfgURL)
      let sae = try SparseAutoencoder(folder: folder)
      XCTAssertEqual(sae.normalization.rawValue, normalization)
      XCTAssertEqual(sae.architecture, .standard)
      try checkDirectionalDerivatives(
        tokens, metric, hooks: [.block(2, .residPost), site(sae, .input), site(sae, .actsPost), site(sae, .recons)],
        forward: ForwardOptions(saes: [SAESplice(sae, keepError: false)]), seed: 10)
    }
  }
}
