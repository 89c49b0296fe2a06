import XCTest

@testable import Engine

final class InterventionTests: XCTestCase {
  let a = [2215, 5335, 290, 1757, 1816, 284, 262, 3650, 11, 1757, 2921, 257, 4144, 284]
  let b = [2215, 5335, 290, 1757, 1816, 284, 262, 3650, 11, 5335, 2921, 257, 4144, 284]

  func testPatchingTheWholeResidualStreamGivesTheSourceRun() throws {
    let point = HookPoint.block(2, .residPre)
    let source = try demoModel.forward(b, options: ForwardOptions(cache: .points([point])))
    let patched = try demoModel.forward(
      a,
      options: ForwardOptions(interventions: [
        Interventions.copy(HookSelection(hook: point), from: source.cache[point]!, label: "patch")
      ]))
    assertClose(patched.logits.row(13), source.logits.row(13), tolerance: 1e-6, "patched")
  }

  func testZeroAblatingAHeadAtTheLastPositionZeroesOnlyThatSlice() throws {
    let z = HookPoint.block(1, .z)
    let sel = HookSelection(hook: z, positions: [-1], index: 2)
    let r = try demoModel.forward(
      a, options: ForwardOptions(cache: .points([z]), interventions: [Interventions.zero(sel, label: "ablate L1H2")]))
    let clean = try demoModel.forward(a, options: ForwardOptions(cache: .points([z])))
    let v = r.cache[z]!, c = clean.cache[z]!
    for t in 0..<14 {
      for h in 0..<8 {
        for d in 0..<32 {
          if t == 13 && h == 2 { XCTAssertEqual(v[t, h, d], 0) } else { XCTAssertEqual(v[t, h, d], c[t, h, d]) }
        }
      }
    }
    XCTAssertNotEqual(r.logits.row(13), clean.logits.row(13))
    // Earlier positions cannot see the change.
    assertClose(r.logits.row(12), clean.logits.row(12), tolerance: 0, "earlier positions")
  }

  func testSteeringAndSettingAndMeans() throws {
    let point = HookPoint.block(4, .residPost)
    let vec = (0..<256).map { Float($0 % 3) }
    let r = try demoModel.forward(
      a,
      options: ForwardOptions(
        cache: .points([point]),
        interventions: [
          Interventions.add(HookSelection(hook: point, positions: [0]), vector: vec, scale: 2, label: "steer")
        ]))
    let clean = try demoModel.forward(a, options: ForwardOptions(cache: .points([point])))
    XCTAssertEqual(r.cache[point]![0, 5], clean.cache[point]![0, 5] + 4, accuracy: 1e-5)
    XCTAssertEqual(r.cache[point]![1, 5], clean.cache[point]![1, 5])

    let post = HookPoint.block(0, .mlpPost)
    let s = try demoModel.forward(
      a,
      options: ForwardOptions(
        cache: .points([post]), interventions: [Interventions.set(post, index: [-1, 77], to: 3.5, label: "set")]))
    XCTAssertEqual(s.cache[post]![13, 77], 3.5)

    let mean = try Interventions.meanRun(of: [clean.cache[point]!], HookSelection(hook: point, index: nil))
    XCTAssertEqual(mean.count, 256)
    let col: Float = (0..<14).map { clean.cache[point]![$0, 7] }.reduce(0, +) / 14
    XCTAssertEqual(mean[7], col, accuracy: 1e-4)
  }

  func testBadSelectionsAreClearErrors() throws {
    let sel = HookSelection(hook: .block(1, .z), positions: [20], index: 2)
    XCTAssertThrowsError(
      try demoModel.forward(a, options: ForwardOptions(interventions: [Interventions.zero(sel, label: "x")]))
    ) {
      XCTAssertTrue("\($0)".hasPrefix("position 20 is outside the prompt (14 tokens"), "\($0)")
    }
    XCTAssertThrowsError(
      try demoModel.forward(
        a, options: ForwardOptions(interventions: [Interventions.zero(HookSelection(hook: .block(9, .z)), label: "x")]))
    ) {
      XCTAssertTrue("\($0)".contains("blocks 0...5"), "\($0)")
    }
    XCTAssertEqual(Component(name: "L99H3"), .head(layer: 99, head: 3))
    XCTAssertThrowsError(try Component.head(layer: 99, head: 3).validate(in: demoModel.config, saes: [:])) {
      XCTAssertEqual("\($0)", "L99H3: the model has 6 layers (0...5)")
    }
    XCTAssertEqual(Component(name: "blocks_3_hook_resid_pre.F12"), .latent(sae: "blocks_3_hook_resid_pre", index: 12))
    XCTAssertEqual(Component(name: "L3N77"), .neuron(layer: 3, index: 77))
    XCTAssertNil(Component(name: "L3X77"))
  }
}
