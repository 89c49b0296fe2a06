import Foundation

extension ModelConfig {
  /// GPT-NeoX (Pythia): LayerNorms, partial rotary over the first
  /// `rotary_pct` of each head (rotate-half layout, as Llama's), a GELU MLP,
  /// and attention and MLP in parallel unless `use_parallel_residual` is false.
  /// Pythia's config.json names the rotation `rotary_pct` + `rotary_emb_base`;
  /// transformers 5 writes `rope_parameters` (`partial_rotary_factor`, `rope_theta`).
  static func gptNeoX(_ json: [String: Any], path: String) throws -> ModelConfig {
    func int(_ keys: String...) throws -> Int { try number(json, keys, path: path).intValue }
    func double(_ key: String, in dict: [String: Any]) -> Double? { (dict[key] as? NSNumber)?.doubleValue }
    let activation = (json["hidden_act"] as? String) ?? "gelu"
    let mlp: MLPKind
    switch activation {
    case "gelu": mlp = .exactGELU
    // gelu_fast is the same tanh formula as gelu_new, its constant folded in.
    case "gelu_new", "gelu_pytorch_tanh", "gelu_fast": mlp = .gelu
    default:
      throw ModelError.badConfig(
        path, "hidden_act \"\(activation)\" is not supported (tdb implements gelu and gelu_new)")
    }
    let heads = try int("num_attention_heads"), dModel = try int("hidden_size")
    guard heads > 0, dModel % heads == 0 else {
      throw ModelError.badConfig(path, "hidden_size must be a positive multiple of num_attention_heads")
    }
    let dHead = dModel / heads
    let parameters = (json["rope_parameters"] as? [String: Any]) ?? (json["rope_scaling"] as? [String: Any]) ?? [:]
    let theta = double("rope_theta", in: parameters) ?? double("rotary_emb_base", in: json) ?? 10_000
    let partial = double("partial_rotary_factor", in: parameters) ?? double("rotary_pct", in: json) ?? 0.25
    let rotary = RotaryConfig(
      theta: theta, dimensions: Int(Double(dHead) * partial), scaling: try ropeScaling(parameters, path: path))
    return ModelConfig(
      family: .gptNeoX, layers: try int("num_hidden_layers"), heads: heads, dModel: dModel, dHead: dHead,
      dMLP: (json["intermediate_size"] as? NSNumber)?.intValue, context: try int("max_position_embeddings"),
      vocabSize: try int("vocab_size"), norm: .layerNorm,
      normEpsilon: (json["layer_norm_eps"] as? NSNumber)?.floatValue ?? 1e-5, positions: .rotary(rotary), mlp: mlp,
      tiedEmbeddings: (json["tie_word_embeddings"] as? Bool) ?? false,
      parallelResidual: (json["use_parallel_residual"] as? Bool) ?? true)
  }
}
