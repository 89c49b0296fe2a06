// The AVX2+FMA kernels, eight floats at a time. Only these functions carry
// the avx2/fma target, so the rest of the binary still runs on any x86-64;
// tdb_kernels_avx2() hands them out only after asking the CPU.
#include "CKernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
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

// x·σ(y)·m in double: x / (1 + e^-y) for y ≥ 0, x·e^y / (1 + e^y) for y < 0,
// so the exp never overflows. Past TDB_DEXP_LO e^-|y| is exactly 0, and x·0
// keeps the formula's -∞·0 = NaN at x = -∞. (A NaN y is the caller's.)
AVX2 static inline __m256d x_sigmoid_times4(__m256d x, __m256d y, __m256d m) {
  const __m256d one = _mm256_set1_pd(1.0), lo = _mm256_set1_pd(TDB_DEXP_LO);
  __m256d neg = _mm256_cmp_pd(y, _mm256_setzero_pd(), _CMP_LT_OQ);
  __m256d a = _mm256_or_pd(y, _mm256_set1_pd(-0.0));  // -|y|
  __m256d e = _mm256_andnot_pd(_mm256_cmp_pd(a, lo, _CMP_LT_OQ), exp_nonpositive4(_mm256_max_pd(a, lo)));
  __m256d numerator = _mm256_blendv_pd(x, _mm256_mul_pd(x, e), neg);
  return _mm256_mul_pd(_mm256_div_pd(numerator, _mm256_add_pd(one, e)), m);
}

// x·σ(y)·m for eight floats, through doubles and rounded once: within 1 ulp
// of the exact value.
AVX2 static inline __m256 x_sigmoid_times8(__m256 x, __m256 y, __m256 m) {
  __m128 low = _mm256_cvtpd_ps(x_sigmoid_times4(_mm256_cvtps_pd(_mm256_castps256_ps128(x)),
    _mm256_cvtps_pd(_mm256_castps256_ps128(y)), _mm256_cvtps_pd(_mm256_castps256_ps128(m))));
  __m128 high = _mm256_cvtpd_ps(x_sigmoid_times4(_mm256_cvtps_pd(_mm256_extractf128_ps(x, 1)),
    _mm256_cvtps_pd(_mm256_extractf128_ps(y, 1)), _mm256_cvtps_pd(_mm256_extractf128_ps(m, 1))));
  __m256 r = _mm256_insertf128_ps(_mm256_castps128_ps256(low), high, 1);
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

// x·Φ(x) for four doubles, as the portable gelu_erf1 computes it.
AVX2 static inline __m256d x_phi4(__m256d x) {
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
  __m256d phi = _mm256_blendv_pd(_mm256_sub_pd(one, half_erfc), half_erfc, _mm256_cmp_pd(x, zero, _CMP_LT_OQ));
  return _mm256_mul_pd(x, phi);
}

// x·Φ(x) for eight floats, through doubles and rounded once.
AVX2 static inline __m256 gelu_erf8(__m256 x) {
  __m128 low = _mm256_cvtpd_ps(x_phi4(_mm256_cvtps_pd(_mm256_castps256_ps128(x))));
  __m128 high = _mm256_cvtpd_ps(x_phi4(_mm256_cvtps_pd(_mm256_extractf128_ps(x, 1))));
  __m256 r = _mm256_insertf128_ps(_mm256_castps128_ps256(low), high, 1);
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

AVX2 static inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

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
  __m256 vm = _mm256_set1_ps(maxv), vsum = _mm256_setzero_ps();
  for (j = first; j + 8 <= end; j += 8) {
    __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(s + j), vm));
    _mm256_storeu_ps(p + j, e);
    vsum = _mm256_add_ps(vsum, e);
  }
  if (j < end) {
    __m256 e = _mm256_and_ps(exp8(_mm256_sub_ps(_mm256_maskload_ps(s + j, m), vm)), _mm256_castsi256_ps(m));
    _mm256_maskstore_ps(p + j, m, e);
    vsum = _mm256_add_ps(vsum, e);
  }
  __m256 inv = _mm256_set1_ps(1.0f / hsum(vsum));
  for (j = first; j + 8 <= end; j += 8) _mm256_storeu_ps(p + j, _mm256_mul_ps(_mm256_loadu_ps(p + j), inv));
  if (j < end) _mm256_maskstore_ps(p + j, m, _mm256_mul_ps(_mm256_maskload_ps(p + j, m), inv));
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

static const tdb_kernel_set avx2 = {
  .name = "avx2",
  .exp = exp_avx2,
  .softmax_row = softmax_row_avx2,
  .gelu_tanh = gelu_tanh_avx2,
  .gelu_tanh_backward = gelu_tanh_backward_avx2,
  .gelu_erf = gelu_erf_avx2,
  .silu_gate = silu_gate_avx2,
  .gelu_gate = gelu_gate_avx2,
  .add = add_avx2,
};

const tdb_kernel_set *tdb_kernels_avx2(void) {
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? &avx2 : NULL;
}

#else

const tdb_kernel_set *tdb_kernels_avx2(void) { return NULL; }

#endif
