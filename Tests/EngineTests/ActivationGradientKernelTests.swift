import CKernels
import Foundation
import XCTest

@testable import Engine

/// The backward kernels of SiLU·up and the exact GELU, and the SAE
/// nonlinearities, on every kernel set. The derivatives cross zero, so their
/// bound is 1 ulp of the exact value plus the double arithmetic's own error
/// relative to the size of the terms that cancel.
final class ActivationGradientKernelTests: XCTestCase, KernelTesting {
  func testSiLUGateBackwardAgainstDouble() {
    var rng = SplitMix64(seed: 41)
    let gate = sampledRange + specialValues
    let up = gate.map { _ in Float.random(in: -4...4, using: &rng) }
    let dout = gate.map { _ in Float.random(in: -2...2, using: &rng) }
    for set in sets {
      var dgate = [Float](repeating: .nan, count: gate.count), dup = dgate
      set.silu_gate_backward(&dgate, &dup, dout, gate, up, gate.count)
      for i in gate.indices {
        let g = Double(gate[i]), what = "\(name(set)) silu backward at \(gate[i])"
        if gate[i].isNaN {
          XCTAssert(dgate[i].isNaN && dup[i].isNaN, what)
          continue
        }
        if gate[i].isInfinite { continue }  // ∞·0 in the formula: NaN, as before the kernels
        let sigma = xSigmoid(1, g), complement = xSigmoid(1, -g)
        let dy = Double(dout[i]), u = Double(up[i])
        check(dup[i], Float(dy * g * sigma), ulps: 1, "dup, " + what)
        let ref = dy * u * sigma * (1 + g * complement)
        let terms = (dy * u * sigma).magnitude * (1 + (g * complement).magnitude)
        XCTAssertEqual(Double(dgate[i]), ref, accuracy: Double(Float(ref).ulp) + 1e-14 * terms, "dgate, " + what)
      }
    }
  }

  func testExactGELUBackwardAgainstDouble() {
    var rng = SplitMix64(seed: 42)
    let xs = sampledRange + specialValues
    let dout = xs.map { _ in Float.random(in: -2...2, using: &rng) }
    var worst: Double = 0
    for set in sets {
      var dinp = [Float](repeating: .nan, count: xs.count)
      set.gelu_erf_backward(&dinp, xs, dout, xs.count)
      for i in xs.indices {
        let x = Double(xs[i]), what = "\(name(set)) gelu_erf'(\(xs[i]))"
        if xs[i].isNaN || xs[i].isInfinite {
          XCTAssert(dinp[i].isNaN, what)
          continue
        }
        let phi = 0.5 * Foundation.erfc(-x / 2.0.squareRoot())
        let density = Foundation.exp(-0.5 * x * x) / (2 * Double.pi).squareRoot()
        let ref = (phi + x * density) * Double(dout[i])
        // The kernel's erfc is good to 1.5e-10 relative (ExpConstants.h).
        let terms = (phi + (x * density).magnitude) * Double(dout[i]).magnitude
        let error = (Double(dinp[i]) - ref).magnitude
        XCTAssertLessThanOrEqual(error, Double(Float(ref).ulp) + 2e-10 * terms, what)
        if Float(ref).isNormal { worst = max(worst, error / Double(Float(ref).ulp)) }
      }
    }
    XCTAssertLessThanOrEqual(worst, 2, "worst error in ulp where the value is normal")
  }

  /// Gemma 2's soft-cap against cap·tanh(x/cap) in double: 1 ulp over the
  /// whole range, ±∞ to ±cap, NaN kept, in place too; and the scalar helper
  /// the lazy logits use gives the kernel's value.
  func testSoftcapAgainstDouble() {
    let xs = sampledRange + specialValues + [1e-6, -1e-6, 3e-5, 49.9, 50, -50, 1e-40]
    for set in sets {
      for cap: Float in [50, 30, 5, 0.5] {
        var out = [Float](repeating: .nan, count: xs.count)
        set.softcap(&out, xs, cap, xs.count)
        for (x, y) in zip(xs, out) {
          let ref = x.isNaN ? Float.nan : Float(Double(cap) * Foundation.tanh(Double(x) / Double(cap)))
          check(y, ref, ulps: 1, "\(name(set)) softcap \(cap) of \(x)")
        }
        var inPlace = xs
        inPlace.withUnsafeMutableBufferPointer { set.softcap($0.baseAddress!, $0.baseAddress!, cap, xs.count) }
        XCTAssertEqual(inPlace.map(\.bitPattern), out.map(\.bitPattern), "\(name(set)) in place")
      }
    }
    for x: Float in [0.3, -7, 120] {
      var row: [Float] = [x]
      tdb_softcap(&row, row, 30, 1)
      XCTAssertEqual(softcapped(x, cap: 30), row[0])
    }
  }

  /// The old Swift loop's comparisons, exactly: ReLU keeps NaN and -0, JumpReLU zeroes NaN.
  func testSAENonlinearitiesMatchTheirComparisons() {
    var rng = SplitMix64(seed: 43)
    let x = sampledRange + specialValues
    let threshold = x.map { _ in Float.random(in: -1...1, using: &rng) }
    for set in sets {
      for n in [0, 1, 7, 8, 9, x.count] {
        var relu = Array(x[0..<n]) + [-5], jump = relu
        set.relu(&relu, n)
        set.jump_relu(&jump, threshold, n)
        XCTAssertEqual(relu[n], -5, "\(name(set)) relu wrote past n = \(n)")
        XCTAssertEqual(jump[n], -5, "\(name(set)) jump_relu wrote past n = \(n)")
        for i in 0..<n {
          let r = x[i] < 0 ? 0 : x[i], j = x[i] > threshold[i] ? x[i] : 0
          XCTAssert(r.isNaN ? relu[i].isNaN : relu[i].bitPattern == r.bitPattern, "\(name(set)) relu(\(x[i]))")
          XCTAssertEqual(jump[i].bitPattern, j.bitPattern, "\(name(set)) jump_relu(\(x[i])) over \(threshold[i])")
        }
      }
    }
  }
}
