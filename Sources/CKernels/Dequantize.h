// The GGUF dequantizers, written once and compiled into each kernel set:
// AVX2.c includes this file with TDB_DQ_ATTR set to the AVX2 target, so the
// compiler vectorises the same loops for AVX2 there and for the baseline in
// Portable.c. The includer defines TDB_DQ_ATTR and TDB_DQ_ENTRY (the name of
// the set's entry point).
//
// Each kernel follows llama.cpp's dequantize_row_* (ggml-quants.c) operation
// for operation, and contraction into FMA is off, so the results are
// bit-identical to it and to gguf-py's dequantize on every set.
#include <stdint.h>
#include <string.h>

#pragma STDC FP_CONTRACT OFF

// The fp16 with bits h, widened exactly: its exponent and mantissa shifted
// into a float's and rescaled by 2^112, Inf and NaN rebuilt (payload kept).
TDB_DQ_ATTR static inline float dq_half(uint16_t h) {
  uint32_t magnitude = (uint32_t)(h & 0x7fff) << 13, big = 0x77800000u;  // 2^112
  float f, scale;
  memcpy(&f, &magnitude, sizeof f);
  memcpy(&scale, &big, sizeof scale);
  f *= scale;
  if ((h & 0x7c00) == 0x7c00) {
    uint32_t special = magnitude | 0x7f800000u;
    memcpy(&f, &special, sizeof f);
  }
  return (h & 0x8000) ? -f : f;
}

// The little-endian u16 and u32 at x.
TDB_DQ_ATTR static inline uint16_t dq_u16(const uint8_t *x) { return (uint16_t)(x[0] | x[1] << 8); }
TDB_DQ_ATTR static inline uint32_t dq_u32(const uint8_t *x) {
  return (uint32_t)x[0] | (uint32_t)x[1] << 8 | (uint32_t)x[2] << 16 | (uint32_t)x[3] << 24;
}

TDB_DQ_ATTR static void dq_f16(const uint8_t *x, float *y, ptrdiff_t n) {
  for (ptrdiff_t i = 0; i < n; i++) y[i] = dq_half(dq_u16(x + 2 * i));
}

TDB_DQ_ATTR static void dq_bf16(const uint8_t *x, float *y, ptrdiff_t n) {
  for (ptrdiff_t i = 0; i < n; i++) {
    uint32_t bits = (uint32_t)dq_u16(x + 2 * i) << 16;
    memcpy(y + i, &bits, sizeof bits);
  }
}

// block_q4_0 (18 bytes): fp16 d, 16 bytes of nibbles; element j is the low
// nibble of byte j, element j+16 the high one; y = (q - 8)·d.
TDB_DQ_ATTR static void dq_q4_0(const uint8_t *x, float *y, ptrdiff_t blocks) {
  for (ptrdiff_t i = 0; i < blocks; i++) {
    const uint8_t *b = x + 18 * i, *qs = b + 2;
    float *out = y + 32 * i, d = dq_half(dq_u16(b));
    for (int j = 0; j < 16; j++) {
      out[j] = (float)((qs[j] & 0x0f) - 8) * d;
      out[j + 16] = (float)((qs[j] >> 4) - 8) * d;
    }
  }
}

// block_q4_1 (20 bytes): fp16 d, fp16 m, 16 bytes of nibbles; y = q·d + m.
TDB_DQ_ATTR static void dq_q4_1(const uint8_t *x, float *y, ptrdiff_t blocks) {
  for (ptrdiff_t i = 0; i < blocks; i++) {
    const uint8_t *b = x + 20 * i, *qs = b + 4;
    float *out = y + 32 * i, d = dq_half(dq_u16(b)), m = dq_half(dq_u16(b + 2));
    for (int j = 0; j < 16; j++) {
      out[j] = (float)(qs[j] & 0x0f) * d + m;
      out[j + 16] = (float)(qs[j] >> 4) * d + m;
    }
  }
}

// block_q5_0 (22 bytes): fp16 d, u32 qh (bit j = fifth bit of element j),
// 16 bytes of nibbles; y = (q - 16)·d.
TDB_DQ_ATTR static void dq_q5_0(const uint8_t *x, float *y, ptrdiff_t blocks) {
  for (ptrdiff_t i = 0; i < blocks; i++) {
    const uint8_t *b = x + 22 * i, *qs = b + 6;
    float *out = y + 32 * i, d = dq_half(dq_u16(b));
    uint32_t qh = dq_u32(b + 2);
    for (int j = 0; j < 16; j++) {
      int h0 = (int)((qh >> j) << 4 & 0x10), h1 = (int)((qh >> (j + 12)) & 0x10);
      out[j] = (float)(((qs[j] & 0x0f) | h0) - 16) * d;
      out[j + 16] = (float)(((qs[j] >> 4) | h1) - 16) * d;
    }
  }
}

// block_q5_1 (24 bytes): fp16 d, fp16 m, u32 qh, 16 bytes of nibbles; y = q·d + m.
TDB_DQ_ATTR static void dq_q5_1(const uint8_t *x, float *y, ptrdiff_t blocks) {
  for (ptrdiff_t i = 0; i < blocks; i++) {
    const uint8_t *b = x + 24 * i, *qs = b + 8;
    float *out = y + 32 * i, d = dq_half(dq_u16(b)), m = dq_half(dq_u16(b + 2));
    uint32_t qh = dq_u32(b + 4);
    for (int j = 0; j < 16; j++) {
      int h0 = (int)((qh >> j) << 4 & 0x10), h1 = (int)((qh >> (j + 12)) & 0x10);
      out[j] = (float)((qs[j] & 0x0f) | h0) * d + m;
      out[j + 16] = (float)((qs[j] >> 4) | h1) * d + m;
    }
  }
}

// block_q8_0 (34 bytes): fp16 d, 32 signed bytes; y = q·d.
TDB_DQ_ATTR static void dq_q8_0(const uint8_t *x, float *y, ptrdiff_t blocks) {
  for (ptrdiff_t i = 0; i < blocks; i++) {
    const uint8_t *b = x + 34 * i;
    float *out = y + 32 * i, d = dq_half(dq_u16(b));
    for (int j = 0; j < 32; j++) out[j] = (float)(int8_t)b[2 + j] * d;
  }
}

// The K-quants: super-blocks of 256 elements in 16 or 8 sub-blocks with
// quantized scales.

// block_q2_K (84 bytes): scales[16] (low nibble scale, high nibble min),
// qs[64] (2-bit), fp16 d, fp16 dmin; y = d·sc·q - dmin·m.
TDB_DQ_ATTR static void dq_q2_K(const uint8_t *x, float *y, ptrdiff_t blocks) {
  for (ptrdiff_t i = 0; i < blocks; i++) {
    const uint8_t *b = x + 84 * i;
    float *out = y + 256 * i, d = dq_half(dq_u16(b + 80)), dmin = dq_half(dq_u16(b + 82));
    for (int n = 0; n < 2; n++) {
      const uint8_t *q = b + 16 + 32 * n;
      for (int j = 0; j < 4; j++) {
        int shift = 2 * j;
        for (int h = 0; h < 2; h++) {
          uint8_t sc = b[n * 8 + 2 * j + h];
          float dl = d * (float)(sc & 0x0f), ml = dmin * (float)(sc >> 4);
          float *o = out + n * 128 + j * 32 + h * 16;
          const uint8_t *qq = q + h * 16;
          for (int l = 0; l < 16; l++) o[l] = dl * (float)((qq[l] >> shift) & 3) - ml;
        }
      }
    }
  }
}

// block_q3_K (110 bytes): hmask[32] (third bit, set = no offset), qs[64]
// (low 2 bits), scales[12] (sixteen 6-bit scales), fp16 d;
// y = d·(sc - 32)·(q - (hbit ? 0 : 4)).
TDB_DQ_ATTR static void dq_q3_K(const uint8_t *x, float *y, ptrdiff_t blocks) {
  float scales[16];
  for (ptrdiff_t i = 0; i < blocks; i++) {
    const uint8_t *b = x + 110 * i, *hm = b, *s = b + 96;
    float *out = y + 256 * i, d = dq_half(dq_u16(b + 108));
    for (int k = 0; k < 16; k++) {
      int low = k < 8 ? s[k] & 0x0f : s[k - 8] >> 4;
      int high = (s[8 + k % 4] >> (2 * (k / 4))) & 3;
      scales[k] = d * (float)((low | high << 4) - 32);
    }
    for (int n = 0; n < 2; n++) {
      const uint8_t *q = b + 32 + 32 * n;
      for (int j = 0; j < 4; j++) {
        int shift = 2 * j, bit = n * 4 + j;
        for (int h = 0; h < 2; h++) {
          float dl = scales[n * 8 + 2 * j + h], *o = out + n * 128 + j * 32 + h * 16;
          for (int l = h * 16; l < h * 16 + 16; l++) {
            int lo = (q[l] >> shift) & 3, hbit = (hm[l] >> bit) & 1;
            o[l - h * 16] = dl * (float)(lo - (hbit ? 0 : 4));
          }
        }
      }
    }
  }
}

// Sub-block k's multiplier d·scale and offset dmin·min, from the 6-bit
// scale and min in a Q4_K/Q5_K block's 12 scale bytes.
TDB_DQ_ATTR static inline void dq_sub_block(int k, const uint8_t *s, float d, float dmin, float *dl, float *ml) {
  float scale, min;
  if (k < 4) {
    scale = (float)(s[k] & 63);
    min = (float)(s[k + 4] & 63);
  } else {
    scale = (float)((s[k + 4] & 0x0f) | (s[k - 4] >> 6) << 4);
    min = (float)((s[k + 4] >> 4) | (s[k] >> 6) << 4);
  }
  *dl = d * scale;
  *ml = dmin * min;
}

// block_q4_K (144 bytes): fp16 d, fp16 dmin, scales[12], qs[128]; each 64
// elements are 32 low nibbles then 32 high ones; y = d·sc·q - dmin·m.
TDB_DQ_ATTR static void dq_q4_K(const uint8_t *x, float *y, ptrdiff_t blocks) {
  for (ptrdiff_t i = 0; i < blocks; i++) {
    const uint8_t *b = x + 144 * i, *s = b + 4;
    float *out = y + 256 * i, d = dq_half(dq_u16(b)), dmin = dq_half(dq_u16(b + 2));
    for (int j = 0; j < 4; j++) {
      float d1, mm1, d2, mm2, *o = out + 64 * j;
      dq_sub_block(2 * j, s, d, dmin, &d1, &mm1);
      dq_sub_block(2 * j + 1, s, d, dmin, &d2, &mm2);
      const uint8_t *q = b + 16 + 32 * j;
      for (int l = 0; l < 32; l++) {
        o[l] = d1 * (float)(q[l] & 0x0f) - mm1;
        o[l + 32] = d2 * (float)(q[l] >> 4) - mm2;
      }
    }
  }
}

// block_q5_K (176 bytes): fp16 d, fp16 dmin, scales[12], qh[32] (bit k =
// fifth bit in sub-block k), qs[128]; y = d·sc·q - dmin·m.
TDB_DQ_ATTR static void dq_q5_K(const uint8_t *x, float *y, ptrdiff_t blocks) {
  for (ptrdiff_t i = 0; i < blocks; i++) {
    const uint8_t *b = x + 176 * i, *s = b + 4, *qh = b + 16;
    float *out = y + 256 * i, d = dq_half(dq_u16(b)), dmin = dq_half(dq_u16(b + 2));
    for (int j = 0; j < 4; j++) {
      float d1, mm1, d2, mm2, *o = out + 64 * j;
      dq_sub_block(2 * j, s, d, dmin, &d1, &mm1);
      dq_sub_block(2 * j + 1, s, d, dmin, &d2, &mm2);
      const uint8_t *q = b + 48 + 32 * j;
      int b1 = 2 * j, b2 = 2 * j + 1;
      for (int l = 0; l < 32; l++) {
        o[l] = d1 * (float)((q[l] & 0x0f) | ((qh[l] >> b1) & 1) << 4) - mm1;
        o[l + 32] = d2 * (float)((q[l] >> 4) | ((qh[l] >> b2) & 1) << 4) - mm2;
      }
    }
  }
}

// block_q6_K (210 bytes): ql[128] (low 4 bits), qh[64] (high 2 bits),
// scales[16] (signed), fp16 d; y = d·sc·(q - 32).
TDB_DQ_ATTR static void dq_q6_K(const uint8_t *x, float *y, ptrdiff_t blocks) {
  for (ptrdiff_t i = 0; i < blocks; i++) {
    const uint8_t *b = x + 210 * i;
    float d = dq_half(dq_u16(b + 208));
    for (int n = 0; n < 2; n++) {
      const uint8_t *ql = b + 64 * n, *qh = b + 128 + 32 * n, *sc = b + 192 + 8 * n;
      float *o = y + 256 * i + 128 * n, ds[8];
      for (int k = 0; k < 8; k++) ds[k] = d * (float)(int8_t)sc[k];
      for (int half = 0; half < 2; half++) {
        // Elements l < 16 use the even scales, l ≥ 16 the odd ones.
        float s0 = ds[half], s2 = ds[2 + half], s4 = ds[4 + half], s6 = ds[6 + half];
        for (int l = 16 * half; l < 16 * half + 16; l++) {
          int h = qh[l];
          o[l] = s0 * (float)(((ql[l] & 0x0f) | (h & 3) << 4) - 32);
          o[l + 32] = s2 * (float)(((ql[l + 32] & 0x0f) | ((h >> 2) & 3) << 4) - 32);
          o[l + 64] = s4 * (float)(((ql[l] >> 4) | ((h >> 4) & 3) << 4) - 32);
          o[l + 96] = s6 * (float)(((ql[l + 32] >> 4) | ((h >> 6) & 3) << 4) - 32);
        }
      }
    }
  }
}

TDB_DQ_ATTR static int TDB_DQ_ENTRY(int type, const void *src, float *dst, ptrdiff_t blocks) {
  const uint8_t *x = src;
  switch (type) {
  case TDB_GGML_F16: dq_f16(x, dst, blocks); return 1;
  case TDB_GGML_BF16: dq_bf16(x, dst, blocks); return 1;
  case TDB_GGML_Q4_0: dq_q4_0(x, dst, blocks); return 1;
  case TDB_GGML_Q4_1: dq_q4_1(x, dst, blocks); return 1;
  case TDB_GGML_Q5_0: dq_q5_0(x, dst, blocks); return 1;
  case TDB_GGML_Q5_1: dq_q5_1(x, dst, blocks); return 1;
  case TDB_GGML_Q8_0: dq_q8_0(x, dst, blocks); return 1;
  case TDB_GGML_Q2_K: dq_q2_K(x, dst, blocks); return 1;
  case TDB_GGML_Q3_K: dq_q3_K(x, dst, blocks); return 1;
  case TDB_GGML_Q4_K: dq_q4_K(x, dst, blocks); return 1;
  case TDB_GGML_Q5_K: dq_q5_K(x, dst, blocks); return 1;
  case TDB_GGML_Q6_K: dq_q6_K(x, dst, blocks); return 1;
  default: return 0;
  }
}
