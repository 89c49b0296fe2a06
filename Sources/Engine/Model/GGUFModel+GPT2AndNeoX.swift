import Foundation

// GGUF files of the two LayerNorm families llama.cpp converts, GPT-NeoX
// (`gptneox`) and GPT-2 (`gpt2`): what their files leave out, and how their
// tensors differ from the Hugging Face layout `ModelWeights` reads.

extension ModelConfig {
  /// GPT-NeoX (Pythia) as llama.cpp's converter writes it (`gptneox`):
  /// LayerNorms, partial rotary over `rope.dimension_count` of each head (a
  /// quarter, Pythia's `rotary_pct`, where that key is missing),
  /// `use_parallel_residual`. The converter records neither the activation
  /// nor the rotary base: tdb takes Pythia's (the exact GELU of its
  /// `hidden_act: "gelu"`, where llama.cpp computes the tanh approximation)
  /// and `rope.freq_base` where a file has it, else 10000 (Pythia's, and
  /// llama.cpp's default).
  static func gptNeoX(gguf file: GGUFFile, int: (String) throws -> Int) throws -> ModelConfig {
    let m = file.metadata
    let heads = try int("attention.head_count"), dModel = try int("embedding_length")
    guard heads > 0, dModel % heads == 0 else {
      throw ModelError.badConfig(
        file.url.path, "gptneox.embedding_length must be a positive multiple of its head count")
    }
    let dHead = dModel / heads
    let rotary = RotaryConfig(
      theta: m["gptneox.rope.freq_base"]?.double ?? 10_000,
      dimensions: m["gptneox.rope.dimension_count"]?.int ?? dHead / 4)
    let config = ModelConfig(
      family: .gptNeoX, layers: try int("block_count"), heads: heads, dModel: dModel, dHead: dHead,
      dMLP: try int("feed_forward_length"), context: try int("context_length"),
      vocabSize: m["gptneox.vocab_size"]?.int ?? m["tokenizer.ggml.tokens"]?.array?.count ?? 0, norm: .layerNorm,
      normEpsilon: m["gptneox.attention.layer_norm_epsilon"]?.float ?? 1e-5, positions: .rotary(rotary),
      mlp: .exactGELU, tiedEmbeddings: file.tensors["output.weight"] == nil,
      parallelResidual: m["gptneox.use_parallel_residual"]?.bool ?? true)
    return try config.validated(file.url.path)
  }

  /// GPT-2 as llama.cpp's converter writes it (`gpt2`): learned positions,
  /// LayerNorms, the tanh GELU of GPT-2's `gelu_new` (the file records no
  /// activation; llama.cpp computes the same), tied unless it has `output.weight`.
  static func gpt2(gguf file: GGUFFile, int: (String) throws -> Int) throws -> ModelConfig {
    let m = file.metadata
    let heads = try int("attention.head_count"), dModel = try int("embedding_length")
    guard heads > 0, dModel % heads == 0 else {
      throw ModelError.badConfig(file.url.path, "gpt2.embedding_length must be a positive multiple of its head count")
    }
    let config = ModelConfig(
      family: .gpt2, layers: try int("block_count"), heads: heads, dModel: dModel,
      dMLP: m["gpt2.feed_forward_length"]?.int, context: try int("context_length"),
      vocabSize: m["gpt2.vocab_size"]?.int ?? m["tokenizer.ggml.tokens"]?.array?.count ?? 0,
      normEpsilon: m["gpt2.attention.layer_norm_epsilon"]?.float ?? 1e-5,
      tiedEmbeddings: file.tensors["output.weight"] == nil)
    return try config.validated(file.url.path)
  }
}

extension GGUFWeights {
  /// GPT-NeoX's Hugging Face names (as `ModelWeights(gptNeoX:)` reads them) -> llama.cpp's.
  static func gptNeoXNames(layers: Int) -> [String: String] {
    blockNames(
      layers: layers, prefix: "gpt_neox.layers.",
      parts: [
        ("input_layernorm", "attn_norm"), ("attention.query_key_value", "attn_qkv"),
        ("attention.dense", "attn_output"), ("post_attention_layernorm", "ffn_norm"),
        ("mlp.dense_h_to_4h", "ffn_up"), ("mlp.dense_4h_to_h", "ffn_down"),
      ]
    ).merging([
      "gpt_neox.embed_in.weight": "token_embd.weight", "embed_out.weight": "output.weight",
      "gpt_neox.final_layer_norm.weight": "output_norm.weight", "gpt_neox.final_layer_norm.bias": "output_norm.bias",
    ]) { $1 }
  }

  /// GPT-2's Hugging Face names (as `ModelWeights(gpt2:)` reads them) -> llama.cpp's.
  static func gpt2Names(layers: Int) -> [String: String] {
    blockNames(
      layers: layers, prefix: "transformer.h.",
      parts: [
        ("ln_1", "attn_norm"), ("attn.c_attn", "attn_qkv"), ("attn.c_proj", "attn_output"), ("ln_2", "ffn_norm"),
        ("mlp.c_fc", "ffn_up"), ("mlp.c_proj", "ffn_down"),
      ]
    ).merging([
      "transformer.wte.weight": "token_embd.weight", "transformer.wpe.weight": "position_embd.weight",
      "transformer.ln_f.weight": "output_norm.weight", "transformer.ln_f.bias": "output_norm.bias",
      "lm_head.weight": "output.weight",
    ]) { $1 }
  }

  /// Every block's weight and bias of each (Hugging Face, llama.cpp) pair
  /// of layer names: `prefix`L.hf.weight -> blk.L.gguf.weight, and the bias.
  private static func blockNames(layers: Int, prefix: String, parts: [(String, String)]) -> [String: String] {
    var map: [String: String] = [:]
    for l in 0..<layers {
      for (hf, gguf) in parts {
        for kind in ["weight", "bias"] { map["\(prefix)\(l).\(hf).\(kind)"] = "blk.\(l).\(gguf).\(kind)" }
      }
    }
    return map
  }

  /// GPT-2's projections are Conv1D weights, [in, out] in Hugging Face's
  /// files; llama.cpp's converter stores them [out, in] as for every other
  /// model, the layout `inputMajor` turns back.
  static let gpt2ConvolutionWeights = ["attn_qkv.weight", "attn_output.weight", "ffn_up.weight", "ffn_down.weight"]

  /// llama.cpp's converter stores GPT-NeoX's fused projection as all heads'
  /// q rows, then k, then v ([3, H, D] rows); Hugging Face's interleaves
  /// them by head ([H, 3, D]), which is what `neoxQKV` reads. Rows are
  /// whole input-width rows of a weight, or single values of a bias.
  static func interleaveHeads(_ w: Tensor, heads: Int) -> Tensor {
    let rows = w.shape[0], width = w.count / max(rows, 1), D = rows / (3 * heads)
    var out = Tensor(uninitialized: w.shape)
    let src = w.pointer, dst = out.mutablePointer()
    for part in 0..<3 {
      for h in 0..<heads {
        (dst + ((h * 3 + part) * D) * width).update(from: src + ((part * heads + h) * D) * width, count: D * width)
      }
    }
    return out
  }
}
