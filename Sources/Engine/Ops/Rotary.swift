import CKernels
import Foundation

/// The angles of rotary embeddings for a range of positions: cos and sin
/// [n, R/2] for frequency i at each position, computed in fp32 as Hugging
/// Face computes them (inv_freq_i = 1 / θ^(2i/R), then the rope scaling).
struct RotaryTable {
  let positions: Range<Int>
  let half: Int  // R/2
  let cos: [Float]
  let sin: [Float]

  init(_ r: RotaryConfig, positions: Range<Int>) {
    let R = r.dimensions, half = R / 2
    var inverse = (0..<half).map { i in 1 / powf(Float(r.theta), Float(2 * i) / Float(R)) }
    switch r.scaling {
    case .none: break
    case .linear(let factor): inverse = inverse.map { $0 / Float(factor) }
    case .frequencyFactors(let factors): inverse = zip(inverse, factors).map { $0 / $1 }
    case .llama3(let factor, let low, let high, let original):
      // Long wavelengths slow down by `factor`, short ones stay, the band between is interpolated.
      let f = Float(factor), lo = Float(low), hi = Float(high), old = Float(original)
      let lowWavelength = old / lo, highWavelength = old / hi
      inverse = inverse.map { freq in
        let wavelength = 2 * Float.pi / freq
        let scaled = wavelength > lowWavelength ? freq / f : freq
        guard !(wavelength < highWavelength), !(wavelength > lowWavelength) else { return scaled }
        let smooth = (old / wavelength - lo) / (hi - lo)
        return (1 - smooth) * scaled / f + smooth * scaled
      }
    }
    var c = [Float](repeating: 0, count: positions.count * half), s = c
    for (row, p) in positions.enumerated() {
      for i in 0..<half {
        let angle = Float(p) * inverse[i]
        c[row * half + i] = cosf(angle)
        s[row * half + i] = sinf(angle)
      }
    }
    self.positions = positions
    self.half = half
    self.cos = c
    self.sin = s
  }

  /// Rotates x [n, heads, D] in place (rotate-half layout: dimension i pairs
  /// with i + R/2; dimensions R..<D pass through). `inverse` applies the
  /// transposed rotation, which is the backward pass of the forward one:
  ///   forward:  (a, b) -> (a·cos - b·sin, b·cos + a·sin)
  ///   inverse:  (a, b) -> (a·cos + b·sin, b·cos - a·sin)
  func rotate(_ x: UnsafeMutablePointer<Float>, rows n: Int, heads: Int, D: Int, inverse: Bool = false) {
    let half = self.half
    cos.withUnsafeBufferPointer { c in
      sin.withUnsafeBufferPointer { s in
        for t in 0..<n {
          tdb_rotate_half(
            x + t * heads * D, c.baseAddress! + t * half, s.baseAddress! + t * half, half, heads, D, inverse ? 1 : 0)
        }
      }
    }
  }
}

/// The rotation of every layer's queries and keys for a range of positions:
/// the model's rotary table, and the sliding-window layers' own where they
/// differ (Gemma 3); none for learned positions.
struct LayerRotations {
  private let global: RotaryTable?
  private let local: RotaryTable?
  private let windows: [Int?]

  init(_ c: ModelConfig, positions: Range<Int>) {
    func table(_ kind: PositionKind?) -> RotaryTable? {
      if case .rotary(let r)? = kind { return RotaryTable(r, positions: positions) }
      return nil
    }
    global = table(c.positions)
    local = c.localPositions == c.positions ? nil : table(c.localPositions)
    windows = c.attentionWindows
  }

  /// The table of block `l`.
  func table(layer l: Int) -> RotaryTable? { windows[l] != nil ? local ?? global : global }
}
