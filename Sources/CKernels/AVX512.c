// The AVX-512 kernels for the elementwise work that costs the most: the
// softmax of attention scores and the MLP's activations (tanh and exact
// GELU, SiLU, the gated products) and their gradients, sixteen floats (eight doubles) at a time. They compute what
// the AVX2 kernels compute, in the same precision, on twice the lanes
// (that set computes in double four lanes at a time); the set's other
// kernels are the AVX2 set's. Only these functions carry the avx512
// target; tdb_kernels_avx512() hands them out only after asking the CPU.
#include "CKernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <pthread.h>
#include <string.h>

#include "ExpConstants.h"

#define AVX512 __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,fma")))

// Lanes 0..<k set, for a row's last partial vector (k < 16).
AVX512 static inline __mmask16 tail16(ptrdiff_t k) { return (__mmask16)((1u << k) - 1); }

AVX512 static inline __mmask16 isnan16(__m512 x) { return _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q); }

// A float vector's low and high halves widened to double, and two double
// halves rounded back into one float vector.
AVX512 static inline __m512d low8(__m512 v) { return _mm512_cvtps_pd(_mm512_castps512_ps256(v)); }
AVX512 static inline __m512d high8(__m512 v) { return _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)); }
AVX512 static inline __m512 join16(__m512d low, __m512d high) {
  return _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(low)), _mm512_cvtpd_ps(high), 1);
}

// 2^k for k in [-126, 127], from its bits.
AVX512 static inline __m512 pow2i16(__m512i k) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(k, _mm512_set1_epi32(127)), 23));
}

// e^y for floats, as AVX2.c's exp_clamped8.
AVX512 static inline __m512 exp_clamped16(__m512 y) {
  __m512 yc = _mm512_min_ps(_mm512_max_ps(y, _mm512_set1_ps(TDB_EXP_LO)), _mm512_set1_ps(TDB_EXP_HI));
  __m512 nf = _mm512_roundscale_ps(_mm512_mul_ps(yc, _mm512_set1_ps(TDB_LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(nf, _mm512_set1_ps(TDB_LN2_HI), yc);
  r = _mm512_fnmadd_ps(nf, _mm512_set1_ps(TDB_LN2_LO), r);
  __m512 p = _mm512_set1_ps(TDB_EXP_C7);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(TDB_EXP_C6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(TDB_EXP_C5));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(TDB_EXP_C4));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(TDB_EXP_C3));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(TDB_EXP_C2));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  __m512i n = _mm512_cvtps_epi32(nf);
  __m512i n1 = _mm512_srai_epi32(n, 1), n2 = _mm512_sub_epi32(n, n1);
  return _mm512_mul_ps(_mm512_mul_ps(p, pow2i16(n1)), pow2i16(n2));
}

// e^t for t in [TDB_DEXP_LO, 0], eight doubles at a time, as AVX2.c's exp_nonpositive4.
AVX512 static inline __m512d exp_nonpositive8(__m512d t) {
  __m512d n = _mm512_roundscale_pd(_mm512_mul_pd(t, _mm512_set1_pd(TDB_DLOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512d r = _mm512_fnmadd_pd(n, _mm512_set1_pd(TDB_DLN2_HI), t);
  r = _mm512_fnmadd_pd(n, _mm512_set1_pd(TDB_DLN2_LO), r);
  __m512d p = _mm512_set1_pd(TDB_DEXP_C9);
  p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(TDB_DEXP_C8));
  p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(TDB_DEXP_C7));
  p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(TDB_DEXP_C6));
  p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(TDB_DEXP_C5));
  p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(TDB_DEXP_C4));
  p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(TDB_DEXP_C3));
  p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(TDB_DEXP_C2));
  p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0));
  p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0));
  __m512i bits = _mm512_slli_epi64(_mm512_castpd_si512(_mm512_add_pd(n, _mm512_set1_pd(TDB_DEXP_SHIFTER))), 52);
  return _mm512_mul_pd(p, _mm512_castsi512_pd(bits));
}

// e^t for eight doubles t ≤ 0, exactly 0 below TDB_DEXP_LO (a NaN t gives e^TDB_DEXP_LO: the caller's to handle).
AVX512 static inline __m512d exp_nonpositive_or_zero8(__m512d t) {
  const __m512d lo = _mm512_set1_pd(TDB_DEXP_LO);
  return _mm512_maskz_mov_pd(_mm512_cmp_pd_mask(t, lo, _CMP_NLT_UQ), exp_nonpositive8(_mm512_max_pd(t, lo)));
}

// e^t for the scores less their maximum, NaN kept.
AVX512 static inline __m512d exp_scores8(__m512d t) {
  return _mm512_mask_blend_pd(_mm512_cmp_pd_mask(t, t, _CMP_UNORD_Q), exp_nonpositive_or_zero8(t), t);
}

// x·σ(y)·m in double, as AVX2.c's x_sigmoid_times4.
AVX512 static inline __m512d x_sigmoid_times8(__m512d x, __m512d y, __m512d m) {
  const __m512d one = _mm512_set1_pd(1.0);
  __mmask8 negative = _mm512_cmp_pd_mask(y, _mm512_setzero_pd(), _CMP_LT_OQ);
  __m512d e = exp_nonpositive_or_zero8(_mm512_or_pd(y, _mm512_set1_pd(-0.0)));  // e^-|y|
  __m512d numerator = _mm512_mask_blend_pd(negative, x, _mm512_mul_pd(x, e));
  return _mm512_mul_pd(_mm512_div_pd(numerator, _mm512_add_pd(one, e)), m);
}

// x·σ(y)·m for sixteen floats, through doubles and rounded once.
AVX512 static inline __m512 x_sigmoid_times16(__m512 x, __m512 y, __m512 m) {
  __m512 r = join16(x_sigmoid_times8(low8(x), low8(y), low8(m)), x_sigmoid_times8(high8(x), high8(y), high8(m)));
  return _mm512_mask_blend_ps(isnan16(y), r, _mm512_add_ps(x, y));
}

// gelu_new's 2u = (2·√(2/π)) · (x + ((c·x)·x)·x).
AVX512 static inline __m512 gelu_2u16(__m512 x) {
  __m512 cube = _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(TDB_GELU_C), x), x), x);
  return _mm512_mul_ps(_mm512_set1_ps(2.0f * TDB_GELU_S), _mm512_add_ps(x, cube));
}

AVX512 static inline __m512 gelu16(__m512 x) { return x_sigmoid_times16(x, gelu_2u16(x), _mm512_set1_ps(1.0f)); }
AVX512 static inline __m512 silu_times16(__m512 g, __m512 up) { return x_sigmoid_times16(g, g, up); }
AVX512 static inline __m512 gelu_times16(__m512 g, __m512 up) { return x_sigmoid_times16(g, gelu_2u16(g), up); }

// gelu_new'(x) · dout, as AVX2.c's gelu_derivative8 (in float).
AVX512 static inline __m512 gelu_derivative_times16(__m512 x, __m512 dout) {
  const __m512 one = _mm512_set1_ps(1.0f), zero = _mm512_setzero_ps();
  __m512 y = gelu_2u16(x);
  __m512 e = exp_clamped16(_mm512_or_ps(y, _mm512_set1_ps(-0.0f))), d = _mm512_add_ps(one, e);
  __m512 sigma = _mm512_div_ps(_mm512_mask_blend_ps(_mm512_cmp_ps_mask(y, zero, _CMP_LT_OQ), one, e), d);
  __m512 slope = _mm512_mul_ps(_mm512_set1_ps(2.0f * TDB_GELU_S),
    _mm512_add_ps(one, _mm512_mul_ps(_mm512_set1_ps(3.0f * TDB_GELU_C), _mm512_mul_ps(x, x))));
  __m512 second = _mm512_div_ps(_mm512_mul_ps(_mm512_mul_ps(x, slope), e), _mm512_mul_ps(d, d));
  __m512 r = _mm512_add_ps(sigma, _mm512_mask_blend_ps(_mm512_cmp_ps_mask(e, zero, _CMP_EQ_OQ), second, zero));
  return _mm512_mul_ps(_mm512_mask_blend_ps(isnan16(x), r, x), dout);
}

// Φ(x) for eight doubles, as AVX2.c's normal_cdf4.
AVX512 static inline __m512d normal_cdf8(__m512d x) {
  const __m512d one = _mm512_set1_pd(1.0), half = _mm512_set1_pd(0.5), zero = _mm512_setzero_pd();
  __m512d z = _mm512_mul_pd(_mm512_andnot_pd(_mm512_set1_pd(-0.0), x), _mm512_set1_pd(TDB_DSQRT1_2));
  __m512d t = _mm512_div_pd(one, _mm512_fmadd_pd(half, z, one));
  __m512d p = _mm512_set1_pd(TDB_DERFC_P13);
  p = _mm512_fmadd_pd(p, t, _mm512_set1_pd(TDB_DERFC_P12));
  p = _mm512_fmadd_pd(p, t, _mm512_set1_pd(TDB_DERFC_P11));
  p = _mm512_fmadd_pd(p, t, _mm512_set1_pd(TDB_DERFC_P10));
  p = _mm512_fmadd_pd(p, t, _mm512_set1_pd(TDB_DERFC_P9));
  p = _mm512_fmadd_pd(p, t, _mm512_set1_pd(TDB_DERFC_P8));
  p = _mm512_fmadd_pd(p, t, _mm512_set1_pd(TDB_DERFC_P7));
  p = _mm512_fmadd_pd(p, t, _mm512_set1_pd(TDB_DERFC_P6));
  p = _mm512_fmadd_pd(p, t, _mm512_set1_pd(TDB_DERFC_P5));
  p = _mm512_fmadd_pd(p, t, _mm512_set1_pd(TDB_DERFC_P4));
  p = _mm512_fmadd_pd(p, t, _mm512_set1_pd(TDB_DERFC_P3));
  p = _mm512_fmadd_pd(p, t, _mm512_set1_pd(TDB_DERFC_P2));
  p = _mm512_fmadd_pd(p, t, _mm512_set1_pd(TDB_DERFC_P1));
  p = _mm512_fmadd_pd(p, t, _mm512_set1_pd(TDB_DERFC_P0));
  // The exponent, kept in [TDB_DEXP_LO, 0] (past TDB_DERFC_ZMAX the lane is zeroed below).
  __m512d y = _mm512_max_pd(_mm512_min_pd(_mm512_fnmadd_pd(z, z, p), zero), _mm512_set1_pd(TDB_DEXP_LO));
  __m512d half_erfc = _mm512_mul_pd(_mm512_mul_pd(half, t), exp_nonpositive8(y));
  half_erfc = _mm512_maskz_mov_pd(_mm512_cmp_pd_mask(z, _mm512_set1_pd(TDB_DERFC_ZMAX), _CMP_NGT_UQ), half_erfc);
  return _mm512_mask_blend_pd(_mm512_cmp_pd_mask(x, zero, _CMP_LT_OQ), _mm512_sub_pd(one, half_erfc), half_erfc);
}

// x·Φ(x) for sixteen floats, through doubles and rounded once.
AVX512 static inline __m512 gelu_erf16(__m512 x) {
  __m512 r = join16(_mm512_mul_pd(low8(x), normal_cdf8(low8(x))), _mm512_mul_pd(high8(x), normal_cdf8(high8(x))));
  return _mm512_mask_blend_ps(isnan16(x), r, x);
}

// dout·(Φ(x) + x·φ(x)) for eight doubles, φ(x) = e^(-x²/2)/√(2π) (0 where it underflows).
AVX512 static inline __m512d gelu_erf_derivative_times8(__m512d x, __m512d dout) {
  __m512d g = exp_nonpositive_or_zero8(_mm512_mul_pd(_mm512_set1_pd(-0.5), _mm512_mul_pd(x, x)));
  __m512d density = _mm512_mul_pd(_mm512_set1_pd(TDB_DINV_SQRT_2PI), g);
  return _mm512_mul_pd(_mm512_add_pd(normal_cdf8(x), _mm512_mul_pd(x, density)), dout);
}

AVX512 static inline __m512 gelu_erf_derivative_times16(__m512 x, __m512 dout) {
  __m512 r = join16(
    gelu_erf_derivative_times8(low8(x), low8(dout)), gelu_erf_derivative_times8(high8(x), high8(dout)));
  return _mm512_mask_blend_ps(isnan16(x), r, x);
}

// out = f(a, b) sixteen at a time, then one masked vector for the rest, so
// a value's result does not depend on where it sits in the array.
#define BINARY_AVX512(name, f)                                                                       \
  AVX512 static void name(float *out, const float *a, const float *b, ptrdiff_t n) {                 \
    ptrdiff_t i = 0;                                                                                 \
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, f(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i))); \
    if (i < n) {                                                                                     \
      __mmask16 m = tail16(n - i);                                                                   \
      _mm512_mask_storeu_ps(out + i, m, f(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i))); \
    }                                                                                                \
  }

BINARY_AVX512(silu_gate_avx512, silu_times16)
BINARY_AVX512(gelu_gate_avx512, gelu_times16)
BINARY_AVX512(gelu_tanh_backward_avx512, gelu_derivative_times16)
BINARY_AVX512(gelu_erf_backward_avx512, gelu_erf_derivative_times16)

// out = f(x) sixteen at a time, then one masked vector.
#define UNARY_AVX512(name, f)                                                                        \
  AVX512 static void name(float *out, const float *x, ptrdiff_t n) {                                 \
    ptrdiff_t i = 0;                                                                                 \
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, f(_mm512_loadu_ps(x + i)));               \
    if (i < n) {                                                                                     \
      __mmask16 m = tail16(n - i);                                                                   \
      _mm512_mask_storeu_ps(out + i, m, f(_mm512_maskz_loadu_ps(m, x + i)));                         \
    }                                                                                                \
  }

UNARY_AVX512(gelu_tanh_avx512, gelu16)
UNARY_AVX512(gelu_erf_avx512, gelu_erf16)

// σ(g) and 1 - σ(g) for eight doubles from e = e^-|g|, neither cancelling.
AVX512 static inline void sigmoid_pair8(__m512d g, __m512d *sigma, __m512d *complement) {
  const __m512d one = _mm512_set1_pd(1.0);
  __mmask8 negative = _mm512_cmp_pd_mask(g, _mm512_setzero_pd(), _CMP_LT_OQ);
  __m512d e = exp_nonpositive_or_zero8(_mm512_or_pd(g, _mm512_set1_pd(-0.0)));  // e^-|g|
  __m512d d = _mm512_add_pd(one, e);
  *sigma = _mm512_div_pd(_mm512_mask_blend_pd(negative, one, e), d);
  *complement = _mm512_div_pd(_mm512_mask_blend_pd(negative, e, one), d);
}

// dgate and dup of silu(g)·up for eight doubles.
AVX512 static inline void silu_gate_backward8(__m512d dy, __m512d g, __m512d up, __m512d *dgate, __m512d *dup) {
  __m512d sigma, complement;
  sigmoid_pair8(g, &sigma, &complement);
  __m512d slope = _mm512_add_pd(_mm512_set1_pd(1.0), _mm512_mul_pd(g, complement));
  *dgate = _mm512_mul_pd(_mm512_mul_pd(_mm512_mul_pd(dy, up), sigma), slope);
  *dup = _mm512_mul_pd(_mm512_mul_pd(dy, g), sigma);
}

AVX512 static inline void silu_gate_backward16(__m512 dy, __m512 g, __m512 up, __m512 *dgate, __m512 *dup) {
  __m512d gl, ul, gh, uh;
  silu_gate_backward8(low8(dy), low8(g), low8(up), &gl, &ul);
  silu_gate_backward8(high8(dy), high8(g), high8(up), &gh, &uh);
  // A NaN gate: the exp's clamp hid it.
  __mmask16 nan = isnan16(g);
  *dgate = _mm512_mask_blend_ps(nan, join16(gl, gh), g);
  *dup = _mm512_mask_blend_ps(nan, join16(ul, uh), g);
}

AVX512 static void silu_gate_backward_avx512(float *dgate, float *dup, const float *dout, const float *gate,
  const float *up, ptrdiff_t n) {
  ptrdiff_t i = 0;
  __m512 dg, du;
  for (; i + 16 <= n; i += 16) {
    silu_gate_backward16(_mm512_loadu_ps(dout + i), _mm512_loadu_ps(gate + i), _mm512_loadu_ps(up + i), &dg, &du);
    _mm512_storeu_ps(dgate + i, dg);
    _mm512_storeu_ps(dup + i, du);
  }
  if (i < n) {
    __mmask16 m = tail16(n - i);
    silu_gate_backward16(
      _mm512_maskz_loadu_ps(m, dout + i), _mm512_maskz_loadu_ps(m, gate + i), _mm512_maskz_loadu_ps(m, up + i), &dg, &du);
    _mm512_mask_storeu_ps(dgate + i, m, dg);
    _mm512_mask_storeu_ps(dup + i, m, du);
  }
}

// As AVX2.c's softmax_row_avx2: the exps taken and summed in double, each
// stored rounded to float and scaled by the double 1/sum.
AVX512 static void softmax_row_avx512(float *p, const float *s, ptrdiff_t first, ptrdiff_t last, ptrdiff_t length) {
  const __m512 ninf = _mm512_set1_ps(-__builtin_inff());
  ptrdiff_t end = last + 1, j;
  // max_ps(s, m) keeps m where s is NaN, as the scalar `s > max` test skips it.
  __m512 vmax = ninf;
  for (j = first; j + 16 <= end; j += 16) vmax = _mm512_max_ps(_mm512_loadu_ps(s + j), vmax);
  __mmask16 m = j < end ? tail16(end - j) : 0;
  if (j < end) vmax = _mm512_max_ps(_mm512_mask_loadu_ps(ninf, m, s + j), vmax);
  float maxv = _mm512_reduce_max_ps(vmax);
  if (maxv == -__builtin_inff()) {
    // Every key masked (only possible after an intervention): attend nowhere.
    memset(p, 0, (size_t)length * sizeof *p);
    return;
  }
  __m512 vm = _mm512_set1_ps(maxv);
  __m512d sum_low = _mm512_setzero_pd(), sum_high = _mm512_setzero_pd();
  for (j = first; j + 16 <= end; j += 16) {
    __m512 t = _mm512_sub_ps(_mm512_loadu_ps(s + j), vm);
    __m512d el = exp_scores8(low8(t)), eh = exp_scores8(high8(t));
    _mm512_storeu_ps(p + j, join16(el, eh));
    sum_low = _mm512_add_pd(sum_low, el);
    sum_high = _mm512_add_pd(sum_high, eh);
  }
  if (j < end) {
    // Lanes past the row are -inf, whose exp is 0.
    __m512 t = _mm512_sub_ps(_mm512_mask_loadu_ps(ninf, m, s + j), vm);
    __m512d el = exp_scores8(low8(t)), eh = exp_scores8(high8(t));
    _mm512_mask_storeu_ps(p + j, m, join16(el, eh));
    sum_low = _mm512_add_pd(sum_low, el);
    sum_high = _mm512_add_pd(sum_high, eh);
  }
  __m512d inv = _mm512_set1_pd(1.0 / _mm512_reduce_add_pd(_mm512_add_pd(sum_low, sum_high)));
  for (j = first; j + 16 <= end; j += 16) {
    __m512 e = _mm512_loadu_ps(p + j);
    _mm512_storeu_ps(p + j, join16(_mm512_mul_pd(low8(e), inv), _mm512_mul_pd(high8(e), inv)));
  }
  if (j < end) {
    __m512 e = _mm512_maskz_loadu_ps(m, p + j);
    _mm512_mask_storeu_ps(p + j, m, join16(_mm512_mul_pd(low8(e), inv), _mm512_mul_pd(high8(e), inv)));
  }
  memset(p, 0, (size_t)first * sizeof *p);
  if (end < length) memset(p + end, 0, (size_t)(length - end) * sizeof *p);
}

static tdb_kernel_set avx512;
static pthread_once_t built = PTHREAD_ONCE_INIT;

static void build(void) {
  avx512 = *tdb_kernels_avx2();
  avx512.name = "avx512";
  avx512.softmax_row = softmax_row_avx512;
  avx512.gelu_tanh = gelu_tanh_avx512;
  avx512.gelu_tanh_backward = gelu_tanh_backward_avx512;
  avx512.gelu_erf = gelu_erf_avx512;
  avx512.gelu_erf_backward = gelu_erf_backward_avx512;
  avx512.silu_gate = silu_gate_avx512;
  avx512.gelu_gate = gelu_gate_avx512;
  avx512.silu_gate_backward = silu_gate_backward_avx512;
}

const tdb_kernel_set *tdb_kernels_avx512(void) {
  if (!tdb_kernels_avx2() || !__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512dq")
    || !__builtin_cpu_supports("avx512vl") || !__builtin_cpu_supports("avx512bw"))
    return NULL;
  pthread_once(&built, build);
  return &avx512;
}

#else

const tdb_kernel_set *tdb_kernels_avx512(void) { return NULL; }

#endif
