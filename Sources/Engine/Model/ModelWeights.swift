import CBLAS
import Foundation

/// The parameters of one transformer block, in one layout for every family
/// (C = d_model, F = d_mlp, Q = heads · d_head, K = kv heads · d_head).
/// Matrices are stored [in, out] (GPT-2's Conv1D layout); Hugging Face
/// `nn.Linear` weights [out, in] are transposed on load. A family without a
/// bias has zeros there, so every later computation reads one layout.
public struct BlockWeights: Sendable {
  public var ln1Weight, ln1Bias: Tensor  // [C]
  public var attnWeight: Tensor  // [C, Q + 2K]  q | k | v
  public var attnBias: Tensor  // [Q + 2K]
  public var attnProjWeight: Tensor  // [Q, C]  output projection
  public var attnProjBias: Tensor  // [C]
  public var ln2Weight, ln2Bias: Tensor  // [C]
  public var fcWeight: Tensor  // [C, F]  c_fc, or the gate of a gated MLP
  public var fcBias: Tensor  // [F]
  public var fcProjWeight: Tensor  // [F, C]  c_proj / down_proj
  public var fcProjBias: Tensor  // [C]
  /// A gated MLP's up projection [C, F] (nil for GPT-2's MLP).
  public var upWeight: Tensor? = nil
  /// Qwen3's and Gemma 3's RMSNorm weights over each head's q and k [D].
  public var qNormWeight: Tensor? = nil
  public var kNormWeight: Tensor? = nil
  /// Post-norm models (Gemma 2, 3): the RMSNorms of attention's and the MLP's outputs [C].
  public var ln1PostWeight: Tensor? = nil
  public var ln2PostWeight: Tensor? = nil
}

/// All parameters of a model (llm.c's ParameterTensors, one block per layer).
public struct ModelWeights: Sendable {
  public var wte: Tensor  // [V, C] token embedding
  /// [T, C] learned position embedding; nil for rotary models.
  public var wpe: Tensor?
  public var blocks: [BlockWeights]
  public var lnfWeight, lnfBias: Tensor  // [C]
  /// Unembedding [V, C]; the same memory as `wte` when tied.
  public var lmHead: Tensor

  /// Reads every tensor with its expected shape, by the names of the
  /// configuration's family.
  public init(source: any WeightSource, config c: ModelConfig) throws {
    switch c.family {
    case .gpt2: try self.init(gpt2: source, config: c)
    case .gptNeoX: try self.init(gptNeoX: source, config: c)
    default: try self.init(llama: source, config: c)
    }
  }

  /// Hugging Face GPT-2 names, with or without the `transformer.` prefix.
  private init(gpt2 source: any WeightSource, config c: ModelConfig) throws {
    let prefix = source.names.contains { $0.hasPrefix("transformer.") } ? "transformer." : ""
    func t(_ name: String, _ shape: [Int]) throws -> Tensor { try source.tensor(prefix + name, shape: shape) }
    let C = c.dModel, F = c.dMLP
    wte = try t("wte.weight", [c.vocabSize, C])
    wpe = try t("wpe.weight", [c.context, C])
    blocks = try parallelMap(c.layers) { l in
      let p = "h.\(l)."
      return BlockWeights(
        ln1Weight: try t(p + "ln_1.weight", [C]), ln1Bias: try t(p + "ln_1.bias", [C]),
        attnWeight: try t(p + "attn.c_attn.weight", [C, 3 * C]), attnBias: try t(p + "attn.c_attn.bias", [3 * C]),
        attnProjWeight: try t(p + "attn.c_proj.weight", [C, C]), attnProjBias: try t(p + "attn.c_proj.bias", [C]),
        ln2Weight: try t(p + "ln_2.weight", [C]), ln2Bias: try t(p + "ln_2.bias", [C]),
        fcWeight: try t(p + "mlp.c_fc.weight", [C, F]), fcBias: try t(p + "mlp.c_fc.bias", [F]),
        fcProjWeight: try t(p + "mlp.c_proj.weight", [F, C]), fcProjBias: try t(p + "mlp.c_proj.bias", [C]))
    }
    lnfWeight = try t("ln_f.weight", [C])
    lnfBias = try t("ln_f.bias", [C])
    lmHead = source.has("lm_head.weight") ? try source.tensor("lm_head.weight", shape: [c.vocabSize, C]) : wte
  }

  /// Hugging Face Llama names (`model.layers.N.self_attn.q_proj.weight` ...),
  /// shared by Mistral, Qwen and Gemma; biases where the file has them.
  /// Gemma's norms multiply by (1 + weight): its norm weights are stored here
  /// as that multiplier, so every later computation reads one layout.
  private init(llama source: any WeightSource, config c: ModelConfig) throws {
    let C = c.dModel, F = c.dMLP, D = c.dHead, Q = c.qWidth, K = c.kvWidth
    let isGemma = [.gemma, .gemma2, .gemma3].contains(c.family)
    func t(_ name: String, _ shape: [Int]) throws -> Tensor { try source.tensor(name, shape: shape) }
    func normWeight(_ name: String, _ width: Int) throws -> Tensor {
      var w = try t(name, [width])
      guard isGemma, !source.normWeightsAreMultipliers else { return w }
      let p = w.mutablePointer()
      for i in 0..<width { p[i] += 1 }
      return w
    }
    // Gemma 2 and 3 call the post-attention norm what Llama calls the pre-MLP norm.
    let ln2Name = c.postNorms ? "pre_feedforward_layernorm.weight" : "post_attention_layernorm.weight"
    func bias(_ name: String, _ width: Int) throws -> Tensor {
      source.has(name) ? try t(name, [width]) : Tensor(zeros: [width])
    }
    wte = try t("model.embed_tokens.weight", [c.vocabSize, C])
    wpe = nil
    let arena = WeightArena()
    blocks = try parallelMap(c.layers) { l in
      let p = "model.layers.\(l)."
      let q = try t(p + "self_attn.q_proj.weight", [Q, C]), k = try t(p + "self_attn.k_proj.weight", [K, C])
      let v = try t(p + "self_attn.v_proj.weight", [K, C])
      let qkvBias = [
        try bias(p + "self_attn.q_proj.bias", Q), try bias(p + "self_attn.k_proj.bias", K),
        try bias(p + "self_attn.v_proj.bias", K),
      ]
      return BlockWeights(
        ln1Weight: try normWeight(p + "input_layernorm.weight", C), ln1Bias: Tensor(zeros: [C]),
        attnWeight: inputMajor([q, k, v], in: arena), attnBias: concatenated(qkvBias),
        attnProjWeight: inputMajor([try t(p + "self_attn.o_proj.weight", [C, Q])], in: arena),
        attnProjBias: try bias(p + "self_attn.o_proj.bias", C),
        ln2Weight: try normWeight(p + ln2Name, C), ln2Bias: Tensor(zeros: [C]),
        fcWeight: inputMajor([try t(p + "mlp.gate_proj.weight", [F, C])], in: arena),
        fcBias: try bias(p + "mlp.gate_proj.bias", F),
        fcProjWeight: inputMajor([try t(p + "mlp.down_proj.weight", [C, F])], in: arena),
        fcProjBias: try bias(p + "mlp.down_proj.bias", C),
        upWeight: inputMajor([try t(p + "mlp.up_proj.weight", [F, C])], in: arena),
        qNormWeight: c.qkNorm ? try normWeight(p + "self_attn.q_norm.weight", D) : nil,
        kNormWeight: c.qkNorm ? try normWeight(p + "self_attn.k_norm.weight", D) : nil,
        ln1PostWeight: c.postNorms ? try normWeight(p + "post_attention_layernorm.weight", C) : nil,
        ln2PostWeight: c.postNorms ? try normWeight(p + "post_feedforward_layernorm.weight", C) : nil)
    }
    lnfWeight = try normWeight("model.norm.weight", C)
    lnfBias = Tensor(zeros: [C])
    lmHead =
      !c.tiedEmbeddings && source.has("lm_head.weight")
      ? try t("lm_head.weight", [c.vocabSize, C]) : wte
  }

}

/// Where weights come from: a safetensors checkpoint or a GGUF file, each
/// giving fp32 tensors by Hugging Face name.
public protocol WeightSource {
  var names: [String] { get }
  /// Gemma norm weights stored as their multiplier 1 + w (llama.cpp's
  /// converter adds the 1), not as w (Hugging Face).
  var normWeightsAreMultipliers: Bool { get }
  func has(_ name: String) -> Bool
  /// A tensor that must exist with exactly `shape`, as fp32.
  func tensor(_ name: String, shape: [Int]) throws -> Tensor
}

extension Checkpoint: WeightSource {
  public var normWeightsAreMultipliers: Bool { false }
}

/// Linear weights [out_i, in] side by side as one [in, Σ out_i] matrix, in `arena`.
func inputMajor(_ parts: [Tensor], in arena: WeightArena) -> Tensor {
  let inWidth = parts[0].shape[1], total = parts.map { $0.shape[0] }.reduce(0, +)
  return arena.tensor(shape: [inWidth, total]) { o in
    var column = 0
    for part in parts {
      let rows = part.shape[0]
      cblas_somatcopy(
        CblasRowMajor, CblasTrans, Int32(rows), Int32(inWidth), 1, part.pointer, Int32(inWidth), o + column,
        Int32(total))
      column += rows
    }
  }
}

/// Vectors end to end.
func concatenated(_ parts: [Tensor]) -> Tensor {
  var out = Tensor(uninitialized: [parts.map(\.count).reduce(0, +)])
  var at = out.mutablePointer()
  for p in parts {
    at.update(from: p.pointer, count: p.count)
    at += p.count
  }
  return out
}
