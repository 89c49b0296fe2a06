// Matrix products with weights, through oneDNN's matmul (its brgemm kernel).
//
// A BLAS sgemm copies ("packs") its operands into cache-sized panels on
// every call. With a prompt of a hundred tokens the weights are by far the
// larger operand, and OpenBLAS spends 15-18% of a GPT-2 forward pass
// copying them (perf). oneDNN's matmul takes its weights in a blocked layout
// that we can make once per matrix (a reorder), so each later product reads
// them as they are: 0.71-0.89 of OpenBLAS's time on GPT-2's and SmolLM2's
// shapes here (scripts/bench-blas.c). Given the plain matrix instead, the
// same kernel packs as it goes and its results are bit for bit the same, so
// a weight's products do not change when it gets its copy.
#include <dnnl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "CPacked.h"

// libgomp's, which oneDNN runs its threads on (Debian builds it for OpenMP);
// declared here because clang does not ship gcc's omp.h.
extern int omp_get_max_threads(void);
extern void omp_set_num_threads(int threads);

// The layout is the one oneDNN picks for a product of this many rows (a
// typical prompt); products of other row counts read the same layout. Each
// matrix keeps the primitives (JIT-compiled kernels) of its last few shapes.
enum { reference_rows = 128, cached_primitives = 8 };

// What a product adds to a · op(b): nothing, c's own values (beta 1), or a
// bias row, which the kernel adds as it writes c (no pass to fill c first).
typedef enum { adds_nothing, adds_c, adds_bias } addend;

typedef struct {
  ptrdiff_t rows;
  addend adds;
  dnnl_primitive_t primitive;
} shaped_primitive;

struct tdb_packed_matrix {
  ptrdiff_t K, N;
  dnnl_memory_desc_t layout;
  dnnl_memory_t memory;
  size_t bytes;
  shaped_primitive primitives[cached_primitives];
  int next_slot;
};

static dnnl_engine_t engine;
static dnnl_stream_t stream;
static dnnl_status_t engine_status = dnnl_runtime_error;
static pthread_once_t engine_once = PTHREAD_ONCE_INIT;
static void make_engine(void) {
  engine_status = dnnl_engine_create(&engine, dnnl_cpu, 0);
  if (engine_status == dnnl_success) engine_status = dnnl_stream_create(&stream, engine, dnnl_stream_default_flags);
}

// oneDNN's library-managed scratchpad is shared, so executions are serialised
// (tdb runs one product at a time on all cores; concurrent passes use BLAS).
// The lock also guards the one stream and every matrix's primitives.
static pthread_mutex_t execute_lock = PTHREAD_MUTEX_INITIALIZER;

static bool is_blocked_kernel(const_dnnl_primitive_desc_t pd) {
  const char *impl = NULL;
  if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) != dnnl_success || !impl) return false;
  return strncmp(impl, "brg", 3) == 0;
}

// The matmul of dense a[rows, K] and c[rows, N], reading weights in `layout`
// (format "any" while choosing it); NULL unless a blocked kernel takes it.
static dnnl_primitive_desc_t describe(ptrdiff_t rows, ptrdiff_t K, ptrdiff_t N, const dnnl_memory_desc_t *layout,
                                      addend adds) {
  dnnl_memory_desc_t src, weights, dst, bias;
  dnnl_dims_t src_dims = {rows, K}, dst_dims = {rows, N}, weight_dims = {K, N}, bias_dims = {1, N};
  if (dnnl_memory_desc_init_by_tag(&src, 2, src_dims, dnnl_f32, dnnl_ab) != dnnl_success) return NULL;
  if (dnnl_memory_desc_init_by_tag(&dst, 2, dst_dims, dnnl_f32, dnnl_ab) != dnnl_success) return NULL;
  if (dnnl_memory_desc_init_by_tag(&bias, 2, bias_dims, dnnl_f32, dnnl_ab) != dnnl_success) return NULL;
  if (layout) {
    weights = *layout;
  } else if (dnnl_memory_desc_init_by_tag(&weights, 2, weight_dims, dnnl_f32, dnnl_format_tag_any) != dnnl_success) {
    return NULL;
  }
  dnnl_matmul_desc_t desc;
  if (dnnl_matmul_desc_init(&desc, &src, &weights, adds == adds_bias ? &bias : NULL, &dst) != dnnl_success)
    return NULL;
  dnnl_primitive_attr_t attr = NULL;
  if (adds == adds_c) {
    dnnl_post_ops_t ops = NULL;
    if (dnnl_primitive_attr_create(&attr) != dnnl_success) return NULL;
    if (dnnl_post_ops_create(&ops) != dnnl_success || dnnl_post_ops_append_sum(ops, 1.0f) != dnnl_success ||
        dnnl_primitive_attr_set_post_ops(attr, ops) != dnnl_success) {
      if (ops) dnnl_post_ops_destroy(ops);
      dnnl_primitive_attr_destroy(attr);
      return NULL;
    }
    dnnl_post_ops_destroy(ops);
  }
  dnnl_primitive_desc_t pd = NULL;
  dnnl_status_t status = dnnl_primitive_desc_create(&pd, &desc, attr, engine, NULL);
  if (attr) dnnl_primitive_attr_destroy(attr);
  if (status != dnnl_success) return NULL;
  if (!is_blocked_kernel(pd)) {
    dnnl_primitive_desc_destroy(pd);
    return NULL;
  }
  return pd;
}

tdb_packed_matrix *tdb_pack(bool transposeB, ptrdiff_t K, ptrdiff_t N, const float *b, ptrdiff_t ldb, bool copy) {
  pthread_once(&engine_once, make_engine);
  if (engine_status != dnnl_success || K <= 0 || N <= 0) return NULL;
  // op(b) as a [K, N] matrix over the caller's memory.
  dnnl_memory_desc_t source;
  dnnl_dims_t dims = {K, N};
  dnnl_dims_t strides = {transposeB ? 1 : ldb, transposeB ? ldb : 1};
  if (dnnl_memory_desc_init_by_strides(&source, 2, dims, dnnl_f32, strides) != dnnl_success) return NULL;
  dnnl_primitive_desc_t pd = describe(reference_rows, K, N, copy ? NULL : &source, adds_nothing);
  if (!pd) return NULL;
  tdb_packed_matrix *p = calloc(1, sizeof *p);
  if (!p) {
    dnnl_primitive_desc_destroy(pd);
    return NULL;
  }
  p->K = K;
  p->N = N;
  p->layout = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
  dnnl_primitive_desc_destroy(pd);
  if (!copy) {
    // Products read the caller's memory as it lies; the kernel packs as it goes.
    if (dnnl_memory_create(&p->memory, &p->layout, engine, (void *)b) != dnnl_success) {
      tdb_packed_free(p);
      return NULL;
    }
    return p;
  }
  p->bytes = dnnl_memory_desc_get_size(&p->layout);

  // The copy: a reorder from the caller's memory into the layout.
  dnnl_memory_t from = NULL;
  dnnl_primitive_desc_t reorder_pd = NULL;
  dnnl_primitive_t reorder = NULL;
  bool ok = dnnl_memory_create(&from, &source, engine, (void *)b) == dnnl_success &&
            dnnl_memory_create(&p->memory, &p->layout, engine, DNNL_MEMORY_ALLOCATE) == dnnl_success &&
            dnnl_reorder_primitive_desc_create(&reorder_pd, &source, engine, &p->layout, engine, NULL) ==
              dnnl_success &&
            dnnl_primitive_create(&reorder, reorder_pd) == dnnl_success;
  if (ok) {
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, p->memory}};
    pthread_mutex_lock(&execute_lock);
    ok = dnnl_primitive_execute(reorder, stream, 2, args) == dnnl_success && dnnl_stream_wait(stream) == dnnl_success;
    pthread_mutex_unlock(&execute_lock);
  }
  if (reorder) dnnl_primitive_destroy(reorder);
  if (reorder_pd) dnnl_primitive_desc_destroy(reorder_pd);
  if (from) dnnl_memory_destroy(from);
  if (!ok) {
    tdb_packed_free(p);
    return NULL;
  }
  return p;
}

size_t tdb_packed_bytes(const tdb_packed_matrix *p) { return p->bytes; }

// The primitive for this call's shape, made once (JIT compilation) and kept.
// Called under execute_lock.
static dnnl_primitive_t primitive_for(tdb_packed_matrix *p, ptrdiff_t rows, addend adds) {
  dnnl_primitive_t found = NULL;
  for (int i = 0; i < cached_primitives && !found; i++) {
    shaped_primitive *s = &p->primitives[i];
    if (s->primitive && s->rows == rows && s->adds == adds) {
      found = s->primitive;
    }
  }
  if (!found) {
    dnnl_primitive_desc_t pd = describe(rows, p->K, p->N, &p->layout, adds);
    if (pd && dnnl_primitive_create(&found, pd) != dnnl_success) found = NULL;
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (found) {
      shaped_primitive *slot = &p->primitives[p->next_slot];
      p->next_slot = (p->next_slot + 1) % cached_primitives;
      if (slot->primitive) dnnl_primitive_destroy(slot->primitive);
      *slot = (shaped_primitive){rows, adds, found};
    }
  }
  return found;
}

// A memory object over `data` for the primitive's execution argument `arg`,
// laid out as the primitive describes that argument (`describe` made it).
static bool argument_memory(dnnl_memory_t *memory, dnnl_primitive_t primitive, int arg, const float *data) {
  const_dnnl_primitive_desc_t pd = NULL;
  const dnnl_memory_desc_t *md = NULL;
  return dnnl_primitive_get_primitive_desc(primitive, &pd) == dnnl_success &&
         (md = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, arg)) != NULL &&
         dnnl_memory_create(memory, md, engine, (void *)data) == dnnl_success;
}

bool tdb_packed_sgemm(tdb_packed_matrix *p, ptrdiff_t M, const float *a, const float *bias, float beta, float *c,
                      int threads) {
  if (M <= 0 || (beta != 0 && beta != 1) || (bias && beta != 0)) return false;
  addend adds = bias ? adds_bias : beta == 1 ? adds_c : adds_nothing;
  pthread_mutex_lock(&execute_lock);
  dnnl_primitive_t primitive = primitive_for(p, M, adds);
  dnnl_memory_t src_memory = NULL, dst_memory = NULL, bias_memory = NULL;
  bool ok = primitive != NULL && argument_memory(&src_memory, primitive, DNNL_ARG_SRC, a) &&
            argument_memory(&dst_memory, primitive, DNNL_ARG_DST, c) &&
            (!bias || argument_memory(&bias_memory, primitive, DNNL_ARG_BIAS, bias));
  if (ok) {
    if (threads > 0 && omp_get_max_threads() != threads) omp_set_num_threads(threads);
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, src_memory}, {DNNL_ARG_WEIGHTS, p->memory}, {DNNL_ARG_DST, dst_memory},
                               {DNNL_ARG_BIAS, bias_memory}};
    ok = dnnl_primitive_execute(primitive, stream, bias ? 4 : 3, args) == dnnl_success &&
         dnnl_stream_wait(stream) == dnnl_success;
  }
  pthread_mutex_unlock(&execute_lock);
  if (src_memory) dnnl_memory_destroy(src_memory);
  if (dst_memory) dnnl_memory_destroy(dst_memory);
  if (bias_memory) dnnl_memory_destroy(bias_memory);
  return ok;
}

void tdb_packed_free(tdb_packed_matrix *p) {
  if (!p) return;
  for (int i = 0; i < cached_primitives; i++) {
    if (p->primitives[i].primitive) dnnl_primitive_destroy(p->primitives[i].primitive);
  }
  if (p->memory) dnnl_memory_destroy(p->memory);
  free(p);
}

bool tdb_packed_expected(void) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
#else
  return false;
#endif
}
