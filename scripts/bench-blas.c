// Times one BLAS library's sgemm on the matrix products tdb's forward and
// backward passes make, plus a large square sgemm (the library's ceiling).
//
//   cc -O2 -o bench-blas scripts/bench-blas.c -ldl
//   ./bench-blas LIBRARY.so [--threads N] [--repeat R] [--model gpt2|smollm2] [--square S]
//                [--split] [--square-only]
//
// The library is loaded with dlopen, so one binary compares OpenBLAS
// (pthreads or OpenMP builds), BLIS or any other CBLAS side by side.
// --split calls a serial BLIS's bli_sgemm on N threads, each on its share of
// the columns: what tdb does for products of up to 40 rows. Built with
// -DPACKED and tdb's Sources/CPacked/PackedProducts.c (bench-blas.sh does),
// --packed times what tdb does with a weight from its second product on:
// oneDNN's matmul on the weight packed once (outside the timing). Each
// forward shape cycles through as many weight copies as the model has
// blocks, so weights come from memory as they do in a real pass, not from
// cache. Output: tab-separated lines (what, tokens, ms, GFLOP/s).
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { RowMajor = 101, NoTrans = 111 };
typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *,
                         int);

// BLIS's typed API: dim_t and inc_t are 64-bit, trans_t 0 or 8.
typedef void (*bli_sgemm_fn)(int, int, int64_t, int64_t, int64_t, const float *, const float *, int64_t, int64_t,
                             const float *, int64_t, int64_t, const float *, float *, int64_t, int64_t);
static sgemm_fn sgemm;
static bli_sgemm_fn bliSgemm;
static int splitThreads;  // 0: call cblas_sgemm; otherwise bli_sgemm on this many threads
static int packedThreads;  // nonzero: products on packed weights, this many threads

#ifdef PACKED
#include "CPacked.h"
// The packed copy of each weight, made on its first product (the untimed warm-up).
typedef struct {
  const float *b;
  int transB, K, N;
  tdb_packed_matrix *packed;
} packedWeight;
static packedWeight packedWeights[256];
static int packedCount;

static tdb_packed_matrix *packedFor(int transB, int K, int N, const float *b, int ldb) {
  for (int i = 0; i < packedCount; i++) {
    packedWeight *w = &packedWeights[i];
    if (w->b == b && w->transB == transB && w->K == K && w->N == N) return w->packed;
  }
  if (packedCount == 256) return NULL;
  tdb_packed_matrix *p = tdb_pack(transB, K, N, b, ldb, true);
  packedWeights[packedCount++] = (packedWeight){b, transB, K, N, p};
  return p;
}

// Before the weights are freed (their addresses come back).
static void forgetPacked(void) {
  for (int i = 0; i < packedCount; i++) tdb_packed_free(packedWeights[i].packed);
  packedCount = 0;
}
#else
static void forgetPacked(void) {}
#endif

typedef struct {
  int transB, M, N, K, first, end;
  const float *a, *b;
  int lda, ldb, ldc;
  float *c;
} piece;

static void *runPiece(void *argument) {
  const piece *p = argument;
  float one = 1, zero = 0;
  const float *b = p->transB ? p->b + (size_t)p->first * p->ldb : p->b + p->first;
  bliSgemm(0, p->transB ? 8 : 0, p->M, p->end - p->first, p->K, &one, p->a, p->lda, 1, b, p->ldb, 1, &zero,
           p->c + p->first, p->ldc, 1);
  return NULL;
}

// Row-major c[M, N] = a[M, K] · op(b), through the library or split by columns.
static void product(int transB, int M, int N, int K, const float *a, int lda, const float *b, int ldb, float *c,
                    int ldc) {
#ifdef PACKED
  if (packedThreads && M > 2) {
    tdb_packed_matrix *p = packedFor(transB, K, N, b, ldb);
    // tdb's products are dense (lda = K, ldc = N), as every one here is.
    if (p && tdb_packed_sgemm(p, M, a, NULL, 0, c, packedThreads)) return;
  }
#endif
  if (!splitThreads) {
    sgemm(101, 111, transB ? 112 : 111, M, N, K, 1, a, lda, b, ldb, 0, c, ldc);
    return;
  }
  piece pieces[64];
  pthread_t workers[64];
  int share = ((N + 63) / 64 + splitThreads - 1) / splitThreads * 64;
  for (int w = 0; w < splitThreads; w++) {
    int first = w * share, end = first + share < N ? first + share : N;
    pieces[w] = (piece){transB, M, N, K, first, end, a, b, lda, ldb, ldc, c};
    if (w > 0 && first < end) pthread_create(&workers[w], NULL, runPiece, &pieces[w]);
  }
  runPiece(&pieces[0]);
  for (int w = 1; w < splitThreads; w++)
    if (pieces[w].first < pieces[w].end) pthread_join(workers[w], NULL);
}

typedef struct {
  const char *name;
  int K, N;       // weight is [K, N] (or [N, K] when transposed)
  int transB;     // 1: the product reads the weight transposed
  int perBlock;   // how many such products one block makes (0: once per pass)
} shape;

// GPT-2 small: Conv1D weights [in, out]; the unembedding is the [V, C]
// embedding read transposed. Backward: dX = dY · Wᵀ for each of them.
static const shape gpt2[] = {
    {"qkv", 768, 2304, 0, 1}, {"attn out", 768, 768, 0, 1}, {"mlp in", 768, 3072, 0, 1},
    {"mlp out", 3072, 768, 0, 1}, {"unembed", 768, 50257, 1, 0},
};
static const int gpt2Blocks = 12;
// SmolLM2-135M: weights transposed at load to [in, out]; tied unembedding.
static const shape smollm2[] = {
    {"q", 576, 576, 0, 1},    {"k", 576, 192, 0, 1},       {"v", 576, 192, 0, 1},
    {"o", 576, 576, 0, 1},    {"gate", 576, 1536, 0, 1},   {"up", 576, 1536, 0, 1},
    {"down", 1536, 576, 0, 1}, {"unembed", 576, 49152, 1, 0},
};
static const int smollm2Blocks = 30;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static float *randomMatrix(size_t n) {
  float *m = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
  if (!m) {
    fprintf(stderr, "bench-blas: out of memory\n");
    exit(70);
  }
  for (size_t i = 0; i < n; i++) m[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
  return m;
}

static int compareDoubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, n, sizeof(double), compareDoubles);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: bench-blas LIBRARY.so [--threads N] [--repeat R] [--model gpt2|smollm2] [--square S]\n");
    return 64;
  }
  const char *library = argv[1], *model = "gpt2";
  int threads = 2, repeat = 5, square = 2048, split = 0, squareOnly = 0, packed = 0;
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--split")) {
      split = 1;
      continue;
    }
    if (!strcmp(argv[i], "--packed")) {
#ifndef PACKED
      fprintf(stderr, "bench-blas: --packed needs a build with -DPACKED and Sources/CPacked/PackedProducts.c\n");
      return 64;
#endif
      packed = 1;
      continue;
    }
    if (!strcmp(argv[i], "--square-only")) {
      squareOnly = 1;
      continue;
    }
    if (i + 1 == argc) {
      fprintf(stderr, "bench-blas: %s needs a value\n", argv[i]);
      return 64;
    }
    if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--repeat")) repeat = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--model")) model = argv[i + 1];
    else if (!strcmp(argv[i], "--square")) square = atoi(argv[i + 1]);
    else {
      fprintf(stderr, "bench-blas: unknown option %s\n", argv[i]);
      return 64;
    }
    i++;
  }
  if (threads < 1 || threads > 64 || repeat < 1 || repeat > 32 || square < 1) {
    fprintf(stderr, "bench-blas: --threads 1...64, --repeat 1...32, --square positive\n");
    return 64;
  }
  // Thread counts are read when the library initialises, so set them first.
  char count[16];
  snprintf(count, sizeof count, "%d", split ? 1 : threads);
  setenv("OPENBLAS_NUM_THREADS", count, 1);
  setenv("OMP_NUM_THREADS", count, 1);
  setenv("BLIS_NUM_THREADS", count, 1);
  void *handle = dlopen(library, RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    fprintf(stderr, "bench-blas: cannot load %s: %s\n", library, dlerror());
    return 66;
  }
  sgemm = (sgemm_fn)dlsym(handle, "cblas_sgemm");
  bliSgemm = (bli_sgemm_fn)dlsym(handle, "bli_sgemm");
  if (!sgemm || (split && !bliSgemm)) {
    fprintf(stderr, "bench-blas: %s has no %s\n", library, split ? "bli_sgemm" : "cblas_sgemm");
    return 66;
  }
  const shape *shapes = strcmp(model, "smollm2") ? gpt2 : smollm2;
  int shapeCount = strcmp(model, "smollm2") ? 5 : 8;
  int blocks = strcmp(model, "smollm2") ? gpt2Blocks : smollm2Blocks;

  packedThreads = packed ? threads : 0;
  // The ceiling: a large square product, warm.
  {
    size_t n = (size_t)square;
    float *a = randomMatrix(n * n), *b = randomMatrix(n * n), *c = randomMatrix(n * n);
    double t[32];
    // (product() would split it in --split mode; the serial library's own rate is its ceiling.)
    if (packed) product(0, square, square, square, a, square, b, square, c, square);
    else sgemm(RowMajor, NoTrans, NoTrans, square, square, square, 1, a, square, b, square, 0, c, square);
    for (int r = 0; r < repeat; r++) {
      double t0 = now();
      if (packed) product(0, square, square, square, a, square, b, square, c, square);
      else sgemm(RowMajor, NoTrans, NoTrans, square, square, square, 1, a, square, b, square, 0, c, square);
      t[r] = now() - t0;
    }
    forgetPacked();
    double s = median(t, repeat);
    printf("square %d\t%d\t%.2f\t%.1f\n", square, square, s * 1e3, 2.0 * n * n * n / s / 1e9);
    free(a), free(b), free(c);
  }
  if (squareOnly) return 0;
  splitThreads = split ? threads : 0;

  const int tokenCounts[] = {16, 32, 48, 128, 1024};
  for (int pass = 0; pass < 2; pass++) {  // 0: forward, 1: backward (dX = dY · Wᵀ)
    for (int ti = 0; ti < 5; ti++) {
      int M = tokenCounts[ti];
      double totalSeconds = 0, totalFlops = 0;
      for (int s = 0; s < shapeCount; s++) {
        const shape *sh = &shapes[s];
        int copies = sh->perBlock ? blocks : 1;
        int calls = sh->perBlock ? blocks * sh->perBlock : 1;
        if (pass == 1 && !sh->perBlock) continue;  // the unembedding's backward is one row here
        size_t weightSize = (size_t)sh->K * sh->N;
        float **weights = malloc(sizeof(float *) * copies);
        for (int w = 0; w < copies; w++) weights[w] = randomMatrix(weightSize);
        int inner = pass == 0 ? sh->K : sh->N, outer = pass == 0 ? sh->N : sh->K;
        float *x = randomMatrix((size_t)M * inner), *y = randomMatrix((size_t)M * outer);
        double t[32];
        for (int r = -1; r < repeat; r++) {
          double t0 = now();
          for (int call = 0; call < calls; call++) {
            const float *w = weights[call % copies];
            if (pass == 0 && !sh->transB)  // y[M, N] = x[M, K] · W[K, N]
              product(0, M, sh->N, sh->K, x, sh->K, w, sh->N, y, sh->N);
            else if (pass == 0)  // y[M, N] = x[M, K] · E[N, K]ᵀ
              product(1, M, sh->N, sh->K, x, sh->K, w, sh->K, y, sh->N);
            else  // dx[M, K] = dy[M, N] · W[K, N]ᵀ
              product(1, M, sh->K, sh->N, x, sh->N, w, sh->N, y, sh->K);
          }
          if (r >= 0) t[r] = now() - t0;
        }
        double seconds = median(t, repeat), flops = 2.0 * M * sh->K * sh->N * calls;
        printf("%s %s\t%d\t%.2f\t%.1f\n", pass ? "backward" : "forward", sh->name, M, seconds * 1e3,
               flops / seconds / 1e9);
        totalSeconds += seconds, totalFlops += flops;
        forgetPacked();
        for (int w = 0; w < copies; w++) free(weights[w]);
        free(weights), free(x), free(y);
      }
      printf("%s total\t%d\t%.2f\t%.1f\n", pass ? "backward" : "forward", M, totalSeconds * 1e3,
             totalFlops / totalSeconds / 1e9);
      fflush(stdout);
    }
  }
  return 0;
}
