import CBLAS
import CPacked
import Foundation
import Synchronization

/// Weight matrices copied once into oneDNN's blocked layout, so that products
/// skip the copy a BLAS makes of its operands on every call (15–18% of a
/// 128-token GPT-2 pass went to OpenBLAS's packing routines). On GPT-2's
/// shapes here a pass's products take 0.77x of OpenBLAS's time at 128 rows
/// and 0.57–0.72x of BLIS's at 3–16 rows (scripts/bench-blas.sh).
///
/// A matrix is packed the second time a product of `minimumRows` or more rows
/// reads it the same way: a one-shot command does not pay for a copy it would
/// use once, and a session, script or sweep gets it from its second pass on.
/// The copies live with the weight's memory (`TensorBuffer.packedCopies`) and
/// go with it; a buffer with copies is read-only (a write copies it first).
/// Copies stop being made once they hold `limitBytes` (`TDB_PACKED_MB`,
/// default a quarter of the machine's memory; 0 turns packing off); products
/// then use BLAS.
enum PackedWeights {
  /// Below this, matrix-vector products read each weight once and need no copy.
  static let minimumRows = 3
  /// Guards every buffer's `packedCopies` and each copy's use count.
  static let lock = NSLock()
  /// Bytes held by packed copies in this process.
  static let heldBytes = Atomic<Int>(0)

  static let defaultLimitBytes: Int = {
    if let mb = ProcessInfo.processInfo.environment["TDB_PACKED_MB"].flatMap(Int.init), mb >= 0 {
      return mb << 20
    }
    return Int(ProcessInfo.processInfo.physicalMemory / 4)
  }()
  /// The cap on `heldBytes`; tests lower it.
  nonisolated(unsafe) static var limitBytes = defaultLimitBytes

  /// How a product reads a weight: op(b) is [K, N]; b is [K, N], or [N, K] read transposed.
  struct Layout: Hashable {
    let transposed: Bool
    let K: Int
    let N: Int
  }

  /// c[M, N] = a[M, K] · op(weight) + beta · c with a packed copy of the
  /// weight, if it has one (or gets one now); false when the caller should
  /// use BLAS instead.
  static func product(
    _ weight: Tensor, _ layout: Layout, M: Int, _ a: UnsafePointer<Float>, beta: Float,
    _ c: UnsafeMutablePointer<Float>
  ) -> Bool {
    // Passes that run side by side (`collect`) keep BLAS to one thread each;
    // oneDNN runs one product at a time, so they stay on BLAS.
    let blasThreads = Int(openblas_get_num_threads())
    guard M >= minimumRows, blasThreads > 1 || ComputeThreads.count == 1 else { return false }
    guard weight.count == layout.K * layout.N, let packed = matrix(weight, layout) else { return false }
    return tdb_packed_sgemm(
      packed, M, a, layout.K, beta, c, layout.N, Int32(min(ComputeThreads.count, blasThreads)))
  }

  /// The packed copy of `weight` read as `layout`, made on its second use.
  static func matrix(_ weight: Tensor, _ layout: Layout) -> OpaquePointer? {
    lock.lock()
    defer { lock.unlock() }
    let buffer = weight.buffer
    let copies = buffer.packedCopies ?? PackedCopies()
    buffer.packedCopies = copies
    switch copies.entries[layout] {
    case .packed(let p): return p
    case .unavailable: return nil
    case nil:
      copies.entries[layout] = .seenOnce
      return nil
    case .seenOnce:
      let bytes = layout.K * layout.N * MemoryLayout<Float>.size
      guard heldBytes.load(ordering: .relaxed) + bytes <= limitBytes,
        let p = tdb_pack(layout.transposed, layout.K, layout.N, weight.pointer, layout.transposed ? layout.K : layout.N)
      else {
        copies.entries[layout] = .unavailable
        return nil
      }
      heldBytes.add(tdb_packed_bytes(p), ordering: .relaxed)
      copies.entries[layout] = .packed(p)
      return p
    }
  }

  /// Whether `weight` has a packed copy read as `layout` (for tests).
  static func isPacked(_ weight: Tensor, _ layout: Layout) -> Bool {
    lock.lock()
    defer { lock.unlock() }
    if case .packed = weight.buffer.packedCopies?.entries[layout] { return true }
    return false
  }
}

/// One buffer's packed copies, by layout; freed with the buffer.
final class PackedCopies: @unchecked Sendable {
  enum Entry {
    case seenOnce
    case packed(OpaquePointer)
    /// Not packable here, or over the limit: BLAS from now on.
    case unavailable
  }
  var entries: [PackedWeights.Layout: Entry] = [:]

  deinit {
    for case .packed(let p) in entries.values {
      PackedWeights.heldBytes.subtract(tdb_packed_bytes(p), ordering: .relaxed)
      tdb_packed_free(p)
    }
  }
}
