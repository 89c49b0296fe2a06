import CBLAS
import XCTest

@testable import Engine

/// One or two rows (a generation step, `predict`'s last position) go to
/// sgemv with the outputs split over the cores: every output must be the
/// sum it names, whichever worker computed it.
final class MatrixVectorProductTests: XCTestCase {
  /// y = op(a) · x + beta · y in Double, one output at a time.
  func reference(transposed: Bool, rows: Int, columns: Int, _ a: [Float], _ x: [Float], beta: Float, _ y: [Float])
    -> [Float]
  {
    let outputs = transposed ? columns : rows, inner = transposed ? rows : columns
    return (0..<outputs).map { o in
      var sum = Double(beta) * Double(y[o])
      for i in 0..<inner { sum += Double(transposed ? a[i * columns + o] : a[o * columns + i]) * Double(x[i]) }
      return Float(sum)
    }
  }

  func assertNear(
    _ got: [Float], _ expected: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line
  ) {
    XCTAssertEqual(got.count, expected.count, what, file: file, line: line)
    var worst: Float = 0
    for i in 0..<min(got.count, expected.count) {
      worst = max(worst, abs(got[i] - expected[i]) / max(1, abs(expected[i])))
    }
    // Sums of a few thousand products in float: ~1e-6; a wrong offset: O(1).
    XCTAssertLessThan(worst, 1e-4, what, file: file, line: line)
  }

  func check(transposed: Bool, rows: Int, columns: Int, beta: Float, file: StaticString = #filePath, line: UInt = #line)
  {
    var random = SeededRandom(UInt64(rows * 31 + columns))
    let outputs = transposed ? columns : rows, inner = transposed ? rows : columns
    let a = random.floats(rows * columns), x = random.floats(inner), y = random.floats(outputs)
    var got = y
    got.withUnsafeMutableBufferPointer { out in
      matrixVectorProduct(transposed: transposed, rows: rows, columns: columns, a, x, beta: beta, out.baseAddress!)
    }
    assertNear(
      got, reference(transposed: transposed, rows: rows, columns: columns, a, x, beta: beta, y),
      "rows \(rows) columns \(columns) transposed \(transposed) beta \(beta)", file: file, line: line)
  }

  func testEveryOutputIsItsSumOnShapesThatSplitAndThatDoNot() {
    // Large enough to split over the workers, output counts that are not
    // whole 16-float tiles, and one too small to split.
    for (rows, columns) in [(768, 2304 + 37), (5003, 96), (576, 1536), (9, 40)] {
      for transposed in [false, true] {
        for beta: Float in [0, 1] { check(transposed: transposed, rows: rows, columns: columns, beta: beta) }
      }
    }
  }

  func testOneThreadDoesItAllWhenBLASIsKeptToOne() {
    let threads = openblas_get_num_threads()
    openblas_set_num_threads(1)
    defer { openblas_set_num_threads(threads) }
    check(transposed: true, rows: 768, columns: 999, beta: 1)
    check(transposed: false, rows: 999, columns: 768, beta: 0)
  }

  /// A layer's product and the unembedding on one and two rows, as a
  /// generation step runs them (bias included).
  func testLayerAndUnembeddingOnOneAndTwoRows() {
    var random = SeededRandom(9)
    let C = 640, OC = 2000, V = 3001
    let weight = random.floats(C * OC), bias = random.floats(OC), embedding = random.floats(V * C)
    for T in [1, 2] {
      let inp = random.floats(T * C)
      var out = [Float](repeating: .nan, count: T * OC)
      matmulForward(&out, inp, weight, bias, T: T, C: C, OC: OC)
      var logits = [Float](repeating: .nan, count: T * V)
      unembedForward(&logits, inp, embedding, T: T, C: C, V: V)
      for t in 0..<T {
        let row = Array(inp[t * C..<(t + 1) * C])
        assertNear(
          Array(out[t * OC..<(t + 1) * OC]),
          reference(transposed: true, rows: C, columns: OC, weight, row, beta: 1, bias), "layer, T \(T) row \(t)")
        assertNear(
          Array(logits[t * V..<(t + 1) * V]),
          reference(transposed: false, rows: V, columns: C, embedding, row, beta: 0, [Float](repeating: 0, count: V)),
          "unembedding, T \(T) row \(t)")
      }
    }
  }
}
