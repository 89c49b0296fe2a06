import CBLAS
import CPacked
import XCTest

@testable import Engine

/// Products of three rows or more go through oneDNN: on the weight's own
/// memory the first time, on a copy packed for it from the second on. They
/// must agree with OpenBLAS's in every way the engine reads a weight, give
/// the same bits before and after the copy, and a copy must never outlive or
/// disagree with the memory it was made from.
final class PackedWeightsTests: XCTestCase {
  /// On this CPU oneDNN has its blocked kernels, so packing must happen.
  let packingExpected = tdb_packed_expected()

  /// Σ|a_ik·b_kj| for each output: the scale of a product's rounding error.
  func magnitudes(_ a: [Float], _ b: [Float], M: Int, N: Int, K: Int, transposed: Bool) -> [Float] {
    var out = [Float](repeating: 0, count: M * N)
    let absA = a.map(abs), absB = b.map(abs)
    cblas_sgemm(
      CblasRowMajor, CblasNoTrans, transposed ? CblasTrans : CblasNoTrans, Int32(M), Int32(N), Int32(K), 1, absA,
      Int32(K), absB, Int32(transposed ? K : N), 0, &out, Int32(N))
    return out
  }

  /// Sums of K products in another order differ by ~K·ε of their magnitude;
  /// a wrong layout or operand by O(1).
  func assertAgree(
    _ got: [Float], _ expected: [Float], scale: [Float], _ message: String, file: StaticString = #filePath,
    line: UInt = #line
  ) {
    var worst: Float = 0
    for i in 0..<expected.count { worst = max(worst, abs(got[i] - expected[i]) / max(scale[i], 1e-6)) }
    XCTAssertLessThan(worst, 1e-5, message, file: file, line: line)
  }

  func testForwardProductsAgreeWithOpenBLASOnceTheWeightIsPacked() {
    var random = SeededRandom(3)
    for (M, C, OC) in [(3, 37, 53), (16, 768, 2304), (57, 768, 2304), (128, 96, 3072), (300, 513, 64)] {
      let weight = random.tensor([C, OC]), bias = random.floats(OC), inp = random.floats(M * C)
      let scale = magnitudes(inp, weight.scalars, M: M, N: OC, K: C, transposed: false)
      for withBias in [false, true] {
        var expected = [Float](repeating: 0, count: M * OC)
        bias.withUnsafeBufferPointer { b in
          matmulForward(&expected, inp, weight.pointer, withBias ? b.baseAddress : nil, T: M, C: C, OC: OC)
        }
        var passes: [[Float]] = []
        for pass in 0..<2 {
          var got = [Float](repeating: .nan, count: M * OC)
          bias.withUnsafeBufferPointer { b in
            matmulForward(&got, inp, weight, withBias ? b.baseAddress : nil, T: M, C: C, OC: OC)
          }
          assertAgree(got, expected, scale: scale, "M \(M) C \(C) OC \(OC) bias \(withBias) pass \(pass)")
          passes.append(got)
        }
        XCTAssertEqual(passes[0], passes[1], "M \(M) C \(C) OC \(OC): the same bits before and after the copy")
        if withBias {
          // The bias rides in oneDNN's kernel: no fallback to BLAS for it.
          var direct = [Float](repeating: .nan, count: M * OC)
          let layout = PackedWeights.Layout(transposed: false, K: C, N: OC)
          let ran = bias.withUnsafeBufferPointer { b in
            PackedWeights.product(weight, layout, M: M, inp, bias: b.baseAddress, beta: 0, &direct)
          }
          XCTAssertEqual(ran, packingExpected, "M \(M) C \(C) OC \(OC): a product with a bias through oneDNN")
          if ran { XCTAssertEqual(direct, passes[1], "M \(M) C \(C) OC \(OC)") }
        }
      }
      let layout = PackedWeights.Layout(transposed: false, K: C, N: OC)
      XCTAssertEqual(PackedWeights.isPacked(weight, layout), packingExpected, "M \(M) C \(C) OC \(OC)")
    }
  }

  func testTransposedProductsAgreeWithOpenBLAS() {
    var random = SeededRandom(4)
    for (T, C, V) in [(3, 33, 101), (41, 33, 101), (128, 768, 5000), (200, 64, 777)] {
      // The unembedding: logits[T, V] = x[T, C] · E[V, C]ᵀ.
      let embedding = random.tensor([V, C]), x = random.floats(T * C)
      var expected = [Float](repeating: 0, count: T * V)
      unembedForward(&expected, x, embedding.pointer, T: T, C: C, V: V)
      let scale = magnitudes(x, embedding.scalars, M: T, N: V, K: C, transposed: true)
      var passes: [[Float]] = []
      for pass in 0..<2 {
        var got = [Float](repeating: .nan, count: T * V)
        unembedForward(&got, x, embedding, T: T, C: C, V: V)
        assertAgree(got, expected, scale: scale, "unembed T \(T) C \(C) V \(V) pass \(pass)")
        passes.append(got)
      }
      XCTAssertEqual(passes[0], passes[1], "unembed T \(T): the same bits before and after the copy")
      XCTAssertEqual(
        PackedWeights.isPacked(embedding, PackedWeights.Layout(transposed: true, K: C, N: V)), packingExpected)

      // A linear layer's backward: dinp[T, C] (+)= dout[T, OC] · W[C, OC]ᵀ.
      let OC = V, weight = random.tensor([C, OC]), dout = random.floats(T * OC), start = random.floats(T * C)
      let dScale = magnitudes(dout, weight.scalars, M: T, N: C, K: OC, transposed: true)
      for accumulate in [false, true] {
        var expected = start
        linearBackward(&expected, dout, weight.pointer, T: T, C: C, OC: OC, accumulate: accumulate)
        var passes: [[Float]] = []
        for pass in 0..<2 {
          var got = start
          linearBackward(&got, dout, weight, T: T, C: C, OC: OC, accumulate: accumulate)
          let scale = accumulate ? zip(dScale, start).map { $0 + abs($1) } : dScale
          assertAgree(got, expected, scale: scale, "backward T \(T) C \(C) OC \(OC) += \(accumulate) pass \(pass)")
          passes.append(got)
        }
        XCTAssertEqual(passes[0], passes[1], "backward T \(T): the same bits before and after the copy")
      }
      XCTAssertEqual(
        PackedWeights.isPacked(weight, PackedWeights.Layout(transposed: true, K: OC, N: C)), packingExpected)
    }
  }

  func testMatrixVectorProductsAndOneUseNeverPack() {
    var random = SeededRandom(5)
    let weight = random.tensor([64, 96]), layout = PackedWeights.Layout(transposed: false, K: 64, N: 96)
    var out = [Float](repeating: 0, count: 128 * 96)
    let rows = PackedWeights.minimumRows - 1
    for _ in 0..<3 { matmulForward(&out, random.floats(rows * 64), weight, nil, T: rows, C: 64, OC: 96) }
    XCTAssertFalse(PackedWeights.isPacked(weight, layout), "matrix-vector products")
    matmulForward(&out, random.floats(128 * 64), weight, nil, T: 128, C: 64, OC: 96)
    XCTAssertFalse(PackedWeights.isPacked(weight, layout), "a first use")
  }

  func testAWrittenWeightIsCopiedAndItsProductsFollowTheNewValues() {
    var random = SeededRandom(6)
    let M = 64, C = 48, OC = 80
    var weight = random.tensor([C, OC])
    let inp = random.floats(M * C), original = weight
    var out = [Float](repeating: 0, count: M * OC)
    for _ in 0..<2 { matmulForward(&out, inp, weight, nil, T: M, C: C, OC: OC) }
    let layout = PackedWeights.Layout(transposed: false, K: C, N: OC)
    XCTAssertEqual(PackedWeights.isPacked(weight, layout), packingExpected)

    // The only reference to a packed buffer writes into a copy, not the packed memory's source.
    let before = weight.pointer
    weight[0, 0] = 100
    XCTAssertTrue(packingExpected ? weight.pointer != before : true, "a packed buffer is read-only")
    XCTAssertFalse(PackedWeights.isPacked(weight, layout))
    var expected = [Float](repeating: 0, count: M * OC), got = expected
    matmulForward(&expected, inp, weight.pointer, nil, T: M, C: C, OC: OC)
    for _ in 0..<2 { matmulForward(&got, inp, weight, nil, T: M, C: C, OC: OC) }
    let scale = magnitudes(inp, weight.scalars, M: M, N: OC, K: C, transposed: false)
    assertAgree(got, expected, scale: scale, "after the write")
    XCTAssertEqual(original[0, 0] == 100, false, "the original keeps its value")
  }

  func testCopiesStopAtTheLimitAndGoWithTheirWeight() {
    var random = SeededRandom(7)
    let M = 64, C = 40, OC = 72, layout = PackedWeights.Layout(transposed: false, K: C, N: OC)
    let inp = random.floats(M * C)
    var out = [Float](repeating: 0, count: M * OC)
    let held = PackedWeights.heldBytes.load(ordering: .relaxed)
    do {
      var weight: Tensor? = random.tensor([C, OC])
      for _ in 0..<2 { matmulForward(&out, inp, weight!, nil, T: M, C: C, OC: OC) }
      XCTAssertEqual(PackedWeights.isPacked(weight!, layout), packingExpected)
      if packingExpected { XCTAssertGreaterThan(PackedWeights.heldBytes.load(ordering: .relaxed), held) }
      weight = nil
      XCTAssertEqual(PackedWeights.heldBytes.load(ordering: .relaxed), held, "freed with the weight")
    }
    // Over the limit, products read the weight in place: the same bits as with a copy.
    let values = random.floats(C * OC)
    let packed = Tensor(shape: [C, OC], scalars: values)
    var expected = out
    for _ in 0..<2 { matmulForward(&expected, inp, packed, nil, T: M, C: C, OC: OC) }
    XCTAssertEqual(PackedWeights.isPacked(packed, layout), packingExpected)
    let limit = PackedWeights.limitBytes
    PackedWeights.limitBytes = 0
    defer { PackedWeights.limitBytes = limit }
    let weight = Tensor(shape: [C, OC], scalars: values)
    for _ in 0..<3 { matmulForward(&out, inp, weight, nil, T: M, C: C, OC: OC) }
    XCTAssertFalse(PackedWeights.isPacked(weight, layout), "over the limit")
    XCTAssertEqual(out, expected, "the same bits in place")
  }

  /// Every family's forward pass and gradients over a 100-token prompt: the
  /// first pass (weights read in place) and the second (packed copies) give
  /// the same bits.
  func testEveryFamilyGivesTheSameAnswersWithPackedWeights() throws {
    for name in TinyModelTests.families {
      let (m, ref) = try hfTinyModel(name)
      let metric = try ref.integers("metric")
      var random = SeededRandom(8)
      let tokens = (0..<100).map { _ in Int(random.next() % UInt64(m.config.vocabSize)) }
      func pass() throws -> (Tensor, [HookPoint: Tensor]) {
        let logits = try m.forward(tokens).logits
        let g = try m.gradients(
          tokens, metric: .logitDifference(position: -1, target: metric[0], distractor: metric[1]))
        return (logits, g.gradients)
      }
      let (firstLogits, firstGradients) = try pass()
      let (packedLogits, packedGradients) = try pass()
      let fc = PackedWeights.Layout(transposed: false, K: m.config.dModel, N: m.config.dMLP)
      XCTAssertEqual(PackedWeights.isPacked(m.weights.blocks[0].fcWeight, fc), packingExpected, name)
      XCTAssertEqual(packedLogits, firstLogits, "\(name) logits")
      for (point, g) in firstGradients {
        XCTAssertEqual(try XCTUnwrap(packedGradients[point]), g, "\(name) gradient \(point.name)")
      }
    }
  }
}
