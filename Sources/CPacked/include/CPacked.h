#ifndef TDB_CPACKED_H
#define TDB_CPACKED_H

#include <stdbool.h>
#include <stddef.h>

/// A weight matrix copied once into oneDNN's blocked layout for its matrix
/// multiplication kernels, so that products with it skip the per-call copy
/// ("packing") that a BLAS makes of its operands.
typedef struct tdb_packed_matrix tdb_packed_matrix;

/// Packs op(b): b[K, N], or b[N, K] read transposed, rows `ldb` floats apart.
/// NULL when oneDNN has no blocked kernel for it here (use BLAS instead).
tdb_packed_matrix *tdb_pack(bool transposeB, ptrdiff_t K, ptrdiff_t N, const float *b, ptrdiff_t ldb);

/// Bytes the packed copy holds.
size_t tdb_packed_bytes(const tdb_packed_matrix *p);

/// Row-major c[M, N] = a[M, K] · op(b) + beta · c with beta 0 or 1, a and c
/// dense (lda = K, ldc = N), on `threads` OpenMP threads. False when it could
/// not start (c untouched); the caller then uses BLAS.
bool tdb_packed_sgemm(tdb_packed_matrix *p, ptrdiff_t M, const float *a, ptrdiff_t lda, float beta, float *c,
                      ptrdiff_t ldc, int threads);

void tdb_packed_free(tdb_packed_matrix *p);

/// Whether this CPU has what oneDNN's blocked fp32 kernels need (AVX-512:
/// F, BW, VL, DQ). Elsewhere tdb_pack returns NULL and products use BLAS.
bool tdb_packed_expected(void);

#endif
