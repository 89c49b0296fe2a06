import Foundation

extension HFTokenizer {
  /// GGUF token types (`tokenizer.ggml.token_type`), as llama.cpp numbers them.
  enum GGUFTokenType: Int {
    case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
  }

  /// A tokenizer from a GGUF file's `tokenizer.ggml.*` metadata, tokenizing as llama.cpp does.
  ///
  /// `model` "gpt2" is byte-level BPE over `merges`, pre-split by the regexes
  /// llama.cpp uses for `pre` (nil means "default"); "llama" is SentencePiece
  /// BPE merging by `scores`, with spaces as ▁, a ▁ prepended to each run of
  /// text (`addSpacePrefix`, default true) and `<0xNN>` byte fallback. Control,
  /// user-defined and unknown tokens (types 3, 4, 2) are matched in the text
  /// first, as llama.cpp's special-token partition does.
  ///
  /// `mergesInFileOrder` (Gemma's files) makes "llama" a BPE whose merges
  /// follow the order of the tokens in the file, not their scores, as
  /// transformers reads these files (see `FileOrderMerges`).
  public convenience init(
    gguf model: String, pre: String?, tokens: [String], merges: [String]?, scores: [Float]?, tokenTypes: [Int]?,
    bosID: Int?, eosID: Int?, unknownID: Int?, addBOS: Bool, addEOS: Bool, addSpacePrefix: Bool?,
    mergesInFileOrder: Bool = false
  ) throws {
    guard !tokens.isEmpty else { throw TokenizerError.malformedGGUFVocab("tokenizer.ggml.tokens is empty") }
    if let tokenTypes, tokenTypes.count != tokens.count {
      throw TokenizerError.malformedGGUFVocab(
        "\(tokenTypes.count) token types for \(tokens.count) tokens")
    }
    for (name, id) in [("bos", bosID), ("eos", eosID), ("unknown", unknownID)] {
      if let id, id < 0 || id >= tokens.count {
        throw TokenizerError.malformedGGUFVocab("the \(name) token id \(id) is outside the \(tokens.count) tokens")
      }
    }
    let spelled = mergesInFileOrder ? FileOrderMerges.respell(tokens) : tokens
    var vocab = TokenTable()
    for (id, token) in spelled.enumerated() { Array(token.utf8).withUnsafeBufferPointer { vocab.insert($0, id: id) } }

    var added: [AddedToken] = []
    for (id, type) in (tokenTypes ?? []).enumerated() {
      guard let kind = GGUFTokenType(rawValue: type), [.control, .userDefined, .unknown].contains(kind),
        !tokens[id].isEmpty
      else { continue }
      // A user-defined token respelled for the merges (Gemma's runs of spaces)
      // is no longer matched whole, as in transformers: the merges build it.
      if kind == .userDefined, spelled[id] != tokens[id] { continue }
      added.append(AddedToken(content: Array(tokens[id].unicodeScalars), id: id, special: kind != .userDefined))
    }

    var post: [PostProcessor] = []
    if addBOS || addEOS {
      if addBOS, bosID == nil { throw TokenizerError.malformedGGUFVocab("add_bos_token is true but no bos_token_id") }
      if addEOS, eosID == nil { throw TokenizerError.malformedGGUFVocab("add_eos_token is true but no eos_token_id") }
      post.append(.template(before: addBOS ? [bosID!] : [], after: addEOS ? [eosID!] : []))
    }

    let tokenModel: TokenModel
    var normalizer: Normalizer? = nil
    var preTokenizer: PreTokenizerStep? = nil
    let decoder: DecoderStep
    switch model {
    case "gpt2":
      guard let merges else { throw TokenizerError.malformedGGUFVocab("a gpt2 tokenizer needs tokenizer.ggml.merges") }
      var ranked = BPEMerges(capacity: merges.count)
      for (rank, merge) in merges.enumerated() {
        // llama.cpp splits at the first space after the first character.
        let scalars = Array(merge.unicodeScalars)
        guard let space = scalars.dropFirst().firstIndex(of: " ") else {
          throw TokenizerError.malformedGGUFVocab("merge \(rank) '\(merge)' has no space")
        }
        let left = utf8Bytes(scalars[..<space])
        let right = utf8Bytes(scalars[(space + 1)...])
        guard let leftID = vocab.id(of: left), let rightID = vocab.id(of: right),
          let mergedID = vocab.id(of: left + right)
        else { throw TokenizerError.malformedGGUFVocab("merge \(rank) '\(merge)' is not two tokens forming a third") }
        ranked.append(left: leftID, right: rightID, merged: mergedID)
      }
      tokenModel = .ranked(RankedBPE(vocab: vocab, merges: ranked, unknownID: unknownID))
      preTokenizer = try Self.ggufPreTokenizer(pre ?? "default")
      decoder = .byteLevel
    case "llama":
      guard let scores, scores.count == tokens.count else {
        throw TokenizerError.malformedGGUFVocab(
          "a llama tokenizer needs one score per token (\(scores?.count ?? 0) for \(tokens.count))")
      }
      if mergesInFileOrder {
        var bpe = RankedBPE(
          vocab: vocab, merges: FileOrderMerges.merges(tokens: spelled, vocab: vocab), unknownID: unknownID)
        bpe.fuseUnknown = true
        bpe.byteFallback = true
        bpe.byteIDs = byteTokenIDs(vocab)
        tokenModel = .ranked(bpe)
      } else {
        tokenModel = .scored(
          ScoredBPE(vocab: vocab, scores: scores, byteIDs: byteTokenIDs(vocab), unknownID: unknownID))
      }
      let space: [Unicode.Scalar] = ["\u{2581}"]
      let escape = Normalizer.replace(.literal([" "]), space)
      // Every run of text follows the start or a special token, so each gets the prefix.
      normalizer = addSpacePrefix ?? true ? .sequence([.prepend([" "]), escape]) : escape
      var steps: [DecoderStep] = [.replace(.literal(space), [" "]), .byteFallback, .fuse]
      if addSpacePrefix ?? true { steps.append(.strip(content: " ", start: 1, stop: 0)) }
      decoder = .sequence(steps)
    default:
      throw TokenizerError.malformedGGUFVocab("unsupported tokenizer.ggml.model '\(model)' (gpt2 and llama are)")
    }
    self.init(
      vocab: vocab, model: tokenModel, addedTokens: added, normalizer: normalizer, preTokenizer: preTokenizer,
      postProcessor: post.isEmpty ? nil : .sequence(post), decoder: decoder, bosID: bosID, eosID: eosID)
  }

  /// GPT-2's split, as the hand-written pre-tokenizer runs it.
  private static let gpt2Split = PreTokenizerStep.byteLevel(addPrefixSpace: false, useRegex: true)

  /// The pre-tokenizer llama.cpp uses for a `tokenizer.ggml.pre` value: its
  /// regexes applied in turn, each splitting the pieces of the one before
  /// (matches and the text between them both kept), then the byte mapping.
  static func ggufPreTokenizer(_ pre: String) throws -> PreTokenizerStep {
    // Llama 3's split; llama.cpp spells (?i:...) out as [sS] classes.
    let llama3 =
      #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    // Qwen2's: the same with single digits.
    let qwen2 =
      #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    let regexes: [String]
    switch pre {
    case "default", "gpt-2", "gpt2", "mpt", "olmo", "jais", "trillion":
      return gpt2Split
    case "llama-bpe", "llama3", "dbrx", "smaug-bpe", "chatglm-bpe":
      regexes = [llama3]
    case "qwen2", "stablelm2", "hunyuan":
      regexes = [qwen2]
    case "smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b":
      // Digits one by one first, then GPT-2's split.
      return .sequence([.split(.regex(try ScalarRegex(#"\p{N}"#)), .isolated, invert: false), gpt2Split])
    case "deepseek-coder":
      regexes = [
        #"[\r\n]"#, #"\s?\p{L}+"#, #"\s?\p{P}+"#, #"[\x{4E00}-\x{9FA5}\x{0800}-\x{4E00}\x{AC00}-\x{D7FF}]+"#, #"\p{N}"#,
      ]
    default:
      throw TokenizerError.malformedGGUFVocab("unsupported tokenizer.ggml.pre '\(pre)'")
    }
    var steps: [PreTokenizerStep] = try regexes.map { .split(.regex(try ScalarRegex($0)), .isolated, invert: false) }
    steps.append(.byteLevel(addPrefixSpace: false, useRegex: false))
    return .sequence(steps)
  }
}
