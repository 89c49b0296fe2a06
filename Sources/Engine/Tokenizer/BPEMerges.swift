import Foundation

/// Ranked merges of token-id pairs and the BPE loop over them, shared by
/// GPT-2's tokenizer and Hugging Face BPE models.
///
/// The merges are an open-addressing table keyed by the id pair, with key
/// and merge side by side: loading GPT-2's 50,000 merges into a Swift
/// Dictionary (SipHash on every key) took 3 ms more of a 25 ms load.
struct BPEMerges {
  struct Merge {
    var rank: Int32
    var id: Int32
    static let none = Merge(rank: .max, id: -1)
  }

  /// A slot: the pair's key, `emptyKey` when free, and its merge.
  private struct Slot {
    var key: UInt64
    var merge: Merge
  }
  /// Key and merge side by side, so a look-up touches one cache line.
  private var slots: [Slot]
  private(set) var count = 0
  private var nextRank: Int32 = 0
  /// No pair key has all bits set: ids are below 2^31.
  private static let emptyKey = UInt64.max

  init(capacity: Int = 0) {
    slots = [Slot](repeating: Slot(key: Self.emptyKey, merge: .none), count: Self.slotCount(for: capacity))
  }

  /// Adds the next-ranked merge; a repeated pair keeps its last rank, as in HF
  /// and openai's encoder.py.
  mutating func append(left: Int, right: Int, merged: Int) {
    if (count + 1) * 2 > slots.count { grow() }
    let key = Self.pairKey(left, right)
    let slot = slotIndex(of: key)
    if slots[slot].key == Self.emptyKey { count += 1 }
    slots[slot] = Slot(key: key, merge: Merge(rank: nextRank, id: Int32(merged)))
    nextRank += 1
  }

  func merge(of left: Int, _ right: Int) -> Merge {
    slots[slotIndex(of: Self.pairKey(left, right))].merge
  }

  /// Merges adjacent symbols, always the lowest-ranked pair first (leftmost
  /// on ties), until no pair has a merge.
  func apply(_ symbols: [Int]) -> [Int] {
    var symbols = symbols
    guard symbols.count > 1 else { return symbols }
    // pairMerges[i] is the merge of symbols[i] and symbols[i + 1], kept up to
    // date so each step only rescans integers.
    var pairMerges = (0..<(symbols.count - 1)).map { merge(of: symbols[$0], symbols[$0 + 1]) }
    while true {
      var best = -1
      var bestRank = Int32.max
      for (i, merge) in pairMerges.enumerated() where merge.rank < bestRank {
        best = i
        bestRank = merge.rank
      }
      if best < 0 { break }
      symbols[best] = Int(pairMerges[best].id)
      symbols.remove(at: best + 1)
      pairMerges.remove(at: best)
      if best > 0 { pairMerges[best - 1] = merge(of: symbols[best - 1], symbols[best]) }
      if best < pairMerges.count { pairMerges[best] = merge(of: symbols[best], symbols[best + 1]) }
    }
    return symbols
  }

  static func pairKey(_ left: Int, _ right: Int) -> UInt64 {
    UInt64(UInt32(truncatingIfNeeded: left)) << 32 | UInt64(UInt32(truncatingIfNeeded: right))
  }

  /// The slot holding `key`, or the free slot where it belongs (linear probing;
  /// the table is at most half full, so a free slot is always found).
  private func slotIndex(of key: UInt64) -> Int {
    let mask = slots.count - 1
    // Fibonacci hashing: the multiply spreads both ids into the high bits.
    var slot = Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
    return slots.withUnsafeBufferPointer { slots in
      while slots[slot].key != key, slots[slot].key != Self.emptyKey { slot = (slot + 1) & mask }
      return slot
    }
  }

  private mutating func grow() {
    let old = slots
    slots = [Slot](repeating: Slot(key: Self.emptyKey, merge: .none), count: old.count * 2)
    for entry in old where entry.key != Self.emptyKey { slots[slotIndex(of: entry.key)] = entry }
  }

  /// A power of two with room for `capacity` entries at half load.
  private static func slotCount(for capacity: Int) -> Int {
    var slots = 16
    while slots < capacity * 2 { slots *= 2 }
    return slots
  }
}

/// A bounded, locked cache of BPE results keyed by a word's bytes.
///
/// Keyed by bytes, not String: Swift's String equality is canonical
/// equivalence, which would confuse e.g. U+212B with U+00C5.
final class WordCache: @unchecked Sendable {
  private let lock = NSLock()
  private var entries: [[UInt8]: [Int]] = [:]
  /// Like HF, stop caching past this many words so memory stays bounded.
  private let capacity: Int

  init(capacity: Int = 10_000) { self.capacity = capacity }

  func ids(_ word: [UInt8], compute: () -> [Int]) -> [Int] {
    lock.lock()
    let cached = entries[word]
    lock.unlock()
    if let cached { return cached }
    let ids = compute()
    lock.lock()
    if entries.count < capacity { entries[word] = ids }
    lock.unlock()
    return ids
  }
}
