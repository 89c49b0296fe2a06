import Foundation

extension ModelWeights {
  /// Hugging Face GPT-NeoX names (`gpt_neox.layers.N.attention.query_key_value.weight`
  /// ..., Pythia), with or without the `gpt_neox.` prefix; the unembedding is
  /// `embed_out` (transformers 5 in memory: `lm_head`). Biases where the file
  /// has them (`attention_bias` false drops the attention's).
  init(gptNeoX source: any WeightSource, config c: ModelConfig) throws {
    let prefix = source.names.contains { $0.hasPrefix("gpt_neox.") } ? "gpt_neox." : ""
    let C = c.dModel, F = c.dMLP
    func t(_ name: String, _ shape: [Int]) throws -> Tensor { try source.tensor(prefix + name, shape: shape) }
    func bias(_ name: String, _ width: Int) throws -> Tensor {
      source.has(prefix + name) ? try t(name, [width]) : Tensor(zeros: [width])
    }
    wte = try t("embed_in.weight", [c.vocabSize, C])
    wpe = nil
    let arena = WeightArena()
    blocks = try parallelMap(c.layers) { l in
      let p = "layers.\(l)."
      let (qkv, qkvBias) = Self.neoxQKV(
        try t(p + "attention.query_key_value.weight", [3 * C, C]),
        try bias(p + "attention.query_key_value.bias", 3 * C),
        config: c, arena: arena)
      return BlockWeights(
        ln1Weight: try t(p + "input_layernorm.weight", [C]), ln1Bias: try t(p + "input_layernorm.bias", [C]),
        attnWeight: qkv, attnBias: qkvBias,
        attnProjWeight: inputMajor([try t(p + "attention.dense.weight", [C, C])], in: arena),
        attnProjBias: try bias(p + "attention.dense.bias", C),
        ln2Weight: try t(p + "post_attention_layernorm.weight", [C]),
        ln2Bias: try t(p + "post_attention_layernorm.bias", [C]),
        fcWeight: inputMajor([try t(p + "mlp.dense_h_to_4h.weight", [F, C])], in: arena),
        fcBias: try bias(p + "mlp.dense_h_to_4h.bias", F),
        fcProjWeight: inputMajor([try t(p + "mlp.dense_4h_to_h.weight", [C, F])], in: arena),
        fcProjBias: try bias(p + "mlp.dense_4h_to_h.bias", C))
    }
    lnfWeight = try t("final_layer_norm.weight", [C])
    lnfBias = try t("final_layer_norm.bias", [C])
    let head = ["embed_out.weight", "lm_head.weight"].first(where: source.has) ?? "embed_out.weight"
    lmHead = c.tiedEmbeddings ? wte : try source.tensor(head, shape: [c.vocabSize, C])
  }

  /// NeoX's fused projection [3C, C] holds, per head h, the rows of q_h, k_h
  /// and v_h in turn (its output is viewed [.., H, 3D]); returned in tdb's
  /// layout, [C, q | k | v] with heads in order in each, and the bias likewise.
  static func neoxQKV(_ w: Tensor, _ b: Tensor, config c: ModelConfig, arena: WeightArena) -> (Tensor, Tensor) {
    let C = c.dModel, D = c.dHead, H = c.heads
    var parts = [Tensor](repeating: Tensor(zeros: [0]), count: 3), biases = parts
    for part in 0..<3 {
      var rows = Tensor(uninitialized: [H * D, C]), bias = Tensor(uninitialized: [H * D])
      let r = rows.mutablePointer(), bb = bias.mutablePointer()
      for h in 0..<H {
        let from = h * 3 * D + part * D
        (r + h * D * C).update(from: w.pointer + from * C, count: D * C)
        (bb + h * D).update(from: b.pointer + from, count: D)
      }
      parts[part] = rows
      biases[part] = bias
    }
    return (inputMajor(parts, in: arena), concatenated(biases))
  }
}
