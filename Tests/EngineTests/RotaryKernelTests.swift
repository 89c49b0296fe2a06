import CKernels
import Foundation
import XCTest

@testable import Engine

/// The rotary kernel against the rotation in double on every kernel set, and
/// the engine's table through it.
final class RotaryKernelTests: XCTestCase, KernelTesting {
  func testRotationWithinOneUlpOfDouble() {
    var rng = SplitMix64(seed: 31)
    for set in sets {
      for (half, D) in [(1, 2), (3, 7), (8, 16), (13, 32), (32, 64), (16, 64), (64, 128)] {
        let heads = 3
        var v = (0..<(heads * D)).map { _ in Float.random(in: -50...50, using: &rng) }
        // Special values and denormals in the last head.
        for (i, special) in [Float.infinity, -.infinity, .nan, 1e-40, -3e-39].enumerated() where i < D {
          v[2 * D + i] = special
        }
        let angles = (0..<half).map { _ in Float.random(in: -1000...1000, using: &rng) }
        let cos = angles.map { cosf($0) }, sin = angles.map { sinf($0) }
        for inverse in [false, true] {
          var out = v + [12345]
          set.rotate_half(&out, cos, sin, half, heads, D, inverse ? 1 : 0)
          XCTAssertEqual(out[heads * D], 12345, "\(name(set)) wrote past the heads")
          let sign: Double = inverse ? -1 : 1
          for h in 0..<heads {
            let base = h * D
            for i in 0..<half {
              let a = Double(v[base + i]), b = Double(v[base + half + i])
              let c = Double(cos[i]), s = sign * Double(sin[i])
              let what = "\(name(set)) half \(half) D \(D) head \(h) i \(i) inverse \(inverse)"
              check(out[base + i], Float(a * c - b * s), ulps: 1, what)
              check(out[base + half + i], Float(b * c + a * s), ulps: 1, what)
            }
            // Dimensions past 2·half pass through.
            for i in (2 * half)..<D {
              XCTAssertEqual(out[base + i].bitPattern, v[base + i].bitPattern, "\(name(set)) pass-through \(i)")
            }
          }
        }
      }
    }
  }

  func testInverseUndoesTheRotation() {
    var rng = SplitMix64(seed: 32)
    let r = RotaryConfig(theta: 10_000, dimensions: 64)
    let table = RotaryTable(r, positions: 5..<17)
    let n = 12, heads = 2, D = 64
    let v = (0..<(n * heads * D)).map { _ in Float.random(in: -3...3, using: &rng) }
    var x = v
    x.withUnsafeMutableBufferPointer { p in
      table.rotate(p.baseAddress!, rows: n, heads: heads, D: D)
      table.rotate(p.baseAddress!, rows: n, heads: heads, D: D, inverse: true)
    }
    for i in v.indices { XCTAssertEqual(x[i], v[i], accuracy: 2e-6 * 3, "element \(i)") }
    // Position 0 of a table that starts at 0 is the identity.
    let atZero = RotaryTable(r, positions: 0..<1)
    var y = Array(v[0..<(heads * D)])
    y.withUnsafeMutableBufferPointer { atZero.rotate($0.baseAddress!, rows: 1, heads: heads, D: D) }
    XCTAssertEqual(y, Array(v[0..<(heads * D)]))
  }
}
