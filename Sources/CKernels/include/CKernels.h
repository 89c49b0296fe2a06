// Vector kernels for the elementwise work of the forward pass, each built
// twice: for AVX2+FMA (x86-64 only, behind a run-time CPU check) and as
// portable C. The set is chosen once per process; TDB_KERNELS=portable in
// the environment forces the portable set (for tests and for comparison).
#ifndef TDB_CKERNELS_H
#define TDB_CKERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// One implementation of every kernel. All pointers may alias exactly
/// (out == in), never partially.
typedef struct tdb_kernel_set {
  const char *name;  // "avx2" or "portable"
  // out[n] = e^x
  void (*exp)(float *out, const float *x, ptrdiff_t n);
  // p[length] = softmax of s over first...last, 0 elsewhere; all zero when
  // every s[first...last] is -inf. p may be s.
  void (*softmax_row)(float *p, const float *s, ptrdiff_t first, ptrdiff_t last, ptrdiff_t length);
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
} tdb_kernel_set;

/// The portable set: plain C, on every machine.
const tdb_kernel_set *tdb_kernels_portable(void);
/// The AVX2+FMA set, or NULL when this is not x86-64 or the CPU lacks AVX2 or FMA.
const tdb_kernel_set *tdb_kernels_avx2(void);
/// The set a process uses given TDB_KERNELS's value (NULL: unset): the
/// portable set for "portable", otherwise the fastest the CPU runs.
const tdb_kernel_set *tdb_kernels_choose(const char *setting);
/// The set this process uses, chosen on first call from TDB_KERNELS.
const tdb_kernel_set *tdb_kernels(void);

// The active set's kernels, for call sites.
void tdb_exp(float *out, const float *x, ptrdiff_t n);
void tdb_softmax_row(float *p, const float *s, ptrdiff_t first, ptrdiff_t last, ptrdiff_t length);
void tdb_gelu_tanh(float *out, const float *x, ptrdiff_t n);
void tdb_gelu_tanh_backward(float *dinp, const float *x, const float *dout, ptrdiff_t n);
void tdb_gelu_erf(float *out, const float *x, ptrdiff_t n);
void tdb_silu_gate(float *out, const float *gate, const float *up, ptrdiff_t n);
void tdb_gelu_gate(float *out, const float *gate, const float *up, ptrdiff_t n);
void tdb_add(float *out, const float *a, const float *b, ptrdiff_t n);

#ifdef __cplusplus
}
#endif

#endif
