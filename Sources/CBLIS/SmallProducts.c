// Products with few rows (a short prompt's tokens) through BLIS.
//
// OpenBLAS packs the whole weight matrix into a buffer on every call; with
// 16 rows that copy costs as much as the arithmetic. BLIS's small/unpacked
// kernels read the weights where they are. scripts/bench-blas.c measures
// both on tdb's own shapes; below about 40 rows BLIS wins.
#include <blis.h>

#include "CBLIS.h"

void tdb_blis_sgemm(bool transposeB, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, float alpha, const float *a,
                    ptrdiff_t lda, const float *b, ptrdiff_t ldb, float beta, float *c, ptrdiff_t ldc) {
  // BLIS takes row and column strides; a row-major matrix has column stride 1.
  bli_sgemm(BLIS_NO_TRANSPOSE, transposeB ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, (dim_t)M, (dim_t)N, (dim_t)K,
            &alpha, (float *)a, (inc_t)lda, 1, (float *)b, (inc_t)ldb, 1, &beta, c, (inc_t)ldc, 1);
}

const char *tdb_blis_version(void) { return bli_info_get_version_str(); }
