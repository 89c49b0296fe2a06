import XCTest

@testable import Engine

/// Attention's backward pass in blocks (no [H, T, T] pattern or pattern
/// gradient) against the materialised one, which the golden tests check
/// against PyTorch: as kernels on random inputs (several query blocks,
/// grouped-query heads, sliding windows, soft-capped scores), and through
/// whole backward passes on every tiny model family and the demo model.
final class BlockedAttentionBackwardTests: XCTestCase {
  /// The materialised path's kernels, as BackwardPass runs them on a full pattern.
  func materialized(
    q: [Float], k: [Float], v: [Float], dz: [Float], _ g: HeadGeometry, T: Int, rows: Range<Int>
  ) -> (dq: [Float], dk: [Float], dv: [Float]) {
    let H = g.heads, D = g.D, square = T * T
    var scores = Tensor(zeros: [H, T, T]), pattern = Tensor(zeros: [H, T, T])
    var dpattern = Tensor(zeros: [H, T, T]), dscores = Tensor(zeros: [H, T, T])
    var dq = Tensor(zeros: [T, H, D]), dk = Tensor(zeros: [T, g.kvHeads, D]), dv = Tensor(zeros: [T, g.kvHeads, D])
    let s = scores.mutablePointer(), p = pattern.mutablePointer(), dp = dpattern.mutablePointer()
    let ds = dscores.mutablePointer()
    q.withUnsafeBufferPointer { q in
      k.withUnsafeBufferPointer { k in
        v.withUnsafeBufferPointer { v in
          let a = AttentionInputs(q: q.baseAddress!, k: k.baseAddress!, v: v.baseAddress!, geometry: g)
          attentionScores(s, a, queries: T, T: T)
          for h in 0..<H {
            causalSoftmax(p + h * square, s + h * square, queries: T, T: T, g)
            attentionValuesBackward(
              dpattern: dp + h * square, dv: dv.mutablePointer(), dz: dz, pattern: p + h * square, v: v.baseAddress!,
              head: h, g, T: T, rows: rows)
            causalSoftmaxBackward(ds + h * square, dp + h * square, p + h * square, T: T, rows: rows)
          }
          if let cap = g.softcap {
            for i in 0..<H * square where ds[i] != 0 {
              let t = s[i] / cap
              ds[i] *= 1 - t * t
            }
          }
          for h in 0..<H {
            attentionScoresBackward(
              dq: dq.mutablePointer(), dk: dk.mutablePointer(), dscores: ds + h * square, q: q.baseAddress!,
              k: k.baseAddress!, head: h, g, T: T, rows: rows)
          }
        }
      }
    }
    func array(_ t: Tensor) -> [Float] { Array(UnsafeBufferPointer(start: t.pointer, count: t.count)) }
    return (array(dq), array(dk), array(dv))
  }

  func blocked(
    q: [Float], k: [Float], v: [Float], dz: [Float], _ g: HeadGeometry, T: Int, rows: Range<Int>, queryBlock: Int
  ) -> (dq: [Float], dk: [Float], dv: [Float]) {
    var dq = [Float](repeating: 0, count: T * g.heads * g.D), dk = [Float](repeating: 0, count: T * g.kvHeads * g.D)
    var dv = dk
    q.withUnsafeBufferPointer { q in
      k.withUnsafeBufferPointer { k in
        v.withUnsafeBufferPointer { v in
          fusedCausalAttentionBackward(
            dq: &dq, dk: &dk, dv: &dv, dz: dz,
            AttentionInputs(q: q.baseAddress!, k: k.baseAddress!, v: v.baseAddress!, geometry: g), T: T, rows: rows,
            queryBlock: queryBlock)
        }
      }
    }
    return (dq, dk, dv)
  }

  func assertArraysClose(_ a: [Float], _ b: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line)
  {
    let scale = b.map(abs).max() ?? 1
    let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
    XCTAssertLessThan(worst, 1e-5 * max(1, scale), what, file: file, line: line)
  }

  func testBlocksEqualTheMaterialisedKernels() throws {
    // Geometries from real configurations: the tiny Llama (4 query heads on
    // 2 key/value heads) and the tiny Gemma 2 (scores soft-capped at 2, a
    // 4-token sliding window in its first layer), on a longer prompt than
    // their context so that several query blocks are needed.
    let (llama, _) = try hfTinyModel("llama"), (gemma2, _) = try hfTinyModel("gemma2")
    // Groups of three query heads (SmolLM2's) and one group for every head
    // (Gemma 3's): heads of a group run on different cores and their key and
    // value gradients are added afterwards.
    var threeInAGroup = llama.config, oneGroup = llama.config
    (threeInAGroup.heads, threeInAGroup.kvHeads) = (6, 2)
    (oneGroup.heads, oneGroup.kvHeads) = (5, 1)
    let geometries = [
      ("grouped-query", HeadGeometry(llama.config, layer: 0)),
      ("three query heads a group", HeadGeometry(threeInAGroup, layer: 0)),
      ("one key/value head", HeadGeometry(oneGroup, layer: 0)),
      ("soft-capped, sliding window", HeadGeometry(gemma2.config, layer: 0)),
      ("soft-capped, global", HeadGeometry(gemma2.config, layer: 1)),
    ]
    XCTAssertNotNil(geometries[3].1.window)
    XCTAssertNotNil(geometries[3].1.softcap)
    let T = 300
    for (name, g) in geometries {
      var random = SeededRandom(1)
      let q = random.floats(T * g.qStride), k = random.floats(T * g.kvStride), v = random.floats(T * g.kvStride)
      var dz = random.floats(T * g.qStride)
      for rows in [0..<T, 37..<250] {
        // Outside `rows` dz is zero, as nonzeroRows finds it.
        for t in 0..<T where !rows.contains(t) { for i in 0..<g.qStride { dz[t * g.qStride + i] = 0 } }
        let expected = materialized(q: q, k: k, v: v, dz: dz, g, T: T, rows: rows)
        for queryBlock in [128, 64, 7] {
          let got = blocked(q: q, k: k, v: v, dz: dz, g, T: T, rows: rows, queryBlock: queryBlock)
          let what = "\(name), rows \(rows), blocks of \(queryBlock)"
          assertArraysClose(got.dq, expected.dq, "dq: \(what)")
          assertArraysClose(got.dk, expected.dk, "dk: \(what)")
          assertArraysClose(got.dv, expected.dv, "dv: \(what)")
        }
      }
    }
  }

  /// The residual stream's gradients when only they are asked for (blocked)
  /// against those of a pass that also returns every pattern's gradient.
  func assertBlockedEqualsMaterialized(_ m: TransformerModel, tokens: [Int], _ name: String) throws {
    let L = m.config.layers
    let points = (0..<L).map { HookPoint.block($0, .residPre) } + [HookPoint(.embed)]
    let metric = Metric.logitDifference(position: -1, target: 5, distractor: 7)
    let lean = BackwardOptions(wanted: .points(Set(points)))
    XCTAssertEqual(
      m.blockedAttentionLayers(forward: ForwardOptions(), backward: lean, saeAt: [:], metricHook: nil), Set(0..<L),
      name)
    XCTAssertEqual(
      m.blockedAttentionLayers(forward: ForwardOptions(), backward: BackwardOptions(), saeAt: [:], metricHook: nil),
      [], "\(name): a pass returning the patterns' gradients keeps them")
    let blocked = try m.gradients(tokens, metric: metric, backward: lean)
    let full = try m.gradients(tokens, metric: metric)
    XCTAssertEqual(blocked.metricValue, full.metricValue, name)
    for p in points {
      assertClose(blocked.gradients[p]!, full.gradients[p]!, tolerance: 1e-4, "\(name) \(p.name)")
    }
  }

  func testWholeBackwardPassesOnEveryFamily() throws {
    for name in TinyModelTests.families {
      let (m, ref) = try hfTinyModel(name)
      try assertBlockedEqualsMaterialized(m, tokens: try ref.integers("p2.tokens"), name)
    }
    // Three query blocks on the demo model (context 256).
    let tokens = (0..<256).map { ($0 * 7919) % 5000 }
    try assertBlockedEqualsMaterialized(demoModel, tokens: tokens, "demo")
  }

  func testATapeForBlockedLayersKeepsNoPattern() {
    let c = demoModel.config
    let plan = ForwardTape.Plan(
      config: c, reaching: [.block(c.layers - 1, .residPost)], interventions: [], saeAt: [:], metricHook: nil,
      blockedAttention: [0, 2])
    XCTAssertFalse(plan.flowing.contains(.block(0, .pattern)))
    XCTAssertTrue(plan.flowing.contains(.block(1, .pattern)))
    XCTAssertFalse(plan.flowing.contains(.block(2, .pattern)))
  }
}
