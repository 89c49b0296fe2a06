import Foundation

/// The memory behind a tensor: either owned by the tensor or borrowed from a
/// memory-mapped file (then `owner` keeps the mapping alive and the memory is
/// read-only).
public final class TensorBuffer: @unchecked Sendable {
  public let pointer: UnsafeMutablePointer<Float>
  public let count: Int
  let owner: AnyObject?
  /// Owned memory of a large buffer is its own mapping (`LargeAllocation`), not malloc's.
  private let mapping: LargeAllocation?
  /// Copies of this weight in oneDNN's layout (`PackedWeights`, under its
  /// lock). A buffer that has them is never written in place.
  var packedCopies: PackedCopies?

  /// Zero-filled owned memory of `count` floats.
  init(zeros count: Int) {
    self.count = count
    owner = nil
    if let m = LargeAllocation(floats: count, zeroed: true) {
      mapping = m
      pointer = m.pointer
    } else {
      mapping = nil
      pointer = .allocate(capacity: max(count, 1))
      pointer.initialize(repeating: 0, count: max(count, 1))
    }
  }

  /// Owned memory of `count` floats, not yet written: for results an
  /// operation overwrites entirely (large buffers skip a pass of zeroing).
  init(uninitialized count: Int) {
    self.count = count
    owner = nil
    mapping = LargeAllocation(floats: count, zeroed: false)
    pointer = mapping?.pointer ?? .allocate(capacity: max(count, 1))
  }

  /// Borrowed memory; `owner` must keep `pointer` valid.
  init(borrowing pointer: UnsafeMutablePointer<Float>, count: Int, owner: AnyObject) {
    self.pointer = pointer
    self.count = count
    self.owner = owner
    mapping = nil
  }

  var isOwned: Bool { owner == nil }

  deinit {
    if let mapping {
      mapping.release()
    } else if owner == nil {
      pointer.deallocate()
    }
  }
}

/// A large buffer (logits of a long prompt, an MLP activation, a dequantized
/// weight) mapped on its own, backed by transparent huge pages where the
/// kernel allows them, and kept for reuse when its tensor goes (see
/// `LargeAllocationPool`).
struct LargeAllocation: @unchecked Sendable {
  /// Buffers from this size up get their own mapping; smaller ones come from malloc.
  static let threshold = 4 << 20
  static let hugePage = 2 << 20

  let pointer: UnsafeMutablePointer<Float>
  fileprivate let base: UnsafeMutableRawPointer
  fileprivate let length: Int

  /// Memory for `floats` floats, recycled or newly mapped; nil below the threshold.
  /// `zeroed` asks for zeros (newly mapped memory is, recycled memory is cleared).
  init?(floats: Int, zeroed: Bool) {
    let bytes = floats * MemoryLayout<Float>.stride
    guard bytes >= Self.threshold else { return nil }
    // One huge page more than asked, so the buffer can start on a huge-page boundary.
    let length = (bytes + 2 * Self.hugePage - 1) / Self.hugePage * Self.hugePage
    if let recycled = LargeAllocationPool.shared.take(length: length) {
      self = recycled
      if zeroed { pointer.initialize(repeating: 0, count: floats) }
      return
    }
    guard let base = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
      base != MAP_FAILED
    else { return nil }
    let aligned = (Int(bitPattern: base) + Self.hugePage - 1) / Self.hugePage * Self.hugePage
    let start = UnsafeMutableRawPointer(bitPattern: aligned)!
    madvise(start, length - (aligned - Int(bitPattern: base)), MADV_HUGEPAGE)
    self.base = base
    self.length = length
    pointer = start.assumingMemoryBound(to: Float.self)
  }

  /// Hands the memory back for reuse.
  func release() { LargeAllocationPool.shared.give(self) }
}

/// Large buffers freed by tensors, kept for the next tensor of the same
/// size. Memory a process touches for the first time is expensive — the
/// kernel zeroes every page, and on a virtual machine the host may have to
/// fault it in too (measured here: a fresh [1024, 262144] logits tensor
/// cost more than the matrix product that fills it) — while a forward pass
/// asks for the same sizes block after block and run after run. At most
/// `limit` bytes wait here; beyond it the buffers freed longest ago are
/// unmapped.
final class LargeAllocationPool: @unchecked Sendable {
  static let shared = LargeAllocationPool()
  static let limit = 1536 << 20

  private let lock = NSLock()
  /// Oldest first.
  private var waiting: [LargeAllocation] = []
  private var bytes = 0

  /// Bytes of the buffers waiting for reuse.
  var waitingBytes: Int {
    lock.lock()
    defer { lock.unlock() }
    return bytes
  }

  func take(length: Int) -> LargeAllocation? {
    lock.lock()
    defer { lock.unlock() }
    guard let i = waiting.lastIndex(where: { $0.length == length }) else { return nil }
    bytes -= length
    return waiting.remove(at: i)
  }

  func give(_ allocation: LargeAllocation) {
    lock.lock()
    waiting.append(allocation)
    bytes += allocation.length
    var unmap: [LargeAllocation] = []
    while bytes > Self.limit, !waiting.isEmpty {
      let oldest = waiting.removeFirst()
      bytes -= oldest.length
      unmap.append(oldest)
    }
    lock.unlock()
    for a in unmap { munmap(a.base, a.length) }
  }
}

/// A dense row-major fp32 array with a shape: the engine's one numeric type.
///
/// Value semantics: copies share memory until one of them is written, and a
/// tensor borrowed from a memory-mapped checkpoint is copied on first write.
public struct Tensor: @unchecked Sendable {
  /// Sizes of the dimensions, outermost first; `[]` is a scalar.
  public private(set) var shape: [Int]
  var buffer: TensorBuffer

  /// A zero tensor of the given shape.
  public init(zeros shape: [Int]) {
    self.shape = shape
    buffer = TensorBuffer(zeros: shape.reduce(1, *))
  }

  /// A tensor whose every element the caller writes before reading any.
  init(uninitialized shape: [Int]) {
    self.shape = shape
    buffer = TensorBuffer(uninitialized: shape.reduce(1, *))
  }

  /// A tensor holding `scalars` (row-major) with the given shape.
  public init(shape: [Int], scalars: [Float]) {
    precondition(shape.reduce(1, *) == scalars.count, "shape \(shape) does not hold \(scalars.count) values")
    self.init(zeros: shape)
    scalars.withUnsafeBufferPointer { src in
      buffer.pointer.update(from: src.baseAddress!, count: src.count)
    }
  }

  /// A tensor viewing memory it does not own (a memory-mapped weight).
  init(shape: [Int], borrowing pointer: UnsafeMutablePointer<Float>, owner: AnyObject) {
    self.shape = shape
    buffer = TensorBuffer(borrowing: pointer, count: shape.reduce(1, *), owner: owner)
  }

  /// Number of elements.
  public var count: Int { buffer.count }
  /// Number of dimensions.
  public var rank: Int { shape.count }
  /// The elements in row-major order.
  public var scalars: [Float] { Array(UnsafeBufferPointer(start: buffer.pointer, count: count)) }

  /// Read-only access to the elements.
  @inline(__always)
  public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
    try body(UnsafeBufferPointer(start: buffer.pointer, count: count))
  }

  /// Read-write access; copies first if the memory is shared or borrowed.
  @inline(__always)
  public mutating func withUnsafeMutableBufferPointer<R>(
    _ body: (UnsafeMutableBufferPointer<Float>) throws -> R
  ) rethrows -> R {
    makeUniqueAndOwned()
    return try body(UnsafeMutableBufferPointer(start: buffer.pointer, count: count))
  }

  /// Read-only base pointer, valid while this tensor is alive and unmodified.
  public var pointer: UnsafePointer<Float> { UnsafePointer(buffer.pointer) }

  /// Mutable base pointer after ensuring unique ownership.
  public mutating func mutablePointer() -> UnsafeMutablePointer<Float> {
    makeUniqueAndOwned()
    return buffer.pointer
  }

  mutating func makeUniqueAndOwned() {
    if !isKnownUniquelyReferenced(&buffer) || !buffer.isOwned || buffer.packedCopies != nil {
      let copy = TensorBuffer(zeros: buffer.count)
      copy.pointer.update(from: buffer.pointer, count: buffer.count)
      buffer = copy
    }
  }

  /// Element at a flat (row-major) index.
  public subscript(flat index: Int) -> Float {
    get { buffer.pointer[index] }
    set {
      makeUniqueAndOwned()
      buffer.pointer[index] = newValue
    }
  }

  /// Element at a full multi-dimensional index.
  public subscript(_ index: Int...) -> Float {
    get { buffer.pointer[flatIndex(index)] }
    set {
      makeUniqueAndOwned()
      buffer.pointer[flatIndex(index)] = newValue
    }
  }

  /// Row-major strides of the shape.
  public var strides: [Int] {
    var s = [Int](repeating: 1, count: shape.count)
    var acc = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) {
      s[i] = acc
      acc *= shape[i]
    }
    return s
  }

  func flatIndex(_ index: [Int]) -> Int {
    precondition(index.count == shape.count, "index \(index) for shape \(shape)")
    var flat = 0
    for (i, n) in zip(index, shape) { flat = flat * n + i }
    return flat
  }

  /// The same elements with another shape of the same size.
  public func reshaped(_ newShape: [Int]) -> Tensor {
    precondition(newShape.reduce(1, *) == count, "cannot reshape \(shape) to \(newShape)")
    var t = self
    t.shape = newShape
    return t
  }

  /// Sub-tensor at `index` along the first dimension (a row), copied.
  public func row(_ index: Int) -> Tensor {
    precondition(rank >= 1 && index >= 0 && index < shape[0])
    let inner = Array(shape.dropFirst())
    let n = inner.reduce(1, *)
    let out = Tensor(zeros: inner)
    out.buffer.pointer.update(from: buffer.pointer + index * n, count: n)
    return out
  }

  /// Rows `range` along the first dimension, copied.
  public func rows(_ range: Range<Int>) -> Tensor {
    precondition(rank >= 1 && range.lowerBound >= 0 && range.upperBound <= shape[0])
    let n = shape.dropFirst().reduce(1, *)
    let out = Tensor(zeros: [range.count] + shape.dropFirst())
    out.buffer.pointer.update(from: buffer.pointer + range.lowerBound * n, count: range.count * n)
    return out
  }

  /// Columns `range` of a matrix [R, K], copied into [R, range.count].
  public func columns(_ range: Range<Int>) -> Tensor {
    precondition(rank == 2 && range.lowerBound >= 0 && range.upperBound <= shape[1])
    let R = shape[0], K = shape[1], n = range.count
    let out = Tensor(zeros: [R, n])
    for r in 0..<R { (out.buffer.pointer + r * n).update(from: buffer.pointer + r * K + range.lowerBound, count: n) }
    return out
  }
}

extension Tensor: Equatable {
  public static func == (a: Tensor, b: Tensor) -> Bool {
    a.shape == b.shape && a.withUnsafeBufferPointer { x in b.withUnsafeBufferPointer { y in x.elementsEqual(y) } }
  }
}

extension Tensor: CustomStringConvertible {
  public var description: String { "Tensor\(shape)" }
}
