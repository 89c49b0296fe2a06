import Foundation

/// The parameters of one transformer block, shapes in comments (C = d_model,
/// F = d_mlp). Conv1D weights are stored [in, out] as in Hugging Face GPT-2.
public struct BlockWeights: Sendable {
  public var ln1Weight, ln1Bias: Tensor  // [C]
  public var attnWeight: Tensor  // [C, 3C]  c_attn: q | k | v
  public var attnBias: Tensor  // [3C]
  public var attnProjWeight: Tensor  // [C, C]  c_proj
  public var attnProjBias: Tensor  // [C]
  public var ln2Weight, ln2Bias: Tensor  // [C]
  public var fcWeight: Tensor  // [C, F]
  public var fcBias: Tensor  // [F]
  public var fcProjWeight: Tensor  // [F, C]
  public var fcProjBias: Tensor  // [C]
}

/// All parameters of a GPT-2 model (llm.c's ParameterTensors, one block per layer).
public struct ModelWeights: Sendable {
  public var wte: Tensor  // [V, C] token embedding
  public var wpe: Tensor  // [T, C] position embedding
  public var blocks: [BlockWeights]
  public var lnfWeight, lnfBias: Tensor  // [C]
  /// Unembedding [V, C]; the same memory as `wte` when tied.
  public var lmHead: Tensor

  /// Reads every tensor with its expected shape; names with or without the
  /// `transformer.` prefix.
  public init(checkpoint: Checkpoint, config c: ModelConfig) throws {
    let prefix = checkpoint.names.contains { $0.hasPrefix("transformer.") } ? "transformer." : ""
    func t(_ name: String, _ shape: [Int]) throws -> Tensor { try checkpoint.tensor(prefix + name, shape: shape) }
    let C = c.dModel, F = c.dMLP
    wte = try t("wte.weight", [c.vocabSize, C])
    wpe = try t("wpe.weight", [c.context, C])
    blocks = try (0..<c.layers).map { l in
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
    lmHead = checkpoint.has("lm_head.weight") ? try checkpoint.tensor("lm_head.weight", shape: [c.vocabSize, C]) : wte
  }
}
