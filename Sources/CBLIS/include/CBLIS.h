#ifndef TDB_CBLIS_H
#define TDB_CBLIS_H

#include <stdbool.h>
#include <stddef.h>

/// Row-major c[M, N] = alpha · a[M, K] · op(b) + beta · c on the calling
/// thread, through BLIS's unpacked ("sup") kernels. op(b) is b[K, N], or
/// b[N, K] read transposed. BLIS here is Debian's serial build, linked
/// statically so that only its own bli_ functions are taken from it and
/// every cblas_ call still goes to OpenBLAS.
void tdb_blis_sgemm(bool transposeB, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, float alpha, const float *a,
                    ptrdiff_t lda, const float *b, ptrdiff_t ldb, float beta, float *c, ptrdiff_t ldc);

/// The BLIS version string, for `tdb --version`-style reports and tests.
const char *tdb_blis_version(void);

#endif
