import Foundation

/// A token of tokenizer.json's `added_tokens` (or a GGUF control token),
/// matched in the text before normalization and BPE.
struct AddedToken {
  var content: [Unicode.Scalar]
  var id: Int
  var special = true
  var singleWord = false
  var leftStrip = false
  var rightStrip = false
  /// Matched in the normalized text rather than the raw text.
  var normalized = false
}

/// Finds added tokens in text: leftmost match first, the longest at a position,
/// with single_word, lstrip and rstrip as HF's AddedVocabulary applies them.
struct AddedTokenMatcher {
  /// Tokens by their first scalar, longest first.
  private var byFirst: [Unicode.Scalar: [AddedToken]] = [:]

  init(_ tokens: [AddedToken]) {
    for token in tokens where !token.content.isEmpty { byFirst[token.content[0], default: []].append(token) }
    for key in byFirst.keys { byFirst[key]!.sort { $0.content.count > $1.content.count } }
  }

  var isEmpty: Bool { byFirst.isEmpty }

  /// The text cut into runs (id nil) and added tokens (their id), in order.
  func split(_ text: [Unicode.Scalar]) -> [(range: Range<Int>, id: Int?)] {
    guard !byFirst.isEmpty else { return [(0..<text.count, nil)] }
    var parts: [(range: Range<Int>, id: Int?)] = []
    var consumed = 0
    var i = 0
    while i < text.count {
      guard let candidates = byFirst[text[i]],
        let token = candidates.first(where: { matches($0.content, text, at: i) })
      else {
        i += 1
        continue
      }
      var start = i
      var stop = i + token.content.count
      i = stop
      if token.singleWord {
        let wordBefore = start > 0 && ScalarSet.isWord(text[start - 1])
        let wordAfter = stop < text.count && ScalarSet.isWord(text[stop])
        if wordBefore || wordAfter { continue }
      }
      if token.leftStrip {
        while start > consumed, text[start - 1].properties.isWhitespace { start -= 1 }
      }
      if token.rightStrip {
        while stop < text.count, text[stop].properties.isWhitespace { stop += 1 }
        i = stop
      }
      if consumed < start { parts.append((consumed..<start, nil)) }
      parts.append((start..<stop, token.id))
      consumed = stop
    }
    if consumed < text.count { parts.append((consumed..<text.count, nil)) }
    return parts
  }

  private func matches(_ needle: [Unicode.Scalar], _ text: [Unicode.Scalar], at i: Int) -> Bool {
    i + needle.count <= text.count && text[i..<(i + needle.count)].elementsEqual(needle)
  }
}

/// A tokenizer built from a Hugging Face tokenizer.json (or GGUF metadata):
/// added tokens, normalizer, pre-tokenizer, BPE model, post-processor and
/// decoder, giving the ids and text of the `tokenizers` library.
public final class HFTokenizer: Tokenizer, @unchecked Sendable {
  /// Vocabulary strings as the file spells them, by UTF-8.
  let vocab: TokenTable
  let model: TokenModel
  let addedTokens: [AddedToken]
  let rawMatcher: AddedTokenMatcher
  let normalizedMatcher: AddedTokenMatcher
  let normalizer: Normalizer?
  let preTokenizer: PreTokenizerStep?
  let postProcessor: PostProcessor?
  let decoder: DecoderStep?
  /// Whether vocabulary strings are GPT-2 byte stand-ins.
  let byteLevel: Bool
  private let addedByID: [Int: AddedToken]

  public let vocabularySize: Int
  public let beginningOfSequenceID: Int?
  public let endOfSequenceID: Int?
  public var documentSeparator: String? { endOfSequenceID.flatMap(tokenString) }

  init(
    vocab: TokenTable, model: TokenModel, addedTokens: [AddedToken], normalizer: Normalizer?,
    preTokenizer: PreTokenizerStep?, postProcessor: PostProcessor?, decoder: DecoderStep?,
    bosID: Int?, eosID: Int?
  ) {
    self.vocab = vocab
    self.model = model
    self.addedTokens = addedTokens
    self.rawMatcher = AddedTokenMatcher(addedTokens.filter { !$0.normalized })
    self.normalizedMatcher = AddedTokenMatcher(addedTokens.filter { $0.normalized })
    self.normalizer = normalizer
    self.preTokenizer = preTokenizer
    self.postProcessor = postProcessor
    self.decoder = decoder
    self.byteLevel = decoder?.isByteLevel ?? false
    var addedByID: [Int: AddedToken] = [:]
    for token in addedTokens { addedByID[token.id] = token }
    self.addedByID = addedByID
    self.vocabularySize = max(vocab.idCount, (addedTokens.map(\.id).max() ?? -1) + 1)
    self.beginningOfSequenceID = bosID
    self.endOfSequenceID = eosID
  }

  // MARK: Encoding

  public func encode(_ text: String, addSpecialTokens: Bool) -> [Int] {
    let scalars = Array(text.unicodeScalars)
    var ids: [Int] = []
    for part in rawMatcher.split(scalars) {
      if let id = part.id {
        ids.append(id)
        continue
      }
      var piece = Array(scalars[part.range])
      if let normalizer { piece = normalizer.apply(piece) }
      for inner in normalizedMatcher.split(piece) {
        if let id = inner.id {
          ids.append(id)
          continue
        }
        let start = TextPiece(
          scalars: Array(piece[inner.range]), atStart: part.range.lowerBound == 0 && inner.range.lowerBound == 0)
        guard !start.scalars.isEmpty else { continue }
        for word in preTokenizer?.apply([start]) ?? [start] where !word.scalars.isEmpty {
          ids.append(contentsOf: model.ids(word.scalars))
        }
      }
    }
    if addSpecialTokens, let postProcessor { ids = postProcessor.apply(ids) }
    return ids
  }

  // MARK: Decoding

  /// The vocabulary string of an id (added tokens first), as tokenizer.json spells it.
  func tokenString(_ id: Int) -> String? {
    if let added = addedByID[id] {
      var text = ""
      text.unicodeScalars.append(contentsOf: added.content)
      return text
    }
    return vocab.bytes(of: id).map { String(decoding: $0, as: UTF8.self) }
  }

  public func decode(_ ids: [Int]) -> String {
    let tokens = ids.compactMap(tokenString)
    guard let decoder else { return tokens.joined(separator: " ") }
    return decoder.apply(tokens).joined()
  }

  public func tokenText(_ id: Int) -> String? {
    guard let token = tokenString(id) else { return nil }
    if addedByID[id] != nil { return token }
    if byteLevel { return DecoderStep.byteLevel.apply([token]).joined() }
    if let byte = DecoderStep.fallbackByte(token) { return String(decoding: [byte], as: UTF8.self) }
    return token.replacingOccurrences(of: "\u{2581}", with: " ")
  }

  public func singleTokenID(_ text: String) -> Int? {
    guard !text.isEmpty else { return nil }
    let scalars = Array(text.unicodeScalars)
    if let added = addedTokens.first(where: { $0.content == scalars }) { return added.id }
    if byteLevel { return vocab.id(of: Array(ByteEncoder.mappedText(of: text.utf8).utf8)) }
    if let id = vocab.id(of: Array(text.replacingOccurrences(of: " ", with: "\u{2581}").utf8)) { return id }
    let utf8 = Array(text.utf8)
    if utf8.count == 1 { return byteTokenIDs(vocab)[Int(utf8[0])] }
    return nil
  }
}
