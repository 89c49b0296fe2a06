import Foundation

/// Widens `count` elements of ggml type `type` at `src` into fp32 at `dst`,
/// in parallel over blocks. Each kernel follows llama.cpp's
/// `dequantize_row_*` (ggml-quants.c) operation for operation, so the results
/// are bit-identical to it and to gguf-py's `gguf.quants.dequantize`.
func dequantize(_ type: GGUFTensorType, _ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int) {
  let (blockSize, typeSize) = type.layout
  let kernel: (UnsafePointer<UInt8>, UnsafeMutablePointer<Float>, Int) -> Void
  switch type {
  case .f32: kernel = { memcpy($1, $0, 4 * $2) }
  case .f16: kernel = dequantizeF16
  case .bf16: kernel = dequantizeBF16
  case .q4_0: kernel = dequantizeQ4_0
  case .q4_1: kernel = dequantizeQ4_1
  case .q5_0: kernel = dequantizeQ5_0
  case .q5_1: kernel = dequantizeQ5_1
  case .q8_0: kernel = dequantizeQ8_0
  case .q2_K: kernel = dequantizeQ2_K
  case .q3_K: kernel = dequantizeQ3_K
  case .q4_K: kernel = dequantizeQ4_K
  case .q5_K: kernel = dequantizeQ5_K
  case .q6_K: kernel = dequantizeQ6_K
  default: preconditionFailure("\(type.name) is not dequantizable")
  }
  let bytes = src.assumingMemoryBound(to: UInt8.self)
  let blocks = count / blockSize
  parallelChunks(blocks, minimumChunk: max(1, 65_536 / blockSize)) { range in
    kernel(bytes + range.lowerBound * typeSize, dst + range.lowerBound * blockSize, range.count)
  }
}

/// The little-endian fp16 at byte `offset` of `p`, widened exactly.
@inline(__always)
func half(_ p: UnsafePointer<UInt8>, _ offset: Int) -> Float {
  halfToFloat(UInt16(p[offset]) | UInt16(p[offset + 1]) << 8)
}

// Each kernel: `blocks` blocks at `x` -> blocks × block size floats at `y`.

func dequantizeF16(_ x: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
  for i in 0..<n { y[i] = half(x, 2 * i) }
}

func dequantizeBF16(_ x: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
  for i in 0..<n { y[i] = Float(bitPattern: (UInt32(x[2 * i]) | UInt32(x[2 * i + 1]) << 8) << 16) }
}

/// block_q4_0 (18 bytes): fp16 d, 16 bytes of nibbles; element j is the low
/// nibble of byte j, element j+16 the high one; y = (q - 8) · d.
func dequantizeQ4_0(_ x: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>, _ blocks: Int) {
  for i in 0..<blocks {
    let b = x + 18 * i, out = y + 32 * i
    let d = half(b, 0)
    let qs = b + 2
    for j in 0..<16 {
      out[j] = Float(Int32(qs[j] & 0x0f) - 8) * d
      out[j + 16] = Float(Int32(qs[j] >> 4) - 8) * d
    }
  }
}

/// block_q4_1 (20 bytes): fp16 d, fp16 m, 16 bytes of nibbles; y = q · d + m.
func dequantizeQ4_1(_ x: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>, _ blocks: Int) {
  for i in 0..<blocks {
    let b = x + 20 * i, out = y + 32 * i
    let d = half(b, 0), m = half(b, 2)
    let qs = b + 4
    for j in 0..<16 {
      out[j] = Float(qs[j] & 0x0f) * d + m
      out[j + 16] = Float(qs[j] >> 4) * d + m
    }
  }
}

/// The u32 of fifth bits at byte `offset` of a Q5 block.
@inline(__always)
func fifthBits(_ b: UnsafePointer<UInt8>, _ offset: Int) -> UInt32 {
  UInt32(b[offset]) | UInt32(b[offset + 1]) << 8 | UInt32(b[offset + 2]) << 16 | UInt32(b[offset + 3]) << 24
}

/// block_q5_0 (22 bytes): fp16 d, u32 qh (bit j = fifth bit of element j),
/// 16 bytes of nibbles; y = (q - 16) · d.
func dequantizeQ5_0(_ x: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>, _ blocks: Int) {
  for i in 0..<blocks {
    let b = x + 22 * i, out = y + 32 * i
    let d = half(b, 0)
    let qh = fifthBits(b, 2)
    let qs = b + 6
    for j in 0..<16 {
      let h0 = Int32((qh >> UInt32(j)) << 4 & 0x10), h1 = Int32((qh >> UInt32(j + 12)) & 0x10)
      out[j] = Float((Int32(qs[j] & 0x0f) | h0) - 16) * d
      out[j + 16] = Float((Int32(qs[j] >> 4) | h1) - 16) * d
    }
  }
}

/// block_q5_1 (24 bytes): fp16 d, fp16 m, u32 qh, 16 bytes of nibbles; y = q · d + m.
func dequantizeQ5_1(_ x: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>, _ blocks: Int) {
  for i in 0..<blocks {
    let b = x + 24 * i, out = y + 32 * i
    let d = half(b, 0), m = half(b, 2)
    let qh = fifthBits(b, 4)
    let qs = b + 8
    for j in 0..<16 {
      let h0 = Int32((qh >> UInt32(j)) << 4 & 0x10), h1 = Int32((qh >> UInt32(j + 12)) & 0x10)
      out[j] = Float(Int32(qs[j] & 0x0f) | h0) * d + m
      out[j + 16] = Float(Int32(qs[j] >> 4) | h1) * d + m
    }
  }
}

/// block_q8_0 (34 bytes): fp16 d, 32 signed bytes; y = q · d.
func dequantizeQ8_0(_ x: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>, _ blocks: Int) {
  for i in 0..<blocks {
    let b = x + 34 * i, out = y + 32 * i
    let d = half(b, 0)
    for j in 0..<32 { out[j] = Float(Int8(bitPattern: b[2 + j])) * d }
  }
}
