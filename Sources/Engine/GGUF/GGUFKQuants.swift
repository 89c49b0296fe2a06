// The K-quants: super-blocks of 256 elements in 16 or 8 sub-blocks with
// quantized scales, after llama.cpp's dequantize_row_q{2..6}_K.

/// block_q2_K (84 bytes): scales[16] (low nibble scale, high nibble min),
/// qs[64] (2-bit), fp16 d, fp16 dmin; y = d·sc · q - dmin·m.
func dequantizeQ2_K(_ x: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>, _ blocks: Int) {
  for i in 0..<blocks {
    let b = x + 84 * i, out = y + 256 * i
    let d = half(b, 80), dmin = half(b, 82)
    for n in 0..<2 {
      let q = b + 16 + 32 * n
      for j in 0..<4 {
        let shift = UInt8(2 * j)
        for h in 0..<2 {
          let sc = b[n * 8 + 2 * j + h]
          let dl = d * Float(sc & 0x0f), ml = dmin * Float(sc >> 4)
          let o = out + n * 128 + j * 32 + h * 16, qq = q + h * 16
          for l in 0..<16 { o[l] = dl * Float((qq[l] >> shift) & 3) - ml }
        }
      }
    }
  }
}

/// block_q3_K (110 bytes): hmask[32] (third bit, set = no offset), qs[64]
/// (low 2 bits), scales[12] (sixteen 6-bit scales), fp16 d;
/// y = d·(sc - 32) · (q - (hbit ? 0 : 4)).
func dequantizeQ3_K(_ x: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>, _ blocks: Int) {
  var scales = [Float](repeating: 0, count: 16)
  for i in 0..<blocks {
    let b = x + 110 * i, out = y + 256 * i
    let hm = b, s = b + 96
    let d = half(b, 108)
    for k in 0..<16 {
      let low = k < 8 ? s[k] & 0x0f : s[k - 8] >> 4
      let high = (s[8 + k % 4] >> UInt8(2 * (k / 4))) & 3
      scales[k] = d * Float(Int32(low | high << 4) - 32)
    }
    for n in 0..<2 {
      let q = b + 32 + 32 * n
      for j in 0..<4 {
        let shift = UInt8(2 * j), bit = UInt8(n * 4 + j)
        for h in 0..<2 {
          let dl = scales[n * 8 + 2 * j + h]
          let o = out + n * 128 + j * 32 + h * 16
          for l in h * 16..<h * 16 + 16 {
            let lo = Int32((q[l] >> shift) & 3), hbit = (hm[l] >> bit) & 1
            o[l - h * 16] = dl * Float(lo - (hbit != 0 ? 0 : 4))
          }
        }
      }
    }
  }
}

/// The 6-bit scale and min of sub-block `k` from a Q4_K/Q5_K block's 12 scale bytes.
@inline(__always)
func scaleMin(_ k: Int, _ s: UnsafePointer<UInt8>) -> (Float, Float) {
  if k < 4 { return (Float(s[k] & 63), Float(s[k + 4] & 63)) }
  return (Float((s[k + 4] & 0x0f) | (s[k - 4] >> 6) << 4), Float((s[k + 4] >> 4) | (s[k] >> 6) << 4))
}

/// block_q4_K (144 bytes): fp16 d, fp16 dmin, scales[12], qs[128]; each 64
/// elements are 32 low nibbles then 32 high ones; y = d·sc · q - dmin·m.
func dequantizeQ4_K(_ x: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>, _ blocks: Int) {
  for i in 0..<blocks {
    let b = x + 144 * i, out = y + 256 * i
    let d = half(b, 0), dmin = half(b, 2)
    let s = b + 4
    for j in 0..<4 {
      let (sc1, m1) = scaleMin(2 * j, s), (sc2, m2) = scaleMin(2 * j + 1, s)
      let d1 = d * sc1, mm1 = dmin * m1, d2 = d * sc2, mm2 = dmin * m2
      let q = b + 16 + 32 * j, o = out + 64 * j
      for l in 0..<32 {
        o[l] = d1 * Float(q[l] & 0x0f) - mm1
        o[l + 32] = d2 * Float(q[l] >> 4) - mm2
      }
    }
  }
}

/// block_q5_K (176 bytes): fp16 d, fp16 dmin, scales[12], qh[32] (bit k =
/// fifth bit in sub-block k), qs[128]; y = d·sc · q - dmin·m.
func dequantizeQ5_K(_ x: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>, _ blocks: Int) {
  for i in 0..<blocks {
    let b = x + 176 * i, out = y + 256 * i
    let d = half(b, 0), dmin = half(b, 2)
    let s = b + 4, qh = b + 16
    for j in 0..<4 {
      let (sc1, m1) = scaleMin(2 * j, s), (sc2, m2) = scaleMin(2 * j + 1, s)
      let d1 = d * sc1, mm1 = dmin * m1, d2 = d * sc2, mm2 = dmin * m2
      let q = b + 48 + 32 * j, o = out + 64 * j
      let b1 = UInt8(2 * j), b2 = UInt8(2 * j + 1)
      for l in 0..<32 {
        o[l] = d1 * Float((q[l] & 0x0f) | ((qh[l] >> b1) & 1) << 4) - mm1
        o[l + 32] = d2 * Float((q[l] >> 4) | ((qh[l] >> b2) & 1) << 4) - mm2
      }
    }
  }
}

/// block_q6_K (210 bytes): ql[128] (low 4 bits), qh[64] (high 2 bits),
/// scales[16] (signed), fp16 d; y = d·sc · (q - 32).
func dequantizeQ6_K(_ x: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>, _ blocks: Int) {
  for i in 0..<blocks {
    let b = x + 210 * i
    let d = half(b, 208)
    for n in 0..<2 {
      let ql = b + 64 * n, qh = b + 128 + 32 * n, sc = b + 192 + 8 * n, o = y + 256 * i + 128 * n
      var ds = (Float(0), Float(0), Float(0), Float(0), Float(0), Float(0), Float(0), Float(0))
      ds.0 = d * Float(Int8(bitPattern: sc[0]))
      ds.1 = d * Float(Int8(bitPattern: sc[1]))
      ds.2 = d * Float(Int8(bitPattern: sc[2]))
      ds.3 = d * Float(Int8(bitPattern: sc[3]))
      ds.4 = d * Float(Int8(bitPattern: sc[4]))
      ds.5 = d * Float(Int8(bitPattern: sc[5]))
      ds.6 = d * Float(Int8(bitPattern: sc[6]))
      ds.7 = d * Float(Int8(bitPattern: sc[7]))
      for l in 0..<32 {
        let (s0, s2, s4, s6) = l < 16 ? (ds.0, ds.2, ds.4, ds.6) : (ds.1, ds.3, ds.5, ds.7)
        let h = qh[l]
        o[l] = s0 * Float(Int32((ql[l] & 0x0f) | (h & 3) << 4) - 32)
        o[l + 32] = s2 * Float(Int32((ql[l + 32] & 0x0f) | ((h >> 2) & 3) << 4) - 32)
        o[l + 64] = s4 * Float(Int32((ql[l] >> 4) | ((h >> 4) & 3) << 4) - 32)
        o[l + 96] = s6 * Float(Int32((ql[l + 32] >> 4) | ((h >> 6) & 3) << 4) - 32)
      }
    }
  }
}
