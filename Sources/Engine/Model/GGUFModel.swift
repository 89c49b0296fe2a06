import Foundation

extension ModelConfig {
  /// llama.cpp's `general.architecture` names that tdb reads.
  static let ggufArchitectures: [String: ModelFamily] = [
    "llama": .llama, "mistral": .mistral, "qwen2": .qwen2, "qwen3": .qwen3, "gemma": .gemma, "gemma2": .gemma2,
    "gemma3": .gemma3, "gptneox": .gptNeoX, "gpt2": .gpt2,
  ]

  /// The hyperparameters of a GGUF file from its `general.*` and `<arch>.*` keys.
  public init(gguf file: GGUFFile) throws {
    let path = file.url.path, m = file.metadata
    guard let arch = m["general.architecture"]?.string else {
      throw ModelError.badConfig(path, "no general.architecture key")
    }
    guard let family = Self.ggufArchitectures[arch] else {
      throw ModelError.unsupportedArchitecture(arch, file: path, supported: Self.ggufArchitectures.keys.sorted())
    }
    func int(_ key: String) throws -> Int {
      guard let v = m["\(arch).\(key)"]?.int else { throw ModelError.badConfig(path, "no \(arch).\(key) key") }
      return v
    }
    if family == .gptNeoX {
      self = try Self.gptNeoX(gguf: file, int: int)
      return
    }
    if family == .gpt2 {
      self = try Self.gpt2(gguf: file, int: int)
      return
    }
    let heads = try int("attention.head_count"), dModel = try int("embedding_length")
    let dHead = m["\(arch).attention.key_length"]?.int ?? dModel / max(heads, 1)
    let vocab = m["\(arch).vocab_size"]?.int ?? m["tokenizer.ggml.tokens"]?.array?.count ?? 0
    var scaling = RotaryScaling.none
    if let type = m["\(arch).rope.scaling.type"]?.string, type != "none" {
      guard type == "linear", let factor = m["\(arch).rope.scaling.factor"]?.double else {
        throw ModelError.badConfig(path, "rope scaling \"\(type)\" is not supported in GGUF files (tdb reads linear)")
      }
      scaling = .linear(factor: factor)
    }
    if file.tensors["rope_freqs.weight"] != nil {
      // Llama 3's scaling, as llama.cpp's converter stores it: one divisor per frequency.
      scaling = .frequencyFactors(try file.tensor("rope_freqs.weight").scalars)
    }
    let rotary = RotaryConfig(
      theta: m["\(arch).rope.freq_base"]?.double ?? 10_000,
      dimensions: m["\(arch).rope.dimension_count"]?.int ?? dHead, scaling: scaling)
    let isGemma = [.gemma, .gemma2, .gemma3].contains(family)
    self.init(
      family: family, layers: try int("block_count"), heads: heads,
      kvHeads: m["\(arch).attention.head_count_kv"]?.int ?? heads, dModel: dModel, dHead: dHead,
      dMLP: try int("feed_forward_length"), context: try int("context_length"), vocabSize: vocab, norm: .rmsNorm,
      normEpsilon: m["\(arch).attention.layer_norm_rms_epsilon"]?.float ?? 1e-6, positions: .rotary(rotary),
      mlp: isGemma ? .gatedGELU : .gatedSiLU, qkNorm: family == .qwen3 || family == .gemma3,
      tiedEmbeddings: file.tensors["output.weight"] == nil, slidingWindow: nil)
    if isGemma {
      // What llama.cpp's converter leaves out, transformers' GGUF loader takes
      // from the Gemma configurations' defaults; so does tdb.
      embeddingScale = Float(dModel).squareRoot()
      postNorms = family != .gemma
      // Gemma 2 27B (46 layers) scales by d_model / heads, not d_head, as llama.cpp reads it.
      if family == .gemma2 && layers == 46 { attentionScale = 1 / Float(dModel / heads).squareRoot() }
      attentionSoftcap = m["\(arch).attn_logit_softcapping"]?.float
      finalSoftcap = m["\(arch).final_logit_softcapping"]?.float
      if let window = m["\(arch).attention.sliding_window"]?.int {
        attentionWindows = Self.gemmaWindows(family, layers: layers, window: window)
      }
      if family == .gemma3 { localPositions = .rotary(RotaryConfig(theta: 10_000, dimensions: dHead)) }
    }
    self = try validated(path)
  }
}

/// A GGUF file's tensors under their Hugging Face names, dequantized to fp32,
/// with q and k rows put back in Hugging Face's order where llama.cpp's
/// converter permuted them for its interleaved rotation.
struct GGUFWeights: WeightSource {
  let file: GGUFFile
  let config: ModelConfig
  /// Hugging Face name -> GGUF name.
  let ggufName: [String: String]
  /// Whether q/k rows were permuted (llama.cpp does it for its `llama` architecture).
  let permutedQK: Bool
  /// Where GPT-2's projections, turned back to [in, out], are laid (see `gpt2ConvolutionWeights`).
  let arena = WeightArena()

  init(file: GGUFFile, config c: ModelConfig) {
    self.file = file
    self.config = c
    permutedQK = file.metadata["general.architecture"]?.string == "llama"
    if c.family == .gptNeoX {
      ggufName = Self.gptNeoXNames(layers: c.layers)
      return
    }
    if c.family == .gpt2 {
      ggufName = Self.gpt2Names(layers: c.layers)
      return
    }
    let postNorms = c.postNorms
    var map = [
      "model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
      "lm_head.weight": "output.weight",
    ]
    // Gemma 2 and 3 name their pre-MLP norm as Llama does, and add two post-norms.
    let norms =
      postNorms
      ? [
        ("pre_feedforward_layernorm.weight", "ffn_norm.weight"),
        ("post_attention_layernorm.weight", "post_attention_norm.weight"),
        ("post_feedforward_layernorm.weight", "post_ffw_norm.weight"),
      ] : [("post_attention_layernorm.weight", "ffn_norm.weight")]
    let parts =
      norms + [
        ("input_layernorm.weight", "attn_norm.weight"),
        ("self_attn.q_proj.weight", "attn_q.weight"), ("self_attn.k_proj.weight", "attn_k.weight"),
        ("self_attn.v_proj.weight", "attn_v.weight"), ("self_attn.o_proj.weight", "attn_output.weight"),
        ("self_attn.q_proj.bias", "attn_q.bias"), ("self_attn.k_proj.bias", "attn_k.bias"),
        ("self_attn.v_proj.bias", "attn_v.bias"), ("self_attn.o_proj.bias", "attn_output.bias"),
        ("self_attn.q_norm.weight", "attn_q_norm.weight"), ("self_attn.k_norm.weight", "attn_k_norm.weight"),
        ("mlp.gate_proj.weight", "ffn_gate.weight"), ("mlp.up_proj.weight", "ffn_up.weight"),
        ("mlp.down_proj.weight", "ffn_down.weight"),
      ]
    for l in 0..<c.layers {
      for (hf, gguf) in parts { map["model.layers.\(l).\(hf)"] = "blk.\(l).\(gguf)" }
    }
    ggufName = map
  }

  var names: [String] { ggufName.keys.filter(has).sorted() }

  /// llama.cpp's converter stores Gemma's norm weights with the 1 added.
  var normWeightsAreMultipliers: Bool { true }

  func has(_ name: String) -> Bool { ggufName[name].map { file.tensors[$0] != nil } ?? false }

  func tensor(_ name: String, shape: [Int]) throws -> Tensor {
    let gguf = ggufName[name] ?? name
    if config.family == .gpt2, shape.count == 2, Self.gpt2ConvolutionWeights.contains(where: gguf.hasSuffix) {
      return inputMajor([try file.tensor(gguf, shape: [shape[1], shape[0]])], in: arena)
    }
    let t = try file.tensor(gguf, shape: shape)
    if config.family == .gptNeoX, gguf.hasSuffix("attn_qkv.weight") || gguf.hasSuffix("attn_qkv.bias") {
      return Self.interleaveHeads(t, heads: config.heads)
    }
    guard permutedQK else { return t }
    if gguf.hasSuffix("attn_q.weight") { return Self.unpermute(t, heads: config.heads) }
    if gguf.hasSuffix("attn_k.weight") { return Self.unpermute(t, heads: config.kvHeads) }
    return t
  }

  /// llama.cpp's converter stores each head's rows [D, in] with rotary pairs
  /// adjacent (rows 2i, 2i+1); Hugging Face pairs row i with i + D/2. Row
  /// j·D/2 + i of a head in Hugging Face's order is row 2i + j in the file.
  static func unpermute(_ w: Tensor, heads: Int) -> Tensor {
    let rows = w.shape[0], width = w.shape[1], D = rows / heads, half = D / 2
    var out = Tensor(uninitialized: w.shape)
    let src = w.pointer, dst = out.mutablePointer()
    for h in 0..<heads {
      for j in 0..<2 {
        for i in 0..<half {
          (dst + (h * D + j * half + i) * width).update(from: src + (h * D + 2 * i + j) * width, count: width)
        }
      }
    }
    return out
  }
}

extension TransformerModel {
  /// Loads a GGUF file: hyperparameters and tokenizer from its metadata,
  /// weights dequantized to fp32.
  public convenience init(gguf url: URL) throws {
    let file = try GGUFFile(url: url)
    let config = try ModelConfig(gguf: file)
    // The tokenizer is read from the metadata on another core while the weights dequantize.
    let (tokenizer, weights) = try alongside({ try HFTokenizer(gguf: file) }) {
      try ModelWeights(source: GGUFWeights(file: file, config: config), config: config)
    }
    self.init(config: config, weights: weights, tokenizer: tokenizer, source: url)
  }

  /// A model from a Hugging Face folder or a `.gguf` file.
  public static func load(_ url: URL) throws -> TransformerModel {
    url.pathExtension.lowercased() == "gguf" ? try TransformerModel(gguf: url) : try TransformerModel(folder: url)
  }
}

extension HFTokenizer {
  /// The tokenizer of a GGUF file's `tokenizer.ggml.*` metadata.
  public convenience init(gguf file: GGUFFile) throws {
    let m = file.metadata
    func key(_ k: String) -> GGUFValue? { m["tokenizer.ggml." + k] }
    guard let model = key("model")?.string, let tokens = key("tokens")?.strings else {
      throw ModelError.badConfig(file.url.path, "no tokenizer.ggml.model and tokenizer.ggml.tokens keys")
    }
    // llama.cpp adds a BOS by default for SentencePiece vocabularies only.
    try self.init(
      gguf: model, pre: key("pre")?.string, tokens: tokens, merges: key("merges")?.strings,
      scores: key("scores")?.floats, tokenTypes: key("token_type")?.ints, bosID: key("bos_token_id")?.int,
      eosID: key("eos_token_id")?.int, unknownID: key("unknown_token_id")?.int,
      addBOS: key("add_bos_token")?.bool ?? (model == "llama"), addEOS: key("add_eos_token")?.bool ?? false,
      addSpacePrefix: key("add_space_prefix")?.bool,
      mergesInFileOrder: file.metadata["general.architecture"]?.string?.hasPrefix("gemma") ?? false)
  }
}
