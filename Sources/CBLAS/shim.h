#include <cblas.h>

// OpenBLAS exports these without declaring them in cblas.h: they re-read its
// environment variables and restart its worker threads (BLASThreads.swift).
void openblas_read_env(void);
int blas_thread_init(void);
int blas_thread_shutdown_(void);
