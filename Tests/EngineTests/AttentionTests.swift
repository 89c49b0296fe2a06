import XCTest

@testable import Engine

/// Attention computes query rows in blocks that stop at their last key; a
/// long prompt (several blocks) must give the plain causal attention.
final class AttentionTests: XCTestCase {
  func testBlockedAttentionEqualsPlainCausalAttention() throws {
    let T = 250, l = 2
    let c = demoModel.config, H = c.heads, D = c.dHead
    let tokens = (0..<T).map { ($0 * 4099 + 17) % c.vocabSize }
    let points: Set<HookPoint> = [.block(l, .q), .block(l, .k), .block(l, .v), .block(l, .pattern), .block(l, .z)]
    let r = try demoModel.forward(tokens, options: ForwardOptions(cache: .points(points), logits: .none))
    let q = r.cache[.block(l, .q)]!, k = r.cache[.block(l, .k)]!, v = r.cache[.block(l, .v)]!
    let pattern = r.cache[.block(l, .pattern)]!, z = r.cache[.block(l, .z)]!
    // Without a hook on the pattern the pass never writes it (fused attention).
    let fused = try demoModel.forward(
      tokens, options: ForwardOptions(cache: .points([.block(l, .z)]), logits: .none)
    ).cache[.block(l, .z)]!
    var worstPattern: Float = 0, worstZ: Float = 0, worstFusedZ: Float = 0
    for h in 0..<H {
      for i in [0, 1, 126, 127, 128, 129, 200, 249] {
        var scores = [Double](repeating: 0, count: i + 1)
        for j in 0...i {
          var s: Double = 0
          for d in 0..<D { s += Double(q[i, h, d]) * Double(k[j, h, d]) }
          scores[j] = s / Double(D).squareRoot()
        }
        let m = scores.max()!
        let e = scores.map { exp($0 - m) }, sum = e.reduce(0, +)
        for j in 0..<T {
          let expected = j <= i ? e[j] / sum : 0
          worstPattern = max(worstPattern, abs(pattern[h, i, j] - Float(expected)))
        }
        for d in 0..<D {
          var zz: Double = 0
          for j in 0...i { zz += e[j] / sum * Double(v[j, h, d]) }
          worstZ = max(worstZ, abs(z[i, h, d] - Float(zz)))
          worstFusedZ = max(worstFusedZ, abs(fused[i, h, d] - Float(zz)))
        }
      }
    }
    XCTAssertLessThan(worstPattern, 1e-5)
    XCTAssertLessThan(worstZ, 1e-4)
    XCTAssertLessThan(worstFusedZ, 1e-4)
  }

  /// Logits of a long prompt are the same whether the pattern is kept or not.
  func testFusedAndKeptPatternGiveTheSameLogits() throws {
    let tokens = (0..<200).map { ($0 * 7907 + 3) % demoModel.config.vocabSize }
    let kept = try demoModel.forward(tokens, options: ForwardOptions(cache: .all))
    let fused = try demoModel.forward(tokens)
    assertClose(fused.logits, kept.logits, tolerance: 1e-5, "logits")
  }
}
