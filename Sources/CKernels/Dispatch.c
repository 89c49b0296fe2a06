// Chooses the kernel set once per process and forwards the call sites to it.
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "CKernels.h"

const tdb_kernel_set *tdb_kernels_choose(const char *setting) {
  if (setting && strcmp(setting, "portable") == 0) return tdb_kernels_portable();
  const tdb_kernel_set *avx2 = tdb_kernels_avx2();
  const tdb_kernel_set *fastest = setting && strcmp(setting, "avx2") == 0 ? NULL : tdb_kernels_avx512();
  return fastest ? fastest : avx2 ? avx2 : tdb_kernels_portable();
}

static const tdb_kernel_set *active;
static pthread_once_t chosen = PTHREAD_ONCE_INIT;

static void choose(void) { active = tdb_kernels_choose(getenv("TDB_KERNELS")); }

const tdb_kernel_set *tdb_kernels(void) {
  pthread_once(&chosen, choose);
  return active;
}

void tdb_exp(float *out, const float *x, ptrdiff_t n) { tdb_kernels()->exp(out, x, n); }

void tdb_softmax_row(float *p, const float *s, ptrdiff_t first, ptrdiff_t last, ptrdiff_t length) {
  tdb_kernels()->softmax_row(p, s, first, last, length);
}

void tdb_softmax_backward_row(float *ds, const float *p, const float *dp, ptrdiff_t first, ptrdiff_t last,
                              ptrdiff_t length) {
  tdb_kernels()->softmax_backward_row(ds, p, dp, first, last, length);
}

void tdb_gelu_tanh(float *out, const float *x, ptrdiff_t n) { tdb_kernels()->gelu_tanh(out, x, n); }

void tdb_gelu_tanh_backward(float *dinp, const float *x, const float *dout, ptrdiff_t n) {
  tdb_kernels()->gelu_tanh_backward(dinp, x, dout, n);
}

void tdb_gelu_erf(float *out, const float *x, ptrdiff_t n) { tdb_kernels()->gelu_erf(out, x, n); }

void tdb_silu_gate(float *out, const float *gate, const float *up, ptrdiff_t n) {
  tdb_kernels()->silu_gate(out, gate, up, n);
}

void tdb_gelu_gate(float *out, const float *gate, const float *up, ptrdiff_t n) {
  tdb_kernels()->gelu_gate(out, gate, up, n);
}

void tdb_add(float *out, const float *a, const float *b, ptrdiff_t n) { tdb_kernels()->add(out, a, b, n); }

void tdb_silu_gate_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up,
  ptrdiff_t n) {
  tdb_kernels()->silu_gate_backward(dgate, dup, dout, gate, up, n);
}

void tdb_gelu_erf_backward(float *dinp, const float *x, const float *dout, ptrdiff_t n) {
  tdb_kernels()->gelu_erf_backward(dinp, x, dout, n);
}

void tdb_norm_statistics(float *mean, float *scale, const float *x, ptrdiff_t C, float eps, int centered) {
  tdb_kernels()->norm_statistics(mean, scale, x, C, eps, centered);
}

void tdb_norm_apply(float *out, const float *x, float mean, float scale, const float *weight, const float *bias,
  ptrdiff_t C) {
  tdb_kernels()->norm_apply(out, x, mean, scale, weight, bias, C);
}

void tdb_norm_backward(float *dinp, float *dscale, const float *dout, const float *x, float mean, float scale,
  const float *weight, ptrdiff_t C, int centered) {
  tdb_kernels()->norm_backward(dinp, dscale, dout, x, mean, scale, weight, C, centered);
}

void tdb_norm_scale_backward(float *dinp, const float *x, float mean, float scale, float dscale, ptrdiff_t C) {
  tdb_kernels()->norm_scale_backward(dinp, x, mean, scale, dscale, C);
}

void tdb_rotate_half(float *v, const float *cos, const float *sin, ptrdiff_t half, ptrdiff_t heads, ptrdiff_t D,
  int inverse) {
  tdb_kernels()->rotate_half(v, cos, sin, half, heads, D, inverse);
}

void tdb_softcap(float *out, const float *x, float cap, ptrdiff_t n) { tdb_kernels()->softcap(out, x, cap, n); }

void tdb_relu(float *x, ptrdiff_t n) { tdb_kernels()->relu(x, n); }

void tdb_jump_relu(float *x, const float *threshold, ptrdiff_t n) { tdb_kernels()->jump_relu(x, threshold, n); }

int tdb_dequantize(int type, const void *src, float *dst, ptrdiff_t blocks) {
  return tdb_kernels()->dequantize(type, src, dst, blocks);
}
