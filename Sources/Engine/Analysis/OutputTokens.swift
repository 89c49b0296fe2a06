/// What a component writes, read as tokens: the vocabulary logits of its
/// output direction (the logit lens of its write, without LayerNorm).
public struct OutputTokens: Sendable {
  public let promoted: [ScoredToken]
  public let suppressed: [ScoredToken]
  /// What was read: "write direction" or "OV copying score".
  public let method: String
}

extension TransformerModel {
  /// The direction in the residual stream [C] a unit of the component writes.
  /// Heads have no single direction (see `outputTokens`), so nil for them.
  public func writeDirection(_ component: Component, saes: [String: SparseAutoencoder]) throws -> [Float]? {
    try component.validate(in: config, saes: saes)
    let C = config.dModel
    switch component {
    case .head: return nil
    case .neuron(let l, let n):
      return Array(UnsafeBufferPointer(start: weights.blocks[l].fcProjWeight.pointer + n * C, count: C))
    case .latent(let s, let f):
      let sae = saes[s]!
      let row = Array(UnsafeBufferPointer(start: sae.wDec.pointer + f * sae.dIn, count: sae.dIn))
      switch sae.hook.site {
      case .mlpPost:
        // Through the MLP's output projection: row [F] · W_out [F, C].
        let w = weights.blocks[sae.hook.layer!].fcProjWeight.pointer
        var out = [Float](repeating: 0, count: C)
        for i in 0..<sae.dIn where row[i] != 0 { for j in 0..<C { out[j] += row[i] * w[i * C + j] } }
        return out
      case .residPre, .residMid, .residPost, .attnOut, .mlpOut, .embed, .posEmbed:
        return row
      default:
        throw ModelError.badIntervention(
          "\(component): an SAE on \(sae.hook.name) does not write into the residual stream")
      }
    }
  }

  /// Tokens a component promotes and suppresses. Neurons and latents: their
  /// write direction through the unembedding. Heads: the OV circuit's copying
  /// score W_E[t] · W_V W_O · W_U[t] for every token t (which tokens the head
  /// raises when it attends to them).
  public func outputTokens(_ component: Component, saes: [String: SparseAutoencoder], top k: Int) throws -> OutputTokens
  {
    let C = config.dModel, V = config.vocabSize, D = config.dHead
    var scores = [Float](repeating: 0, count: V)
    if let dir = try writeDirection(component, saes: saes) {
      dir.withUnsafeBufferPointer { d in
        scores.withUnsafeMutableBufferPointer { s in
          gemm(
            transB: true, M: 1, N: V, K: C, d.baseAddress!, lda: C, weights.lmHead.pointer, ldb: C, s.baseAddress!,
            ldc: V)
        }
      }
      let ranked = scores.withUnsafeBufferPointer { (topK($0, k), topK($0, k, lowest: true)) }
      return OutputTokens(promoted: ranked.0, suppressed: ranked.1, method: "write direction")
    }
    guard case .head(let l, let h) = component else { fatalError("unreachable: only heads lack a direction") }
    let b = weights.blocks[l]
    // W_V_h: columns 2C + hD ..< 2C + (h+1)D of c_attn [C, 3C]; W_O_h: rows hD ..< (h+1)D of c_proj [C, C].
    var ev = Tensor(zeros: [V, D])
    gemm(
      M: V, N: D, K: C, weights.wte.pointer, lda: C, b.attnWeight.pointer + config.valueColumn(head: h),
      ldb: config.qkvWidth,
      ev.mutablePointer(), ldc: D)
    var evo = Tensor(zeros: [V, C])
    gemm(
      M: V, N: C, K: D, ev.pointer, lda: D, b.attnProjWeight.pointer + h * D * C, ldb: C, evo.mutablePointer(), ldc: C)
    let o = evo.pointer, u = weights.lmHead.pointer
    for t in 0..<V {
      var s: Float = 0
      for i in 0..<C { s += o[t * C + i] * u[t * C + i] }
      scores[t] = s
    }
    let ranked = scores.withUnsafeBufferPointer { (topK($0, k), topK($0, k, lowest: true)) }
    return OutputTokens(promoted: ranked.0, suppressed: ranked.1, method: "OV copying score")
  }
}
