// The AVX2+FMA kernels, eight floats at a time. Only these functions carry
// the avx2/fma target, so the rest of the binary still runs on any x86-64;
// tdb_kernels_avx2() hands them out only after asking the CPU.
#include "CKernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "ExpConstants.h"

#define AVX2 __attribute__((target("avx2,fma")))

// Lanes 0..<k set: loads and stores of a row's last partial vector.
AVX2 static inline __m256i tail_mask(ptrdiff_t k) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)k), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// 2^k for k in [-126, 127], from its bits.
AVX2 static inline __m256 pow2i(__m256i k) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k, _mm256_set1_epi32(127)), 23));
}

// e^y = p·2^n1·2^n2 by the reduction and polynomial of ExpConstants.h, y
// clamped to [TDB_EXP_LO, TDB_EXP_HI] (a NaN y becomes a bound: the
// caller's to handle); 2^n in two halves so denormal results come out right.
AVX2 static inline __m256 exp_clamped8(__m256 y) {
  __m256 yc = _mm256_min_ps(_mm256_max_ps(y, _mm256_set1_ps(TDB_EXP_LO)), _mm256_set1_ps(TDB_EXP_HI));
  __m256 nf = _mm256_round_ps(
    _mm256_mul_ps(yc, _mm256_set1_ps(TDB_LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(nf, _mm256_set1_ps(TDB_LN2_HI), yc);
  r = _mm256_fnmadd_ps(nf, _mm256_set1_ps(TDB_LN2_LO), r);
  __m256 p = _mm256_set1_ps(TDB_EXP_C7);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(TDB_EXP_C6));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(TDB_EXP_C5));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(TDB_EXP_C4));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(TDB_EXP_C3));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(TDB_EXP_C2));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  __m256i n = _mm256_cvtps_epi32(nf);
  __m256i n1 = _mm256_srai_epi32(n, 1), n2 = _mm256_sub_epi32(n, n1);
  return _mm256_mul_ps(_mm256_mul_ps(p, pow2i(n1)), pow2i(n2));
}

AVX2 static inline __m256 isnan8(__m256 x) { return _mm256_cmp_ps(x, x, _CMP_UNORD_Q); }

// A float vector's low and high halves widened to double, and two double
// halves rounded back into one float vector.
AVX2 static inline __m256d low4(__m256 v) { return _mm256_cvtps_pd(_mm256_castps256_ps128(v)); }
AVX2 static inline __m256d high4(__m256 v) { return _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)); }
AVX2 static inline __m256 join8(__m256d low, __m256d high) {
  return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm256_cvtpd_ps(low)), _mm256_cvtpd_ps(high), 1);
}

// e^x; NaN stays NaN (the clamp had turned it into a bound).
AVX2 static inline __m256 exp8(__m256 x) {
  __m256 e = exp_clamped8(x);
  return _mm256_blendv_ps(e, x, isnan8(x));
}

// e^t for t in [TDB_DEXP_LO, 0], four doubles at a time (ExpConstants.h).
AVX2 static inline __m256d exp_nonpositive4(__m256d t) {
  __m256d n = _mm256_round_pd(_mm256_mul_pd(t, _mm256_set1_pd(TDB_DLOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256d r = _mm256_fnmadd_pd(n, _mm256_set1_pd(TDB_DLN2_HI), t);
  r = _mm256_fnmadd_pd(n, _mm256_set1_pd(TDB_DLN2_LO), r);
  __m256d p = _mm256_set1_pd(TDB_DEXP_C9);
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(TDB_DEXP_C8));
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(TDB_DEXP_C7));
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(TDB_DEXP_C6));
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(TDB_DEXP_C5));
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(TDB_DEXP_C4));
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(TDB_DEXP_C3));
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(TDB_DEXP_C2));
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0));
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0));
  __m256i bits = _mm256_slli_epi64(_mm256_castpd_si256(_mm256_add_pd(n, _mm256_set1_pd(TDB_DEXP_SHIFTER))), 52);
  return _mm256_mul_pd(p, _mm256_castsi256_pd(bits));
}

// e^t for four doubles t ≤ 0, exactly 0 below TDB_DEXP_LO (where every
// caller's product with it rounds to 0 in float anyway).
AVX2 static inline __m256d exp_nonpositive_or_zero4(__m256d t) {
  const __m256d lo = _mm256_set1_pd(TDB_DEXP_LO);
  return _mm256_andnot_pd(_mm256_cmp_pd(t, lo, _CMP_LT_OQ), exp_nonpositive4(_mm256_max_pd(t, lo)));
}

// x·σ(y)·m in double: x / (1 + e^-y) for y ≥ 0, x·e^y / (1 + e^y) for y < 0,
// so the exp never overflows. Past TDB_DEXP_LO e^-|y| is exactly 0, and x·0
// keeps the formula's -∞·0 = NaN at x = -∞. (A NaN y is the caller's.)
AVX2 static inline __m256d x_sigmoid_times4(__m256d x, __m256d y, __m256d m) {
  const __m256d one = _mm256_set1_pd(1.0);
  __m256d neg = _mm256_cmp_pd(y, _mm256_setzero_pd(), _CMP_LT_OQ);
  __m256d e = exp_nonpositive_or_zero4(_mm256_or_pd(y, _mm256_set1_pd(-0.0)));  // e^-|y|
  __m256d numerator = _mm256_blendv_pd(x, _mm256_mul_pd(x, e), neg);
  return _mm256_mul_pd(_mm256_div_pd(numerator, _mm256_add_pd(one, e)), m);
}

// x·σ(y)·m for eight floats, through doubles and rounded once: within 1 ulp
// of the exact value.
AVX2 static inline __m256 x_sigmoid_times8(__m256 x, __m256 y, __m256 m) {
  __m256 r = join8(x_sigmoid_times4(low4(x), low4(y), low4(m)), x_sigmoid_times4(high4(x), high4(y), high4(m)));
  return _mm256_blendv_ps(r, _mm256_add_ps(x, y), isnan8(y));
}

// gelu_new's 2u = (2·√(2/π)) · (x + ((c·x)·x)·x), rounded as the portable
// kernels round it.
AVX2 static inline __m256 gelu_2u8(__m256 x) {
  __m256 cube = _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(TDB_GELU_C), x), x), x);
  return _mm256_mul_ps(_mm256_set1_ps(2.0f * TDB_GELU_S), _mm256_add_ps(x, cube));
}

// gelu_new(x) = 0.5·x·(1 + tanh u) = x·σ(2u).
AVX2 static inline __m256 gelu8(__m256 x) { return x_sigmoid_times8(x, gelu_2u8(x), _mm256_set1_ps(1.0f)); }

// silu(g)·up and gelu_new(g)·up, each rounded once.
AVX2 static inline __m256 silu_times8(__m256 g, __m256 up) { return x_sigmoid_times8(g, g, up); }
AVX2 static inline __m256 gelu_times8(__m256 g, __m256 up) { return x_sigmoid_times8(g, gelu_2u8(g), up); }

// Φ(x) for four doubles, as the portable normal_cdf computes it.
AVX2 static inline __m256d normal_cdf4(__m256d x) {
  const __m256d one = _mm256_set1_pd(1.0), half = _mm256_set1_pd(0.5), zero = _mm256_setzero_pd();
  __m256d z = _mm256_mul_pd(_mm256_andnot_pd(_mm256_set1_pd(-0.0), x), _mm256_set1_pd(TDB_DSQRT1_2));
  __m256d t = _mm256_div_pd(one, _mm256_fmadd_pd(half, z, one));
  __m256d p = _mm256_set1_pd(TDB_DERFC_P13);
  p = _mm256_fmadd_pd(p, t, _mm256_set1_pd(TDB_DERFC_P12));
  p = _mm256_fmadd_pd(p, t, _mm256_set1_pd(TDB_DERFC_P11));
  p = _mm256_fmadd_pd(p, t, _mm256_set1_pd(TDB_DERFC_P10));
  p = _mm256_fmadd_pd(p, t, _mm256_set1_pd(TDB_DERFC_P9));
  p = _mm256_fmadd_pd(p, t, _mm256_set1_pd(TDB_DERFC_P8));
  p = _mm256_fmadd_pd(p, t, _mm256_set1_pd(TDB_DERFC_P7));
  p = _mm256_fmadd_pd(p, t, _mm256_set1_pd(TDB_DERFC_P6));
  p = _mm256_fmadd_pd(p, t, _mm256_set1_pd(TDB_DERFC_P5));
  p = _mm256_fmadd_pd(p, t, _mm256_set1_pd(TDB_DERFC_P4));
  p = _mm256_fmadd_pd(p, t, _mm256_set1_pd(TDB_DERFC_P3));
  p = _mm256_fmadd_pd(p, t, _mm256_set1_pd(TDB_DERFC_P2));
  p = _mm256_fmadd_pd(p, t, _mm256_set1_pd(TDB_DERFC_P1));
  p = _mm256_fmadd_pd(p, t, _mm256_set1_pd(TDB_DERFC_P0));
  // The exponent, kept in [TDB_DEXP_LO, 0] (past TDB_DERFC_ZMAX the lane is zeroed below).
  __m256d y = _mm256_max_pd(_mm256_min_pd(_mm256_fnmadd_pd(z, z, p), zero), _mm256_set1_pd(TDB_DEXP_LO));
  __m256d half_erfc = _mm256_mul_pd(_mm256_mul_pd(half, t), exp_nonpositive4(y));
  half_erfc = _mm256_andnot_pd(_mm256_cmp_pd(z, _mm256_set1_pd(TDB_DERFC_ZMAX), _CMP_GT_OQ), half_erfc);
  return _mm256_blendv_pd(_mm256_sub_pd(one, half_erfc), half_erfc, _mm256_cmp_pd(x, zero, _CMP_LT_OQ));
}

// x·Φ(x) for four doubles.
AVX2 static inline __m256d x_phi4(__m256d x) { return _mm256_mul_pd(x, normal_cdf4(x)); }

// dout·(Φ(x) + x·φ(x)) for four doubles, φ(x) = e^(-x²/2)/√(2π) (0 where it underflows).
AVX2 static inline __m256d gelu_erf_derivative_times4(__m256d x, __m256d dout) {
  __m256d g = exp_nonpositive_or_zero4(_mm256_mul_pd(_mm256_set1_pd(-0.5), _mm256_mul_pd(x, x)));
  __m256d density = _mm256_mul_pd(_mm256_set1_pd(TDB_DINV_SQRT_2PI), g);
  return _mm256_mul_pd(_mm256_add_pd(normal_cdf4(x), _mm256_mul_pd(x, density)), dout);
}

// x·Φ(x) for eight floats, through doubles and rounded once.
AVX2 static inline __m256 gelu_erf8(__m256 x) {
  __m256 r = join8(x_phi4(low4(x)), x_phi4(high4(x)));
  return _mm256_blendv_ps(r, x, isnan8(x));
}

// gelu_new'(x) as the portable gelu_tanh_derivative computes it.
AVX2 static inline __m256 gelu_derivative8(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
  __m256 y = gelu_2u8(x);
  __m256 e = exp_clamped8(_mm256_or_ps(y, _mm256_set1_ps(-0.0f))), d = _mm256_add_ps(one, e);
  __m256 sigma = _mm256_div_ps(_mm256_blendv_ps(one, e, _mm256_cmp_ps(y, zero, _CMP_LT_OQ)), d);
  __m256 slope = _mm256_mul_ps(_mm256_set1_ps(2.0f * TDB_GELU_S),
    _mm256_add_ps(one, _mm256_mul_ps(_mm256_set1_ps(3.0f * TDB_GELU_C), _mm256_mul_ps(x, x))));
  __m256 second = _mm256_div_ps(_mm256_mul_ps(_mm256_mul_ps(x, slope), e), _mm256_mul_ps(d, d));
  __m256 r = _mm256_add_ps(sigma, _mm256_blendv_ps(second, zero, _mm256_cmp_ps(e, zero, _CMP_EQ_OQ)));
  return _mm256_blendv_ps(r, x, isnan8(x));
}

// Every kernel below walks whole vectors, then one masked vector for the
// rest, so a value's result does not depend on where it sits in the array.

// out = f(x), with f inlined into each kernel.
#define UNARY_AVX2(name, f)                                                                          \
  AVX2 static void name(float *out, const float *x, ptrdiff_t n) {                                   \
    ptrdiff_t i = 0;                                                                                 \
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, f(_mm256_loadu_ps(x + i)));                 \
    if (i < n) {                                                                                     \
      __m256i m = tail_mask(n - i);                                                                  \
      _mm256_maskstore_ps(out + i, m, f(_mm256_maskload_ps(x + i, m)));                              \
    }                                                                                                \
  }

UNARY_AVX2(exp_avx2, exp8)

AVX2 static inline float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

// e^t for four doubles t ≤ 0 (the scores less their maximum): 0 below
// TDB_DEXP_LO, NaN kept.
AVX2 static inline __m256d exp_scores4(__m256d t) {
  return _mm256_blendv_pd(exp_nonpositive_or_zero4(t), t, _mm256_cmp_pd(t, t, _CMP_UNORD_Q));
}

// The exps are taken and summed in double; each is stored rounded to float
// and scaled by the double 1/sum, so a probability is rounded twice: within
// 1 ulp of the exact softmax of the (float) score differences.
AVX2 static void softmax_row_avx2(float *p, const float *s, ptrdiff_t first, ptrdiff_t last, ptrdiff_t length) {
  const __m256 ninf = _mm256_set1_ps(-__builtin_inff());
  ptrdiff_t end = last + 1, j;
  // max_ps(s, m) keeps m where s is NaN, as the scalar `s > max` test skips it.
  __m256 vmax = ninf;
  for (j = first; j + 8 <= end; j += 8) vmax = _mm256_max_ps(_mm256_loadu_ps(s + j), vmax);
  __m256i m = tail_mask(end - j);
  if (j < end) vmax = _mm256_max_ps(_mm256_blendv_ps(ninf, _mm256_maskload_ps(s + j, m), _mm256_castsi256_ps(m)), vmax);
  float maxv = hmax(vmax);
  if (maxv == -__builtin_inff()) {
    // Every key masked (only possible after an intervention): attend nowhere.
    memset(p, 0, (size_t)length * sizeof *p);
    return;
  }
  __m256 vm = _mm256_set1_ps(maxv);
  __m256d sum_low = _mm256_setzero_pd(), sum_high = _mm256_setzero_pd();
  for (j = first; j + 8 <= end; j += 8) {
    __m256 t = _mm256_sub_ps(_mm256_loadu_ps(s + j), vm);
    __m256d el = exp_scores4(low4(t)), eh = exp_scores4(high4(t));
    _mm256_storeu_ps(p + j, join8(el, eh));
    sum_low = _mm256_add_pd(sum_low, el);
    sum_high = _mm256_add_pd(sum_high, eh);
  }
  if (j < end) {
    // Lanes past the row are -inf, whose exp is 0.
    __m256 t = _mm256_sub_ps(_mm256_blendv_ps(ninf, _mm256_maskload_ps(s + j, m), _mm256_castsi256_ps(m)), vm);
    __m256d el = exp_scores4(low4(t)), eh = exp_scores4(high4(t));
    _mm256_maskstore_ps(p + j, m, join8(el, eh));
    sum_low = _mm256_add_pd(sum_low, el);
    sum_high = _mm256_add_pd(sum_high, eh);
  }
  __m256d total = _mm256_add_pd(sum_low, sum_high);
  __m128d half = _mm_add_pd(_mm256_castpd256_pd128(total), _mm256_extractf128_pd(total, 1));
  __m256d inv = _mm256_set1_pd(1.0 / _mm_cvtsd_f64(_mm_add_sd(half, _mm_unpackhi_pd(half, half))));
  for (j = first; j + 8 <= end; j += 8) {
    __m256 e = _mm256_loadu_ps(p + j);
    _mm256_storeu_ps(p + j, join8(_mm256_mul_pd(low4(e), inv), _mm256_mul_pd(high4(e), inv)));
  }
  if (j < end) {
    __m256 e = _mm256_maskload_ps(p + j, m);
    _mm256_maskstore_ps(p + j, m, join8(_mm256_mul_pd(low4(e), inv), _mm256_mul_pd(high4(e), inv)));
  }
  memset(p, 0, (size_t)first * sizeof *p);
  if (end < length) memset(p + end, 0, (size_t)(length - end) * sizeof *p);
}

UNARY_AVX2(gelu_tanh_avx2, gelu8)

UNARY_AVX2(gelu_erf_avx2, gelu_erf8)

// dinp = gelu'(x) · dout, eight at a time and a masked tail, with the
// derivative inlined.
#define GATE_AVX2(name, act)                                                                         \
  AVX2 static void name(float *out, const float *gate, const float *up, ptrdiff_t n) {               \
    ptrdiff_t i = 0;                                                                                 \
    for (; i + 8 <= n; i += 8)                                                                       \
      _mm256_storeu_ps(out + i, _mm256_mul_ps(act(_mm256_loadu_ps(gate + i)), _mm256_loadu_ps(up + i))); \
    if (i < n) {                                                                                     \
      __m256i m = tail_mask(n - i);                                                                  \
      __m256 v = _mm256_mul_ps(act(_mm256_maskload_ps(gate + i, m)), _mm256_maskload_ps(up + i, m)); \
      _mm256_maskstore_ps(out + i, m, v);                                                            \
    }                                                                                                \
  }

GATE_AVX2(gelu_tanh_backward_avx2, gelu_derivative8)

// out = f(gate, up), where f rounds the product itself.
#define GATE_TIMES_AVX2(name, f)                                                                     \
  AVX2 static void name(float *out, const float *gate, const float *up, ptrdiff_t n) {               \
    ptrdiff_t i = 0;                                                                                 \
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, f(_mm256_loadu_ps(gate + i), _mm256_loadu_ps(up + i))); \
    if (i < n) {                                                                                     \
      __m256i m = tail_mask(n - i);                                                                  \
      _mm256_maskstore_ps(out + i, m, f(_mm256_maskload_ps(gate + i, m), _mm256_maskload_ps(up + i, m))); \
    }                                                                                                \
  }

GATE_TIMES_AVX2(silu_gate_avx2, silu_times8)
GATE_TIMES_AVX2(gelu_gate_avx2, gelu_times8)

AVX2 static void add_avx2(float *out, const float *a, const float *b, ptrdiff_t n) {
  ptrdiff_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, _mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
  if (i < n) {
    __m256i m = tail_mask(n - i);
    _mm256_maskstore_ps(out + i, m, _mm256_add_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m)));
  }
}

AVX2 static inline __m256 gelu_erf_derivative_times8(__m256 x, __m256 dout) {
  __m256 r = join8(gelu_erf_derivative_times4(low4(x), low4(dout)), gelu_erf_derivative_times4(high4(x), high4(dout)));
  return _mm256_blendv_ps(r, x, isnan8(x));
}

GATE_TIMES_AVX2(gelu_erf_backward_avx2, gelu_erf_derivative_times8)

// σ(g) and 1 - σ(g) for four doubles from e = e^-|g|, neither cancelling.
AVX2 static inline void sigmoid_pair4(__m256d g, __m256d *sigma, __m256d *complement) {
  const __m256d one = _mm256_set1_pd(1.0);
  __m256d neg = _mm256_cmp_pd(g, _mm256_setzero_pd(), _CMP_LT_OQ);
  __m256d e = exp_nonpositive_or_zero4(_mm256_or_pd(g, _mm256_set1_pd(-0.0)));  // e^-|g|
  __m256d d = _mm256_add_pd(one, e);
  *sigma = _mm256_div_pd(_mm256_blendv_pd(one, e, neg), d);
  *complement = _mm256_div_pd(_mm256_blendv_pd(e, one, neg), d);
}

// dgate and dup of silu(g)·up for four doubles.
AVX2 static inline void silu_gate_backward4(__m256d dy, __m256d g, __m256d up, __m256d *dgate, __m256d *dup) {
  __m256d sigma, complement;
  sigmoid_pair4(g, &sigma, &complement);
  __m256d slope = _mm256_add_pd(_mm256_set1_pd(1.0), _mm256_mul_pd(g, complement));
  *dgate = _mm256_mul_pd(_mm256_mul_pd(_mm256_mul_pd(dy, up), sigma), slope);
  *dup = _mm256_mul_pd(_mm256_mul_pd(dy, g), sigma);
}

AVX2 static inline void silu_gate_backward8(__m256 dy, __m256 g, __m256 up, __m256 *dgate, __m256 *dup) {
  __m256d gl, ul, gh, uh;
  silu_gate_backward4(low4(dy), low4(g), low4(up), &gl, &ul);
  silu_gate_backward4(high4(dy), high4(g), high4(up), &gh, &uh);
  // A NaN gate: the exp's clamp hid it.
  __m256 nan = isnan8(g);
  *dgate = _mm256_blendv_ps(join8(gl, gh), g, nan);
  *dup = _mm256_blendv_ps(join8(ul, uh), g, nan);
}

AVX2 static void silu_gate_backward_avx2(float *dgate, float *dup, const float *dout, const float *gate,
  const float *up, ptrdiff_t n) {
  ptrdiff_t i = 0;
  __m256 dg, du;
  for (; i + 8 <= n; i += 8) {
    silu_gate_backward8(_mm256_loadu_ps(dout + i), _mm256_loadu_ps(gate + i), _mm256_loadu_ps(up + i), &dg, &du);
    _mm256_storeu_ps(dgate + i, dg);
    _mm256_storeu_ps(dup + i, du);
  }
  if (i < n) {
    __m256i m = tail_mask(n - i);
    silu_gate_backward8(
      _mm256_maskload_ps(dout + i, m), _mm256_maskload_ps(gate + i, m), _mm256_maskload_ps(up + i, m), &dg, &du);
    _mm256_maskstore_ps(dgate + i, m, dg);
    _mm256_maskstore_ps(dup + i, m, du);
  }
}

AVX2 static inline double hsum4(__m256d v) {
  __m128d h = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
}

// The norms: eight floats at a time widened to two double halves, with the
// row's last few values (fewer than eight) summed one by one.

AVX2 static void norm_statistics_avx2(float *mean, float *scale, const float *x, ptrdiff_t C, float eps,
  int centered) {
  ptrdiff_t i;
  double m = 0;
  if (centered) {
    __m256d low = _mm256_setzero_pd(), high = _mm256_setzero_pd();
    for (i = 0; i + 8 <= C; i += 8) {
      __m256 v = _mm256_loadu_ps(x + i);
      low = _mm256_add_pd(low, low4(v));
      high = _mm256_add_pd(high, high4(v));
    }
    double sum = hsum4(_mm256_add_pd(low, high));
    for (; i < C; i++) sum += x[i];
    m = sum / (double)C;
  }
  __m256d vm = _mm256_set1_pd(m), low = _mm256_setzero_pd(), high = _mm256_setzero_pd();
  for (i = 0; i + 8 <= C; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    __m256d dl = _mm256_sub_pd(low4(v), vm), dh = _mm256_sub_pd(high4(v), vm);
    low = _mm256_fmadd_pd(dl, dl, low);
    high = _mm256_fmadd_pd(dh, dh, high);
  }
  double squares = hsum4(_mm256_add_pd(low, high));
  for (; i < C; i++) squares += ((double)x[i] - m) * ((double)x[i] - m);
  *mean = (float)m;
  *scale = (float)sqrt(squares / (double)C + (double)eps);
}

AVX2 static inline __m256d norm_apply4(__m256d x, __m256d m, __m256d r, __m256d w, __m256d b) {
  return _mm256_fmadd_pd(_mm256_mul_pd(_mm256_sub_pd(x, m), r), w, b);
}

AVX2 static inline __m256 norm_apply8(__m256 x, __m256d m, __m256d r, __m256 w, __m256 b) {
  return join8(norm_apply4(low4(x), m, r, low4(w), low4(b)), norm_apply4(high4(x), m, r, high4(w), high4(b)));
}

AVX2 static void norm_apply_avx2(float *out, const float *x, float mean, float scale, const float *weight,
  const float *bias, ptrdiff_t C) {
  __m256d m = _mm256_set1_pd(mean), r = _mm256_set1_pd(1.0 / (double)scale);
  const __m256 zero = _mm256_setzero_ps();
  ptrdiff_t i = 0;
  for (; i + 8 <= C; i += 8) {
    __m256 b = bias ? _mm256_loadu_ps(bias + i) : zero;
    _mm256_storeu_ps(out + i, norm_apply8(_mm256_loadu_ps(x + i), m, r, _mm256_loadu_ps(weight + i), b));
  }
  if (i < C) {
    __m256i k = tail_mask(C - i);
    __m256 b = bias ? _mm256_maskload_ps(bias + i, k) : zero;
    _mm256_maskstore_ps(
      out + i, k, norm_apply8(_mm256_maskload_ps(x + i, k), m, r, _mm256_maskload_ps(weight + i, k), b));
  }
}

AVX2 static void norm_backward_avx2(float *dinp, float *dscale, const float *dout, const float *x, float mean,
  float scale, const float *weight, ptrdiff_t C, int centered) {
  double md = mean, rd = 1.0 / (double)scale;
  __m256d m = _mm256_set1_pd(md), sum = _mm256_setzero_pd(), dot = _mm256_setzero_pd();
  ptrdiff_t i;
  for (i = 0; i + 8 <= C; i += 8) {
    // Widened first: a product of two floats is exact in double.
    __m256 dy = _mm256_loadu_ps(dout + i), w = _mm256_loadu_ps(weight + i), v = _mm256_loadu_ps(x + i);
    __m256d nl = _mm256_mul_pd(low4(dy), low4(w)), nh = _mm256_mul_pd(high4(dy), high4(w));
    sum = _mm256_add_pd(sum, _mm256_add_pd(nl, nh));
    dot = _mm256_fmadd_pd(nl, _mm256_sub_pd(low4(v), m), dot);
    dot = _mm256_fmadd_pd(nh, _mm256_sub_pd(high4(v), m), dot);
  }
  double dn_sum = hsum4(sum), dn_dot = hsum4(dot);
  for (; i < C; i++) {
    double dn = (double)dout[i] * (double)weight[i];
    dn_sum += dn;
    dn_dot += dn * ((double)x[i] - md);
  }
  // RMSNorm subtracts no mean, so no gradient flows through one.
  double dn_mean = centered ? dn_sum / (double)C : 0.0;
  __m256d mean_dn = _mm256_set1_pd(dn_mean), r = _mm256_set1_pd(rd);
  for (i = 0; i + 8 <= C; i += 8) {
    __m256 dy = _mm256_loadu_ps(dout + i), w = _mm256_loadu_ps(weight + i), dx = _mm256_loadu_ps(dinp + i);
    __m256d l = _mm256_fmadd_pd(_mm256_fmsub_pd(low4(dy), low4(w), mean_dn), r, low4(dx));
    __m256d h = _mm256_fmadd_pd(_mm256_fmsub_pd(high4(dy), high4(w), mean_dn), r, high4(dx));
    _mm256_storeu_ps(dinp + i, join8(l, h));
  }
  for (; i < C; i++) dinp[i] = (float)((double)dinp[i] + ((double)dout[i] * (double)weight[i] - dn_mean) * rd);
  *dscale = (float)(-dn_dot * rd * rd);
}

AVX2 static void norm_scale_backward_avx2(float *dinp, const float *x, float mean, float scale, float dscale,
  ptrdiff_t C) {
  double md = mean, kd = (double)dscale / ((double)C * (double)scale);
  __m256d m = _mm256_set1_pd(md), k = _mm256_set1_pd(kd);
  ptrdiff_t i = 0;
  for (; i + 8 <= C; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i), dx = _mm256_loadu_ps(dinp + i);
    __m256d l = _mm256_fmadd_pd(k, _mm256_sub_pd(low4(v), m), low4(dx));
    __m256d h = _mm256_fmadd_pd(k, _mm256_sub_pd(high4(v), m), high4(dx));
    _mm256_storeu_ps(dinp + i, join8(l, h));
  }
  for (; i < C; i++) dinp[i] = (float)((double)dinp[i] + kd * ((double)x[i] - md));
}

// (a, b) -> (a·c - b·s, b·c + a·s) for four doubles; the products of floats are exact.
AVX2 static inline void rotate4(__m256d a, __m256d b, __m256d c, __m256d s, __m256d *ra, __m256d *rb) {
  *ra = _mm256_fmsub_pd(a, c, _mm256_mul_pd(b, s));
  *rb = _mm256_fmadd_pd(b, c, _mm256_mul_pd(a, s));
}

AVX2 static inline void rotate8(float *a, float *b, const float *cos, const float *sin, __m256 sign, __m256i k) {
  __m256 va = _mm256_maskload_ps(a, k), vb = _mm256_maskload_ps(b, k);
  __m256 c = _mm256_maskload_ps(cos, k), s = _mm256_xor_ps(_mm256_maskload_ps(sin, k), sign);
  __m256d al, bl, ah, bh;
  rotate4(low4(va), low4(vb), low4(c), low4(s), &al, &bl);
  rotate4(high4(va), high4(vb), high4(c), high4(s), &ah, &bh);
  _mm256_maskstore_ps(a, k, join8(al, ah));
  _mm256_maskstore_ps(b, k, join8(bl, bh));
}

AVX2 static void rotate_half_avx2(float *v, const float *cos, const float *sin, ptrdiff_t half, ptrdiff_t heads,
  ptrdiff_t D, int inverse) {
  // The inverse rotation is the forward one with sin negated (a sign flip is exact).
  __m256 sign = _mm256_set1_ps(inverse ? -0.0f : 0.0f);
  __m256i all = _mm256_set1_epi32(-1);
  for (ptrdiff_t h = 0; h < heads; h++) {
    float *a = v + h * D, *b = a + half;
    ptrdiff_t i = 0;
    for (; i + 8 <= half; i += 8) rotate8(a + i, b + i, cos + i, sin + i, sign, all);
    if (i < half) rotate8(a + i, b + i, cos + i, sin + i, sign, tail_mask(half - i));
  }
}

// cap·tanh(y) for four doubles y = x/cap, as the portable softcap1 computes it.
AVX2 static inline __m256d softcap4(__m256d y, __m256d cap) {
  const __m256d one = _mm256_set1_pd(1.0), sign = _mm256_set1_pd(-0.0);
  __m256d a = _mm256_andnot_pd(sign, y), e = exp_nonpositive_or_zero4(_mm256_mul_pd(_mm256_set1_pd(-2.0), a));
  __m256d t = _mm256_div_pd(_mm256_sub_pd(one, e), _mm256_add_pd(one, e));
  __m256d series = _mm256_mul_pd(a, _mm256_sub_pd(one, _mm256_div_pd(_mm256_mul_pd(a, a), _mm256_set1_pd(3.0))));
  t = _mm256_blendv_pd(t, series, _mm256_cmp_pd(a, _mm256_set1_pd(TDB_DTANH_SMALL), _CMP_LT_OQ));
  return _mm256_mul_pd(cap, _mm256_or_pd(t, _mm256_and_pd(y, sign)));
}

AVX2 static inline __m256 softcap8(__m256 x, __m256d cap) {
  __m256 r = join8(softcap4(_mm256_div_pd(low4(x), cap), cap), softcap4(_mm256_div_pd(high4(x), cap), cap));
  return _mm256_blendv_ps(r, x, isnan8(x));
}

AVX2 static void softcap_avx2(float *out, const float *x, float cap, ptrdiff_t n) {
  __m256d c = _mm256_set1_pd(cap);
  ptrdiff_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, softcap8(_mm256_loadu_ps(x + i), c));
  if (i < n) {
    __m256i m = tail_mask(n - i);
    _mm256_maskstore_ps(out + i, m, softcap8(_mm256_maskload_ps(x + i, m), c));
  }
}

AVX2 static void relu_avx2(float *x, ptrdiff_t n) {
  const __m256 zero = _mm256_setzero_ps();
  ptrdiff_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    _mm256_storeu_ps(x + i, _mm256_blendv_ps(v, zero, _mm256_cmp_ps(v, zero, _CMP_LT_OQ)));
  }
  for (; i < n; i++) x[i] = x[i] < 0 ? 0.0f : x[i];
}

// As the portable kernel: the dot product summed in double (fused
// multiply-adds of exact products), each result computed in double and
// rounded once.
AVX2 static void softmax_backward_row_avx2(float *ds, const float *p, const float *dp, ptrdiff_t first,
                                           ptrdiff_t last, ptrdiff_t length) {
  ptrdiff_t end = last + 1, j;
  __m256d sum_low = _mm256_setzero_pd(), sum_high = _mm256_setzero_pd();
  for (j = first; j + 8 <= end; j += 8) {
    __m256 pv = _mm256_loadu_ps(p + j), dv = _mm256_loadu_ps(dp + j);
    sum_low = _mm256_fmadd_pd(low4(pv), low4(dv), sum_low);
    sum_high = _mm256_fmadd_pd(high4(pv), high4(dv), sum_high);
  }
  __m256i m = tail_mask(end - j);
  if (j < end) {
    // Lanes past the row load as 0.
    __m256 pv = _mm256_maskload_ps(p + j, m), dv = _mm256_maskload_ps(dp + j, m);
    sum_low = _mm256_fmadd_pd(low4(pv), low4(dv), sum_low);
    sum_high = _mm256_fmadd_pd(high4(pv), high4(dv), sum_high);
  }
  __m256d dot = _mm256_set1_pd(hsum4(_mm256_add_pd(sum_low, sum_high)));
  for (j = first; j + 8 <= end; j += 8) {
    __m256 pv = _mm256_loadu_ps(p + j), dv = _mm256_loadu_ps(dp + j);
    _mm256_storeu_ps(ds + j, join8(_mm256_mul_pd(low4(pv), _mm256_sub_pd(low4(dv), dot)),
                                   _mm256_mul_pd(high4(pv), _mm256_sub_pd(high4(dv), dot))));
  }
  if (j < end) {
    __m256 pv = _mm256_maskload_ps(p + j, m), dv = _mm256_maskload_ps(dp + j, m);
    _mm256_maskstore_ps(ds + j, m, join8(_mm256_mul_pd(low4(pv), _mm256_sub_pd(low4(dv), dot)),
                                         _mm256_mul_pd(high4(pv), _mm256_sub_pd(high4(dv), dot))));
  }
  memset(ds, 0, (size_t)first * sizeof *ds);
  if (end < length) memset(ds + end, 0, (size_t)(length - end) * sizeof *ds);
}

AVX2 static void jump_relu_avx2(float *x, const float *threshold, ptrdiff_t n) {
  ptrdiff_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    _mm256_storeu_ps(x + i, _mm256_and_ps(v, _mm256_cmp_ps(v, _mm256_loadu_ps(threshold + i), _CMP_GT_OQ)));
  }
  for (; i < n; i++) x[i] = x[i] > threshold[i] ? x[i] : 0.0f;
}

// Sums of the eight lanes of each of four vectors, as one vector of four.
AVX2 static inline __m128 lane_sums4(__m256 a, __m256 b, __m256 c, __m256 d) {
  __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
  return _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
}

// c[R, S] = a[R, K] · b[S, K]ᵀ + beta · c for R ≤ 4 rows of a and S ≤ 3 of
// b, both contiguous along K: twelve accumulators of eight partial sums,
// each summed across its lanes at the end. R and S are constants at every
// call, so the loops unroll and the accumulators stay in registers.
AVX2 static inline __attribute__((always_inline)) void dot_tile(int R, int S, ptrdiff_t K, const float *a,
  ptrdiff_t lda, const float *b, ptrdiff_t ldb, float beta, float *c, ptrdiff_t ldc) {
  __m256 acc[4][3];
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 3; j++) acc[i][j] = _mm256_setzero_ps();
  ptrdiff_t k = 0;
  for (; k + 8 <= K; k += 8) {
    __m256 bv[3];
    for (int j = 0; j < S; j++) bv[j] = _mm256_loadu_ps(b + j * ldb + k);
    for (int i = 0; i < R; i++) {
      __m256 av = _mm256_loadu_ps(a + i * lda + k);
      for (int j = 0; j < S; j++) acc[i][j] = _mm256_fmadd_ps(av, bv[j], acc[i][j]);
    }
  }
  if (k < K) {
    __m256i m = tail_mask(K - k);
    __m256 bv[3];
    for (int j = 0; j < S; j++) bv[j] = _mm256_maskload_ps(b + j * ldb + k, m);
    for (int i = 0; i < R; i++) {
      __m256 av = _mm256_maskload_ps(a + i * lda + k, m);
      for (int j = 0; j < S; j++) acc[i][j] = _mm256_fmadd_ps(av, bv[j], acc[i][j]);
    }
  }
  for (int i = 0; i < R; i++) {
    float sums[4];
    _mm_storeu_ps(sums, lane_sums4(acc[i][0], acc[i][1], acc[i][2], _mm256_setzero_ps()));
    for (int j = 0; j < S; j++) c[i * ldc + j] = beta == 0 ? sums[j] : sums[j] + beta * c[i * ldc + j];
  }
}

// c[M, S] for S ≤ 3 rows of b: whole tiles of four rows of a, then the
// rest as one tile of one to three.
AVX2 static inline __attribute__((always_inline)) void dot_column_block(int S, ptrdiff_t M, ptrdiff_t K,
  const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb, float beta, float *c, ptrdiff_t ldc) {
  ptrdiff_t m = 0;
  for (; m + 4 <= M; m += 4) dot_tile(4, S, K, a + m * lda, lda, b, ldb, beta, c + m * ldc, ldc);
  if (M - m == 3) dot_tile(3, S, K, a + m * lda, lda, b, ldb, beta, c + m * ldc, ldc);
  if (M - m == 2) dot_tile(2, S, K, a + m * lda, lda, b, ldb, beta, c + m * ldc, ldc);
  if (M - m == 1) dot_tile(1, S, K, a + m * lda, lda, b, ldb, beta, c + m * ldc, ldc);
}

// Three rows of b at a time (their 3·K floats stay in L1 while every row
// of a passes over them), read once from memory in order.
AVX2 static void row_dot_products_avx2(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, const float *a, ptrdiff_t lda,
  const float *b, ptrdiff_t ldb, float beta, float *c, ptrdiff_t ldc) {
  ptrdiff_t n = 0;
  for (; n + 3 <= N; n += 3) dot_column_block(3, M, K, a, lda, b + n * ldb, ldb, beta, c + n, ldc);
  for (; n < N; n++) dot_column_block(1, M, K, a, lda, b + n * ldb, ldb, beta, c + n, ldc);
}

bool tdb_row_dot_products(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, const float *a, ptrdiff_t lda, const float *b,
  ptrdiff_t ldb, float beta, float *c, ptrdiff_t ldc) {
  // Also under the AVX-512 set (no wider version was written); never when
  // TDB_KERNELS=portable asks for the fallback, which is BLIS here.
  if (tdb_kernels() == tdb_kernels_portable() || !tdb_kernels_avx2()) return false;
  row_dot_products_avx2(M, N, K, a, lda, b, ldb, beta, c, ldc);
  return true;
}

#define TDB_DQ_ATTR AVX2
#define TDB_DQ_ENTRY dequantize_avx2
#include "Dequantize.h"

static const tdb_kernel_set avx2 = {
  .name = "avx2",
  .exp = exp_avx2,
  .softmax_row = softmax_row_avx2,
  .softmax_backward_row = softmax_backward_row_avx2,
  .gelu_tanh = gelu_tanh_avx2,
  .gelu_tanh_backward = gelu_tanh_backward_avx2,
  .gelu_erf = gelu_erf_avx2,
  .silu_gate = silu_gate_avx2,
  .gelu_gate = gelu_gate_avx2,
  .add = add_avx2,
  .silu_gate_backward = silu_gate_backward_avx2,
  .gelu_erf_backward = gelu_erf_backward_avx2,
  .norm_statistics = norm_statistics_avx2,
  .norm_apply = norm_apply_avx2,
  .norm_backward = norm_backward_avx2,
  .norm_scale_backward = norm_scale_backward_avx2,
  .rotate_half = rotate_half_avx2,
  .softcap = softcap_avx2,
  .relu = relu_avx2,
  .jump_relu = jump_relu_avx2,
  .dequantize = dequantize_avx2,
};

const tdb_kernel_set *tdb_kernels_avx2(void) {
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? &avx2 : NULL;
}

#else

const tdb_kernel_set *tdb_kernels_avx2(void) { return NULL; }

bool tdb_row_dot_products(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, const float *a, ptrdiff_t lda, const float *b,
  ptrdiff_t ldb, float beta, float *c, ptrdiff_t ldc) {
  return false;
}

#endif
