import CPacked
import Foundation
import Synchronization

/// Products with weights through oneDNN's brgemm kernel, on weights copied
/// once into its blocked layout, so that products skip the copy a BLAS makes
/// of its operands on every call (15–18% of a 128-token GPT-2 pass went to
/// OpenBLAS's packing routines). On GPT-2's shapes here a pass's products
/// take 0.76x of OpenBLAS's time at 128 rows and 0.58x of BLIS's at 16 rows
/// (scripts/bench-blas.sh).
///
/// A weight's first product of `minimumRows` or more rows reads its own
/// memory (the kernel packs as it goes); the second makes the copy: a
/// one-shot command does not pay for a copy it would use once, and a
/// session, script or sweep gets it from its second pass on. Both give the
/// same bits, so an answer never depends on whether a weight was packed yet.
/// The handles live with the weight's memory (`TensorBuffer.packedCopies`)
/// and go with it; a buffer with handles is read-only (a write copies it
/// first). Copies stop being made once they hold `limitBytes`
/// (`TDB_PACKED_MB`, default an eighth of the machine's memory, which holds
/// every weight of a 270M-parameter model and leaves room for activations
/// and a second model; 0: no copies); products then read the weights in
/// place, with the same results.
enum PackedWeights {
  /// Below this, matrix-vector products read each weight once and need no copy.
  static let minimumRows = 3
  /// Guards every buffer's `packedCopies`.
  static let lock = NSLock()
  /// Bytes held by packed copies in this process.
  static let heldBytes = Atomic<Int>(0)

  static let defaultLimitBytes: Int = {
    if let mb = ProcessInfo.processInfo.environment["TDB_PACKED_MB"].flatMap(Int.init), mb >= 0 {
      return mb << 20
    }
    return Int(ProcessInfo.processInfo.physicalMemory / 8)
  }()
  /// The cap on `heldBytes`; tests lower it.
  nonisolated(unsafe) static var limitBytes = defaultLimitBytes

  /// How a product reads a weight: op(b) is [K, N]; b is [K, N], or [N, K] read transposed.
  struct Layout: Hashable {
    let transposed: Bool
    let K: Int
    let N: Int
  }

  /// c[M, N] = a[M, K] · op(weight) + beta · c (+ bias[N] on every row, with
  /// beta 0: the kernel adds it as it writes c) through oneDNN, on the weight
  /// in place or on its packed copy; false when the caller should use BLAS.
  static func product(
    _ weight: Tensor, _ layout: Layout, M: Int, _ a: UnsafePointer<Float>, bias: UnsafePointer<Float>? = nil,
    beta: Float, _ c: UnsafeMutablePointer<Float>
  ) -> Bool {
    // Passes that run side by side (`collect`) keep BLAS to one thread each;
    // oneDNN runs one product at a time, so they stay on BLAS.
    guard M >= minimumRows, let threads = ComputeThreads.forOneDNN else { return false }
    guard weight.count == layout.K * layout.N, let packed = matrix(weight, layout) else { return false }
    return tdb_packed_sgemm(packed, M, a, bias, beta, c, Int32(threads))
  }

  /// oneDNN's handle on `weight` read as `layout`: over the weight's own
  /// memory on its first use, its packed copy from its second on.
  static func matrix(_ weight: Tensor, _ layout: Layout) -> OpaquePointer? {
    lock.lock()
    defer { lock.unlock() }
    let buffer = weight.buffer
    let copies = buffer.packedCopies ?? PackedCopies()
    buffer.packedCopies = copies
    let ldb = layout.transposed ? layout.K : layout.N
    switch copies.entries[layout] {
    case .packed(let p, _), .inPlace(let p, copyRefused: true): return p
    case .unavailable: return nil
    case nil:
      guard let p = tdb_pack(layout.transposed, layout.K, layout.N, weight.pointer, ldb, false) else {
        copies.entries[layout] = .unavailable
        return nil
      }
      copies.entries[layout] = .inPlace(p, copyRefused: false)
      return p
    case .inPlace(let inPlace, copyRefused: false):
      let bytes = layout.K * layout.N * MemoryLayout<Float>.size
      guard heldBytes.load(ordering: .relaxed) + bytes <= limitBytes,
        let p = tdb_pack(layout.transposed, layout.K, layout.N, weight.pointer, ldb, true)
      else {
        copies.entries[layout] = .inPlace(inPlace, copyRefused: true)
        return inPlace
      }
      heldBytes.add(tdb_packed_bytes(p), ordering: .relaxed)
      // The in-place handle stays until the weight goes: a product may be using it.
      copies.entries[layout] = .packed(p, inPlace: inPlace)
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

/// One buffer's oneDNN handles, by layout; freed with the buffer.
final class PackedCopies: @unchecked Sendable {
  enum Entry {
    /// Products read the weight's own memory (its first use, or its copy
    /// was refused: over the limit).
    case inPlace(OpaquePointer, copyRefused: Bool)
    case packed(OpaquePointer, inPlace: OpaquePointer)
    /// oneDNN has no kernel for it here: BLAS.
    case unavailable
  }
  var entries: [PackedWeights.Layout: Entry] = [:]

  deinit {
    for entry in entries.values {
      switch entry {
      case .inPlace(let p, _): tdb_packed_free(p)
      case .packed(let p, let inPlace):
        PackedWeights.heldBytes.subtract(tdb_packed_bytes(p), ordering: .relaxed)
        tdb_packed_free(p)
        tdb_packed_free(inPlace)
      case .unavailable: break
      }
    }
  }
}
