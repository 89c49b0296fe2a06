import XCTest

@testable import Engine

/// Gradients of the logit difference against PyTorch autograd (golden `pK.grad.*`).
final class BackwardGoldenTests: XCTestCase {
  func testEveryGoldenGradientMatches() throws {
    let prompts = goldenMeta["prompts"] as! [[String: Any]]
    for (k, prompt) in prompts.enumerated() {
      let tokens = try golden.integers("p\(k).tokens")
      let target = prompt["target_id"] as! Int, distractor = prompt["distractor_id"] as! Int
      let r = try demoModel.gradients(
        tokens, metric: .logitDifference(position: -1, target: target, distractor: distractor))
      XCTAssertEqual(Double(r.metricValue), prompt["logit_diff"] as! Double, accuracy: 1e-3, "p\(k) logit difference")
      var checked = 0, worst: Float = 0
      for name in golden.names where name.hasPrefix("p\(k).grad.") {
        let hookName = String(name.dropFirst("p\(k).grad.".count))
        let point = try XCTUnwrap(HookPoint(name: hookName), hookName)
        let mine = try XCTUnwrap(r.gradients[point], "no gradient for \(hookName)")
        assertClose(mine, try golden.tensor(name), tolerance: 1e-3, "p\(k) grad \(hookName)")
        worst = max(worst, relativeError(mine, try golden.tensor(name)))
        checked += 1
      }
      XCTAssertEqual(checked, 6 * 7 + 1, "golden gradients checked for p\(k)")
      print("p\(k): worst relative error \(worst) over \(checked) gradients")
    }
  }
}
