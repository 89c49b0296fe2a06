import Foundation

/// The model stage of a Hugging Face or GGUF tokenizer: a pre-token's scalars to ids.
///
/// Tokens are looked up by their UTF-8 as the vocabulary spells them (GPT-2
/// stand-ins for byte-level models, `▁` for SentencePiece ones).
enum TokenModel {
  case ranked(RankedBPE)
  case scored(ScoredBPE)

  func ids(_ word: [Unicode.Scalar]) -> [Int] {
    switch self {
    case .ranked(let model): return model.ids(word)
    case .scored(let model): return model.ids(word)
    }
  }
}

/// The UTF-8 of scalars.
func utf8Bytes(_ scalars: some Sequence<Unicode.Scalar>) -> [UInt8] {
  var bytes: [UInt8] = []
  for scalar in scalars { bytes.append(contentsOf: UTF8.encode(scalar)!) }
  return bytes
}

/// The id of each `<0xNN>` byte token, where the vocabulary has it.
func byteTokenIDs(_ vocab: TokenTable) -> [Int?] {
  (0..<256).map { byte in
    vocab.id(of: Array(String(format: "<0x%02X>", byte).utf8))
  }
}

/// HF's BPE model: characters, then merges by rank; unknown characters as
/// `<0xNN>` bytes (byte_fallback) or the unknown token (fused if fuse_unk).
struct RankedBPE {
  var vocab: TokenTable
  var merges: BPEMerges
  var unknownID: Int?
  var fuseUnknown = false
  var byteFallback = false
  var ignoreMerges = false
  var byteIDs: [Int?] = []
  let cache = WordCache()

  func ids(_ word: [Unicode.Scalar]) -> [Int] {
    let bytes = utf8Bytes(word)
    if ignoreMerges, let id = vocab.id(of: bytes) { return [id] }
    return cache.ids(bytes) { merges.apply(symbols(word)) }
  }

  /// The starting symbols: one per character.
  private func symbols(_ word: [Unicode.Scalar]) -> [Int] {
    var symbols: [Int] = []
    var previousUnknown = false
    for scalar in word {
      let bytes = Array(UTF8.encode(scalar)!)
      if let id = vocab.id(of: bytes) {
        symbols.append(id)
        previousUnknown = false
        continue
      }
      if byteFallback {
        let fallback = bytes.compactMap { byteIDs[Int($0)] }
        if fallback.count == bytes.count {
          symbols.append(contentsOf: fallback)
          previousUnknown = false
          continue
        }
      }
      if let unknownID {
        if !(fuseUnknown && previousUnknown) { symbols.append(unknownID) }
        previousUnknown = true
      }
    }
    return symbols
  }
}

/// llama.cpp's SentencePiece BPE (llm_tokenizer_spm): adjacent pieces whose
/// concatenation is a token merge, highest token score first (leftmost on
/// ties); pieces that are not tokens are split back along their merges, and
/// what remains becomes `<0xNN>` byte tokens.
struct ScoredBPE {
  var vocab: TokenTable
  var scores: [Float]
  var byteIDs: [Int?]
  var unknownID: Int?
  let cache = WordCache()

  private struct Symbol {
    var start: Int
    var length: Int
    var previous: Int
    var next: Int
  }

  private struct Bigram {
    var left: Int
    var right: Int
    var score: Float
    var size: Int
    /// Heap order: higher score first, then the leftmost.
    func before(_ other: Bigram) -> Bool {
      score > other.score || (score == other.score && left < other.left)
    }
  }

  func ids(_ word: [Unicode.Scalar]) -> [Int] {
    let text = utf8Bytes(word)
    return cache.ids(text) { tokenize(text) }
  }

  private func tokenize(_ text: [UInt8]) -> [Int] {
    var symbols: [Symbol] = []
    var offset = 0
    while offset < text.count {
      let length = min(Self.utf8Length(text[offset]), text.count - offset)
      symbols.append(
        Symbol(
          start: offset, length: length, previous: symbols.count - 1,
          next: offset + length == text.count ? -1 : symbols.count + 1))
      offset += length
    }
    var heap: [Bigram] = []
    var reverseMerges: [[UInt8]: (Int, Int)] = [:]

    func tryBigram(_ left: Int, _ right: Int) {
      guard left >= 0, right >= 0 else { return }
      let piece = Array(
        text[symbols[left].start..<(symbols[left].start + symbols[left].length + symbols[right].length)])
      guard let id = vocab.id(of: piece), id < scores.count else { return }
      push(&heap, Bigram(left: left, right: right, score: scores[id], size: piece.count))
      reverseMerges[piece] = (left, right)
    }

    for i in symbols.indices.dropFirst() { tryBigram(i - 1, i) }
    while let bigram = pop(&heap) {
      let left = symbols[bigram.left]
      let right = symbols[bigram.right]
      guard left.length > 0, right.length > 0, left.length + right.length == bigram.size else { continue }
      symbols[bigram.left].length += right.length
      symbols[bigram.right].length = 0
      symbols[bigram.left].next = right.next
      if right.next >= 0 { symbols[right.next].previous = bigram.left }
      tryBigram(symbols[bigram.left].previous, bigram.left)
      tryBigram(bigram.left, symbols[bigram.left].next)
    }

    var ids: [Int] = []
    func resegment(_ index: Int) {
      let symbol = symbols[index]
      let piece = Array(text[symbol.start..<(symbol.start + symbol.length)])
      if let id = vocab.id(of: piece) {
        ids.append(id)
      } else if let (left, right) = reverseMerges[piece] {
        resegment(left)
        resegment(right)
      } else {
        for byte in piece {
          if let id = byteIDs[Int(byte)] ?? vocab.id(of: [byte]) ?? unknownID { ids.append(id) }
        }
      }
    }
    var i = symbols.isEmpty ? -1 : 0
    while i != -1 {
      resegment(i)
      i = symbols[i].next
    }
    return ids
  }

  private static func utf8Length(_ lead: UInt8) -> Int {
    switch lead {
    case 0xF0...: return 4
    case 0xE0...: return 3
    case 0xC0...: return 2
    default: return 1
    }
  }

  private func push(_ heap: inout [Bigram], _ item: Bigram) {
    heap.append(item)
    var child = heap.count - 1
    while child > 0 {
      let parent = (child - 1) / 2
      guard heap[child].before(heap[parent]) else { break }
      heap.swapAt(child, parent)
      child = parent
    }
  }

  private func pop(_ heap: inout [Bigram]) -> Bigram? {
    guard let top = heap.first else { return nil }
    let last = heap.removeLast()
    if !heap.isEmpty {
      heap[0] = last
      var parent = 0
      while true {
        let left = 2 * parent + 1
        let right = left + 1
        var best = parent
        if left < heap.count, heap[left].before(heap[best]) { best = left }
        if right < heap.count, heap[right].before(heap[best]) { best = right }
        if best == parent { break }
        heap.swapAt(parent, best)
        parent = best
      }
    }
    return top
  }
}
