import XCTest

@testable import Engine

final class AnalysisTests: XCTestCase {
  let ioi = [2215, 5335, 290, 1757, 1816, 284, 262, 3650, 11, 1757, 2921, 257, 4144, 284]
  let mary = 5335, john = 1757

  func logitDiff(_ opts: ForwardOptions = ForwardOptions()) throws -> Float {
    let l = try demoModel.forward(ioi, options: opts).lastLogits
    return l[mary] - l[john]
  }

  func testDLAPartsSumToTheLogitDifferenceAtEveryGranularity() throws {
    let total = try logitDiff()
    XCTAssertEqual(total, 12.263, accuracy: 1e-3)
    for g in [AttributionGranularity.layer, .head, .neuron] {
      let parts = try demoModel.directLogitAttribution(ioi, position: -1, target: mary, distractor: john, by: g)
      XCTAssertEqual(parts.map(\.value).reduce(0, +), total, accuracy: 1e-3, "\(g)")
    }
    let heads = try demoModel.directLogitAttribution(ioi, position: -1, target: mary, distractor: john, by: .head)
    XCTAssertEqual(heads.filter { $0.kind == "head" }.count, 48)
  }

  func testDLAByLatentSumsWithEitherSAE() throws {
    for name in ["blocks_3_hook_resid_pre", "blocks_3_mlp_hook_post"] {
      let sae = try SparseAutoencoder(folder: demoFolder.appendingPathComponent("sae/\(name)"))
      let opts = ForwardOptions(saes: [SAESplice(sae, keepError: true)])
      let parts = try demoModel.directLogitAttribution(
        ioi, options: opts, position: -1, target: mary, distractor: john, by: .latent)
      XCTAssertEqual(parts.map(\.value).reduce(0, +), try logitDiff(opts), accuracy: 1e-3, name)
      XCTAssertEqual(parts.filter { $0.kind == "latent" }.count, 32, name)
    }
  }

  func testLogitLensLastRowIsTheModelsPrediction() throws {
    let rows = try demoModel.logitLens(ioi, position: -1, top: 3)
    XCTAssertEqual(rows.count, 7)
    XCTAssertEqual(rows.last!.tokens.first!.id, mary)
    XCTAssertEqual(rows.last!.tokens.first!.score, 17.303, accuracy: 1e-3)
    XCTAssertEqual(rows.first!.stream, "blocks.0.hook_resid_pre")
  }

  func testOutputTokensOfANeuronAreItsDirectionThroughTheUnembedding() throws {
    let out = try demoModel.outputTokens(.neuron(layer: 5, index: 10), saes: [:], top: 5)
    let C = 256
    let w = demoModel.weights.blocks[5].fcProjWeight, u = demoModel.weights.lmHead
    let best = out.promoted[0].id
    var s: Float = 0
    for i in 0..<C { s += w[10, i] * u[best, i] }
    XCTAssertEqual(out.promoted[0].score, s, accuracy: 1e-4)
    XCTAssertGreaterThanOrEqual(out.promoted[0].score, out.promoted[4].score)
    XCTAssertLessThanOrEqual(out.suppressed[0].score, out.suppressed[4].score)
    let head = try demoModel.outputTokens(.head(layer: 4, head: 1), saes: [:], top: 5)
    XCTAssertEqual(head.method, "OV copying score")
    XCTAssertThrowsError(try demoModel.outputTokens(.neuron(layer: 2, index: 5000), saes: [:], top: 5))
  }
}
