import Foundation

/// GPT-2's byte-level BPE tokenizer, giving the same ids as Hugging Face's
/// GPT-2 tokenizer (ByteLevel pre-tokenizer without prefix space, BPE by merge
/// rank, `<|endoftext|>` split out first).
public final class GPT2Tokenizer: Tokenizer, @unchecked Sendable {
  /// The special token separating documents.
  public static let endOfText = "<|endoftext|>"

  /// The number of token ids (one more than the largest id in vocab.json).
  public var vocabularySize: Int { tokens.idCount }
  /// The id of `endOfText` in vocab.json (50256 for GPT-2).
  public let endOfTextID: Int
  /// GPT-2 begins nothing with a special token; HF names `<|endoftext|>` its BOS.
  public var beginningOfSequenceID: Int? { endOfTextID }
  public var endOfSequenceID: Int? { endOfTextID }
  public var documentSeparator: String? { Self.endOfText }

  /// Raw bytes of each token (stand-ins already undone).
  let tokens: TokenTable
  /// The id of each single byte, the symbols BPE starts from.
  let byteIDs: [Int]
  /// The ranked merges of id pairs.
  let merges: BPEMerges

  /// The cache makes repeated words free.
  private let cache = WordCache()
  private static let endOfTextScalars = Array(endOfText.unicodeScalars)

  /// Loads vocab.json and merges.txt from a Hugging Face GPT-2 folder.
  public convenience init(folder: URL) throws {
    try self.init(
      vocabURL: folder.appendingPathComponent("vocab.json"),
      mergesURL: folder.appendingPathComponent("merges.txt"))
  }

  /// Loads a vocabulary (token string -> id JSON) and its ranked merges.
  public init(vocabURL: URL, mergesURL: URL) throws {
    let vocabData = try VocabFiles.read(vocabURL)
    let mergesData = try VocabFiles.read(mergesURL)

    // vocab.json spends some 20 bytes a token.
    var tokens = TokenTable(capacity: vocabData.count / 16)
    // Tokens are translated in place in one buffer; a merge's halves go end
    // to end, so the buffer then also holds the merged token.
    var scratch = [UInt8](repeating: 0, count: 256)
    try VocabFiles.parseVocab(vocabData, url: vocabURL) { key, id in
      if scratch.count < key.count { scratch = [UInt8](repeating: 0, count: key.count * 2) }
      scratch.withUnsafeMutableBufferPointer { buffer in
        let count = ByteEncoder.rawBytes(ofMapped: key, to: buffer.baseAddress!)
        tokens.insert(UnsafeBufferPointer(start: buffer.baseAddress, count: count), id: id)
      }
    }

    var byteIDs: [Int] = []
    for byte in 0...255 {
      guard let id = tokens.id(of: [UInt8(byte)]) else {
        throw TokenizerError.malformedVocab(
          vocabURL, "no token for the single byte \(byte) ('\(ByteEncoder.mappedText(of: [UInt8(byte)]))')")
      }
      byteIDs.append(id)
    }
    guard let endOfTextID = tokens.id(of: Array(Self.endOfText.utf8)) else {
      throw TokenizerError.malformedVocab(vocabURL, "no \(Self.endOfText) token")
    }

    var merges = BPEMerges(capacity: mergesData.count / 8)
    try VocabFiles.parseMerges(mergesData, url: mergesURL) { leftText, rightText, line in
      let needed = leftText.count + rightText.count
      if scratch.count < needed { scratch = [UInt8](repeating: 0, count: needed * 2) }
      let ids = scratch.withUnsafeMutableBufferPointer { buffer in
        let base = buffer.baseAddress!
        let leftCount = ByteEncoder.rawBytes(ofMapped: leftText, to: base)
        let rightCount = ByteEncoder.rawBytes(ofMapped: rightText, to: base + leftCount)
        return (
          tokens.id(of: UnsafeBufferPointer(start: base, count: leftCount)),
          tokens.id(of: UnsafeBufferPointer(start: base + leftCount, count: rightCount)),
          tokens.id(of: UnsafeBufferPointer(start: base, count: leftCount + rightCount))
        )
      }
      guard let leftID = ids.0, let rightID = ids.1, let mergedID = ids.2 else {
        throw TokenizerError.malformedMerges(mergesURL, line: line, "a token of this merge is not in vocab.json")
      }
      merges.append(left: leftID, right: rightID, merged: mergedID)
    }

    self.tokens = tokens
    self.byteIDs = byteIDs
    self.merges = merges
    self.endOfTextID = endOfTextID
  }

  /// Token ids; "<|endoftext|>" anywhere in the text becomes the special token id.
  /// GPT-2's post-processor adds nothing, so `addSpecialTokens` changes nothing.
  public func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int] {
    let scalars = Array(text.unicodeScalars)
    // Byte offset of each scalar in the UTF-8 text, and of the end.
    var offsets = [Int](repeating: 0, count: scalars.count + 1)
    for (i, scalar) in scalars.enumerated() { offsets[i + 1] = offsets[i] + UTF8.width(scalar) }
    let utf8 = Array(text.utf8)

    var ids: [Int] = []
    ids.reserveCapacity(utf8.count / 3 + 1)
    var segmentStart = 0
    for specialStart in specialTokenStarts(scalars) {
      appendOrdinary(scalars, segmentStart..<specialStart, offsets, utf8, to: &ids)
      ids.append(endOfTextID)
      segmentStart = specialStart + Self.endOfTextScalars.count
    }
    appendOrdinary(scalars, segmentStart..<scalars.count, offsets, utf8, to: &ids)
    return ids
  }

  /// Text of ids; invalid UTF-8 byte sequences (from partial tokens) decode with U+FFFD like HF.
  ///
  /// Ids outside the vocabulary are skipped, as HF's decoder does.
  public func decode(_ ids: [Int]) -> String {
    var bytes: [UInt8] = []
    for id in ids {
      if let token = tokens.bytes(of: id) { bytes.append(contentsOf: token) }
    }
    return String(decoding: bytes, as: UTF8.self)
  }

  /// The raw token string of one id as text (decoded bytes, e.g. " Mary"), or nil if out of range.
  ///
  /// A token that is only part of a character shows U+FFFD for the partial bytes.
  public func tokenText(_ id: Int) -> String? {
    tokens.bytes(of: id).map { String(decoding: $0, as: UTF8.self) }
  }

  /// The id of a string that is exactly one token, else nil (" Mary" -> 5335).
  public func singleTokenID(_ text: String) -> Int? {
    tokens.id(of: Array(text.utf8))
  }

  /// Scalar indices where `<|endoftext|>` starts, left to right without overlap.
  private func specialTokenStarts(_ scalars: [Unicode.Scalar]) -> [Int] {
    let special = Self.endOfTextScalars
    var starts: [Int] = []
    var i = 0
    while i + special.count <= scalars.count {
      if scalars[i] == special[0], scalars[i..<(i + special.count)].elementsEqual(special) {
        starts.append(i)
        i += special.count
      } else {
        i += 1
      }
    }
    return starts
  }

  /// Pre-tokenises text without special tokens and appends each piece's BPE ids.
  private func appendOrdinary(
    _ scalars: [Unicode.Scalar], _ range: Range<Int>, _ offsets: [Int], _ utf8: [UInt8],
    to ids: inout [Int]
  ) {
    guard !range.isEmpty else { return }
    for piece in PreTokenizer.split(scalars, range) {
      ids.append(contentsOf: wordIDs(Array(utf8[offsets[piece.lowerBound]..<offsets[piece.upperBound]])))
    }
  }

  /// The BPE ids of one pre-token, from the cache when seen before.
  func wordIDs(_ word: [UInt8]) -> [Int] {
    if word.count == 1 { return [byteIDs[Int(word[0])]] }
    return cache.ids(word) { bpe(word) }
  }

  /// Merges the word's byte symbols by rank.
  func bpe(_ word: [UInt8]) -> [Int] {
    merges.apply(word.map { byteIDs[Int($0)] })
  }
}
