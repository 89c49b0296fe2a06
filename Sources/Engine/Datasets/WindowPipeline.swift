import CBLAS
import Foundation

/// Keeps every core busy during a collection: a reader thread cuts the
/// corpus into windows, one worker thread per core runs the model on them
/// (BLAS single-threaded, so that idle BLAS threads do not spin against the
/// workers), and the caller takes the results with `next()` to add them to
/// the statistics. Windows arrive in any order; the accumulator does not
/// care (see `DatasetAccumulator`). Queues are short, so memory stays bounded.
final class WindowPipeline: @unchecked Sendable {
  private let work: BoundedQueue<CorpusWindow>
  private let results: BoundedQueue<ActivationCollector.WindowActivations>
  private let blasThreads: Int32
  private var stopped = false

  init(
    windows: CorpusWindows, wanted: @escaping (Int) -> Bool, collector: ActivationCollector,
    shouldStop: @escaping () -> Bool
  ) {
    let workers = max(1, ComputeThreads.count)
    // Short queues: a window's activations are large for big models.
    work = BoundedQueue(capacity: 1, producers: 1)
    results = BoundedQueue(capacity: 1, producers: workers)
    blasThreads = openblas_get_num_threads()
    openblas_set_num_threads(1)
    let work = work, results = results
    let reader = Thread {
      do {
        try windows.forEach(wanted: wanted) { work.push($0) }
        work.finish(nil)
      } catch {
        work.finish(error)
      }
    }
    reader.stackSize = 8 << 20
    reader.start()
    for _ in 0..<workers {
      let worker = Thread {
        do {
          while let w = try work.pop() {
            let a = try collector.compute(w, shouldStop: { results.isClosed || shouldStop() })
            if !results.push(a) { break }
          }
          results.finish(nil)
        } catch {
          results.finish(error)
        }
      }
      worker.stackSize = 8 << 20
      worker.start()
    }
  }

  /// The next window's activations; nil when the corpus (or this shard of
  /// it) is done or the run was interrupted; rethrows the workers' errors.
  func next() throws -> ActivationCollector.WindowActivations? { try results.pop() }

  /// Whether a forward pass stopped on `shouldStop`.
  var wasInterrupted: Bool { results.failures.contains { ($0 as? ModelError) == .interrupted } }

  /// Stops the threads, waits for them, and gives BLAS its threads back.
  func stop() {
    guard !stopped else { return }
    stopped = true
    results.close()
    work.close()
    openblas_set_num_threads(blasThreads)
  }
}

/// A bounded queue between threads. Producers `push` (waiting for room) and
/// each calls `finish` once when done; the consumer `pop`s until every
/// producer has finished, or `close`s it to make producers stop.
final class BoundedQueue<T>: @unchecked Sendable {
  private let condition = NSCondition()
  private var items: [T] = []
  private let capacity: Int
  private var running: Int
  private var closed = false
  private(set) var failures: [Error] = []

  init(capacity: Int, producers: Int) {
    self.capacity = capacity
    running = producers
  }

  /// The consumer has given up: producers should stop.
  var isClosed: Bool { condition.withLock { closed } }

  /// Adds an item, waiting for room; false if the queue has been closed.
  func push(_ item: T) -> Bool {
    condition.lock()
    defer { condition.unlock() }
    while items.count >= capacity && !closed { condition.wait() }
    if closed { return false }
    items.append(item)
    condition.broadcast()
    return true
  }

  /// One producer is done, with an error or without.
  func finish(_ error: Error?) {
    condition.lock()
    running -= 1
    if let error { failures.append(error) }
    // A failed producer stops the others too (an interruption stops them by itself).
    if let error, (error as? ModelError) != .interrupted { closed = true }
    condition.broadcast()
    condition.unlock()
  }

  /// The next item; nil once every producer has finished (or the queue is
  /// closed) and it is empty. Rethrows a producer's error other than an interruption.
  func pop() throws -> T? {
    condition.lock()
    defer { condition.unlock() }
    while items.isEmpty && running > 0 && !closed { condition.wait() }
    if let failure = failures.first(where: { ($0 as? ModelError) != .interrupted }) { throw failure }
    if items.isEmpty { return nil }
    let item = items.removeFirst()
    condition.broadcast()
    return item
  }

  /// Makes producers stop and waits until all have finished.
  func close() {
    condition.lock()
    closed = true
    items.removeAll()
    condition.broadcast()
    while running > 0 { condition.wait() }
    condition.unlock()
  }
}
