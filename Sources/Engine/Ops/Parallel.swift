import CBLAS
import CPacked
import Foundation
import Synchronization

/// Runs `body` over `0..<count` split into contiguous chunks on the available cores.
func parallelChunks(_ count: Int, minimumChunk: Int, _ body: (Range<Int>) -> Void) {
  let workers = min(ComputeThreads.count, max(1, count / minimumChunk))
  if workers <= 1 {
    body(0..<count)
    return
  }
  let chunk = (count + workers - 1) / workers
  onCores(workers) { w in
    let lo = w * chunk
    let hi = min(count, lo + chunk)
    if lo < hi { body(lo..<hi) }
  }
}

/// How many threads the engine's own loops use: the cores present, or
/// `TDB_THREADS` / `OMP_NUM_THREADS` / `OPENBLAS_NUM_THREADS` if smaller.
enum ComputeThreads {
  static let count: Int = {
    let cores = ProcessInfo.processInfo.activeProcessorCount
    let env = ProcessInfo.processInfo.environment
    for key in ["TDB_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"] {
      if let v = env[key].flatMap(Int.init), v > 0 { return min(v, cores) }
    }
    return cores
  }()

  /// The cores a loop or product may use from here: `count`, or as few as
  /// BLAS is kept to (one inside withWorkersOverBLAS's workers, and in
  /// passes run side by side).
  static var besideBLAS: Int { min(count, Int(openblas_get_num_threads())) }

  /// The OpenMP threads a oneDNN product called from here runs on; nil where
  /// BLAS is kept to one thread (passes run side by side, `collect`, each
  /// caller of which would open an OpenMP team of its own, or the workers of
  /// withWorkersOverBLAS, inside whose region oneDNN runs on the caller alone).
  static var forOneDNN: Int? { Int(openblas_get_num_threads()) > 1 || count == 1 ? besideBLAS : nil }
}

/// Runs `worker` once on each core, for `items` independent pieces of work
/// that each call BLAS: the worker pulls item indices from `next()` (nil
/// when all are handed out) and BLAS runs single-threaded meanwhile, so its
/// threads and these do not compete for the cores. Where BLAS is already
/// single-threaded (a caller parallelises at a higher level, as `collect`
/// does over windows) or there is one core, one worker takes every item.
func withWorkersOverBLAS(items: Int, _ worker: (_ next: () -> Int?) -> Void) {
  let blasThreads = openblas_get_num_threads()
  let workers = min(ComputeThreads.besideBLAS, items)
  let counter = Atomic<Int>(0)
  let next = { () -> Int? in
    let i = counter.wrappingAdd(1, ordering: .relaxed).oldValue
    return i < items ? i : nil
  }
  guard workers > 1 else {
    worker(next)
    return
  }
  openblas_set_num_threads(1)
  defer { openblas_set_num_threads(blasThreads) }
  onCores(workers, blasThreads: Int(blasThreads)) { _ in worker(next) }
}

/// Runs `body(w)` once for each w in 0..<workers, concurrently, and returns
/// when all have. The engine's loops run on the OpenMP threads oneDNN's
/// products use, and without oneDNN OpenBLAS's column blocks too
/// (`blasProduct`): `tdb_team`, one pool, so its idle threads do not spin
/// on the cores the loop wants. Where BLAS is kept to one thread because the
/// caller runs several passes at once (`blasThreads` 1: `collect`'s
/// windows, each on a libdispatch thread), libdispatch shares the cores out
/// instead: an OpenMP region opened from each of those threads would start
/// a pool of its own.
func onCores(_ workers: Int, blasThreads: Int = Int(openblas_get_num_threads()), _ body: (Int) -> Void) {
  guard blasThreads > 1 else {
    DispatchQueue.concurrentPerform(iterations: workers, execute: body)
    return
  }
  withoutActuallyEscaping(body) { body in
    var job = body
    withUnsafeMutablePointer(to: &job) { job in
      tdb_team(
        Int32(workers), { context, w in context!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(Int(w)) }, job)
    }
  }
}

/// `transform` of each of 0..<count, run on the cores, results in order;
/// throws the error of the lowest index that threw. Loading a model maps
/// its blocks this way: each block's weights are dequantized and transposed
/// independently, about half of a cold one-shot command.
func parallelMap<T>(_ count: Int, _ transform: (Int) throws -> T) throws -> [T] {
  var results = [Result<T, any Error>?](repeating: nil, count: count)
  results.withUnsafeMutableBufferPointer { slots in
    let slots = slots
    DispatchQueue.concurrentPerform(iterations: count) { i in slots[i] = Result { try transform(i) } }
  }
  return try results.map { try $0!.get() }
}

/// `side` on another thread while `main` runs on this one; both results, or
/// the error of `main` first (then of `side`). Loading a model reads its
/// tokenizer this way while its weights are mapped and converted.
func alongside<Side, Main>(_ side: @escaping @Sendable () throws -> Side, _ main: () throws -> Main) throws -> (
  Side, Main
) {
  let box = SideResult<Side>()
  let done = DispatchSemaphore(value: 0)
  DispatchQueue.global().async {
    box.result = Result { try side() }
    done.signal()
  }
  let mainResult = Result { try main() }
  done.wait()
  let mainValue = try mainResult.get()
  return (try box.result!.get(), mainValue)
}

/// Where `alongside` keeps the other thread's result (written before the
/// semaphore is signalled, read after it is waited for).
private final class SideResult<Value>: @unchecked Sendable {
  var result: Result<Value, any Error>?
}
