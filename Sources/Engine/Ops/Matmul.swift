import CBLAS
import CBLIS
import CKernels
import CPacked
import Dispatch

/// out[T, OC] = inp[T, C] · weight[C, OC] + bias[OC] — a Conv1D layer (weights stored [in, out]).
func matmulForward(
  _ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
  _ bias: UnsafePointer<Float>?, T: Int, C: Int, OC: Int
) {
  if let bias {
    for t in 0..<T { (out + t * OC).update(from: bias, count: OC) }
  }
  // A few rows (a resumed pass, a generation step): matrix-vector products
  // read the weights once each, where sgemm would first pack all of them.
  if T <= 2 {
    for t in 0..<T {
      matrixVectorProduct(
        transposed: true, rows: C, columns: OC, weight, inp + t * C, beta: bias == nil ? 0 : 1, out + t * OC)
    }
    return
  }
  if T <= fewRows {
    fewRowsProduct(
      transposeB: false, M: T, N: OC, K: C, inp, lda: C, weight, ldb: OC, beta: bias == nil ? 0 : 1, out, ldc: OC)
    return
  }
  blasProduct(M: T, N: OC, K: C, inp, lda: C, weight, ldb: OC, beta: bias == nil ? 0 : 1, out, ldc: OC)
}

/// out[T, OC] = inp[T, C] · weight[C, OC] + bias[OC] with a model's or an
/// SAE's weight: through oneDNN from three rows up (`PackedWeights`).
func matmulForward(
  _ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ weight: Tensor, _ bias: UnsafePointer<Float>?,
  T: Int, C: Int, OC: Int
) {
  let layout = PackedWeights.Layout(transposed: false, K: C, N: OC)
  if PackedWeights.product(weight, layout, M: T, inp, bias: bias, beta: 0, out) { return }
  matmulForward(out, inp, weight.pointer, bias, T: T, C: C, OC: OC)
}

/// out[T, V] = inp[T, C] · embedding[V, C]ᵀ with the model's unembedding:
/// through oneDNN from three rows up (`PackedWeights`).
func unembedForward(
  _ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ embedding: Tensor, T: Int, C: Int, V: Int
) {
  let layout = PackedWeights.Layout(transposed: true, K: C, N: V)
  if PackedWeights.product(embedding, layout, M: T, inp, beta: 0, out) { return }
  unembedForward(out, inp, embedding.pointer, T: T, C: C, V: V)
}

/// out[T, V] = inp[T, C] · embedding[V, C]ᵀ — the unembedding with a [V, C] matrix.
func unembedForward(
  _ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ embedding: UnsafePointer<Float>, T: Int, C: Int,
  V: Int
) {
  // A few rows: matrix-vector products read the [V, C] matrix once each,
  // where sgemm would first pack all of it (tens of MB) into a buffer.
  if T <= 2 {
    for t in 0..<T {
      matrixVectorProduct(transposed: false, rows: V, columns: C, embedding, inp + t * C, beta: 0, out + t * V)
    }
    return
  }
  if T <= fewRows {
    fewRowsProduct(transposeB: true, M: T, N: V, K: C, inp, lda: C, embedding, ldb: C, beta: 0, out, ldc: V)
    return
  }
  blasProduct(transB: true, M: T, N: V, K: C, inp, lda: C, embedding, ldb: C, out, ldc: V)
}

/// Up to this many rows, a layer's product that oneDNN does not take (passes
/// run side by side, a CPU without AVX-512; see `PackedWeights`) goes to BLIS
/// rather than OpenBLAS. OpenBLAS packs the whole weight matrix for every call, which with a short
/// prompt costs as much as the arithmetic; BLIS's unpacked kernels read the
/// weights in place. On GPT-2's and SmolLM2's shapes (scripts/bench-blas.c)
/// BLIS is about 1.3x faster at 16 rows, level near 40 and slower from 48.
let fewRows = 40

/// c[M, N] = a[M, K] · op(b) + beta · c through single-threaded BLIS, the
/// columns split over the cores (OpenBLAS's own threads are idle meanwhile).
/// Where BLAS is kept to one thread because the caller runs several passes
/// at once (`collect`), one thread does it all.
func fewRowsProduct(
  transposeB: Bool, M: Int, N: Int, K: Int, _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>,
  ldb: Int, beta: Float, _ c: UnsafeMutablePointer<Float>, ldc: Int
) {
  // With b transposed (the unembedding's [V, C] embedding), every output is
  // a dot product of two rows contiguous along K: tdb's AVX2 kernel there
  // (tdb_row_dot_products) ran 1.1-1.3x as fast as BLIS's on GPT-2's and
  // Gemma 3's shapes at 8 to 40 rows, level on SmolLM2's.
  func product(_ first: Int, _ end: Int) {
    let columns = transposeB ? b + first * ldb : b + first
    if transposeB, tdb_row_dot_products(M, end - first, K, a, lda, columns, ldb, beta, c + first, ldc) { return }
    tdb_blis_sgemm(transposeB, M, end - first, K, 1, a, lda, columns, ldb, beta, c + first, ldc)
  }
  let piece = 64  // columns; a multiple of every BLIS kernel's width
  let pieces = (N + piece - 1) / piece
  let workers = min(ComputeThreads.besideBLAS, pieces)
  guard workers > 1 else {
    product(0, N)
    return
  }
  let share = (pieces + workers - 1) / workers * piece
  onCores(workers) { w in
    let first = w * share
    let end = min(N, first + share)
    if first < end { product(first, end) }
  }
}

/// General row-major product with explicit leading dimensions:
/// c[M, N] = alpha · op(a)[M, K] · op(b)[K, N] + beta · c, through oneDNN
/// where its kernels run (see GeneralProducts.c), else OpenBLAS.
@inline(__always)
func gemm(
  transA: Bool = false, transB: Bool = false, M: Int, N: Int, K: Int, alpha: Float = 1,
  _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
  _ c: UnsafeMutablePointer<Float>, ldc: Int
) {
  let threads = Int32(ComputeThreads.forOneDNN ?? 0)
  if tdb_general_sgemm(transA, transB, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc, threads) { return }
  blasProduct(
    transA: transA, transB: transB, M: M, N: N, K: K, alpha: alpha, a, lda: lda, b, ldb: ldb, beta: beta, c, ldc: ldc)
}

/// c = alpha · op(a) · op(b) + beta · c through OpenBLAS, a large product's
/// columns split over the cores with OpenBLAS on one thread in each
/// (withWorkersOverBLAS). OpenBLAS's own threads would be a second pool
/// beside the OpenMP threads the engine's loops run on: each pool's idle
/// threads spin after their work, and on a Zen 3 (no AVX-512, so no oneDNN)
/// the two took each other's cores, a 128-token GPT-2 forward taking
/// 420-560 ms instead of 240-270.
func blasProduct(
  transA: Bool = false, transB: Bool = false, M: Int, N: Int, K: Int, alpha: Float = 1,
  _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
  _ c: UnsafeMutablePointer<Float>, ldc: Int
) {
  func product(_ first: Int, _ end: Int) {
    cblas_sgemm(
      CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, Int32(M),
      Int32(end - first), Int32(K), alpha, a, Int32(lda), transB ? b + first * ldb : b + first, Int32(ldb), beta,
      c + first, Int32(ldc))
  }
  overBLASWorkers(count: N, multiplyAdds: M * N * K, product)
}

/// y = op(a) · x + beta · y for a row-major a[rows, columns] (op(a) = aᵀ when
/// `transposed`) through OpenBLAS's sgemv, the output split over the cores
/// with OpenBLAS on one thread in each, as `blasProduct` does. A matrix-vector
/// product (a generation step, `predict`'s last position) reads each weight
/// once; on OpenBLAS's own threads it would again run beside the engine's
/// spinning OpenMP threads.
func matrixVectorProduct(
  transposed: Bool, rows: Int, columns: Int, _ a: UnsafePointer<Float>, _ x: UnsafePointer<Float>, beta: Float,
  _ y: UnsafeMutablePointer<Float>
) {
  let outputs = transposed ? columns : rows
  func product(_ first: Int, _ end: Int) {
    if transposed {
      cblas_sgemv(
        CblasRowMajor, CblasTrans, Int32(rows), Int32(end - first), 1, a + first, Int32(columns), x, 1, beta,
        y + first, 1)
    } else {
      cblas_sgemv(
        CblasRowMajor, CblasNoTrans, Int32(end - first), Int32(columns), 1, a + first * columns, Int32(columns), x, 1,
        beta, y + first, 1)
    }
  }
  overBLASWorkers(count: outputs, multiplyAdds: rows * columns, product)
}

/// Runs `product(first, end)` over the outputs 0..<count: at once, or, for
/// a large product, in one block of whole 16-output tiles (64-byte lines)
/// per core, OpenBLAS on one thread in each (withWorkersOverBLAS).
private func overBLASWorkers(count: Int, multiplyAdds: Int, _ product: (_ first: Int, _ end: Int) -> Void) {
  let workers = ComputeThreads.besideBLAS
  // Below a few hundred thousand multiply-adds a hand-off costs more than it saves.
  guard workers > 1, multiplyAdds >= 1 << 18, count >= 32 * workers else {
    product(0, count)
    return
  }
  let share = ((count + workers - 1) / workers + 15) & ~15
  withWorkersOverBLAS(items: workers) { next in
    while let w = next() {
      if w * share < count { product(w * share, min(count, (w + 1) * share)) }
    }
  }
}
