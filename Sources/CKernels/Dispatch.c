// Chooses the kernel set once per process and forwards the call sites to it.
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "CKernels.h"

const tdb_kernel_set *tdb_kernels_choose(const char *setting) {
  if (setting && strcmp(setting, "portable") == 0) return tdb_kernels_portable();
  const tdb_kernel_set *fast = tdb_kernels_avx2();
  return fast ? fast : tdb_kernels_portable();
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
