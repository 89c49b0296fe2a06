import CBLAS
import Foundation

/// How OpenBLAS's worker threads wait for work. After each product they spin
/// (calling `sched_yield`) for 2^28 cycles — a tenth of a second — before
/// sleeping, so while tdb's own loops run on every core (attention, GELU,
/// norms) they compete with a spinning thread: 10–15% of a 1024-token
/// Pythia forward. OpenBLAS reads the spin from `OPENBLAS_THREAD_TIMEOUT`
/// when the library loads, before tdb's code runs; so tdb sets it to 2^18
/// cycles (about 0.1 ms, enough to bridge back-to-back products) and
/// restarts the threads, unless the user chose a value.
enum BLASThreads {
  static let spinExponent = "18"

  /// Touch once before the first product (a model's initialiser does).
  static let configured: Void = {
    guard ProcessInfo.processInfo.environment["OPENBLAS_THREAD_TIMEOUT"] == nil else { return }
    setenv("OPENBLAS_THREAD_TIMEOUT", spinExponent, 1)
    openblas_read_env()
    _ = blas_thread_shutdown_()
    _ = blas_thread_init()
  }()
}
