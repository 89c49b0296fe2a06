import CBLAS

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
      cblas_sgemv(
        CblasRowMajor, CblasTrans, Int32(C), Int32(OC), 1, weight, Int32(OC), inp + t * C, 1, bias == nil ? 0 : 1,
        out + t * OC, 1)
    }
    return
  }
  cblas_sgemm(
    CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(T), Int32(OC), Int32(C), 1, inp, Int32(C), weight,
    Int32(OC), bias == nil ? 0 : 1, out, Int32(OC))
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
      cblas_sgemv(
        CblasRowMajor, CblasNoTrans, Int32(V), Int32(C), 1, embedding, Int32(C), inp + t * C, 1, 0, out + t * V, 1)
    }
    return
  }
  cblas_sgemm(
    CblasRowMajor, CblasNoTrans, CblasTrans, Int32(T), Int32(V), Int32(C), 1, inp, Int32(C), embedding, Int32(C), 0,
    out, Int32(V))
}

/// General row-major product with explicit leading dimensions:
/// c[M, N] = alpha · op(a)[M, K] · op(b)[K, N] + beta · c.
@inline(__always)
func gemm(
  transA: Bool = false, transB: Bool = false, M: Int, N: Int, K: Int, alpha: Float = 1,
  _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
  _ c: UnsafeMutablePointer<Float>, ldc: Int
) {
  cblas_sgemm(
    CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, Int32(M), Int32(N), Int32(K),
    alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}
