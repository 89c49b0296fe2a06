import CBLAS

// Only activation gradients are needed (interpretability never updates the
// weights), so a linear layer's backward is a single product with the weight
// transposed and the layer's input need not be kept.

/// Backward of a Conv1D layer out[T, OC] = inp[T, C] · weight[C, OC] + bias:
/// dinp[T, C] (+)= dout[T, OC] · weight[C, OC]ᵀ.
/// `ldDout`/`ldWeight` let q/k/v use a column block of the fused c_attn weight.
func linearBackward(
  _ dinp: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
  T: Int, C: Int, OC: Int, ldDout: Int? = nil, ldWeight: Int? = nil, accumulate: Bool
) {
  gemm(
    transB: true, M: T, N: C, K: OC, dout, lda: ldDout ?? OC, weight, ldb: ldWeight ?? OC, beta: accumulate ? 1 : 0,
    dinp, ldc: C)
}

/// `linearBackward` with a model's or an SAE's weight [C, OC]: through
/// oneDNN from three rows up (`PackedWeights`; the weight read transposed).
func linearBackward(
  _ dinp: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>, _ weight: Tensor, T: Int, C: Int, OC: Int,
  accumulate: Bool
) {
  let layout = PackedWeights.Layout(transposed: true, K: OC, N: C)
  if PackedWeights.product(weight, layout, M: T, dout, beta: accumulate ? 1 : 0, dinp) { return }
  linearBackward(dinp, dout, weight.pointer, T: T, C: C, OC: OC, accumulate: accumulate)
}

/// Backward of the unembedding logits[T, V] = inp[T, C] · embedding[V, C]ᵀ:
/// dinp[T, C] = dlogits[T, V] · embedding[V, C].
func unembedBackward(
  _ dinp: UnsafeMutablePointer<Float>, _ dlogits: UnsafePointer<Float>, _ embedding: UnsafePointer<Float>, T: Int,
  C: Int, V: Int
) {
  gemm(M: T, N: C, K: V, dlogits, lda: V, embedding, ldb: C, dinp, ldc: C)
}
