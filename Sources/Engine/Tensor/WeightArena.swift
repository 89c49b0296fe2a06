import Foundation

/// Memory for a model's weight matrices, laid end to end in a few large
/// mappings of their own, every matrix starting on a 64-byte cache line.
///
/// Why: a product of few rows (a short prompt) reads its weight a column
/// strip of 16 floats at a time, and malloc's 16-byte alignment splits each
/// such piece of a row across two cache lines. On a Zen 3, BLIS's products
/// of 16 rows over SmolLM2's 30 blocks' weights took 50-58 ms with every
/// matrix 16 bytes past a line against 34-36 ms on lines, and a whole
/// 16-token SmolLM2 `predict` took 0.87-0.92x as long with its weights here.
/// Aligning every malloc'd tensor instead gained as much but raised that
/// command's peak RSS from 702 to 828 MiB (the aligned weights and the
/// load's freed temporaries fragmented malloc's heap); here it is 669 MiB.
///
/// Not on huge pages, though 2 MiB pages made those products about 12%
/// faster again: on a virtual machine that hands freed memory back to its
/// host (free page reporting), a fresh huge page cost ten times what 512
/// small ones do (424 MB in 2.8-4.2 s against 0.25-0.65 s), a cold SmolLM2
/// `predict` then taking 2-3 s instead of 0.5; and moving the weights to
/// huge pages later, on a thread of idle priority, slowed the passes it ran
/// beside (a 128-token forward by 16%).
///
/// Weights handed out are borrowed memory (`Tensor(shape:borrowing:owner:)`):
/// each keeps its slab alive, and writing to one copies it first, as for a
/// weight read from a mapped file.
final class WeightArena: @unchecked Sendable {
  /// A slab is at least this large; a larger matrix gets a slab of its own size.
  static let slabBytes = 64 << 20
  /// Every matrix starts on a cache line.
  static let alignment = 64

  private let lock = NSLock()
  private var slab: WeightSlab?
  private var used = 0

  /// A tensor of `shape` in the arena, written by `fill` before anyone else
  /// sees it (a borrowed tensor cannot be written in place afterwards).
  /// Where no mapping can be had, an ordinary tensor.
  func tensor(shape: [Int], fill: (UnsafeMutablePointer<Float>) -> Void) -> Tensor {
    let count = shape.reduce(1, *)
    guard let (slab, offset) = place(bytes: max(count, 1) * MemoryLayout<Float>.stride) else {
      var t = Tensor(uninitialized: shape)
      fill(t.mutablePointer())
      return t
    }
    let pointer = (slab.start + offset).bindMemory(to: Float.self, capacity: max(count, 1))
    fill(pointer)
    return Tensor(shape: shape, borrowing: pointer, owner: slab)
  }

  /// The slab and byte offset for `bytes` more, opening a new slab when the
  /// current one is full (the rest of the old one is never touched, so it
  /// takes no memory).
  private func place(bytes: Int) -> (WeightSlab, Int)? {
    let rounded = (bytes + Self.alignment - 1) / Self.alignment * Self.alignment
    lock.lock()
    defer { lock.unlock() }
    if let slab, used + rounded <= slab.length {
      defer { used += rounded }
      return (slab, used)
    }
    guard let fresh = WeightSlab(length: max(Self.slabBytes, rounded)) else { return nil }
    slab = fresh
    used = rounded
    return (fresh, 0)
  }
}

/// One mapping of an arena; unmapped when the last weight in it goes.
final class WeightSlab: @unchecked Sendable {
  let start: UnsafeMutableRawPointer
  let length: Int

  init?(length: Int) {
    guard let start = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
      start != MAP_FAILED
    else { return nil }
    self.start = start
    self.length = length
  }

  deinit { munmap(start, length) }
}
