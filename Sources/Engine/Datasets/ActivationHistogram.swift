import Foundation

/// The fixed bins every component's activation histogram uses.
///
/// Bins are read straight off a Float32's bits: sign, exponent and the top
/// four mantissa bits, so each power of two is split into 16 bins (at most
/// 6% wide). Fixed edges make histograms of different shards add up exactly,
/// and the bit trick costs a few instructions per activation. Magnitudes
/// below 2^-14 share an underflow bin, above 2^14 an overflow bin; zero has
/// its own bin. Bin indices increase with the value.
public enum ActivationBins {
  static let minExponent = -14
  static let maxExponent = 13
  static let subBins = 16
  /// Bins on one side of zero: underflow, the octaves, overflow.
  static let perSide = 2 + (maxExponent - minExponent + 1) * subBins
  /// Total number of bins.
  public static let count = 2 * perSide + 1
  /// The zero bin.
  public static let zero = perSide

  /// The bin of `v` (NaN falls in the zero bin).
  @inline(__always)
  public static func index(_ v: Float) -> Int {
    if !(v != 0) { return zero }
    let bits = v.bitPattern
    let e = Int((bits >> 23) & 0xFF) - 127
    let k: Int
    if e < minExponent {
      k = 0
    } else if e > maxExponent {
      k = perSide - 1
    } else {
      k = 1 + (e - minExponent) * subBins + Int((bits >> 19) & 0xF)
    }
    return bits >> 31 == 0 ? zero + 1 + k : zero - 1 - k
  }

  /// The magnitude range [lo, hi) of side index `k`.
  static func magnitudeRange(_ k: Int) -> (Double, Double) {
    if k == 0 { return (0, pow(2, Double(minExponent))) }
    if k == perSide - 1 { return (pow(2, Double(maxExponent + 1)), .infinity) }
    let e = (k - 1) / subBins + minExponent
    let s = (k - 1) % subBins
    let base = pow(2, Double(e))
    return (base * (1 + Double(s) / Double(subBins)), base * (1 + Double(s + 1) / Double(subBins)))
  }

  /// The value range [lo, hi] of bin `i`.
  public static func range(_ i: Int) -> (lo: Double, hi: Double) {
    if i == zero { return (0, 0) }
    if i > zero {
      let (a, b) = magnitudeRange(i - zero - 1)
      return (a, b)
    }
    let (a, b) = magnitudeRange(zero - 1 - i)
    return (-b, -a)
  }
}

/// A histogram over `ActivationBins`, with what can be read from it.
public struct ActivationHistogram: Sendable, Equatable {
  /// Count per bin, `ActivationBins.count` of them.
  public var counts: [Int]
  /// Smallest and largest value seen, to bound the open-ended bins.
  public var min: Float
  public var max: Float

  public init(counts: [Int], min: Float, max: Float) {
    self.counts = counts
    self.min = min
    self.max = max
  }

  public var total: Int { counts.reduce(0, +) }

  /// The value below which a fraction `p` of activations fall, interpolated
  /// linearly inside the bin (so within the bin's 6% width).
  public func quantile(_ p: Double) -> Double {
    let n = total
    guard n > 0 else { return .nan }
    let target = p * Double(n)
    var cumulative = 0.0
    for (i, c) in counts.enumerated() where c > 0 {
      if cumulative + Double(c) >= target {
        var (lo, hi) = ActivationBins.range(i)
        lo = Swift.max(lo, Double(min))
        hi = Swift.min(hi, Double(max))
        if lo > hi { return hi }
        let f = Swift.min(1, Swift.max(0, (target - cumulative) / Double(c)))
        return lo + f * (hi - lo)
      }
      cumulative += Double(c)
    }
    return Double(max)
  }

  /// Counts re-binned into `bins` equal-width bins over [min, max], for
  /// display: each fine bin's count goes where its midpoint falls.
  public func linearBins(_ bins: Int) -> (edges: [Double], counts: [Int]) {
    let lo = Double(min), hi = Double(max)
    guard bins > 0, total > 0, hi > lo else { return ([lo, hi], [total]) }
    var out = [Int](repeating: 0, count: bins)
    let width = (hi - lo) / Double(bins)
    for (i, c) in counts.enumerated() where c > 0 {
      var (a, b) = ActivationBins.range(i)
      a = Swift.max(a, lo)
      b = Swift.min(b, hi)
      let mid = (a + b) / 2
      let j = Swift.min(bins - 1, Swift.max(0, Int((mid - lo) / width)))
      out[j] += c
    }
    return ((0...bins).map { lo + Double($0) * width }, out)
  }

  /// Non-empty bins as (bin, count) pairs packed little-endian: UInt16 bin,
  /// Int64 count. Most of the 901 bins are empty for any one component.
  public var packed: Data {
    var d = Data()
    for (i, c) in counts.enumerated() where c > 0 {
      withUnsafeBytes(of: UInt16(i).littleEndian) { d.append(contentsOf: $0) }
      withUnsafeBytes(of: Int64(c).littleEndian) { d.append(contentsOf: $0) }
    }
    return d
  }

  /// Unpacks `packed` into dense counts.
  public static func unpack(_ data: Data) -> [Int] {
    var counts = [Int](repeating: 0, count: ActivationBins.count)
    let bytes = [UInt8](data)
    var i = 0
    while i + 10 <= bytes.count {
      let bin = Int(UInt16(bytes[i]) | UInt16(bytes[i + 1]) << 8)
      var c: UInt64 = 0
      for j in 0..<8 { c |= UInt64(bytes[i + 2 + j]) << (8 * UInt64(j)) }
      if bin < counts.count { counts[bin] += Int(Int64(bitPattern: c)) }
      i += 10
    }
    return counts
  }
}
