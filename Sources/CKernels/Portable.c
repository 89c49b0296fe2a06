// The portable kernels: plain C for any CPU, written branch-light so that a
// compiler may vectorise them for the baseline target (SSE2, NEON).
#include <stdint.h>
#include <string.h>

#include "CKernels.h"
#include "ExpConstants.h"

// 2^k for k in [-126, 127], from its bits.
static inline float pow2i(int32_t k) {
  uint32_t bits = (uint32_t)(k + 127) << 23;
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

// e^y by the reduction and polynomial of ExpConstants.h, 2^n in two halves
// so denormal results come out right. y is clamped to [TDB_EXP_LO,
// TDB_EXP_HI]; NaN is the caller's to handle.
static inline float exp_clamped(float y) {
  float yc = y > TDB_EXP_HI ? TDB_EXP_HI : y < TDB_EXP_LO ? TDB_EXP_LO : y;
  // Adding and removing 1.5·2^23 rounds to the nearest integer (ties to even),
  // as the AVX2 kernel's round instruction does, without a libm call.
  const float shifter = 12582912.0f;
  float nf = (yc * TDB_LOG2E + shifter) - shifter;
  float r = (yc - nf * TDB_LN2_HI) - nf * TDB_LN2_LO;
  float p = TDB_EXP_C7;
  p = p * r + TDB_EXP_C6;
  p = p * r + TDB_EXP_C5;
  p = p * r + TDB_EXP_C4;
  p = p * r + TDB_EXP_C3;
  p = p * r + TDB_EXP_C2;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  int32_t n = (int32_t)nf, n1 = n >> 1, n2 = n - n1;
  return (p * pow2i(n1)) * pow2i(n2);
}

static inline float exp1(float x) { return x != x ? x : exp_clamped(x); }

// e^t for t in [TDB_DEXP_LO, 0], in double (ExpConstants.h).
static inline double exp_nonpositive(double t) {
  // Rounds to the nearest integer: adding 1.5·2^52 leaves no fraction bits.
  double n = (t * TDB_DLOG2E + 6755399441055744.0) - 6755399441055744.0;
  double r = (t - n * TDB_DLN2_HI) - n * TDB_DLN2_LO;
  double p = TDB_DEXP_C9;
  p = p * r + TDB_DEXP_C8;
  p = p * r + TDB_DEXP_C7;
  p = p * r + TDB_DEXP_C6;
  p = p * r + TDB_DEXP_C5;
  p = p * r + TDB_DEXP_C4;
  p = p * r + TDB_DEXP_C3;
  p = p * r + TDB_DEXP_C2;
  p = p * r + 1.0;
  p = p * r + 1.0;
  double shifted = n + TDB_DEXP_SHIFTER;
  uint64_t bits;
  memcpy(&bits, &shifted, sizeof bits);
  bits <<= 52;
  double scale;
  memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

// x·σ(y)·m in double, rounded once: x / (1 + e^-y) for y ≥ 0, x·e^y / (1 + e^y)
// for y < 0, so the exp never overflows. Past TDB_DEXP_LO e^y is exactly 0,
// and x·0 keeps the formula's -∞·0 = NaN at x = -∞.
static inline float x_sigmoid_times(float x, float y, float m) {
  if (y != y) return x + y;
  double xd = x, a = y < 0 ? (double)y : -(double)y;
  double e = a < TDB_DEXP_LO ? 0.0 : exp_nonpositive(a);
  return (float)((y < 0 ? xd * e : xd) / (1.0 + e) * (double)m);
}

// gelu_new's 2u = (2·√(2/π)) · (x + ((c·x)·x)·x), rounded as the AVX2
// kernels round it.
static inline float gelu_2u(float x) { return (2.0f * TDB_GELU_S) * (x + ((TDB_GELU_C * x) * x) * x); }

// gelu_new(x) = 0.5·x·(1 + tanh u) = x·σ(2u).
static inline float gelu1(float x) { return x_sigmoid_times(x, gelu_2u(x), 1.0f); }

// x·Φ(x) in double by the erfc of ExpConstants.h, rounded once. Past
// TDB_DERFC_ZMAX erfc is 0: x·Φ(x) is then 0 below (and -∞·0 = NaN at
// x = -∞) and x itself above.
static inline float gelu_erf1(float x) {
  if (x != x) return x;
  double xd = x, ax = xd < 0 ? -xd : xd, z = ax * TDB_DSQRT1_2, half_erfc = 0.0;
  if (z <= TDB_DERFC_ZMAX) {
    double t = 1.0 / (1.0 + 0.5 * z);
    double p = TDB_DERFC_P13;
    p = p * t + TDB_DERFC_P12;
    p = p * t + TDB_DERFC_P11;
    p = p * t + TDB_DERFC_P10;
    p = p * t + TDB_DERFC_P9;
    p = p * t + TDB_DERFC_P8;
    p = p * t + TDB_DERFC_P7;
    p = p * t + TDB_DERFC_P6;
    p = p * t + TDB_DERFC_P5;
    p = p * t + TDB_DERFC_P4;
    p = p * t + TDB_DERFC_P3;
    p = p * t + TDB_DERFC_P2;
    p = p * t + TDB_DERFC_P1;
    p = p * t + TDB_DERFC_P0;
    // The fit can put the exponent a hair above 0 at z = 0, where it is 0.
    double y = p - z * z;
    half_erfc = 0.5 * t * exp_nonpositive(y < 0 ? y : 0);
  }
  return (float)(xd * (x < 0 ? half_erfc : 1.0 - half_erfc));
}

static void exp_portable(float *out, const float *x, ptrdiff_t n) {
  for (ptrdiff_t i = 0; i < n; i++) out[i] = exp1(x[i]);
}

// Four running maxima and sums, and the exp loop on one pointer, so that
// the compiler vectorises the exp and the reductions are not one long chain.
static void softmax_row_portable(float *p, const float *s, ptrdiff_t first, ptrdiff_t last, ptrdiff_t length) {
  ptrdiff_t end = last + 1, j;
  float m[4] = {-__builtin_inff(), -__builtin_inff(), -__builtin_inff(), -__builtin_inff()};
  for (j = first; j + 4 <= end; j += 4)
    for (int k = 0; k < 4; k++) m[k] = s[j + k] > m[k] ? s[j + k] : m[k];
  for (; j < end; j++) m[0] = s[j] > m[0] ? s[j] : m[0];
  float maxv = m[0];
  for (int k = 1; k < 4; k++) maxv = m[k] > maxv ? m[k] : maxv;
  if (maxv == -__builtin_inff()) {
    // Every key masked (only possible after an intervention): attend nowhere.
    memset(p, 0, (size_t)length * sizeof *p);
    return;
  }
  if (p != s) memcpy(p + first, s + first, (size_t)(end - first) * sizeof *p);
  for (j = first; j < end; j++) p[j] = exp1(p[j] - maxv);
  float sum[4] = {0, 0, 0, 0};
  for (j = first; j + 4 <= end; j += 4)
    for (int k = 0; k < 4; k++) sum[k] += p[j + k];
  for (; j < end; j++) sum[0] += p[j];
  float inv = 1.0f / ((sum[0] + sum[1]) + (sum[2] + sum[3]));
  memset(p, 0, (size_t)first * sizeof *p);
  for (j = first; j < end; j++) p[j] *= inv;
  if (end < length) memset(p + end, 0, (size_t)(length - end) * sizeof *p);
}

static void gelu_tanh_portable(float *out, const float *x, ptrdiff_t n) {
  for (ptrdiff_t i = 0; i < n; i++) out[i] = gelu1(x[i]);
}

// gelu_new'(x) = σ(2u) + x·2u'·σ(2u)(1 - σ(2u)), 2u' = 2·√(2/π)·(1 + 3c·x²),
// with e = e^(-|2u|): σ(1 - σ) = e/(1 + e)², which neither overflows nor
// cancels. Where e is 0 the second term is 0 (not x³·0 = NaN for huge x).
static inline float gelu_tanh_derivative(float x) {
  if (x != x) return x;
  float y = gelu_2u(x);
  float a = y < 0 ? y : -y, e = exp_clamped(a), d = 1.0f + e;
  float sigma = (y < 0 ? e : 1.0f) / d;
  float slope = (2.0f * TDB_GELU_S) * (1.0f + (3.0f * TDB_GELU_C) * (x * x));
  return e == 0.0f ? sigma : sigma + ((x * slope) * e) / (d * d);
}

static void gelu_tanh_backward_portable(float *dinp, const float *x, const float *dout, ptrdiff_t n) {
  for (ptrdiff_t i = 0; i < n; i++) dinp[i] = gelu_tanh_derivative(x[i]) * dout[i];
}

static void gelu_erf_portable(float *out, const float *x, ptrdiff_t n) {
  for (ptrdiff_t i = 0; i < n; i++) out[i] = gelu_erf1(x[i]);
}

static void silu_gate_portable(float *out, const float *gate, const float *up, ptrdiff_t n) {
  for (ptrdiff_t i = 0; i < n; i++) {
    float g = gate[i];
    out[i] = x_sigmoid_times(g, g, up[i]);
  }
}

static void gelu_gate_portable(float *out, const float *gate, const float *up, ptrdiff_t n) {
  for (ptrdiff_t i = 0; i < n; i++) out[i] = x_sigmoid_times(gate[i], gelu_2u(gate[i]), up[i]);
}

static void add_portable(float *out, const float *a, const float *b, ptrdiff_t n) {
  for (ptrdiff_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

static const tdb_kernel_set portable = {
  .name = "portable",
  .exp = exp_portable,
  .softmax_row = softmax_row_portable,
  .gelu_tanh = gelu_tanh_portable,
  .gelu_tanh_backward = gelu_tanh_backward_portable,
  .gelu_erf = gelu_erf_portable,
  .silu_gate = silu_gate_portable,
  .gelu_gate = gelu_gate_portable,
  .add = add_portable,
};

const tdb_kernel_set *tdb_kernels_portable(void) { return &portable; }
