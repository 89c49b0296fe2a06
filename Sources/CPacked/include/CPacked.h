#ifndef TDB_CPACKED_H
#define TDB_CPACKED_H

#include <stdbool.h>
#include <stddef.h>

/// A weight matrix for oneDNN's matrix multiplication kernel: either a copy
/// in its blocked layout, so that products skip the per-call copy
/// ("packing") that a BLAS makes of its operands, or the caller's own memory
/// (the kernel then packs as it goes). Both give bit-identical products.
typedef struct tdb_packed_matrix tdb_packed_matrix;

/// op(b): b[K, N], or b[N, K] read transposed, rows `ldb` floats apart;
/// copied into the blocked layout if `copy`, else read where it lies (b must
/// then outlive the handle). NULL when oneDNN has no blocked kernel for it
/// here (use BLAS instead).
tdb_packed_matrix *tdb_pack(bool transposeB, ptrdiff_t K, ptrdiff_t N, const float *b, ptrdiff_t ldb, bool copy);

/// Bytes the copy holds (0 for the caller's memory).
size_t tdb_packed_bytes(const tdb_packed_matrix *p);

/// Row-major c[M, N] = a[M, K] · op(b) + beta · c with beta 0 or 1, plus
/// bias[N] on every row when `bias` is not NULL (then beta must be 0), a and
/// c dense (lda = K, ldc = N), on `threads` OpenMP threads. False when it
/// could not start (c untouched); the caller then uses BLAS.
bool tdb_packed_sgemm(tdb_packed_matrix *p, ptrdiff_t M, const float *a, const float *bias, float beta, float *c,
                      int threads);

void tdb_packed_free(tdb_packed_matrix *p);

/// Whether this CPU has what oneDNN's blocked fp32 kernels need (AVX-512:
/// F, BW, VL, DQ). Elsewhere tdb_pack returns NULL and products use BLAS.
bool tdb_packed_expected(void);

/// Row-major c[M, N] = alpha · op(a)[M, K] · op(b)[K, N] + beta · c through
/// oneDNN's sgemm: on the calling thread alone inside an OpenMP parallel
/// region (a worker of `tdb_team`), else on `threads` OpenMP threads (0:
/// the caller is off those threads, as passes run side by side are). False
/// when it did not run (c untouched): no AVX-512, an empty shape, threads 0
/// outside a region, or oneDNN refused; the caller then uses BLAS.
bool tdb_general_sgemm(bool transA, bool transB, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, float alpha, const float *a,
                       ptrdiff_t lda, const float *b, ptrdiff_t ldb, float beta, float *c, ptrdiff_t ldc,
                       int threads);

/// Calls body(context, w) once for each w in 0..<workers, on up to
/// `workers` of the OpenMP threads oneDNN's products run on (the caller's
/// among them), and returns when all have returned.
void tdb_team(int workers, void (*body)(void *context, int worker), void *context);

#endif
