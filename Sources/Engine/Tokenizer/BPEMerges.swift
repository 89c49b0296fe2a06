import Foundation

/// Ranked merges of token-id pairs and the BPE loop over them, shared by
/// GPT-2's tokenizer and Hugging Face BPE models.
struct BPEMerges {
  struct Merge {
    var rank: Int32
    var id: Int32
    static let none = Merge(rank: .max, id: -1)
  }

  /// Merge of a pair of ids, keyed by `pairKey`.
  private(set) var table: [UInt64: Merge] = [:]
  private var nextRank: Int32 = 0

  init(capacity: Int = 0) {
    table.reserveCapacity(capacity)
  }

  var count: Int { table.count }

  /// Adds the next-ranked merge; a repeated pair keeps its last rank, as in HF
  /// and openai's encoder.py.
  mutating func append(left: Int, right: Int, merged: Int) {
    table[Self.pairKey(left, right)] = Merge(rank: nextRank, id: Int32(merged))
    nextRank += 1
  }

  func merge(of left: Int, _ right: Int) -> Merge {
    table[Self.pairKey(left, right)] ?? .none
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
