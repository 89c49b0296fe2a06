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
  /// Per layer, how many keys back attention sees (the query's own included;
  /// nil: every earlier key): Mistral's sliding window on every layer,
  /// Gemma's on its local layers.
  public var attentionWindows: [Int?]
  /// The rotary embedding of the sliding-window layers where it differs from
  /// `positions` (Gemma 3's local layers keep theta 10,000 and no scaling).
  public var localPositions: PositionKind?
  /// Scores are q·kᵀ times this: 1/√d_head, or 1/√query_pre_attn_scalar (Gemma).
  public var attentionScale: Float
  /// Scores become cap·tanh(score/cap) before the mask (Gemma 2).
  public var attentionSoftcap: Float?
  /// Logits become cap·tanh(logit/cap) (Gemma 2).
  public var finalSoftcap: Float?
  /// Token embeddings are multiplied by this (Gemma: √d_model); hook_embed is the product.
  public var embeddingScale: Float?
  /// A norm after attention and after the MLP too, before their residual add
  /// (Gemma 2 and 3: TransformerLens' ln1_post and ln2_post).
  public var postNorms: Bool
  /// Attention and MLP both read the block's input and add to it together,
  /// x + attn(ln1(x)) + mlp(ln2(x)) (GPT-NeoX): no resid_mid.
  public var parallelResidual: Bool

  public init(
    family: ModelFamily = .gpt2, layers: Int, heads: Int, kvHeads: Int? = nil, dModel: Int, dHead: Int? = nil,
    dMLP: Int? = nil, context: Int, vocabSize: Int, norm: NormKind = .layerNorm, normEpsilon: Float = 1e-5,
    positions: PositionKind = .learned, mlp: MLPKind = .gelu, qkNorm: Bool = false, tiedEmbeddings: Bool = true,
    slidingWindow: Int? = nil, parallelResidual: Bool = false
  ) {
    let dHead = dHead ?? dModel / max(heads, 1)
    self.family = family
    self.layers = layers
    self.heads = heads
    self.kvHeads = kvHeads ?? heads
    self.dModel = dModel
    self.dHead = dHead
    self.dMLP = dMLP ?? 4 * dModel
    self.context = context
    self.vocabSize = vocabSize
    self.norm = norm
    self.normEpsilon = normEpsilon
    self.positions = positions
    self.mlp = mlp
    self.qkNorm = qkNorm
    self.tiedEmbeddings = tiedEmbeddings
    attentionWindows = Array(repeating: slidingWindow, count: layers)
    localPositions = nil
    attentionScale = 1 / Float(dHead).squareRoot()
    attentionSoftcap = nil
    finalSoftcap = nil
    embeddingScale = nil
    postNorms = false
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
    for case .rotary(let r) in [positions, localPositions ?? positions]
    where r.dimensions % 2 != 0 || r.dimensions > dHead {
      throw ModelError.badConfig(source, "rotary dimension \(r.dimensions) must be even and at most d_head \(dHead)")
    }
    guard attentionWindows.count == layers, attentionWindows.allSatisfy({ ($0 ?? 1) > 0 }) else {
      throw ModelError.badConfig(source, "a sliding window must be positive, one entry per layer")
    }
    return self
  }
}

/// The architectures tdb runs, as `config.json` names them.
public enum ModelFamily: String, Sendable, CaseIterable {
  case gpt2, llama, mistral, qwen2, qwen3, gemma, gemma2, gemma3
  case gptNeoX = "gpt_neox"

  public var displayName: String {
    switch self {
    case .gpt2: "GPT-2"
    case .llama: "Llama"
    case .mistral: "Mistral"
    case .qwen2: "Qwen2"
    case .qwen3: "Qwen3"
    case .gemma: "Gemma"
    case .gemma2: "Gemma 2"
    case .gemma3: "Gemma 3"
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

extension ModelConfig {
  /// The sliding windows of Gemma's layers where the file names no layer
  /// types (as transformers' configurations default them): Gemma 2
  /// alternates, local first; Gemma 3 has `pattern` - 1 local layers to one global.
  static func gemmaWindows(_ family: ModelFamily, layers: Int, window: Int, pattern: Int = 6) -> [Int?] {
    (0..<layers).map { l in
      let local = family == .gemma2 ? l % 2 == 0 : (l + 1) % pattern != 0
      return local ? window : nil
    }
  }
}

extension ModelConfig {
  /// "causal", with the sliding-window layers, the local layers' rotary
  /// embedding, a non-standard scale and a soft-cap where the model has them.
  public var attentionSummary: String {
    var parts = ["causal"]
    let local = (0..<layers).filter { attentionWindows[$0] != nil }
    if let window = local.first.flatMap({ attentionWindows[$0] }) {
      let which = local.count == layers ? "every layer" : "\(local.count) of \(layers) layers (\(Self.ranges(local)))"
      parts.append("sliding window \(window) on \(which)")
      if let lp = localPositions, lp != positions { parts.append("their positions \(lp.summary)") }
    }
    if abs(attentionScale * Float(dHead).squareRoot() - 1) > 1e-6 {
      parts.append("scale 1/√\(String(format: "%g", 1 / (attentionScale * attentionScale)))")
    }
    if let cap = attentionSoftcap { parts.append("scores soft-capped at \(String(format: "%g", cap))") }
    if let cap = finalSoftcap { parts.append("logits soft-capped at \(String(format: "%g", cap))") }
    return parts.joined(separator: "; ")
  }

  /// "0-4, 6-10, 12" for [0, 1, 2, 3, 4, 6, ...].
  static func ranges(_ xs: [Int]) -> String {
    var out: [String] = [], start = xs.first ?? 0, last = start
    for x in xs.dropFirst() + [Int.min] {
      if x == last + 1 {
        last = x
        continue
      }
      out.append(start == last ? "\(start)" : "\(start)-\(last)")
      (start, last) = (x, x)
    }
    return xs.isEmpty ? "" : out.joined(separator: ", ")
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
  /// (gelu_tanh(x · W_gate) ⊙ (x · W_up)) · W_down (GeGLU: Gemma).
  case gatedGELU
  /// gelu(x · W_in + b) · W_out + b with the exact GELU, 0.5 · x · (1 + erf(x/√2))
  /// (Hugging Face's "gelu": Pythia).
  case exactGELU

  /// Whether there is an up projection beside the gate.
  public var isGated: Bool { self == .gatedSiLU || self == .gatedGELU }
}

/// Errors loading or running a model; one line each.
public enum ModelError: Error, CustomStringConvertible, Equatable {
  case missingFile(String)
  case badConfig(String, String)
  /// An architecture tdb does not run; `supported` names those it does, as the file spells them.
  case unsupportedArchitecture(String, file: String, supported: [String])
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
      "no such file '\(p)'; --model expects a Hugging Face folder (config.json, model.safetensors, tokenizer.json or vocab.json + merges.txt), a .gguf file, or a built-in name (\(ModelLocator.builtIns.map(\.name).joined(separator: ", ")))"
    case .badConfig(let p, let why): "'\(p)': \(why)"
    case .unsupportedArchitecture(let name, let file, let supported):
      "'\(file)': the architecture '\(name)' is not supported; tdb runs " + supported.joined(separator: ", ")
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
