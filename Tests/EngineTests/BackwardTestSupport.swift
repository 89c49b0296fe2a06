import Foundation
import XCTest

@testable import Engine

/// Random directions from a seeded generator (SplitMix64).
struct SeededRandom {
  var generator: SplitMix64
  init(_ seed: UInt64) { generator = SplitMix64(seed: seed) }
  mutating func next() -> UInt64 { generator.next() }
  mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }
  mutating func gaussian() -> Float {
    Float((-2 * log(max(uniform(), 1e-300))).squareRoot() * cos(2 * Double.pi * uniform()))
  }
  mutating func floats(_ count: Int) -> [Float] { (0..<count).map { _ in gaussian() } }
  mutating func tensor(_ shape: [Int]) -> Tensor { Tensor(shape: shape, scalars: floats(shape.reduce(1, *))) }
}

/// The demo SAEs, loaded once.
let residSAE = try! SparseAutoencoder(folder: demoFolder.appendingPathComponent("sae/blocks_3_hook_resid_pre"))
let mlpSAE = try! SparseAutoencoder(folder: demoFolder.appendingPathComponent("sae/blocks_3_mlp_hook_post"))

/// Σ a ⊙ b in Double.
func dot(_ a: Tensor, _ b: Tensor) -> Double {
  precondition(a.count == b.count)
  return a.withUnsafeBufferPointer { x in
    b.withUnsafeBufferPointer { y in (0..<x.count).reduce(0.0) { $0 + Double(x[$1]) * Double(y[$1]) } }
  }
}

/// The metric recomputed in Double from a forward pass's full logits (or cache),
/// independently of the engine's own metric code.
func evaluate(_ metric: Metric, _ r: ForwardResult) -> Double {
  let T = r.tokens.count, V = r.logits.shape[1]
  func at(_ p: Int) -> Int { p < 0 ? T + p : p }
  func logit(_ p: Int, _ v: Int) -> Double { Double(r.logits.pointer[p * V + v]) }
  func logSumExp(_ p: Int) -> Double {
    let row = r.logits.pointer + p * V
    var m = -Double.infinity
    for j in 0..<V where Double(row[j]) > m { m = Double(row[j]) }
    var s: Double = 0
    for j in 0..<V { s += exp(Double(row[j]) - m) }
    return m + log(s)
  }
  switch metric {
  case .logitDifference(let p, let a, let b): return logit(at(p), a) - logit(at(p), b)
  case .logit(let p, let a): return logit(at(p), a)
  case .logProbability(let p, let a): return logit(at(p), a) - logSumExp(at(p))
  case .loss: return (0..<(T - 1)).reduce(0.0) { $0 + logSumExp($1) - logit($1, r.tokens[$1 + 1]) } / Double(T - 1)
  case .hookValue(let h, let seed):
    // Entries the seed leaves out do not count (masked scores are -inf).
    let v = r.cache[h]!.scalars
    return zip(seed.scalars, v).reduce(0.0) { $1.0 == 0 ? $0 : $0 + Double($1.0) * Double($1.1) }
  }
}

/// Central-difference derivative of `metric` along `direction` added at `hook`
/// (after the forward pass's own interventions there). fp32 rounding in the
/// forward pass spoils small steps and curvature spoils large ones, so steps
/// from `largest` down by factors of 3 are tried and the estimate where two
/// neighbours agree best (the plateau) is returned.
func finiteDifference(
  _ tokens: [Int], _ metric: Metric, at hook: HookPoint, along direction: Tensor, largest: Float,
  forward: ForwardOptions = ForwardOptions(), model: TransformerModel = demoModel
) throws -> Double {
  func value(_ eps: Float) throws -> Double {
    var options = forward
    options.logits = .all
    if case .hookValue(let h, _) = metric { options.cache = .points([h]) }
    options.interventions.append(
      Intervention(hook: hook, label: "fd") { v, _ in
        let p = v.mutablePointer()
        direction.withUnsafeBufferPointer { d in for i in 0..<d.count { p[i] += eps * d[i] } }
      })
    return evaluate(metric, try model.forward(tokens, options: options))
  }
  var estimates: [Double] = []
  var step = largest
  for _ in 0..<5 {
    estimates.append((try value(step) - value(-step)) / (2 * Double(step)))
    step /= 3
  }
  let gaps: [Double] = (0..<(estimates.count - 1)).map { i in abs(estimates[i] - estimates[i + 1]) }
  let best = gaps.indices.min { gaps[$0] < gaps[$1] }!
  return (estimates[best] + estimates[best + 1]) / 2
}

/// Checks ⟨gradient at hook, direction⟩ against finite differences at each hook.
func checkDirectionalDerivatives(
  _ tokens: [Int], _ metric: Metric, hooks: [HookPoint], forward: ForwardOptions = ForwardOptions(),
  backward: BackwardOptions = BackwardOptions(), tolerance: Double = 1e-2, seed: UInt64 = 1, largestStep: Double = 3e-2,
  model: TransformerModel = demoModel, file: StaticString = #filePath, line: UInt = #line
) throws {
  var rng = SeededRandom(seed)
  let g = try model.gradients(tokens, metric: metric, forward: forward, backward: backward)
  var cacheOptions = forward
  cacheOptions.cache = .points(Set(hooks))
  let values = try model.forward(tokens, options: cacheOptions).cache
  for hook in hooks {
    let grad = try XCTUnwrap(g.gradients[hook], "no gradient at \(hook)", file: file, line: line)
    // A random unit direction plus the gradient's own: a purely random one
    // gives directional derivatives too small for fp32 finite differences.
    let random = rng.tensor(grad.shape)
    let gradientNorm = dot(grad, grad).squareRoot(), randomNorm = dot(random, random).squareRoot()
    var direction = Tensor(zeros: grad.shape)
    for i in 0..<grad.count {
      direction[flat: i] = Float(
        Double(random[flat: i]) / randomNorm + (gradientNorm > 0 ? Double(grad[flat: i]) / gradientNorm : 0))
    }
    // Largest step: a perturbation of `largestStep` (3%) of the value's norm (finite entries only).
    let finite = values[hook]!.scalars.filter(\.isFinite)
    let norm = finite.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
    let largest = Float(largestStep * max(norm, 1e-2) / dot(direction, direction).squareRoot())
    let analytic = dot(grad, direction)
    let numeric = try finiteDifference(
      tokens, metric, at: hook, along: direction, largest: largest, forward: forward, model: model)
    let error = abs(analytic - numeric) / max(abs(numeric), abs(analytic), 1e-3)
    XCTAssertLessThanOrEqual(
      error, tolerance, "\(metric) at \(hook): analytic \(analytic) numeric \(numeric)", file: file, line: line)
  }
}

/// Every scalar zero.
func isZero(_ t: Tensor) -> Bool { t.scalars.allSatisfy { $0 == 0 } }
