// The portable kernels: plain C for any CPU, written branch-light so that a
// compiler may vectorise them for the baseline target (SSE2, NEON).
#include <math.h>
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

// e^t for t ≤ 0, exactly 0 below TDB_DEXP_LO (where every caller's product
// with it rounds to 0 in float anyway).
static inline double exp_nonpositive_or_zero(double t) { return t < TDB_DEXP_LO ? 0.0 : exp_nonpositive(t); }

// x·σ(y)·m in double, rounded once: x / (1 + e^-y) for y ≥ 0, x·e^y / (1 + e^y)
// for y < 0, so the exp never overflows. Past TDB_DEXP_LO e^y is exactly 0,
// and x·0 keeps the formula's -∞·0 = NaN at x = -∞.
static inline float x_sigmoid_times(float x, float y, float m) {
  if (y != y) return x + y;
  double xd = x, a = y < 0 ? (double)y : -(double)y;
  double e = exp_nonpositive_or_zero(a);
  return (float)((y < 0 ? xd * e : xd) / (1.0 + e) * (double)m);
}

// gelu_new's 2u = (2·√(2/π)) · (x + ((c·x)·x)·x), rounded as the AVX2
// kernels round it.
static inline float gelu_2u(float x) { return (2.0f * TDB_GELU_S) * (x + ((TDB_GELU_C * x) * x) * x); }

// gelu_new(x) = 0.5·x·(1 + tanh u) = x·σ(2u).
static inline float gelu1(float x) { return x_sigmoid_times(x, gelu_2u(x), 1.0f); }

// erfc(z)/2 for z ≥ 0 in double by the erfc of ExpConstants.h; 0 past
// TDB_DERFC_ZMAX.
static inline double half_erfc(double z) {
  if (z > TDB_DERFC_ZMAX) return 0.0;
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
  return 0.5 * t * exp_nonpositive(y < 0 ? y : 0);
}

// Φ(x) in double: 1 - erfc(|x|/√2)/2 for x ≥ 0, erfc(|x|/√2)/2 below.
static inline double normal_cdf(double x) {
  double h = half_erfc((x < 0 ? -x : x) * TDB_DSQRT1_2);
  return x < 0 ? h : 1.0 - h;
}

// x·Φ(x) in double, rounded once. Past TDB_DERFC_ZMAX erfc is 0: x·Φ(x) is
// then 0 below (and -∞·0 = NaN at x = -∞) and x itself above.
static inline float gelu_erf1(float x) {
  if (x != x) return x;
  return (float)((double)x * normal_cdf(x));
}

// e^(-x²/2) in double, 0 where it underflows.
static inline double gaussian(double x) {
  double y = -0.5 * x * x;
  return exp_nonpositive_or_zero(y);
}

// dout·(Φ(x) + x·φ(x)) in double, rounded once; NaN at x = ±∞ (∞·0), as
// the formula gives.
static inline float gelu_erf_derivative_times(float x, float dout) {
  if (x != x) return x;
  double xd = x;
  return (float)((normal_cdf(xd) + xd * (TDB_DINV_SQRT_2PI * gaussian(xd))) * (double)dout);
}

static void exp_portable(float *out, const float *x, ptrdiff_t n) {
  for (ptrdiff_t i = 0; i < n; i++) out[i] = exp1(x[i]);
}

// The exps are taken and summed in double, stored rounded to float and
// scaled by the double 1/sum (within 1 ulp, as the AVX2 kernel). Four
// running maxima and sums, so the reductions are not one long chain.
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
  double sum[4] = {0, 0, 0, 0};
  for (j = first; j < end; j++) {
    double t = (double)(s[j] - maxv);
    double e = t != t ? t : exp_nonpositive_or_zero(t);
    p[j] = (float)e;
    sum[(j - first) & 3] += e;
  }
  double inv = 1.0 / ((sum[0] + sum[1]) + (sum[2] + sum[3]));
  memset(p, 0, (size_t)first * sizeof *p);
  for (j = first; j < end; j++) p[j] = (float)((double)p[j] * inv);
  if (end < length) memset(p + end, 0, (size_t)(length - end) * sizeof *p);
}

// The dot product is summed in double, where a product of two floats is
// exact, and each result is computed in double and rounded once.
static void softmax_backward_row_portable(float *ds, const float *p, const float *dp, ptrdiff_t first, ptrdiff_t last,
                                          ptrdiff_t length) {
  ptrdiff_t end = last + 1, j;
  double sum[4] = {0, 0, 0, 0};
  for (j = first; j < end; j++) sum[(j - first) & 3] += (double)p[j] * (double)dp[j];
  double dot = (sum[0] + sum[1]) + (sum[2] + sum[3]);
  for (j = first; j < end; j++) ds[j] = (float)((double)p[j] * ((double)dp[j] - dot));
  memset(ds, 0, (size_t)first * sizeof *ds);
  if (end < length) memset(ds + end, 0, (size_t)(length - end) * sizeof *ds);
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

// σ(g) and 1 - σ(g) in double from e = e^-|g|, neither cancelling.
static inline void sigmoid_pair(double g, double *sigma, double *complement) {
  double a = g < 0 ? g : -g, e = exp_nonpositive_or_zero(a), d = 1.0 + e;
  *sigma = (g < 0 ? e : 1.0) / d;
  *complement = (g < 0 ? 1.0 : e) / d;
}

static void silu_gate_backward_portable(float *dgate, float *dup, const float *dout, const float *gate,
  const float *up, ptrdiff_t n) {
  for (ptrdiff_t i = 0; i < n; i++) {
    double g = gate[i], sigma, complement;
    sigmoid_pair(g, &sigma, &complement);
    double dy = dout[i];
    dgate[i] = (float)(dy * (double)up[i] * sigma * (1.0 + g * complement));
    dup[i] = (float)(dy * g * sigma);
  }
}

static void gelu_erf_backward_portable(float *dinp, const float *x, const float *dout, ptrdiff_t n) {
  for (ptrdiff_t i = 0; i < n; i++) dinp[i] = gelu_erf_derivative_times(x[i], dout[i]);
}

// The norms keep four partial sums, so the reductions are not one long chain.

static void norm_statistics_portable(float *mean, float *scale, const float *x, ptrdiff_t C, float eps,
  int centered) {
  double m = 0;
  if (centered) {
    double sum[4] = {0, 0, 0, 0};
    for (ptrdiff_t i = 0; i < C; i++) sum[i & 3] += x[i];
    m = ((sum[0] + sum[1]) + (sum[2] + sum[3])) / (double)C;
  }
  double squares[4] = {0, 0, 0, 0};
  for (ptrdiff_t i = 0; i < C; i++) {
    double d = (double)x[i] - m;
    squares[i & 3] += d * d;
  }
  double variance = ((squares[0] + squares[1]) + (squares[2] + squares[3])) / (double)C;
  *mean = (float)m;
  *scale = (float)sqrt(variance + (double)eps);
}

static void norm_apply_portable(float *out, const float *x, float mean, float scale, const float *weight,
  const float *bias, ptrdiff_t C) {
  double m = mean, r = 1.0 / (double)scale;
  if (bias)
    for (ptrdiff_t i = 0; i < C; i++) out[i] = (float)(((double)x[i] - m) * r * (double)weight[i] + (double)bias[i]);
  else
    for (ptrdiff_t i = 0; i < C; i++) out[i] = (float)(((double)x[i] - m) * r * (double)weight[i]);
}

static void norm_backward_portable(float *dinp, float *dscale, const float *dout, const float *x, float mean,
  float scale, const float *weight, ptrdiff_t C, int centered) {
  double m = mean, r = 1.0 / (double)scale, dn_sum[4] = {0, 0, 0, 0}, dn_dot[4] = {0, 0, 0, 0};
  for (ptrdiff_t i = 0; i < C; i++) {
    double dn = (double)dout[i] * (double)weight[i];
    dn_sum[i & 3] += dn;
    dn_dot[i & 3] += dn * ((double)x[i] - m);
  }
  // RMSNorm subtracts no mean, so no gradient flows through one.
  double dn_mean = centered ? ((dn_sum[0] + dn_sum[1]) + (dn_sum[2] + dn_sum[3])) / (double)C : 0.0;
  for (ptrdiff_t i = 0; i < C; i++)
    dinp[i] = (float)((double)dinp[i] + ((double)dout[i] * (double)weight[i] - dn_mean) * r);
  *dscale = (float)(-((dn_dot[0] + dn_dot[1]) + (dn_dot[2] + dn_dot[3])) * r * r);
}

static void norm_scale_backward_portable(float *dinp, const float *x, float mean, float scale, float dscale,
  ptrdiff_t C) {
  double m = mean, k = (double)dscale / ((double)C * (double)scale);
  for (ptrdiff_t i = 0; i < C; i++) dinp[i] = (float)((double)dinp[i] + k * ((double)x[i] - m));
}

// Products of two floats are exact in double, so each result is one
// difference (or sum) rounded twice: to double, then to float.
static void rotate_half_portable(float *v, const float *cos, const float *sin, ptrdiff_t half, ptrdiff_t heads,
  ptrdiff_t D, int inverse) {
  double sign = inverse ? -1.0 : 1.0;
  for (ptrdiff_t h = 0; h < heads; h++) {
    float *a = v + h * D, *b = a + half;
    for (ptrdiff_t i = 0; i < half; i++) {
      double x = a[i], y = b[i], c = cos[i], s = sign * (double)sin[i];
      a[i] = (float)(x * c - y * s);
      b[i] = (float)(y * c + x * s);
    }
  }
}

// cap·tanh(x/cap) in double, rounded once: tanh|y| = (1 - e)/(1 + e) with
// e = e^(-2|y|), which neither overflows nor (past TDB_DTANH_SMALL) cancels.
static inline float softcap1(float x, float cap) {
  if (x != x) return x;
  double y = (double)x / (double)cap, a = y < 0 ? -y : y, t;
  if (a < TDB_DTANH_SMALL) {
    t = a * (1.0 - a * a / 3.0);
  } else {
    double e = exp_nonpositive_or_zero(-2.0 * a);
    t = (1.0 - e) / (1.0 + e);
  }
  return (float)((double)cap * (y < 0 ? -t : t));
}

static void softcap_portable(float *out, const float *x, float cap, ptrdiff_t n) {
  for (ptrdiff_t i = 0; i < n; i++) out[i] = softcap1(x[i], cap);
}

static void relu_portable(float *x, ptrdiff_t n) {
  for (ptrdiff_t i = 0; i < n; i++) x[i] = x[i] < 0 ? 0.0f : x[i];
}

static void jump_relu_portable(float *x, const float *threshold, ptrdiff_t n) {
  for (ptrdiff_t i = 0; i < n; i++) x[i] = x[i] > threshold[i] ? x[i] : 0.0f;
}

#define TDB_DQ_ATTR
#define TDB_DQ_ENTRY dequantize_portable
#include "Dequantize.h"

static const tdb_kernel_set portable = {
  .name = "portable",
  .exp = exp_portable,
  .softmax_row = softmax_row_portable,
  .softmax_backward_row = softmax_backward_row_portable,
  .gelu_tanh = gelu_tanh_portable,
  .gelu_tanh_backward = gelu_tanh_backward_portable,
  .gelu_erf = gelu_erf_portable,
  .silu_gate = silu_gate_portable,
  .gelu_gate = gelu_gate_portable,
  .add = add_portable,
  .silu_gate_backward = silu_gate_backward_portable,
  .gelu_erf_backward = gelu_erf_backward_portable,
  .norm_statistics = norm_statistics_portable,
  .norm_apply = norm_apply_portable,
  .norm_backward = norm_backward_portable,
  .norm_scale_backward = norm_scale_backward_portable,
  .rotate_half = rotate_half_portable,
  .softcap = softcap_portable,
  .relu = relu_portable,
  .jump_relu = jump_relu_portable,
  .dequantize = dequantize_portable,
};

const tdb_kernel_set *tdb_kernels_portable(void) { return &portable; }
