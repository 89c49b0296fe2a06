import CKernels
import Foundation
import XCTest

@testable import Engine

/// The LayerNorm/RMSNorm kernels, forward and backward, against the same
/// formulas in double on every kernel set: each result within 1 ulp of its
/// exact value given the kernel's float inputs.
final class NormKernelTests: XCTestCase, KernelTesting {
  /// Row widths: shorter than a vector, every remainder mod 8, and real models' widths.
  let widths = Array(1...19) + [64, 576, 768, 1023]

  /// Rows of each width: plain values, a large offset with small spread (the
  /// mean nearly cancels), huge, tiny and denormal magnitudes, and plain
  /// values with one special value (±∞, NaN) somewhere in the row.
  func rows(_ C: Int, _ rng: inout SplitMix64) -> [[Float]] {
    var rows = [
      (0..<C).map { _ in Float.random(in: -3...3, using: &rng) },
      (0..<C).map { _ in 1000 + Float.random(in: -1e-2...1e-2, using: &rng) },
      (0..<C).map { _ in Float.random(in: -1e18...1e18, using: &rng) },
      (0..<C).map { _ in Float.random(in: -1e-18...1e-18, using: &rng) },
      (0..<C).map { _ in Float.random(in: -1e-39...1e-39, using: &rng) },
    ]
    for special in [Float.infinity, -.infinity, .nan] {
      var row = (0..<C).map { _ in Float.random(in: -3...3, using: &rng) }
      row[Int(rng.next() % UInt64(C))] = special
      rows.append(row)
    }
    return rows
  }

  func testStatisticsAgainstTwoPassDouble() {
    var rng = SplitMix64(seed: 21)
    for set in sets {
      for C in widths {
        for x in rows(C, &rng) {
          for centered in [true, false] {
            let eps: Float = 1e-5
            var mean: Float = .nan, scale: Float = .nan
            set.norm_statistics(&mean, &scale, x, C, eps, centered ? 1 : 0)
            let m = centered ? x.reduce(0.0) { $0 + Double($1) } / Double(C) : 0
            let variance = x.reduce(0.0) { $0 + (Double($1) - m) * (Double($1) - m) } / Double(C)
            let what = "\(name(set)) C \(C) centered \(centered) x[0] \(x[0])"
            check(mean, Float(m), ulps: 1, "mean, " + what)
            check(scale, Float((variance + Double(eps)).squareRoot()), ulps: 1, "scale, " + what)
          }
        }
      }
    }
  }

  func testApplyAgainstDouble() {
    var rng = SplitMix64(seed: 22)
    for set in sets {
      for C in widths {
        let weight = (0..<C).map { _ in Float.random(in: -2...2, using: &rng) }
        let bias = (0..<C).map { _ in Float.random(in: -1...1, using: &rng) }
        for x in rows(C, &rng) {
          let mean = x[0] * 0.3, scale = Float.random(in: 0.01...100, using: &rng)
          for withBias in [true, false] {
            var out = [Float](repeating: .nan, count: C + 1)
            bias.withUnsafeBufferPointer { b in
              set.norm_apply(&out, x, mean, scale, weight, withBias ? b.baseAddress : nil, C)
            }
            XCTAssert(out[C].isNaN, "\(name(set)) wrote past C = \(C)")
            for i in 0..<C {
              let ref =
                (Double(x[i]) - Double(mean)) / Double(scale) * Double(weight[i]) + (withBias ? Double(bias[i]) : 0)
              check(out[i], Float(ref), ulps: 1, "\(name(set)) C \(C) i \(i) bias \(withBias)")
            }
            // In place, as the head norms apply it.
            var inPlace = x
            inPlace.withUnsafeMutableBufferPointer { p in
              bias.withUnsafeBufferPointer { b in
                set.norm_apply(p.baseAddress!, p.baseAddress!, mean, scale, weight, withBias ? b.baseAddress : nil, C)
              }
            }
            XCTAssertEqual(inPlace.map(\.bitPattern), out[0..<C].map(\.bitPattern), "\(name(set)) in place, C \(C)")
          }
        }
      }
    }
  }

  func testBackwardAgainstDouble() {
    var rng = SplitMix64(seed: 23)
    for set in sets {
      for C in widths {
        let weight = (0..<C).map { _ in Float.random(in: -2...2, using: &rng) }
        let dout = (0..<C).map { _ in Float.random(in: -1...1, using: &rng) }
        let start = (0..<C).map { _ in Float.random(in: -1...1, using: &rng) }
        for x in rows(C, &rng) {
          for centered in [true, false] {
            let mean: Float = centered ? x[C / 2] : 0, scale = Float.random(in: 0.01...100, using: &rng)
            var dinp = start, dscale: Float = .nan
            set.norm_backward(&dinp, &dscale, dout, x, mean, scale, weight, C, centered ? 1 : 0)
            let m = Double(mean), s = Double(scale)
            let dn = (0..<C).map { Double(dout[$0]) * Double(weight[$0]) }
            let dnMean = centered ? dn.reduce(0, +) / Double(C) : 0
            let what = "\(name(set)) C \(C) centered \(centered) x[0] \(x[0])"
            for i in 0..<C {
              check(dinp[i], Float(Double(start[i]) + (dn[i] - dnMean) / s), ulps: 1, "dinp[\(i)], " + what)
            }
            let dot = (0..<C).reduce(0.0) { $0 + dn[$1] * (Double(x[$1]) - m) }
            // The sum may cancel: allow the double sum's own rounding on top of 1 ulp.
            let magnitude = (0..<C).reduce(0.0) { $0 + (dn[$1] * (Double(x[$1]) - m)).magnitude } / (s * s)
            let ref = -dot / (s * s)
            if !ref.isFinite || !magnitude.isFinite {
              check(dscale, Float(ref), ulps: 0, "dscale, " + what)  // NaN or ∞, as the formula gives
              continue
            }
            let slack = Double(Float(ref).ulp) + 1e-15 * magnitude
            XCTAssertEqual(Double(dscale), ref, accuracy: slack, "dscale, " + what)
          }
        }
      }
    }
  }

  func testScaleBackwardAgainstDouble() {
    var rng = SplitMix64(seed: 24)
    for set in sets {
      for C in widths {
        let start = (0..<C).map { _ in Float.random(in: -1...1, using: &rng) }
        for x in rows(C, &rng) {
          let mean = x[0], scale = Float.random(in: 0.01...100, using: &rng)
          let dscale = Float.random(in: -10...10, using: &rng)
          var dinp = start
          set.norm_scale_backward(&dinp, x, mean, scale, dscale, C)
          let k = Double(dscale) / (Double(C) * Double(scale))
          for i in 0..<C {
            let ref = Double(start[i]) + k * (Double(x[i]) - Double(mean))
            check(dinp[i], Float(ref), ulps: 1, "\(name(set)) C \(C) i \(i)")
          }
        }
      }
    }
  }

  /// The engine's LayerNorm, statistics then apply, on the set in use against the formula in double.
  func testEngineLayerNormOverRows() {
    var rng = SplitMix64(seed: 25)
    let T = 130, C = 77
    let x = (0..<(T * C)).map { _ in Float.random(in: -5...5, using: &rng) }
    let weight = (0..<C).map { _ in Float.random(in: -2...2, using: &rng) }
    let bias = (0..<C).map { _ in Float.random(in: -1...1, using: &rng) }
    var mean = [Float](repeating: 0, count: T), scale = mean, out = [Float](repeating: 0, count: T * C)
    layerNormStatistics(x, mean: &mean, scale: &scale, T: T, C: C, eps: 1e-5)
    layerNormApply(&out, x, mean: mean, scale: scale, weight: weight, bias: bias, T: T, C: C)
    for t in 0..<T {
      let row = x[(t * C)..<((t + 1) * C)].map(Double.init)
      let m = row.reduce(0, +) / Double(C)
      let s = (row.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(C) + 1e-5).squareRoot()
      for i in 0..<C {
        let ref = (row[i] - m) / s * Double(weight[i]) + Double(bias[i])
        XCTAssertEqual(Double(out[t * C + i]), ref, accuracy: 1e-6 * max(1, ref.magnitude), "row \(t) i \(i)")
      }
    }
  }
}
