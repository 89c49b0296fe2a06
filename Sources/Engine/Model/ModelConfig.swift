import Foundation

/// The hyperparameters of a GPT-2-family model, read from `config.json`.
public struct ModelConfig: Sendable, Equatable {
  public var layers: Int  // n_layer
  public var heads: Int  // n_head
  public var dModel: Int  // n_embd
  public var dMLP: Int  // n_inner, or 4 * n_embd when null
  public var context: Int  // n_positions
  public var vocabSize: Int  // vocab_size
  public var layerNormEpsilon: Float  // layer_norm_epsilon
  public var dHead: Int { dModel / heads }

  public init(
    layers: Int, heads: Int, dModel: Int, dMLP: Int? = nil, context: Int, vocabSize: Int, layerNormEpsilon: Float = 1e-5
  ) {
    self.layers = layers
    self.heads = heads
    self.dModel = dModel
    self.dMLP = dMLP ?? 4 * dModel
    self.context = context
    self.vocabSize = vocabSize
    self.layerNormEpsilon = layerNormEpsilon
  }

  /// Parses a Hugging Face GPT-2 `config.json`.
  public init(url: URL) throws {
    let path = url.path
    guard let data = FileManager.default.contents(atPath: path) else { throw ModelError.missingFile(path) }
    guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
      throw ModelError.badConfig(path, "not a JSON object")
    }
    func int(_ key: String, _ alternatives: String...) throws -> Int {
      for k in [key] + alternatives { if let n = json[k] as? NSNumber { return n.intValue } }
      throw ModelError.badConfig(path, "missing \"\(key)\"")
    }
    let activation = (json["activation_function"] as? String) ?? "gelu_new"
    guard ["gelu_new", "gelu_pytorch_tanh"].contains(activation) else {
      throw ModelError.badConfig(
        path, "activation_function \"\(activation)\" is not supported (tdb implements gelu_new)")
    }
    if let type = json["model_type"] as? String, type != "gpt2" {
      throw ModelError.badConfig(path, "model_type \"\(type)\" is not gpt2")
    }
    for flag in ["scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn"] where (json[flag] as? Bool) == true {
      throw ModelError.badConfig(path, "\(flag) = true is not supported")
    }
    self.init(
      layers: try int("n_layer", "num_hidden_layers"), heads: try int("n_head", "num_attention_heads"),
      dModel: try int("n_embd", "hidden_size"), dMLP: (json["n_inner"] as? NSNumber)?.intValue,
      context: try int("n_positions", "n_ctx"), vocabSize: try int("vocab_size"),
      layerNormEpsilon: (json["layer_norm_epsilon"] as? NSNumber)?.floatValue ?? 1e-5)
    guard layers > 0, heads > 0, dModel > 0, dModel % heads == 0, context > 0, vocabSize > 0, dMLP > 0 else {
      throw ModelError.badConfig(path, "n_embd must be a positive multiple of n_head and all sizes positive")
    }
  }
}

/// Errors loading or running a model; one line each.
public enum ModelError: Error, CustomStringConvertible, Equatable {
  case missingFile(String)
  case badConfig(String, String)
  case promptTooLong(tokens: Int, context: Int)
  case emptyPrompt
  case tokenOutOfRange(Int, vocab: Int)
  case unknownHook(String, suggestion: String?)
  case badIntervention(String)
  case badSAE(String, String)
  case interrupted

  public var description: String {
    switch self {
    case .missingFile(let p):
      "no such file '\(p)'; --model expects a Hugging Face GPT-2 folder (config.json, model.safetensors, vocab.json, merges.txt)"
    case .badConfig(let p, let why): "'\(p)': \(why)"
    case .promptTooLong(let n, let ctx): "the prompt is \(n) tokens but the model's context is \(ctx); shorten it"
    case .emptyPrompt: "the prompt has no tokens"
    case .tokenOutOfRange(let id, let vocab): "token id \(id) is outside the vocabulary (0..<\(vocab))"
    case .unknownHook(let name, let hint): "unknown hook point '\(name)'" + (hint.map { ": \($0)" } ?? "")
    case .badIntervention(let why): why
    case .badSAE(let p, let why): "SAE '\(p)': \(why)"
    case .interrupted: "interrupted"
    }
  }
}
