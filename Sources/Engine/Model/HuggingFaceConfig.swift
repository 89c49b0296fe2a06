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
    if let type, let family = ModelFamily(rawValue: type) { return family }
    for (prefix, family) in [
      ("GPT2", ModelFamily.gpt2), ("Llama", .llama), ("Mistral", .mistral), ("Qwen2", .qwen2), ("Qwen3", .qwen3),
      ("GPTNeoXFor", .gptNeoX),
    ] where architectures.contains(where: { $0.hasPrefix(prefix) && !$0.hasPrefix(prefix + "Moe") }) {
      return family
    }
    // A GPT-2 folder from before model_type was written.
    if type == nil, architectures.isEmpty, json["n_embd"] != nil { return .gpt2 }
    throw ModelError.unsupportedArchitecture(type ?? architectures.first ?? "unnamed", file: path)
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
    let activation = (json["hidden_act"] as? String) ?? "silu"
    guard activation == "silu" else {
      throw ModelError.badConfig(path, "hidden_act \"\(activation)\" is not supported (tdb implements silu)")
    }
    let heads = try int("num_attention_heads"), dModel = try int("hidden_size")
    let dHead = (json["head_dim"] as? NSNumber)?.intValue ?? dModel / max(heads, 1)
    // transformers 5 puts theta and scaling in rope_parameters; 4.x in rope_theta + rope_scaling.
    let parameters = (json["rope_parameters"] as? [String: Any]) ?? (json["rope_scaling"] as? [String: Any]) ?? [:]
    let theta =
      (parameters["rope_theta"] as? NSNumber)?.doubleValue ?? (json["rope_theta"] as? NSNumber)?.doubleValue ?? 10_000
    let partial =
      (parameters["partial_rotary_factor"] as? NSNumber ?? json["partial_rotary_factor"] as? NSNumber)?
      .doubleValue ?? 1
    let rotary = RotaryConfig(
      theta: theta, dimensions: Int(Double(dHead) * partial), scaling: try ropeScaling(parameters, path: path))
    var window: Int? = nil
    if family == .mistral || (json["use_sliding_window"] as? Bool) == true {
      window = (json["sliding_window"] as? NSNumber)?.intValue
    }
    return ModelConfig(
      family: family, layers: try int("num_hidden_layers"), heads: heads,
      kvHeads: (json["num_key_value_heads"] as? NSNumber)?.intValue ?? heads, dModel: dModel, dHead: dHead,
      dMLP: try int("intermediate_size"), context: try int("max_position_embeddings"), vocabSize: try int("vocab_size"),
      norm: .rmsNorm, normEpsilon: (json["rms_norm_eps"] as? NSNumber)?.floatValue ?? 1e-6,
      positions: .rotary(rotary), mlp: .gatedSiLU, qkNorm: family == .qwen3,
      tiedEmbeddings: (json["tie_word_embeddings"] as? Bool) ?? false, slidingWindow: window)
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
