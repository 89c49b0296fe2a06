// Products of two activations (attention's q·kᵀ, pattern·v and their
// gradients) through oneDNN's sgemm instead of OpenBLAS's. On attention's
// shapes here (128 query rows, head width 64, 128 to 1024 keys), one
// thread each, it ran at 97-105 GFLOP/s against OpenBLAS's 90-96. Whole
// passes, the two builds alternating: GPT-2's 1024-token forward 0.8%,
// its 128-token gradient 1.5%, SmolLM2's 1024-token gradient's attention
// 9% faster. Only where oneDNN's blocked kernels run (AVX-512), as for the
// weights' products; with AVX2 alone its transposed product was slower.
#include <dnnl.h>

#include "CPacked.h"

extern int omp_in_parallel(void);
extern int omp_get_max_threads(void);
extern void omp_set_num_threads(int threads);

bool tdb_general_sgemm(bool transA, bool transB, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, float alpha, const float *a,
                       ptrdiff_t lda, const float *b, ptrdiff_t ldb, float beta, float *c, ptrdiff_t ldc,
                       int threads) {
  if (M <= 0 || N <= 0 || K <= 0 || !tdb_packed_expected()) return false;
  if (!omp_in_parallel()) {
    // On the caller's thread the product takes the OpenMP threads; a caller
    // off them (several passes side by side, each on one core) uses BLAS.
    if (threads <= 0) return false;
    if (omp_get_max_threads() != threads) omp_set_num_threads(threads);
  }
  // Inside a parallel region (an item of the engine's own parallel loops)
  // oneDNN runs the product on the calling thread alone.
  return dnnl_sgemm(transA ? 'T' : 'N', transB ? 'T' : 'N', M, N, K, alpha, a, lda, b, ldb, beta, c, ldc) ==
         dnnl_success;
}
