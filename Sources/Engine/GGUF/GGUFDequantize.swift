import CKernels
import Foundation

/// Widens `count` elements of ggml type `type` at `src` into fp32 at `dst`,
/// in parallel over blocks. The kernels (Sources/CKernels/Dequantize.h)
/// follow llama.cpp's `dequantize_row_*` (ggml-quants.c) operation for
/// operation, so the results are bit-identical to it and to gguf-py's
/// `gguf.quants.dequantize`. Also widens safetensors' F16 and BF16.
func dequantize(_ type: GGUFTensorType, _ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int) {
  precondition(type.isDequantizable, "\(type.name) is not dequantizable")
  if type == .f32 {
    memcpy(dst, src, 4 * count)
    return
  }
  let (blockSize, typeSize) = type.layout
  let blocks = count / blockSize
  parallelChunks(blocks, minimumChunk: max(1, 65_536 / blockSize)) { range in
    let done = tdb_dequantize(
      Int32(type.rawValue), src + range.lowerBound * typeSize, dst + range.lowerBound * blockSize, range.count)
    precondition(done == 1, "the kernels do not widen \(type.name)")
  }
}
