import Foundation

extension HFTokenizer {
  /// Loads `tokenizer.json` from a model folder (and `tokenizer_config.json` beside it, if present).
  public convenience init(folder: URL) throws {
    try self.init(url: folder.appendingPathComponent("tokenizer.json"))
  }

  /// Loads a Hugging Face tokenizer.json; `tokenizer_config.json` in the same
  /// folder, if present, names the BOS/EOS tokens and may ask for a BOS.
  public convenience init(url: URL) throws {
    let data = try VocabFiles.read(url)
    let object: Any
    do {
      object = try JSONSerialization.jsonObject(with: data)
    } catch {
      throw TokenizerError.malformedTokenizerJSON(url, "not JSON: \(error.localizedDescription)")
    }
    guard let root = object as? [String: Any] else {
      throw TokenizerError.malformedTokenizerJSON(url, "the top level is not an object")
    }
    let configURL = url.deletingLastPathComponent().appendingPathComponent("tokenizer_config.json")
    var config: [String: Any] = [:]
    if FileManager.default.fileExists(atPath: configURL.path),
      let configData = try? Data(contentsOf: configURL),
      let parsed = try? JSONSerialization.jsonObject(with: configData) as? [String: Any]
    {
      config = parsed
    }
    var loader = JSONLoader(url: url)
    try loader.load(root, config: config)
    self.init(
      vocab: loader.vocab, model: loader.model!, addedTokens: loader.addedTokens, normalizer: loader.normalizer,
      preTokenizer: loader.preTokenizer, postProcessor: loader.postProcessor, decoder: loader.decoder,
      bosID: loader.bosID, eosID: loader.eosID)
  }
}

/// Reads tokenizer.json's sections into pipeline values.
private struct JSONLoader {
  let url: URL
  var vocab = TokenTable()
  var model: TokenModel?
  var addedTokens: [AddedToken] = []
  var normalizer: Normalizer?
  var preTokenizer: PreTokenizerStep?
  var postProcessor: PostProcessor?
  var decoder: DecoderStep?
  var bosID: Int?
  var eosID: Int?

  init(url: URL) { self.url = url }

  func malformed(_ reason: String) -> TokenizerError { .malformedTokenizerJSON(url, reason) }
  func unsupported(_ kind: String, _ type: String) -> TokenizerError {
    .unsupportedComponent(url, kind: kind, type: type)
  }

  mutating func load(_ root: [String: Any], config: [String: Any]) throws {
    guard let modelObject = root["model"] as? [String: Any] else { throw malformed("no \"model\" object") }
    for case let token as [String: Any] in root["added_tokens"] as? [Any] ?? [] {
      guard let content = token["content"] as? String, let id = token["id"] as? Int else {
        throw malformed("an added token lacks content or id")
      }
      let special = token["special"] as? Bool ?? false
      addedTokens.append(
        AddedToken(
          content: Array(content.unicodeScalars), id: id, special: special,
          singleWord: token["single_word"] as? Bool ?? false, leftStrip: token["lstrip"] as? Bool ?? false,
          rightStrip: token["rstrip"] as? Bool ?? false, normalized: token["normalized"] as? Bool ?? !special))
    }
    try loadModel(modelObject)
    normalizer = try optional(root["normalizer"]) { try normalizerStep($0) }
    preTokenizer = try optional(root["pre_tokenizer"]) { try preTokenizerStep($0) }
    postProcessor = try optional(root["post_processor"]) { try postProcessorStep($0) }
    decoder = try optional(root["decoder"]) { try decoderStep($0) }

    let bosName = Self.tokenName(config["bos_token"])
    let eosName = Self.tokenName(config["eos_token"])
    bosID = bosName.flatMap(id(of:)) ?? postProcessor?.leadingID
    eosID =
      eosName.flatMap(id(of:))
      ?? ["</s>", "<|endoftext|>", "<|end_of_text|>", "<|im_end|>"].lazy.compactMap(id(of:)).first
    // A config asking for a BOS the post-processor does not add (transformers adds it then).
    if config["add_bos_token"] as? Bool == true, let bosID, postProcessor?.leadingID != bosID {
      postProcessor = .sequence([postProcessor ?? .byteLevel, .template(before: [bosID], after: [])])
    }
  }

  /// The id of a token's content: an added token's, else the vocabulary's.
  func id(of content: String) -> Int? {
    let scalars = Array(content.unicodeScalars)
    return addedTokens.first { $0.content == scalars }?.id ?? vocab.id(of: Array(content.utf8))
  }

  /// A tokenizer_config token: a string or an AddedToken object with "content".
  static func tokenName(_ value: Any?) -> String? {
    if let name = value as? String { return name }
    return (value as? [String: Any])?["content"] as? String
  }

  func optional<T>(_ value: Any?, _ make: ([String: Any]) throws -> T) throws -> T? {
    guard let value, !(value is NSNull) else { return nil }
    guard let object = value as? [String: Any] else { throw malformed("a component is not an object") }
    return try make(object)
  }

  func type(_ object: [String: Any], _ kind: String) throws -> String {
    guard let type = object["type"] as? String else { throw malformed("a \(kind) has no type") }
    return type
  }

  // MARK: Model

  mutating func loadModel(_ object: [String: Any]) throws {
    let type = object["type"] as? String ?? (object["merges"] != nil ? "BPE" : "?")
    guard type == "BPE" else { throw unsupported("model", type) }
    guard let vocabObject = object["vocab"] as? [String: Any] else { throw malformed("the BPE model has no vocab") }
    for (token, value) in vocabObject {
      guard let id = value as? Int, id >= 0, id < 1 << 24 else { throw malformed("vocab id of \(token) is not an id") }
      Array(token.utf8).withUnsafeBufferPointer { vocab.insert($0, id: id) }
    }
    for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
      if let affix = object[key] as? String, !affix.isEmpty { throw unsupported("BPE option", "\(key)=\(affix)") }
    }
    var merges = BPEMerges(capacity: (object["merges"] as? [Any])?.count ?? 0)
    for (rank, entry) in (object["merges"] as? [Any] ?? []).enumerated() {
      let pair: [String]
      if let line = entry as? String {
        pair = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
      } else {
        pair = entry as? [String] ?? []
      }
      guard pair.count == 2, let left = vocab.id(of: Array(pair[0].utf8)),
        let right = vocab.id(of: Array(pair[1].utf8)),
        let merged = vocab.id(of: Array((pair[0] + pair[1]).utf8))
      else { throw malformed("merge \(rank) (\(entry)) is not two vocabulary tokens forming a third") }
      merges.append(left: left, right: right, merged: merged)
    }
    let unknownName = object["unk_token"] as? String
    model = .ranked(
      RankedBPE(
        vocab: vocab, merges: merges, unknownID: unknownName.flatMap { vocab.id(of: Array($0.utf8)) },
        fuseUnknown: object["fuse_unk"] as? Bool ?? false, byteFallback: object["byte_fallback"] as? Bool ?? false,
        ignoreMerges: object["ignore_merges"] as? Bool ?? false, byteIDs: byteTokenIDs(vocab)))
  }

  // MARK: Components

  func pattern(_ value: Any?) throws -> SplitPattern {
    guard let object = value as? [String: Any] else { throw malformed("a pattern is not an object") }
    if let literal = object["String"] as? String { return .literal(Array(literal.unicodeScalars)) }
    if let regex = object["Regex"] as? String {
      do {
        return .regex(try ScalarRegex(regex))
      } catch let error as ScalarRegex.SyntaxError {
        throw malformed("regex \(regex): \(error.reason)")
      }
    }
    throw malformed("a pattern is neither String nor Regex")
  }

  func scalars(_ value: Any?) -> [Unicode.Scalar] { Array((value as? String ?? "").unicodeScalars) }

  func normalizerStep(_ object: [String: Any]) throws -> Normalizer {
    switch try type(object, "normalizer") {
    case "NFC": return .nfc
    case "NFD": return .nfd
    case "NFKC": return .nfkc
    case "NFKD": return .nfkd
    case "Lowercase": return .lowercase
    case "Prepend": return .prepend(scalars(object["prepend"]))
    case "Replace": return .replace(try pattern(object["pattern"]), scalars(object["content"]))
    case "Strip":
      return .strip(left: object["strip_left"] as? Bool ?? true, right: object["strip_right"] as? Bool ?? true)
    case "Sequence":
      let steps = object["normalizers"] as? [[String: Any]] ?? []
      return .sequence(try steps.map { try normalizerStep($0) })
    case let other: throw unsupported("normalizer", other)
    }
  }

  func behavior(_ value: Any?) throws -> SplitBehavior {
    guard let name = value as? String else { return .isolated }
    guard let behavior = SplitBehavior(rawValue: name) else { throw unsupported("split behavior", name) }
    return behavior
  }

  func prependScheme(_ object: [String: Any]) throws -> PrependScheme {
    if let name = object["prepend_scheme"] as? String {
      guard let scheme = PrependScheme(rawValue: name) else { throw unsupported("prepend_scheme", name) }
      return scheme
    }
    return object["add_prefix_space"] as? Bool == false ? .never : .always
  }

  func replacement(_ object: [String: Any]) throws -> Unicode.Scalar {
    let text = scalars(object["replacement"] ?? "\u{2581}")
    guard text.count == 1 else { throw malformed("a Metaspace replacement is not one character") }
    return text[0]
  }

  func preTokenizerStep(_ object: [String: Any]) throws -> PreTokenizerStep {
    switch try type(object, "pre_tokenizer") {
    case "ByteLevel":
      return .byteLevel(
        addPrefixSpace: object["add_prefix_space"] as? Bool ?? true, useRegex: object["use_regex"] as? Bool ?? true)
    case "Split":
      return .split(
        try pattern(object["pattern"]), try behavior(object["behavior"]), invert: object["invert"] as? Bool ?? false)
    case "Digits":
      return .digits(individual: object["individual_digits"] as? Bool ?? false)
    case "Metaspace":
      return .metaspace(
        replacement: try replacement(object), prependScheme: try prependScheme(object),
        split: object["split"] as? Bool ?? true)
    case "Punctuation":
      return .punctuation(try behavior(object["behavior"]))
    case "Whitespace": return .whitespace
    case "WhitespaceSplit": return .whitespaceSplit
    case "Sequence":
      let steps = object["pretokenizers"] as? [[String: Any]] ?? []
      return .sequence(try steps.map { try preTokenizerStep($0) })
    case let other: throw unsupported("pre_tokenizer", other)
    }
  }

  func postProcessorStep(_ object: [String: Any]) throws -> PostProcessor {
    switch try type(object, "post_processor") {
    case "ByteLevel": return .byteLevel
    case "TemplateProcessing":
      let specials = object["special_tokens"] as? [String: Any] ?? [:]
      var before: [Int] = []
      var after: [Int] = []
      var seenSequence = false
      for case let item as [String: Any] in object["single"] as? [Any] ?? [] {
        if item["Sequence"] != nil {
          seenSequence = true
        } else if let special = item["SpecialToken"] as? [String: Any], let name = special["id"] as? String {
          guard let entry = specials[name] as? [String: Any], let ids = entry["ids"] as? [Int] else {
            throw malformed("the template's special token \(name) is not in special_tokens")
          }
          if seenSequence { after += ids } else { before += ids }
        }
      }
      return .template(before: before, after: after)
    case "RobertaProcessing", "BertProcessing":
      guard let cls = (object["cls"] as? [Any])?.last as? Int, let sep = (object["sep"] as? [Any])?.last as? Int else {
        throw malformed("a processor lacks cls or sep")
      }
      return .template(before: [cls], after: [sep])
    case "Sequence":
      let steps = object["processors"] as? [[String: Any]] ?? []
      return .sequence(try steps.map { try postProcessorStep($0) })
    case let other: throw unsupported("post_processor", other)
    }
  }

  func decoderStep(_ object: [String: Any]) throws -> DecoderStep {
    switch try type(object, "decoder") {
    case "ByteLevel": return .byteLevel
    case "Metaspace": return .metaspace(replacement: try replacement(object), prependScheme: try prependScheme(object))
    case "ByteFallback": return .byteFallback
    case "Fuse": return .fuse
    case "Strip":
      let content = scalars(object["content"])
      guard content.count == 1 else { throw malformed("a Strip decoder's content is not one character") }
      return .strip(content: content[0], start: object["start"] as? Int ?? 0, stop: object["stop"] as? Int ?? 0)
    case "Replace": return .replace(try pattern(object["pattern"]), scalars(object["content"]))
    case "Sequence":
      let steps = object["decoders"] as? [[String: Any]] ?? []
      return .sequence(try steps.map { try decoderStep($0) })
    case let other: throw unsupported("decoder", other)
    }
  }
}
