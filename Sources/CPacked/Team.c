// The engine's own parallel loops (elementwise kernels, attention's items)
// run on the same OpenMP threads as oneDNN's products. With a second pool
// (libdispatch's) the two took turns badly: after each product libgomp's
// idle threads spin for a while before they sleep, and on a small machine
// that spin took the cores the next loop's workers wanted. One pool made
// GPT-2's 128-token forward 5%, its 1024-token forward 6% and its 128-token
// gradient 9% faster (medians of 9 runs each, the two builds alternating).
#include "CPacked.h"

// libgomp's entry for a parallel region (what gcc emits for
// `#pragma omp parallel`), declared here because clang does not ship
// gcc's omp.h.
extern void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);
extern int omp_get_thread_num(void);
extern int omp_get_num_threads(void);

typedef struct {
  void (*body)(void *context, int worker);
  void *context;
  int workers;
} team_job;

// A region can get fewer threads than asked (nested inside another region
// it gets one), so each thread takes every worker index its rank leads to:
// every index runs exactly once whatever the team's size.
static void run_workers(void *data) {
  const team_job *job = data;
  for (int w = omp_get_thread_num(); w < job->workers; w += omp_get_num_threads()) job->body(job->context, w);
}

void tdb_team(int workers, void (*body)(void *context, int worker), void *context) {
  team_job job = {body, context, workers};
  GOMP_parallel(run_workers, &job, (unsigned)workers, 0);
}
