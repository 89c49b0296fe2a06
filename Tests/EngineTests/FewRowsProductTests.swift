import CBLAS
import CBLIS
import CKernels
import Foundation
import XCTest

@testable import Engine

/// A short prompt's products go to BLIS, split by columns over the cores;
/// they must agree with OpenBLAS's, and every cblas_ call must still be
/// OpenBLAS's (BLIS is linked statically beside it and defines the same names).
final class FewRowsProductTests: XCTestCase, KernelTesting {
  func reference(transposeB: Bool, M: Int, N: Int, K: Int, _ a: [Float], _ b: [Float], beta: Float, _ c: [Float])
    -> [Float]
  {
    var out = c
    cblas_sgemm(
      CblasRowMajor, CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans, Int32(M), Int32(N), Int32(K), 1, a,
      Int32(K), b, Int32(transposeB ? K : N), beta, &out, Int32(N))
    return out
  }

  func check(transposeB: Bool, M: Int, N: Int, K: Int, beta: Float, file: StaticString = #filePath, line: UInt = #line)
  {
    var random = SeededRandom(1)
    let a = random.floats(M * K), b = random.floats(K * N), c = random.floats(M * N)
    let expected = reference(transposeB: transposeB, M: M, N: N, K: K, a, b, beta: beta, c)
    var got = c
    got.withUnsafeMutableBufferPointer { out in
      fewRowsProduct(
        transposeB: transposeB, M: M, N: N, K: K, a, lda: K, b, ldb: transposeB ? K : N, beta: beta,
        out.baseAddress!, ldc: N)
    }
    var worst: Float = 0
    for i in 0..<expected.count { worst = max(worst, abs(got[i] - expected[i]) / max(1, abs(expected[i]))) }
    // Sums of K products in another order: rounding differs by ~K·ε, a wrong
    // operand or offset by O(1).
    XCTAssertLessThan(worst, 1e-4, "M \(M) N \(N) K \(K) transposeB \(transposeB) beta \(beta)", file: file, line: line)
  }

  func testAgreesWithOpenBLASOnEveryShapeAShortPromptMakes() {
    // Column counts that split unevenly over the workers, and odd inner sizes.
    for (M, N, K) in [(3, 131, 17), (16, 1000, 768), (fewRows, 2304 + 37, 96), (7, 50, 3)] {
      for transposeB in [false, true] {
        for beta: Float in [0, 1] { check(transposeB: transposeB, M: M, N: N, K: K, beta: beta) }
      }
    }
  }

  /// The AVX2 dot-product kernel the unembedding of a short prompt uses: every
  /// tile shape (4 x 3 and its row and column remainders), inner sizes that
  /// are and are not whole vectors, rows longer than K (leading dimensions),
  /// beta 0 and 1, against OpenBLAS.
  func testRowDotProductsAgreeWithOpenBLASOnEveryTileShape() {
    var random = SeededRandom(3)
    for M in [1, 2, 3, 4, 5, 7, 8, 16] {
      for N in [1, 2, 3, 4, 5, 7, 64] {
        for K in [1, 7, 8, 9, 64, 77] {
          let lda = K + 3, ldb = K + 5, ldc = N + 2
          let a = random.floats(M * lda), b = random.floats(N * ldb), start = random.floats(M * ldc)
          for beta: Float in [0, 1] {
            var expected = start
            cblas_sgemm(
              CblasRowMajor, CblasNoTrans, CblasTrans, Int32(M), Int32(N), Int32(K), 1, a, Int32(lda), b, Int32(ldb),
              beta, &expected, Int32(ldc))
            var got = start
            let ran = tdb_row_dot_products(M, N, K, a, lda, b, ldb, beta, &got, ldc)
            XCTAssertEqual(ran, cpuHasAVX2AndFMA && String(cString: tdb_kernels().pointee.name) != "portable")
            guard ran else { return }
            var worst: Float = 0
            for i in 0..<expected.count { worst = max(worst, abs(got[i] - expected[i]) / max(1, abs(expected[i]))) }
            XCTAssertLessThan(worst, 1e-5, "M \(M) N \(N) K \(K) beta \(beta)")
          }
        }
      }
    }
  }

  func testOneThreadDoesItAllWhenBLASIsKeptToOne() {
    let threads = openblas_get_num_threads()
    openblas_set_num_threads(1)
    defer { openblas_set_num_threads(threads) }
    check(transposeB: true, M: 16, N: 999, K: 64, beta: 0)
    check(transposeB: false, M: 16, N: 999, K: 64, beta: 1)
  }

  /// The file mapped at `address` in this process, from /proc/self/maps.
  func mappedFile(containing address: UInt) throws -> String? {
    // Read to the end: /proc files report a size of 0.
    let maps = try XCTUnwrap(FileHandle(forReadingAtPath: "/proc/self/maps")).readDataToEndOfFile()
    for line in String(decoding: maps, as: UTF8.self).split(separator: "\n") {
      let fields = line.split(separator: " ", omittingEmptySubsequences: true)
      let bounds = fields[0].split(separator: "-").compactMap { UInt($0, radix: 16) }
      if bounds.count == 2, bounds[0] <= address, address < bounds[1] {
        return fields.count > 5 ? String(fields[5]) : nil
      }
    }
    return nil
  }

  func testCBLASCallsStillGoToOpenBLAS() throws {
    typealias SGEMM =
      @convention(c) (
        CBLAS_ORDER, CBLAS_TRANSPOSE, CBLAS_TRANSPOSE, Int32, Int32, Int32, Float, UnsafePointer<Float>?, Int32,
        UnsafePointer<Float>?, Int32, Float, UnsafeMutablePointer<Float>?, Int32
      ) -> Void
    let sgemm = UInt(bitPattern: unsafeBitCast(cblas_sgemm as SGEMM, to: UnsafeRawPointer.self))
    let library = try XCTUnwrap(try mappedFile(containing: sgemm), "no mapping holds \(String(sgemm, radix: 16))")
    XCTAssert(library.contains("openblas"), "cblas_sgemm comes from \(library)")
    XCTAssert(String(cString: tdb_blis_version()).hasPrefix("0."), "BLIS reports a version")
  }
}
