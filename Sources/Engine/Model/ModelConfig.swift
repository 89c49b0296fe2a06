import Foundation

/// The hyperparameters of a decoder-only transformer, read from a Hugging
/// Face `config.json` or a GGUF file's metadata. Every family is one of these:
/// the forward and backward passes read the layer options, never the family.
public struct ModelConfig: Sendable, Equatable {
  public var family: ModelFamily
  public var layers: Int
  public var heads: Int  // query heads
  public var kvHeads: Int  // key/value heads (grouped-query attention when < heads)
  public var dModel: Int
  public var dHead: Int
  public var dMLP: Int
  public var context: Int
  public var vocabSize: Int
  public var norm: NormKind
  public var normEpsilon: Float
  public var positions: PositionKind
  public var mlp: MLPKind
  /// RMSNorm over each head's q and k before the rotation (Qwen3).
  public var qkNorm: Bool
  public var tiedEmbeddings: Bool
  /// Attention sees only this many keys back (Mistral); tdb refuses longer prompts.
  public var slidingWindow: Int?
  /// Attention and MLP both read the block's input and add to it together,
  /// x + attn(ln1(x)) + mlp(ln2(x)) (GPT-NeoX): no resid_mid.
  public var parallelResidual: Bool

  public init(
    family: ModelFamily = .gpt2, layers: Int, heads: Int, kvHeads: Int? = nil, dModel: Int, dHead: Int? = nil,
    dMLP: Int? = nil, context: Int, vocabSize: Int, norm: NormKind = .layerNorm, normEpsilon: Float = 1e-5,
    positions: PositionKind = .learned, mlp: MLPKind = .gelu, qkNorm: Bool = false, tiedEmbeddings: Bool = true,
    slidingWindow: Int? = nil, parallelResidual: Bool = false
  ) {
    self.family = family
    self.layers = layers
    self.heads = heads
    self.kvHeads = kvHeads ?? heads
    self.dModel = dModel
    self.dHead = dHead ?? dModel / max(heads, 1)
    self.dMLP = dMLP ?? 4 * dModel
    self.context = context
    self.vocabSize = vocabSize
    self.norm = norm
    self.normEpsilon = normEpsilon
    self.positions = positions
    self.mlp = mlp
    self.qkNorm = qkNorm
    self.tiedEmbeddings = tiedEmbeddings
    self.slidingWindow = slidingWindow
    self.parallelResidual = parallelResidual
  }

  /// Width of the query projection (heads · d_head) and of keys and values.
  public var qWidth: Int { heads * dHead }
  public var kvWidth: Int { kvHeads * dHead }
  /// The fused projection's columns: q | k | v.
  public var qkvWidth: Int { qWidth + 2 * kvWidth }
  /// The key/value head query head `h` reads.
  public func kvHead(of h: Int) -> Int { h / (heads / kvHeads) }
  /// Column of the fused q|k|v projection where head h's value starts.
  public func valueColumn(head h: Int) -> Int { qWidth + kvWidth + kvHead(of: h) * dHead }

  /// Checks the sizes fit together; `source` names the file for the error.
  func validated(_ source: String) throws -> ModelConfig {
    guard layers > 0, heads > 0, kvHeads > 0, dModel > 0, dHead > 0, dMLP > 0, context > 0, vocabSize > 0 else {
      throw ModelError.badConfig(source, "every size must be positive")
    }
    guard heads % kvHeads == 0 else {
      throw ModelError.badConfig(source, "\(heads) query heads cannot share \(kvHeads) key/value heads evenly")
    }
    if case .rotary(let r) = positions, r.dimensions % 2 != 0 || r.dimensions > dHead {
      throw ModelError.badConfig(source, "rotary dimension \(r.dimensions) must be even and at most d_head \(dHead)")
    }
    return self
  }
}

/// The architectures tdb runs, as `config.json` names them.
public enum ModelFamily: String, Sendable, CaseIterable {
  case gpt2, llama, mistral, qwen2, qwen3
  case gptNeoX = "gpt_neox"

  public var displayName: String {
    switch self {
    case .gpt2: "GPT-2"
    case .llama: "Llama"
    case .mistral: "Mistral"
    case .qwen2: "Qwen2"
    case .qwen3: "Qwen3"
    case .gptNeoX: "GPT-NeoX"
    }
  }
}

public enum NormKind: String, Sendable {
  /// (x - mean) / sqrt(var + eps) · w + b
  case layerNorm
  /// x / sqrt(mean(x²) + eps) · w
  case rmsNorm

  /// Whether the mean is subtracted.
  var centered: Bool { self == .layerNorm }
}

public enum PositionKind: Sendable, Equatable {
  /// A learned position embedding added to the token embedding (GPT-2).
  case learned
  /// Rotary embeddings on q and k (rotate-half layout, as Hugging Face's Llama).
  case rotary(RotaryConfig)
}

extension PositionKind {
  /// "learned", or "rotary theta 100000" with its dimensions and scaling.
  public var summary: String {
    switch self {
    case .learned: return "learned"
    case .rotary(let r):
      var s = "rotary theta \(String(format: "%g", r.theta)) over \(r.dimensions) dims"
      switch r.scaling {
      case .none: break
      case .linear(let f): s += ", linear scaling \(f)"
      case .llama3(let f, _, _, let original): s += ", llama3 scaling \(f) from \(original)"
      case .frequencyFactors: s += ", frequency factors"
      }
      return s
    }
  }
}

public struct RotaryConfig: Sendable, Equatable {
  public var theta: Double
  /// How many of each head's dimensions rotate (the first ones).
  public var dimensions: Int
  public var scaling: RotaryScaling

  public init(theta: Double, dimensions: Int, scaling: RotaryScaling = .none) {
    self.theta = theta
    self.dimensions = dimensions
    self.scaling = scaling
  }
}

public enum RotaryScaling: Sendable, Equatable {
  case none
  /// Positions divided by `factor` (rope_type "linear").
  case linear(factor: Double)
  /// Llama 3's frequency-dependent scaling (rope_type "llama3").
  case llama3(factor: Double, lowFrequencyFactor: Double, highFrequencyFactor: Double, originalContext: Int)
  /// Each frequency divided by its factor (llama.cpp's `rope_freqs` tensor).
  case frequencyFactors([Float])
}

public enum MLPKind: String, Sendable {
  /// gelu_new(x · W_in + b) · W_out + b (GPT-2).
  case gelu
  /// (silu(x · W_gate) ⊙ (x · W_up)) · W_down (SwiGLU: Llama, Mistral, Qwen).
  case gatedSiLU
  /// gelu(x · W_in + b) · W_out + b with the exact GELU, 0.5 · x · (1 + erf(x/√2))
  /// (Hugging Face's "gelu": Pythia).
  case exactGELU
}

/// Errors loading or running a model; one line each.
public enum ModelError: Error, CustomStringConvertible, Equatable {
  case missingFile(String)
  case badConfig(String, String)
  case unsupportedArchitecture(String, file: String)
  case promptTooLong(tokens: Int, context: Int)
  case beyondSlidingWindow(tokens: Int, window: Int)
  case emptyPrompt
  case tokenOutOfRange(Int, vocab: Int)
  case unknownHook(String, suggestion: String?)
  case badIntervention(String)
  case badSAE(String, String)
  case interrupted

  public var description: String {
    switch self {
    case .missingFile(let p):
      "no such file '\(p)'; --model expects a Hugging Face folder (config.json, model.safetensors, tokenizer.json or vocab.json + merges.txt), a .gguf file, or a built-in name (tdb-demo, smollm2)"
    case .badConfig(let p, let why): "'\(p)': \(why)"
    case .unsupportedArchitecture(let name, let file):
      "'\(file)': the architecture '\(name)' is not supported; tdb runs "
        + ModelFamily.allCases.map(\.rawValue).joined(separator: ", ")
    case .promptTooLong(let n, let ctx): "the prompt is \(n) tokens but the model's context is \(ctx); shorten it"
    case .beyondSlidingWindow(let n, let w):
      "the prompt is \(n) tokens but this model attends only \(w) tokens back (sliding window), which tdb does not implement; shorten it to \(w)"
    case .emptyPrompt: "the prompt has no tokens"
    case .tokenOutOfRange(let id, let vocab): "token id \(id) is outside the vocabulary (0..<\(vocab))"
    case .unknownHook(let name, let hint): "unknown hook point '\(name)'" + (hint.map { ": \($0)" } ?? "")
    case .badIntervention(let why): why
    case .badSAE(let p, let why): "SAE '\(p)': \(why)"
    case .interrupted: "interrupted"
    }
  }
}
