import Foundation
import XCTest

@testable import Engine

/// A two-layer model small enough to check every node by direct computation:
/// d_model 8, 2 heads, d_mlp 16, 10 tokens, deterministic weights.
func tinyModel(seed: UInt64 = 5, zeroBlocks: Bool = false) -> TransformerModel {
  var rng = SeededRandom(seed)
  let C = 8, F = 16, V = 10, N = 8
  func t(_ shape: [Int], _ scale: Float, _ offset: Float = 0) -> Tensor {
    let n = shape.reduce(1, *)
    return Tensor(shape: shape, scalars: (0..<n).map { _ in offset + scale * rng.gaussian() })
  }
  func z(_ shape: [Int]) -> Tensor { Tensor(zeros: shape) }
  let blocks = (0..<2).map { _ in
    zeroBlocks
      ? BlockWeights(
        ln1Weight: t([C], 0.2, 1), ln1Bias: z([C]), attnWeight: z([C, 3 * C]), attnBias: z([3 * C]),
        attnProjWeight: z([C, C]),
        attnProjBias: z([C]), ln2Weight: t([C], 0.2, 1), ln2Bias: z([C]), fcWeight: z([C, F]), fcBias: z([F]),
        fcProjWeight: z([F, C]), fcProjBias: z([C]))
      : BlockWeights(
        ln1Weight: t([C], 0.2, 1), ln1Bias: t([C], 0.1), attnWeight: t([C, 3 * C], 0.6), attnBias: t([3 * C], 0.1),
        attnProjWeight: t([C, C], 0.4), attnProjBias: t([C], 0.1), ln2Weight: t([C], 0.2, 1), ln2Bias: t([C], 0.1),
        fcWeight: t([C, F], 0.5), fcBias: t([F], 0.1), fcProjWeight: t([F, C], 0.3), fcProjBias: t([C], 0.1))
  }
  let weights = ModelWeights(
    wte: t([V, C], 1), wpe: t([N, C], 0.5), blocks: blocks, lnfWeight: t([C], 0.2, 1),
    lnfBias: zeroBlocks ? z([C]) : t([C], 0.1))
  let config = ModelConfig(layers: 2, heads: 2, dModel: C, dMLP: F, context: N, vocabSize: V)
  return TransformerModel(config: config, weights: weights, tokenizer: demoModel.tokenizer)
}

/// Where a node's activation lives and its flat index there (for scaling it).
func activationSite(_ node: Node, tokens T: Int, config c: ModelConfig) -> (HookPoint, [Int]) {
  switch node.kind {
  case .neuron: return (.block(node.layer!, .mlpPost), [node.position * c.dMLP + node.index])
  case .head: return (.block(node.layer!, .pattern), [node.index * T * T + node.position * T + node.key!])
  case .embedding: return (.block(0, .residPre), Array((node.position * c.dModel)..<((node.position + 1) * c.dModel)))
  case .latent:
    fatalError("latents are checked through their SAE")
  }
}

/// An intervention multiplying the given entries of a hook value by `factor`.
func scaling(_ hook: HookPoint, _ entries: [Int], by factor: Float) -> Intervention {
  Intervention(hook: hook, label: "scale") { v, _ in
    let p = v.mutablePointer()
    for i in entries { p[i] *= factor }
  }
}

/// An intervention adding `vector` to row `row` of a [T, C] hook value.
func adding(_ hook: HookPoint, row: Int, _ vector: [Float]) -> Intervention {
  Intervention(hook: hook, label: "add") { v, _ in
    let p = v.mutablePointer(), n = vector.count
    for i in 0..<n { p[row * n + i] += vector[i] }
  }
}

/// An intervention pinning a hook to a fixed value.
func pinning(_ hook: HookPoint, to value: Tensor) -> Intervention {
  Intervention(hook: hook, label: "pin") { v, _ in v = value }
}

/// d metric / d log(activation) by central differences: the total effect.
func scaledDerivative(
  _ measure: ([Intervention]) throws -> Double, _ hook: HookPoint, _ entries: [Int], eps: Float = 1e-2
) throws -> Double {
  let up = try measure([scaling(hook, entries, by: 1 + eps)])
  let down = try measure([scaling(hook, entries, by: 1 - eps)])
  return (up - down) / (2 * Double(eps))
}

/// The logit difference at `position` from full logits, in Double.
func logitDifference(
  _ model: TransformerModel, _ tokens: [Int], _ interventions: [Intervention], position: Int, target: Int,
  distractor: Int
) throws -> Double {
  let r = try model.forward(tokens, options: ForwardOptions(interventions: interventions, logits: .all))
  let V = model.config.vocabSize, p = position < 0 ? tokens.count + position : position
  return Double(r.logits.pointer[p * V + target]) - Double(r.logits.pointer[p * V + distractor])
}

/// What a node adds to the residual stream (at its own token; heads at the query).
func writeVector(_ model: TransformerModel, _ node: Node, cache: [HookPoint: Tensor]) -> [Float] {
  let c = model.config, C = c.dModel, D = c.dHead, w = model.weights
  switch node.kind {
  case .neuron:
    let a = cache[.block(node.layer!, .mlpPost)]![node.position, node.index]
    return (0..<C).map { a * w.blocks[node.layer!].fcProjWeight[node.index, $0] }
  case .head:
    let a = cache[.block(node.layer!, .pattern)]![node.index, node.position, node.key!]
    let v = cache[.block(node.layer!, .v)]!
    return (0..<C).map { i in
      var s: Float = 0
      for j in 0..<D { s += v[node.key!, node.index, j] * w.blocks[node.layer!].attnProjWeight[node.index * D + j, i] }
      return a * s
    }
  case .embedding:
    return cache[.block(0, .residPre)]!.row(node.position).scalars
  case .latent:
    fatalError("latents write through their SAE")
  }
}

func norm(_ v: [Float]) -> Double { v.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot() }

/// |a - b| ≤ absolute + relative · max(|a|, |b|).
func assertNear(
  _ a: Double, _ b: Double, absolute: Double = 1e-4, relative: Double = 1e-3, _ what: @autoclosure () -> String,
  file: StaticString = #filePath, line: UInt = #line
) {
  XCTAssertLessThanOrEqual(
    abs(a - b), absolute + relative * max(abs(a), abs(b)), "\(what()): \(a) vs \(b)", file: file, line: line)
}
