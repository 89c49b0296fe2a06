import Foundation

extension ModelConfig {
  /// Parses a Hugging Face `config.json` as transformers 4.x and 5.x write it
  /// (`rope_theta` + `rope_scaling`, or `rope_parameters`; `head_dim` given or implied).
  public init(url: URL) throws {
    let path = url.path
    guard let data = FileManager.default.contents(atPath: path) else { throw ModelError.missingFile(path) }
    guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
      throw ModelError.badConfig(path, "not a JSON object")
    }
    let family = try Self.family(json, path: path)
    switch family {
    case .gpt2: self = try Self.gpt2(json, path: path).validated(path)
    case .gptNeoX: self = try Self.gptNeoX(json, path: path).validated(path)
    default: self = try Self.llamaLike(json, family: family, path: path).validated(path)
    }
  }

  private static func family(_ json: [String: Any], path: String) throws -> ModelFamily {
    let architectures = (json["architectures"] as? [String]) ?? []
    let type = json["model_type"] as? String
    if type == "gemma3" || architectures.contains("Gemma3ForConditionalGeneration") {
      throw ModelError.badConfig(
        path,
        "this is a multimodal Gemma 3 checkpoint; tdb runs the text-only ones (Gemma3ForCausalLM, model_type gemma3_text: 270M, 1B)"
      )
    }
    if type == "gemma3_text" { return .gemma3 }
    if let type, let family = ModelFamily(rawValue: type) { return family }
    for (prefix, family) in [
      ("GPT2", ModelFamily.gpt2), ("Llama", .llama), ("Mistral", .mistral), ("Qwen2", .qwen2), ("Qwen3", .qwen3),
      ("Gemma3", .gemma3), ("Gemma2", .gemma2), ("Gemma", .gemma), ("GPTNeoXFor", .gptNeoX),
    ] where architectures.contains(where: { $0.hasPrefix(prefix) && !$0.hasPrefix(prefix + "Moe") }) {
      return family
    }
    // A GPT-2 folder from before model_type was written.
    if type == nil, architectures.isEmpty, json["n_embd"] != nil { return .gpt2 }
    throw ModelError.unsupportedArchitecture(
      type ?? architectures.first ?? "unnamed", file: path, supported: ModelFamily.allCases.map(\.rawValue))
  }

  static func number(_ json: [String: Any], _ keys: [String], path: String) throws -> NSNumber {
    for k in keys { if let n = json[k] as? NSNumber { return n } }
    throw ModelError.badConfig(path, "missing \"\(keys[0])\"")
  }

  private static func gpt2(_ json: [String: Any], path: String) throws -> ModelConfig {
    func int(_ keys: String...) throws -> Int { try number(json, keys, path: path).intValue }
    let activation = (json["activation_function"] as? String) ?? "gelu_new"
    guard ["gelu_new", "gelu_pytorch_tanh"].contains(activation) else {
      throw ModelError.badConfig(
        path, "activation_function \"\(activation)\" is not supported (tdb implements gelu_new)")
    }
    for flag in ["scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn"] where (json[flag] as? Bool) == true {
      throw ModelError.badConfig(path, "\(flag) = true is not supported")
    }
    let dModel = try int("n_embd", "hidden_size"), heads = try int("n_head", "num_attention_heads")
    guard heads > 0, dModel % heads == 0 else {
      throw ModelError.badConfig(path, "n_embd must be a positive multiple of n_head and all sizes positive")
    }
    return ModelConfig(
      family: .gpt2, layers: try int("n_layer", "num_hidden_layers"), heads: heads, dModel: dModel,
      dMLP: (json["n_inner"] as? NSNumber)?.intValue, context: try int("n_positions", "n_ctx"),
      vocabSize: try int("vocab_size"), normEpsilon: (json["layer_norm_epsilon"] as? NSNumber)?.floatValue ?? 1e-5)
  }

  private static func llamaLike(_ json: [String: Any], family: ModelFamily, path: String) throws -> ModelConfig {
    func int(_ keys: String...) throws -> Int { try number(json, keys, path: path).intValue }
    func float(_ key: String) -> Float? { (json[key] as? NSNumber)?.floatValue }
    let isGemma = [.gemma, .gemma2, .gemma3].contains(family)
    // Gemma's hidden_activation wins over its hidden_act, as in transformers.
    let activation =
      (isGemma ? json["hidden_activation"] as? String : nil) ?? (json["hidden_act"] as? String)
      ?? (isGemma ? "gelu_pytorch_tanh" : "silu")
    let mlp: MLPKind
    switch activation {
    case "silu": mlp = .gatedSiLU
    case "gelu_pytorch_tanh",
      "gelu_new" where isGemma:
      mlp = .gatedGELU
    case "gelu" where family == .gemma: mlp = .gatedGELU  // Gemma 1 configs say gelu and mean the tanh form
    default:
      throw ModelError.badConfig(
        path, "hidden_act \"\(activation)\" is not supported (tdb implements silu and gelu_pytorch_tanh gates)")
    }
    let heads = try int("num_attention_heads"), dModel = try int("hidden_size")
    let dHead = (json["head_dim"] as? NSNumber)?.intValue ?? dModel / max(heads, 1)
    // transformers 5 puts theta and scaling in rope_parameters; 4.x in rope_theta + rope_scaling.
    let parameters = (json["rope_parameters"] as? [String: Any]) ?? (json["rope_scaling"] as? [String: Any]) ?? [:]
    // Gemma 3 in transformers 5 keys its rope parameters by layer type.
    let global = (parameters["full_attention"] as? [String: Any]) ?? parameters
    let local = parameters["sliding_attention"] as? [String: Any]
    let theta =
      (global["rope_theta"] as? NSNumber)?.doubleValue ?? (json["rope_theta"] as? NSNumber)?.doubleValue ?? 10_000
    let partial =
      (parameters["partial_rotary_factor"] as? NSNumber ?? json["partial_rotary_factor"] as? NSNumber)?
      .doubleValue ?? 1
    let rotary = RotaryConfig(
      theta: theta, dimensions: Int(Double(dHead) * partial), scaling: try ropeScaling(global, path: path))
    var window: Int? = nil
    if family == .mistral || (json["use_sliding_window"] as? Bool) == true {
      window = (json["sliding_window"] as? NSNumber)?.intValue
    }
    let layers = try int("num_hidden_layers")
    var config = ModelConfig(
      family: family, layers: layers, heads: heads,
      kvHeads: (json["num_key_value_heads"] as? NSNumber)?.intValue ?? heads, dModel: dModel, dHead: dHead,
      dMLP: try int("intermediate_size"), context: try int("max_position_embeddings"), vocabSize: try int("vocab_size"),
      norm: .rmsNorm, normEpsilon: float("rms_norm_eps") ?? 1e-6, positions: .rotary(rotary), mlp: mlp,
      qkNorm: family == .qwen3 || family == .gemma3,
      tiedEmbeddings: (json["tie_word_embeddings"] as? Bool) ?? isGemma, slidingWindow: window)
    // Which layers slide, where config.json writes layer_types (one entry per layer).
    func windows(fromLayerTypes window: Int) throws -> [Int?]? {
      guard let types = json["layer_types"] as? [String] else { return nil }
      guard types.count == layers else { throw ModelError.badConfig(path, "layer_types needs one entry per layer") }
      return types.map { $0 == "sliding_attention" ? window : nil }
    }
    if let window, !isGemma {
      // Qwen2 slides only on some layers: layer_types when written, else the
      // layers from max_window_layers on (as transformers reads it).
      if let perLayer = try windows(fromLayerTypes: window) {
        config.attentionWindows = perLayer
      } else if family == .qwen2, let from = (json["max_window_layers"] as? NSNumber)?.intValue {
        config.attentionWindows = (0..<layers).map { $0 >= from ? window : nil }
      }
    }
    guard isGemma else { return config }
    config.embeddingScale = Float(dModel).squareRoot()
    config.postNorms = family != .gemma
    config.attentionScale = 1 / (float("query_pre_attn_scalar") ?? Float(dHead)).squareRoot()
    config.attentionSoftcap = float("attn_logit_softcapping")
    config.finalSoftcap = float("final_logit_softcapping")
    if family != .gemma, let size = (json["sliding_window"] as? NSNumber)?.intValue {
      // layer_types when written; else Gemma 2 alternates (local first) and
      // Gemma 3 has sliding_window_pattern - 1 local layers to one global.
      let pattern =
        (json["sliding_window_pattern"] as? NSNumber ?? json["_sliding_window_pattern"] as? NSNumber)?
        .intValue ?? 6
      config.attentionWindows =
        try windows(fromLayerTypes: size) ?? Self.gemmaWindows(family, layers: layers, window: size, pattern: pattern)
    }
    if family == .gemma3 {
      let localTheta =
        (local?["rope_theta"] as? NSNumber)?.doubleValue ?? (json["rope_local_base_freq"] as? NSNumber)?.doubleValue
        ?? 10_000
      config.localPositions = .rotary(
        RotaryConfig(theta: localTheta, dimensions: dHead, scaling: try ropeScaling(local ?? [:], path: path)))
    }
    return config
  }

  static func ropeScaling(_ p: [String: Any], path: String) throws -> RotaryScaling {
    let type = (p["rope_type"] as? String) ?? (p["type"] as? String) ?? "default"
    func double(_ key: String) throws -> Double {
      guard let n = p[key] as? NSNumber else {
        throw ModelError.badConfig(path, "rope scaling \(type) needs \"\(key)\"")
      }
      return n.doubleValue
    }
    switch type {
    case "default": return .none
    case "linear": return .linear(factor: try double("factor"))
    case "llama3":
      return .llama3(
        factor: try double("factor"), lowFrequencyFactor: try double("low_freq_factor"),
        highFrequencyFactor: try double("high_freq_factor"),
        originalContext: Int(try double("original_max_position_embeddings")))
    default:
      throw ModelError.badConfig(
        path, "rope_type \"\(type)\" is not supported (tdb implements default, linear, llama3)")
    }
  }
}
