import CKernels
import Foundation
import XCTest

@testable import Engine

/// The C vector kernels (Sources/CKernels) against scalar references, on every
/// kernel set this machine runs: the AVX-512 and AVX2+FMA sets where the CPU
/// has them, and the portable set, which `TDB_KERNELS=portable` forces on the
/// whole engine.
final class KernelTests: XCTestCase, KernelTesting {
  func testDispatchPicksTheFastestSetUnlessForced() throws {
    let avx2 = cpuHasAVX2AndFMA ? "avx2" : "portable"
    let fastest = cpuHasAVX512 ? "avx512" : avx2
    XCTAssertEqual(name(tdb_kernels_choose(nil)), fastest)
    XCTAssertEqual(name(tdb_kernels_choose("anything else")), fastest)
    XCTAssertEqual(name(tdb_kernels_choose("avx2")), avx2)
    XCTAssertEqual(name(tdb_kernels_choose("portable")), "portable")
    XCTAssertEqual(tdb_kernels_avx2() != nil, cpuHasAVX2AndFMA)
    XCTAssertEqual(tdb_kernels_avx512() != nil, cpuHasAVX512)
    let setting = ProcessInfo.processInfo.environment["TDB_KERNELS"]
    XCTAssertEqual(name(tdb_kernels()), name(tdb_kernels_choose(setting)), "the set in use")
  }

  func testExpWithinTwoUlpOfLibmOverTheWholeRange() {
    // Every 509th bit pattern (8.4 million floats: both signs, denormals, NaNs), then the edges.
    var xs = stride(from: UInt64(0), to: 1 << 32, by: 509).map { Float(bitPattern: UInt32($0)) }
    xs += specialValues + [88.72, 88.7228, 88.73, -87.33, -87.34, -103.2, -103.98, -104, -200, 1e-30, -1e-30]
    for set in sets {
      var out = [Float](repeating: 0, count: xs.count)
      set.exp(&out, xs, xs.count)
      var worst: Float = 0
      for (x, e) in zip(xs, out) {
        let ref = expf(x)
        if ref.isNaN {
          XCTAssert(e.isNaN, "\(name(set)) exp(\(x)) = \(e)")
          continue
        }
        let err = ulpError(e, ref)
        worst = max(worst, err)
        if err > 2 { XCTFail("\(name(set)) exp(\(x)) = \(e), libm \(ref): \(err) ulp") }
      }
      XCTAssertLessThanOrEqual(worst, 2, name(set))
    }
  }

  func testExpSpecialValues() {
    let xs: [Float] = [.infinity, -.infinity, .nan, 0, -0.0, 100, -110, -103.5, 88.7, -87.5]
    for set in sets {
      var out = [Float](repeating: 1, count: xs.count)
      set.exp(&out, xs, xs.count)
      XCTAssertEqual(out[0], .infinity, name(set))
      XCTAssertEqual(out[1], 0, name(set))
      XCTAssert(out[2].isNaN, name(set))
      XCTAssertEqual(out[3], 1, name(set))
      XCTAssertEqual(out[4], 1, name(set))
      XCTAssertEqual(out[5], .infinity, name(set))
      XCTAssertEqual(out[6], 0, name(set))
      XCTAssert(out[7].isSubnormal && out[7] > 0, "\(name(set)) exp(-103.5) = \(out[7]) is denormal")
      XCTAssert(out[8].isFinite && out[8] > 1e38, name(set))
      XCTAssert(out[9].isNormal == false && out[9] > 0, "\(name(set)) exp(-87.5) = \(out[9])")
    }
  }

  func testEveryLengthAndOffsetGivesTheSameValues() {
    // Whole vectors and the masked last one must agree, and nothing past n is written.
    var rng = SplitMix64(seed: 7)
    let x = (0..<64).map { _ in Float.random(in: -20...20, using: &rng) },
      up = (0..<64).map { _ in Float.random(in: -3...3, using: &rng) }
    for set in sets {
      for (kernel, unary) in unaryKernels(set) {
        var whole = [Float](repeating: 0, count: 64)
        unary(&whole, x, 64)
        for offset in 0..<9 {
          for n in 0..<(64 - offset - 1) {
            var out = [Float](repeating: 12345, count: 64)
            out.withUnsafeMutableBufferPointer { o in
              x.withUnsafeBufferPointer { i in unary(o.baseAddress! + offset, i.baseAddress! + offset, n) }
            }
            XCTAssertEqual(Array(out[offset..<(offset + n)]), Array(whole[offset..<(offset + n)]), "\(kernel) n \(n)")
            XCTAssertEqual(out[offset + n], 12345, "\(name(set)) \(kernel) wrote past n = \(n)")
          }
        }
      }
      for (kernel, binary) in binaryKernels(set) {
        var whole = [Float](repeating: 0, count: 64)
        binary(&whole, x, up, 64)
        for n in 0..<63 {
          var out = [Float](repeating: 12345, count: 64)
          binary(&out, x, up, n)
          XCTAssertEqual(Array(out[0..<n]), Array(whole[0..<n]), "\(name(set)) \(kernel) n \(n)")
          XCTAssertEqual(out[n], 12345, "\(name(set)) \(kernel) wrote past n = \(n)")
        }
      }
    }
  }

  /// Within 1 ulp of the exact value of the same formula: x·σ(2u) is
  /// computed in double and rounded once.
  func testGELUAgainstItsDoublePrecisionValue() {
    let xs = sampledRange + specialValues
    for set in sets {
      var out = [Float](repeating: 0, count: xs.count)
      set.gelu_tanh(&out, xs, xs.count)
      for (x, g) in zip(xs, out) {
        let ref = geluReference(x)
        if ref.isNaN {
          XCTAssert(g.isNaN, "\(name(set)) gelu(\(x)) = \(g)")
        } else if ulpError(g, ref) > 1 {
          XCTFail("\(name(set)) gelu(\(x)) = \(g), reference \(ref): \(ulpError(g, ref)) ulp")
        }
      }
    }
  }

  func testGELUAgainstTheScalarSwiftFormula() {
    // The formula tdb used before the kernels, in Float with libm's tanhf.
    let s = Float((2.0 / Double.pi).squareRoot())
    let xs = stride(from: Float(-12), through: 12, by: 0.001).map { $0 }
    for set in sets {
      var out = [Float](repeating: 0, count: xs.count)
      set.gelu_tanh(&out, xs, xs.count)
      for (x, g) in zip(xs, out) {
        let old = 0.5 * x * (1 + tanhf(s * (x + 0.044715 * x * x * x)))
        XCTAssertEqual(g, old, accuracy: 2e-6 * max(1, abs(x)), "\(name(set)) gelu(\(x))")
      }
    }
  }

  /// The exact GELU against x·Φ(x) in double (erfc, which does not cancel
  /// for negative x): within 1 ulp, denormals included — the kernels compute
  /// it in double with an erfc good to 1.5e-10 and round once (1 + erff(x/√2),
  /// tdb's old scalar formula, cancels for negative x and keeps no digit
  /// below x ≈ -5.5).
  func testExactGELUAgainstItsDoublePrecisionValue() {
    let xs = sampledRange + specialValues + stride(from: Float(-20), through: 20, by: 0.00071).map { $0 }
    for set in sets {
      var out = [Float](repeating: 0, count: xs.count)
      set.gelu_erf(&out, xs, xs.count)
      var worst: Float = 0
      for (x, g) in zip(xs, out) {
        let ref = exactGELUReference(x)
        check(g, ref, ulps: 1, "\(name(set)) gelu_erf(\(x))")
        if ref.isFinite && ref.magnitude >= Float.leastNormalMagnitude { worst = max(worst, ulpError(g, ref)) }
      }
      XCTAssertLessThanOrEqual(worst, 1, name(set))
      // ±∞ as x·Φ(x) gives them, and the scalar formula tdb used before where it does not cancel.
      XCTAssertEqual(out[xs.firstIndex(of: .infinity)!], .infinity, name(set))
      XCTAssert(out[xs.firstIndex(of: -.infinity)!].isNaN, name(set))
      for (x, g) in zip(xs, out) where x.isFinite && x > -3 && x < 30 {
        let old = 0.5 * x * (1 + erff(x * Float(0.5.squareRoot())))
        XCTAssertEqual(g, old, accuracy: 4e-7 * max(1, abs(x)), "\(name(set)) gelu_erf(\(x))")
      }
    }
  }

  /// gelu_new's derivative times dout against the derivative in double: it
  /// crosses zero (x ≈ -0.75), so the bound is absolute, 3e-7 (2.5 ulp at
  /// 1, where it ends), as the gradient tests need it; and the scalar Swift
  /// formula tdb used before, where that one is accurate.
  func testGELUBackwardAgainstItsDoublePrecisionValue() {
    let xs = sampledRange + specialValues
    let ones = [Float](repeating: 1, count: xs.count)
    let s = 0.797884560802865355, c = 0.044715
    for set in sets {
      var out = [Float](repeating: 0, count: xs.count)
      set.gelu_tanh_backward(&out, xs, ones, xs.count)
      for (x, d) in zip(xs, out) {
        if x.isNaN {
          XCTAssert(d.isNaN, "\(name(set)) gelu'(\(x))")
          continue
        }
        let xd = Double(x), t = Foundation.tanh(s * (xd + c * xd * xd * xd))
        var ref = 0.5 * (1 + t) + 0.5 * xd * (1 - t * t) * s * (1 + 3 * c * xd * xd)
        if !ref.isFinite { ref = xd > 0 ? 1 : 0 }  // x³ overflowed where sech² is 0
        XCTAssertEqual(Double(d), ref, accuracy: 3e-7, "\(name(set)) gelu'(\(x))")
        // Below x ≈ -3 the old 0.5·(1 + tanh u) cancels (errors up to 1.3e-6); the kernel does not.
        guard x > -3 && x < 30 else { continue }
        let sf = Float(s), tf = 1 - 2 / (expf(2 * sf * (x + 0.044715 * x * x * x)) + 1)
        let old = 0.5 * (1 + tf) + 0.5 * x * (1 - tf * tf) * sf * (1 + 3 * 0.044715 * x * x)
        XCTAssertEqual(d, old, accuracy: 1e-6, "\(name(set)) gelu'(\(x)) against the old formula")
      }
      // dout scales it, in place too.
      var dout: [Float] = [2, -3, 0.5]
      let x: [Float] = [0.3, -1, 4]
      var separate = [Float](repeating: 0, count: 3)
      set.gelu_tanh_backward(&separate, x, dout, 3)
      dout.withUnsafeMutableBufferPointer { b in set.gelu_tanh_backward(b.baseAddress!, x, b.baseAddress!, 3) }
      XCTAssertEqual(dout, separate, name(set))
    }
  }

  func testGatedActivationsAgainstTheirDoublePrecisionValues() {
    var rng = SplitMix64(seed: 3)
    let gate = sampledRange + specialValues
    let up = gate.map { _ in Float.random(in: -4...4, using: &rng) }
    for set in sets {
      var silu = [Float](repeating: 0, count: gate.count), gelu = silu
      set.silu_gate(&silu, gate, up, gate.count)
      set.gelu_gate(&gelu, gate, up, gate.count)
      for i in gate.indices {
        let g = Double(gate[i]), u = Double(up[i])
        let siluRef = Float(xSigmoid(g, g) * u)
        let geluRef = Float(geluInDouble(gate[i]) * u)
        // act(gate)·up is computed in double and rounded once.
        check(silu[i], siluRef, ulps: 1, "\(name(set)) silu(\(gate[i]))·\(up[i])")
        check(gelu[i], geluRef, ulps: 1, "\(name(set)) gelu(\(gate[i]))·\(up[i])")
      }
    }
  }

  func testAddIsExact() {
    let a = sampledRange + specialValues, b = a.reversed() as [Float]
    for set in sets {
      var out = [Float](repeating: 0, count: a.count)
      set.add(&out, a, b, a.count)
      for i in a.indices {
        let ref = a[i] + b[i]
        XCTAssert(ref.isNaN ? out[i].isNaN : out[i] == ref, "\(name(set)) \(a[i]) + \(b[i])")
      }
      set.add(&out, out, b, a.count)  // in place
    }
  }

  func testSoftmaxRowAgainstTheScalarReference() {
    var rng = SplitMix64(seed: 11)
    for set in sets {
      for trial in 0..<400 {
        let length = 1 + trial % 70, last = Int(rng.next() % UInt64(length))
        let first = Int(rng.next() % UInt64(last + 1))
        let spread: Float = [1, 10, 100, 1e4, 1e30][trial % 5]
        var s = (0..<length).map { _ in Float.random(in: -spread...spread, using: &rng) }
        if trial % 7 == 0 { s[first + (last - first) / 2] = -.infinity }
        if trial % 11 == 0 { s[0..<length] = ArraySlice(repeating: -1e-40, count: length) }  // denormal scores
        let ref = softmaxReference(s, first: first, last: last)
        var p = [Float](repeating: .nan, count: length)
        set.softmax_row(&p, s, first, last, length)
        var inPlace = s
        inPlace.withUnsafeMutableBufferPointer { b in
          set.softmax_row(b.baseAddress!, b.baseAddress!, first, last, length)
        }
        XCTAssertEqual(p, inPlace, "\(name(set)) in place, trial \(trial)")
        for j in 0..<length {
          if j < first || j > last {
            XCTAssertEqual(p[j], 0, "\(name(set)) outside first...last, trial \(trial)")
          } else {
            check(p[j], ref[j], ulps: 1, "\(name(set)) trial \(trial) j \(j) of \(first)...\(last)")
          }
        }
      }
    }
  }

  func testSoftmaxRowEdgeCases() {
    for set in sets {
      // All keys masked: attend nowhere.
      var p = [Float](repeating: .nan, count: 20)
      let masked = [Float](repeating: -.infinity, count: 20)
      set.softmax_row(&p, masked, 3, 17, 20)
      XCTAssertEqual(p, [Float](repeating: 0, count: 20), name(set))
      // One key, and a huge-but-finite score beside -inf ones.
      var s: [Float] = [-.infinity, 3e38, -.infinity, -3e38, 0]
      set.softmax_row(&p, s, 0, 4, 5)
      XCTAssertEqual(Array(p[0..<5]), [0, 1, 0, 0, 0], name(set))
      set.softmax_row(&p, s, 4, 4, 5)
      XCTAssertEqual(Array(p[0..<5]), [0, 0, 0, 0, 1], name(set))
      // A NaN score poisons the row, as the scalar loop does.
      s = [1, .nan, 2, 3, 4, 5, 6, 7, 8, 9, 10]
      set.softmax_row(&p, s, 0, 10, 11)
      XCTAssert(p[0..<11].allSatisfy(\.isNaN), name(set))
    }
  }

  func testSoftmaxBackwardRowAgainstItsDoublePrecisionValue() {
    var rng = SplitMix64(seed: 12)
    for set in sets {
      for trial in 0..<400 {
        let length = 1 + trial % 70, last = Int(rng.next() % UInt64(length))
        let first = Int(rng.next() % UInt64(last + 1))
        let scores = (0..<length).map { _ in Float.random(in: -8...8, using: &rng) }
        let p = softmaxReference(scores, first: first, last: last)
        let spread: Float = [1e-3, 1, 1e4][trial % 3]
        var dp = (0..<length).map { _ in Float.random(in: -spread...spread, using: &rng) }
        if trial % 5 == 0 { dp[0..<length] = ArraySlice(repeating: 0.25, count: length) }  // cancels exactly: all 0
        var ds = [Float](repeating: .nan, count: length)
        set.softmax_backward_row(&ds, p, dp, first, last, length)
        var inPlace = dp
        inPlace.withUnsafeMutableBufferPointer { b in
          set.softmax_backward_row(b.baseAddress!, p, b.baseAddress!, first, last, length)
        }
        XCTAssertEqual(ds, inPlace, "\(name(set)) in place, trial \(trial)")
        // Reference: the dot product exactly enough in double, each value rounded once.
        var dot = 0.0, magnitude = 0.0
        for j in first...last {
          dot += Double(p[j]) * Double(dp[j])
          magnitude += abs(Double(p[j]) * Double(dp[j]))
        }
        for j in 0..<length {
          if j < first || j > last {
            XCTAssertEqual(ds[j], 0, "\(name(set)) outside first...last, trial \(trial)")
            continue
          }
          let exact = Double(p[j]) * (Double(dp[j]) - dot)
          // A dot product summed in another order may differ in its last double bits.
          let slack = Double(p[j]) * magnitude * 1e-15
          let ref = Float(exact)
          if abs(Double(ds[j]) - exact) > slack { check(ds[j], ref, ulps: 1, "\(name(set)) trial \(trial) j \(j)") }
        }
      }
    }
  }

  func testSoftmaxBackwardRowEdgeCases() {
    for set in sets {
      var ds = [Float](repeating: .nan, count: 12)
      // One key: its probability is 1 and the gradient through it is 0.
      set.softmax_backward_row(&ds, [0, 0, 1, 0], [5, 6, 7, 8], 2, 2, 4)
      XCTAssertEqual(Array(ds[0..<4]), [0, 0, 0, 0], name(set))
      // A NaN gradient poisons the row, as the scalar loop did; outside it stays 0.
      let p = [Float](repeating: 0.1, count: 10) + [0, 0]
      var dp = [Float](repeating: 1, count: 12)
      dp[4] = .nan
      set.softmax_backward_row(&ds, p, dp, 0, 9, 12)
      XCTAssert(ds[0..<10].allSatisfy(\.isNaN), name(set))
      XCTAssertEqual(Array(ds[10..<12]), [0, 0], name(set))
      // An infinite gradient where the probability is 0 (a masked key) stays out of the row.
      dp = [Float](repeating: 1, count: 12)
      dp[11] = .infinity
      set.softmax_backward_row(&ds, p, dp, 0, 9, 12)
      XCTAssert(ds.allSatisfy { $0.isFinite }, name(set))
    }
  }

  // MARK: references and helpers

  typealias Unary = (UnsafeMutablePointer<Float>?, UnsafePointer<Float>?, Int) -> Void
  typealias Binary = (UnsafeMutablePointer<Float>?, UnsafePointer<Float>?, UnsafePointer<Float>?, Int) -> Void

  func unaryKernels(_ set: tdb_kernel_set) -> [(String, Unary)] {
    [("exp", set.exp), ("gelu_tanh", set.gelu_tanh), ("gelu_erf", set.gelu_erf)]
  }
  func binaryKernels(_ set: tdb_kernel_set) -> [(String, Binary)] {
    [
      ("silu_gate", set.silu_gate), ("gelu_gate", set.gelu_gate), ("add", set.add),
      ("gelu_tanh_backward", set.gelu_tanh_backward), ("gelu_erf_backward", set.gelu_erf_backward),
    ]
  }

  /// gelu_new in double from the kernels' own Float rounding of its argument
  /// 2u = 2·√(2/π)·(x + 0.044715·x³): 0.5·x·(1 + tanh u) = x·σ(2u).
  func geluReference(_ x: Float) -> Float { Float(geluInDouble(x)) }

  /// gelu_new(x) = x·σ(2u) in double, 2u rounded to float as the kernels round it.
  func geluInDouble(_ x: Float) -> Double {
    let s = Float((2.0 / Double.pi).squareRoot())
    return xSigmoid(Double(x), Double((2 * s) * (x + 0.044715 * x * x * x)))
  }

  /// x·Φ(x) = x·erfc(-x/√2)/2 in double.
  func exactGELUReference(_ x: Float) -> Float {
    if x.isNaN { return x }
    if x == .infinity { return x }
    if x == -.infinity { return .nan }
    let d = Double(x)
    return Float(d * 0.5 * Foundation.erfc(-d / 2.0.squareRoot()))
  }

  /// What `causalSoftmaxRow` computed before the kernels, accumulated in double.
  func softmaxReference(_ s: [Float], first: Int, last: Int) -> [Float] {
    var maxv = -Float.infinity
    for j in first...last where s[j] > maxv { maxv = s[j] }
    var p = [Double](repeating: 0, count: s.count)
    if maxv == -.infinity { return p.map(Float.init) }
    for j in first...last { p[j] = Foundation.exp(Double(s[j] - maxv)) }
    let sum = p.reduce(0, +)
    return p.map { Float($0 / sum) }
  }

}
