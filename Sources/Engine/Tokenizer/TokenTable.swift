/// The vocabulary's byte strings and ids, looked up by byte slice.
///
/// All token bytes live end to end in one array with an open-addressing index
/// over them, so loading 50k tokens and 150k merge lookups allocate nothing
/// per token; a `[[UInt8]: Int]` dictionary made loading several times slower.
struct TokenTable {
  /// Token bytes end to end; entry e is `arena[starts[e]..<starts[e + 1]]`.
  private var arena: [UInt8] = []
  private var starts: [Int] = [0]
  private var entryIDs: [Int] = []
  /// Entry of each id, or -1 for ids never defined.
  private var entryOfID: [Int32] = []
  /// Open-addressing slots holding entry indices, -1 when empty.
  private var slots: [Int32]

  /// An empty table with room for about `capacity` tokens before it grows.
  init(capacity: Int = 0) {
    arena.reserveCapacity(max(1 << 19, capacity * 8))
    starts.reserveCapacity(capacity + 1)
    entryIDs.reserveCapacity(capacity)
    entryOfID.reserveCapacity(capacity)
    var slotCount = 1 << 16
    while slotCount < capacity * 2 { slotCount *= 2 }
    slots = [Int32](repeating: -1, count: slotCount)
  }

  /// One more than the largest id.
  var idCount: Int { entryOfID.count }

  /// Adds a token; a repeated token keeps the later id, as a JSON object does.
  mutating func insert(_ bytes: UnsafeBufferPointer<UInt8>, id: Int) {
    var slot = slotIndex(of: bytes)
    if slots[slot] < 0 {
      if (entryIDs.count + 1) * 2 > slots.count {
        grow()
        slot = slotIndex(of: bytes)
      }
      slots[slot] = Int32(entryIDs.count)
      arena.append(contentsOf: bytes)
      starts.append(arena.count)
      entryIDs.append(id)
    } else {
      entryIDs[Int(slots[slot])] = id
    }
    while id >= entryOfID.count { entryOfID.append(-1) }
    entryOfID[id] = slots[slot]
  }

  /// The id of exactly these bytes, or nil.
  func id(of bytes: UnsafeBufferPointer<UInt8>) -> Int? {
    let entry = slots[slotIndex(of: bytes)]
    return entry < 0 ? nil : entryIDs[Int(entry)]
  }

  func id(of bytes: [UInt8]) -> Int? {
    bytes.withUnsafeBufferPointer { id(of: $0) }
  }

  /// The bytes of an id, or nil if the id is out of range or undefined.
  func bytes(of id: Int) -> ArraySlice<UInt8>? {
    guard id >= 0, id < entryOfID.count, entryOfID[id] >= 0 else { return nil }
    let entry = Int(entryOfID[id])
    return arena[starts[entry]..<starts[entry + 1]]
  }

  /// The slot holding these bytes, or the empty slot where they belong.
  private func slotIndex(of bytes: UnsafeBufferPointer<UInt8>) -> Int {
    let mask = slots.count - 1
    var slot = Int(truncatingIfNeeded: Self.hash(bytes)) & mask
    return arena.withUnsafeBufferPointer { arena in
      while true {
        let entry = slots[slot]
        if entry < 0 { return slot }
        let start = starts[Int(entry)]
        let end = starts[Int(entry) + 1]
        if end - start == bytes.count, memcmpEqual(arena.baseAddress.map { $0 + start }, bytes.baseAddress, bytes.count)
        {
          return slot
        }
        slot = (slot + 1) & mask
      }
    }
  }

  private mutating func grow() {
    let mask = slots.count * 2 - 1
    var bigger = [Int32](repeating: -1, count: slots.count * 2)
    arena.withUnsafeBufferPointer { arena in
      for entry in 0..<entryIDs.count {
        let token = UnsafeBufferPointer(rebasing: arena[starts[entry]..<starts[entry + 1]])
        var slot = Int(truncatingIfNeeded: Self.hash(token)) & mask
        while bigger[slot] >= 0 { slot = (slot + 1) & mask }
        bigger[slot] = Int32(entry)
      }
    }
    slots = bigger
  }

  /// FNV-1a, then a final mix so the low bits used for the slot are spread.
  private static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes { h = (h ^ UInt64(byte)) &* 0x100_0000_01b3 }
    h ^= h >> 29
    return (h &* 0xbf58_476d_1ce5_e9b9) ^ (h >> 32)
  }
}

/// Byte equality of two regions (either may be empty with a nil base).
private func memcmpEqual(_ a: UnsafePointer<UInt8>?, _ b: UnsafePointer<UInt8>?, _ count: Int) -> Bool {
  guard count > 0, let a, let b else { return true }
  for i in 0..<count where a[i] != b[i] { return false }
  return true
}
