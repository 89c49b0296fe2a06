// Vector kernels for the elementwise work of the forward pass, each built
// twice: for AVX2+FMA (x86-64 only, behind a run-time CPU check) and as
// portable C; the costliest (softmax, the MLP activations) a third time for
// AVX-512. The set is chosen once per process; TDB_KERNELS=portable (or
// avx2) in the environment forces that set (for tests and for comparison).
#ifndef TDB_CKERNELS_H
#define TDB_CKERNELS_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The ggml element types the dequantizer widens (`enum ggml_type`'s values).
enum {
  TDB_GGML_F16 = 1,
  TDB_GGML_Q4_0 = 2,
  TDB_GGML_Q4_1 = 3,
  TDB_GGML_Q5_0 = 6,
  TDB_GGML_Q5_1 = 7,
  TDB_GGML_Q8_0 = 8,
  TDB_GGML_Q2_K = 10,
  TDB_GGML_Q3_K = 11,
  TDB_GGML_Q4_K = 12,
  TDB_GGML_Q5_K = 13,
  TDB_GGML_Q6_K = 14,
  TDB_GGML_BF16 = 30,
};

/// One implementation of every kernel. All pointers may alias exactly
/// (out == in), never partially.
typedef struct tdb_kernel_set {
  const char *name;  // "avx512", "avx2" or "portable"
  // out[n] = e^x
  void (*exp)(float *out, const float *x, ptrdiff_t n);
  // p[length] = softmax of s over first...last, 0 elsewhere; all zero when
  // every s[first...last] is -inf. p may be s.
  void (*softmax_row)(float *p, const float *s, ptrdiff_t first, ptrdiff_t last, ptrdiff_t length);
  // ds[length] = p·(dp - Σ p·dp) over first...last, 0 elsewhere: the
  // softmax's backward pass for one row (p its output, dp the gradient
  // there). ds may be dp.
  void (*softmax_backward_row)(float *ds, const float *p, const float *dp, ptrdiff_t first, ptrdiff_t last,
    ptrdiff_t length);
  // out[n] = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))  (GPT-2's gelu_new)
  void (*gelu_tanh)(float *out, const float *x, ptrdiff_t n);
  // dinp[n] = dout · gelu_tanh'(x) (dinp may be dout)
  void (*gelu_tanh_backward)(float *dinp, const float *x, const float *dout, ptrdiff_t n);
  // out[n] = x·Φ(x) = 0.5·x·(1 + erf(x/√2))  (the exact GELU)
  void (*gelu_erf)(float *out, const float *x, ptrdiff_t n);
  // out[n] = silu(gate)·up, silu(x) = x / (1 + e^-x)
  void (*silu_gate)(float *out, const float *gate, const float *up, ptrdiff_t n);
  // out[n] = gelu_tanh(gate)·up
  void (*gelu_gate)(float *out, const float *gate, const float *up, ptrdiff_t n);
  // out[n] = a + b
  void (*add)(float *out, const float *a, const float *b, ptrdiff_t n);
  // dgate[n] = dout·up·σ(g)·(1 + g·(1 - σ(g))), dup[n] = dout·silu(g), g = gate
  void (*silu_gate_backward)(float *dgate, float *dup, const float *dout, const float *gate, const float *up,
    ptrdiff_t n);
  // dinp[n] = dout·(Φ(x) + x·φ(x)), the exact GELU's derivative (dinp may be dout)
  void (*gelu_erf_backward)(float *dinp, const float *x, const float *dout, ptrdiff_t n);

  // The norms, one row of C values at a time (the caller spreads rows over
  // the cores). Sums run in double and each result is rounded once.
  // *mean = mean(x) (0 when !centered: RMSNorm), *scale = sqrt(mean((x - mean)²) + eps)
  void (*norm_statistics)(float *mean, float *scale, const float *x, ptrdiff_t C, float eps, int centered);
  // out[C] = (x - mean) / scale · weight + bias (no bias when NULL); out may be x
  void (*norm_apply)(float *out, const float *x, float mean, float scale, const float *weight, const float *bias,
    ptrdiff_t C);
  // With dn = dout·weight and n = (x - mean)/scale:
  // dinp[C] += (dn - mean(dn)) / scale (no mean(dn) when !centered), *dscale = -Σ dn·n / scale
  void (*norm_backward)(float *dinp, float *dscale, const float *dout, const float *x, float mean, float scale,
    const float *weight, ptrdiff_t C, int centered);
  // dinp[C] += dscale·(x - mean) / (C·scale)  (the path from the scale back to x)
  void (*norm_scale_backward)(float *dinp, const float *x, float mean, float scale, float dscale, ptrdiff_t C);

  // Rotary embedding of one position's heads, v[heads, D] in place, pairing
  // dimension i with i + half for i < half (the rest pass through):
  //   (a, b) -> (a·cos - b·sin, b·cos + a·sin), or the inverse rotation
  //   (a·cos + b·sin, b·cos - a·sin) when `inverse` (the backward pass).
  void (*rotate_half)(float *v, const float *cos, const float *sin, ptrdiff_t half, ptrdiff_t heads, ptrdiff_t D,
    int inverse);

  // out[n] = cap·tanh(x/cap), Gemma 2's soft-cap of scores and logits (out may be x)
  void (*softcap)(float *out, const float *x, float cap, ptrdiff_t n);

  // The SAE nonlinearities, in place: ReLU zeroes x < 0 (NaN and -0 stay);
  // JumpReLU zeroes every x not above its threshold (NaN included).
  void (*relu)(float *x, ptrdiff_t n);
  void (*jump_relu)(float *x, const float *threshold, ptrdiff_t n);

  // Widens `blocks` blocks of ggml type `type` (a TDB_GGML_* value; F16 and
  // BF16 blocks are one element) at src into fp32 at dst, bit-identical to
  // llama.cpp's dequantize_row_*. Returns 0, writing nothing, for any other type.
  int (*dequantize)(int type, const void *src, float *dst, ptrdiff_t blocks);
} tdb_kernel_set;

/// The portable set: plain C, on every machine.
const tdb_kernel_set *tdb_kernels_portable(void);
/// The AVX2+FMA set, or NULL when this is not x86-64 or the CPU lacks AVX2 or FMA.
const tdb_kernel_set *tdb_kernels_avx2(void);
/// The AVX2 set with its softmax and MLP activation kernels (forward and
/// backward) on AVX-512, or NULL when the CPU lacks AVX-512 F, DQ, VL or BW
/// (or AVX2 and FMA).
const tdb_kernel_set *tdb_kernels_avx512(void);
/// The set a process uses given TDB_KERNELS's value (NULL: unset): the
/// portable set for "portable", the AVX2 set (where the CPU runs it) for
/// "avx2", otherwise the fastest the CPU runs.
const tdb_kernel_set *tdb_kernels_choose(const char *setting);
/// The set this process uses, chosen on first call from TDB_KERNELS.
const tdb_kernel_set *tdb_kernels(void);

// The active set's kernels, for call sites.
void tdb_exp(float *out, const float *x, ptrdiff_t n);
void tdb_softmax_row(float *p, const float *s, ptrdiff_t first, ptrdiff_t last, ptrdiff_t length);
void tdb_softmax_backward_row(float *ds, const float *p, const float *dp, ptrdiff_t first, ptrdiff_t last,
  ptrdiff_t length);
void tdb_gelu_tanh(float *out, const float *x, ptrdiff_t n);
void tdb_gelu_tanh_backward(float *dinp, const float *x, const float *dout, ptrdiff_t n);
void tdb_gelu_erf(float *out, const float *x, ptrdiff_t n);
void tdb_silu_gate(float *out, const float *gate, const float *up, ptrdiff_t n);
void tdb_gelu_gate(float *out, const float *gate, const float *up, ptrdiff_t n);
void tdb_add(float *out, const float *a, const float *b, ptrdiff_t n);
void tdb_silu_gate_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up,
  ptrdiff_t n);
void tdb_gelu_erf_backward(float *dinp, const float *x, const float *dout, ptrdiff_t n);
void tdb_norm_statistics(float *mean, float *scale, const float *x, ptrdiff_t C, float eps, int centered);
void tdb_norm_apply(float *out, const float *x, float mean, float scale, const float *weight, const float *bias,
  ptrdiff_t C);
void tdb_norm_backward(float *dinp, float *dscale, const float *dout, const float *x, float mean, float scale,
  const float *weight, ptrdiff_t C, int centered);
void tdb_norm_scale_backward(float *dinp, const float *x, float mean, float scale, float dscale, ptrdiff_t C);
void tdb_rotate_half(float *v, const float *cos, const float *sin, ptrdiff_t half, ptrdiff_t heads, ptrdiff_t D,
  int inverse);
void tdb_softcap(float *out, const float *x, float cap, ptrdiff_t n);
void tdb_relu(float *x, ptrdiff_t n);
void tdb_jump_relu(float *x, const float *threshold, ptrdiff_t n);
int tdb_dequantize(int type, const void *src, float *dst, ptrdiff_t blocks);

// c[M, N] = a[M, K] · b[N, K]ᵀ + beta · c, every row of a and of b contiguous
// along K (the unembedding of a few rows: b is the [V, C] embedding), with
// the AVX2 kernel. Returns false, writing nothing, where it cannot run (no
// AVX2 and FMA, or TDB_KERNELS=portable): the caller then uses BLIS.
bool tdb_row_dot_products(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, const float *a, ptrdiff_t lda, const float *b,
  ptrdiff_t ldb, float beta, float *c, ptrdiff_t ldc);

#ifdef __cplusplus
}
#endif

#endif
