import Foundation

/// The kinds of node TDB ranks.
public enum NodeKind: String, Sendable, CaseIterable {
  case embedding, head, neuron, latent
}

/// A component at a token: an MLP neuron at a token, an attention head at a
/// (query, key) pair, an SAE latent at a token, or a token's embedding.
public struct Node: Hashable, Sendable {
  public let kind: NodeKind
  // Stored narrow: a node table holds ~10⁵ of them (-1 stands for none).
  private let layerValue: Int16
  private let indexValue: Int32
  private let positionValue: Int32
  private let keyValue: Int32
  /// The SAE's name, for latents.
  public let sae: String?

  public init(kind: NodeKind, layer: Int?, index: Int, sae: String? = nil, position: Int, key: Int? = nil) {
    self.kind = kind
    layerValue = Int16(layer ?? -1)
    indexValue = Int32(index)
    self.sae = sae
    positionValue = Int32(position)
    keyValue = Int32(key ?? -1)
  }

  /// The block (for latents, the block of the SAE's hook); nil for embeddings.
  public var layer: Int? { layerValue < 0 ? nil : Int(layerValue) }
  /// Neuron, head or latent index; 0 for embeddings.
  public var index: Int { Int(indexValue) }
  /// The token (for heads, the query).
  public var position: Int { Int(positionValue) }
  /// The key token, for heads.
  public var key: Int? { keyValue < 0 ? nil : Int(keyValue) }

  /// The component, or nil for an embedding.
  public var component: Component? {
    switch kind {
    case .head: .head(layer: layer!, head: index)
    case .neuron: .neuron(layer: layer!, index: index)
    case .latent: .latent(sae: sae!, index: index)
    case .embedding: nil
    }
  }
}

/// TDB's four numbers for one node.
public struct NodeScores: Sendable, Equatable {
  /// Neuron: post-activation; head: attention weight pattern[h, q, k];
  /// latent: activation; embedding: the norm of token + position embedding.
  public var activation: Float
  /// The norm of what the node adds to the residual stream; nil when it
  /// writes somewhere else (an SAE on a non-residual hook).
  public var write: Float?
  /// Its write dotted with the metric's gradient where the metric reads the
  /// stream (LayerNorm scale detached); zero at tokens the metric does not
  /// read; nil when the metric reads nothing nodes write linearly.
  public var direct: Float?
  /// Activation × gradient: the first-order estimate of the metric's change
  /// if the node were switched off, with the sign flipped (what it adds).
  public var total: Float

  public static let zero = NodeScores(activation: 0, write: 0, direct: 0, total: 0)
}

/// A node and its scores.
public struct AttributedNode: Sendable {
  public let node: Node
  public var scores: NodeScores
}

/// Every node of one prompt, scored for one metric. Nodes and scores are
/// parallel arrays: ranking ~10⁵ nodes then only touches plain numbers.
public struct NodeAttribution: Sendable {
  public let tokens: [Int]
  /// The metric's value on the prompt.
  public let metricValue: Float
  public let nodes: [Node]
  /// `scores[i]` belongs to `nodes[i]`.
  public let scores: [NodeScores]

  /// Node and scores together.
  public var attributed: [AttributedNode] { zip(nodes, scores).map { AttributedNode(node: $0, scores: $1) } }
}

extension TransformerModel {
  /// TDB's node table: every node upstream of `metric` with its activation,
  /// write magnitude, direct effect and estimated total effect, from one
  /// forward and one backward pass (plus one forward for `.headWrite`).
  ///
  /// Latents come from `saes`. An SAE the run already splices keeps its
  /// splice (and its gradient semantics). Any other is read off the forward
  /// pass as if spliced with its error term: its latents' activations are
  /// the encoder's output on the hook value, and a latent's gradient is the
  /// hook's gradient through the decoder row — exactly the spliced latent's
  /// gradient, without SAELens' constant error term cutting every upstream
  /// node's gradient down to the latents' path. An SAE on a hook where the
  /// run splices a different SAE is left out.
  public func attributeNodes(
    _ tokens: [Int], options: ForwardOptions = ForwardOptions(), metric: AttributionMetric,
    kinds: Set<NodeKind> = Set(NodeKind.allCases), saes: [SparseAutoencoder] = []
  ) throws -> NodeAttribution {
    let c = config, T = tokens.count, C = c.dModel, H = c.heads, D = c.dHead, F = c.dMLP, L = c.layers
    guard T > 0 else { throw ModelError.emptyPrompt }
    let setup = try attributionSetup(metric, tokens: tokens, options: options)
    func upstream(_ p: HookPoint) -> Bool { setup.isUpstream(p, config: c) }
    let neuronLayers = kinds.contains(.neuron) ? (0..<L).filter { upstream(.block($0, .mlpPost)) } : []
    let headLayers = kinds.contains(.head) ? (0..<L).filter { upstream(.block($0, .pattern)) } : []
    let withEmbeddings = kinds.contains(.embedding)
    let latentSources: [LatentSource] =
      kinds.contains(.latent)
      ? saes.compactMap { sae in
        let acts = HookPoint(sae.hook.site, layer: sae.hook.layer, sae: .actsPost)
        guard setup.metricSAE !== sae, upstream(acts), (try? validate(sae.hook)) != nil else { return nil }
        if let splice = setup.forward.saes.first(where: { $0.sae.hook == sae.hook }) {
          return splice.sae === sae ? LatentSource(sae: sae, spliced: true) : nil
        }
        return LatentSource(sae: sae, spliced: false)
      } : []

    // What the forward pass keeps and the backward pass returns.
    var values = Set<HookPoint>(), grads = Set<HookPoint>()
    if withEmbeddings {
      values.insert(.block(0, .residPre))
      grads.insert(.block(0, .residPre))
    }
    for l in neuronLayers {
      values.insert(.block(l, .mlpPost))
      grads.insert(.block(l, .mlpPost))
    }
    for l in headLayers {
      values.formUnion([.block(l, .pattern), .block(l, .v)])
      grads.insert(.block(l, .pattern))
    }
    for s in latentSources {
      values.formUnion(s.valuePoints)
      grads.insert(s.gradientPoint)
    }
    if c.postNorms {
      // Writes pass a post-norm on their way into the stream: its scale, frozen from the run.
      for l in headLayers { values.insert(.block(l, .ln1PostScale)) }
      for l in neuronLayers { values.insert(.block(l, .ln2PostScale)) }
      for s in latentSources where s.sae.hook.site == .mlpPost {
        values.insert(.block(s.sae.hook.layer!, .ln2PostScale))
      }
    }
    switch setup.read {
    case .layerNorm(let n, let scale, _, _):
      grads.insert(n)
      values.insert(scale)
    case .residual(let p, _), .neurons(_, let p):
      grads.insert(p)
    case .none:
      break
    }
    var forwardOptions = setup.forward
    forwardOptions.cache = .points(values)
    forwardOptions.logits = .none  // the metric reads the one row it needs
    let backward = BackwardOptions(gradientInterventions: setup.gradientInterventions, wanted: .points(grads))
    let run = try gradients(tokens, metric: setup.metric, forward: forwardOptions, backward: backward)
    if case .latent(let sae, let f, let p) = metric, run.metricValue == 0 {
      throw AttributionError.inactiveLatent("\(sae.name).F\(f)", position: try absolutePosition(p, tokens: T))
    }
    let cache = run.result.cache, grad = run.gradients

    // The metric's gradient where it reads the residual stream, by token.
    var readRows: [Int] = []
    var direction = Tensor(zeros: [0])
    var readSlot = -1
    var neuronRead: (layer: Int, gradient: Tensor)? = nil
    let hasDirect: Bool
    switch setup.read {
    case .layerNorm(let n, let scaleHook, let weight, let slot):
      let g = grad[n]!, scale = cache[scaleHook]!
      direction = Tensor(zeros: [T, C])
      let d = direction.mutablePointer(), gp = g.pointer, w = weight.pointer
      for t in 0..<T where (0..<C).contains(where: { gp[t * C + $0] != 0 }) {
        readRows.append(t)
        // d/dx of ((x - mean(x)) / s) ⊙ w · g with s held fixed: centre(g ⊙ w) / s
        // (RMSNorm subtracts no mean: (g ⊙ w) / s).
        var mean: Float = 0
        if config.norm.centered {
          for i in 0..<C { mean += gp[t * C + i] * w[i] }
          mean /= Float(C)
        }
        let s = scale[t, 0]
        for i in 0..<C { d[t * C + i] = (gp[t * C + i] * w[i] - mean) / s }
      }
      readSlot = slot
      hasDirect = true
    case .residual(let p, let slot):
      direction = grad[p]!
      let gp = direction.pointer
      readRows = (0..<T).filter { t in (0..<C).contains { gp[t * C + $0] != 0 } }
      readSlot = slot
      hasDirect = true
    case .neurons(let l, let p):
      neuronRead = (l, grad[p]!)
      hasDirect = true
    case .none:
      hasDirect = false
    }
    let dirp = direction.pointer
    /// Direct effects of something written at `slot`, given its projection on the read.
    func direct(slot: Int?, _ projection: () -> Float) -> Float? {
      guard hasDirect else { return nil }
      guard let slot, slot <= readSlot else { return 0 }
      return projection()
    }
    /// rows[r] · W for W [n, C] row-major: [readRows.count, n]; through a
    /// post-norm, each row times the norm's weight over its scale at that token.
    func projectRows(_ w: UnsafePointer<Float>, n: Int, through post: PostNorm? = nil) -> [Float] {
      guard !readRows.isEmpty else { return [] }
      var rows = [Float](repeating: 0, count: readRows.count * C)
      for (r, t) in readRows.enumerated() {
        for i in 0..<C { rows[r * C + i] = dirp[t * C + i] * (post?.factor(t, i) ?? 1) }
      }
      var out = [Float](repeating: 0, count: readRows.count * n)
      gemm(transB: true, M: readRows.count, N: n, K: C, rows, lda: C, w, ldb: C, &out, ldc: n)
      return out
    }
    var readRowIndex = [Int](repeating: -1, count: T)
    for (r, t) in readRows.enumerated() { readRowIndex[t] = r }

    var nodes: [Node] = [], scores: [NodeScores] = []
    let expected = T * (neuronLayers.count * F + headLayers.count * H * (T + 1) / 2 + 1)
    nodes.reserveCapacity(expected)
    scores.reserveCapacity(expected)

    // Embeddings: resid_pre of block 0 = token + position embedding.
    if withEmbeddings {
      let x = cache[.block(0, .residPre)]!, g = grad[.block(0, .residPre)]!
      let xp = x.pointer, gp = g.pointer
      for t in 0..<T {
        var norm: Float = 0, total: Float = 0
        for i in 0..<C {
          norm += xp[t * C + i] * xp[t * C + i]
          total += xp[t * C + i] * gp[t * C + i]
        }
        norm = norm.squareRoot()
        let d = direct(slot: 0) {
          guard readRowIndex[t] >= 0 else { return 0 }
          var s: Float = 0
          for i in 0..<C { s += xp[t * C + i] * dirp[t * C + i] }
          return s
        }
        nodes.append(Node(kind: .embedding, layer: nil, index: 0, position: t))
        scores.append(NodeScores(activation: norm, write: norm, direct: d, total: total))
      }
    }

    // Heads at (query, key): the pair writes pattern[h, q, k] · v_k W_O_h.
    for l in headLayers {
      let b = weights.blocks[l], post = PostNorm(b.ln1PostWeight, cache[.block(l, .ln1PostScale)])
      let pattern = cache[.block(l, .pattern)]!, gPattern = grad[.block(l, .pattern)]!, v = cache[.block(l, .v)]!
      let pp = pattern.pointer, gp = gPattern.pointer
      var written = [Float](repeating: 0, count: T * C)
      for h in 0..<H {
        // written[T, C] = v_g[T, D] · W_O_h[D, C] (rows hD ..< (h+1)D of the output
        // projection; g the key/value head h reads).
        gemm(
          M: T, N: C, K: D, v.pointer + c.kvHead(of: h) * D, lda: c.kvWidth, b.attnProjWeight.pointer + h * D * C,
          ldb: C, &written, ldc: C)
        // ‖written[k]‖ (through a post-norm: ‖written[k] ⊙ w‖, divided by the query's scale below).
        let norms = (0..<T).map { k in
          (0..<C).reduce(Float(0)) { s, i in
            let x = written[k * C + i] * (post?.weight.pointer[i] ?? 1)
            return s + x * x
          }.squareRoot()
        }
        // onRead[r, k] = written[k] · direction[readRows[r]].
        var onRead = [Float](repeating: 0, count: readRows.count * T)
        if !readRows.isEmpty {
          onRead = written.withUnsafeBufferPointer { projectRows($0.baseAddress!, n: T, through: post) }
        }
        for q in 0..<T {
          for k in 0...q {
            let i = h * T * T + q * T + k
            let a = pp[i]
            let d = direct(slot: 2 * l + 1) { readRowIndex[q] >= 0 ? a * onRead[readRowIndex[q] * T + k] : 0 }
            nodes.append(Node(kind: .head, layer: l, index: h, position: q, key: k))
            let write = a * norms[k] / (post?.scale(q) ?? 1)
            scores.append(NodeScores(activation: a, write: write, direct: d, total: a * gp[i]))
          }
        }
      }
    }

    // Neurons: post[t, n] writes post · W_out[n].
    for l in neuronLayers {
      let wOut = weights.blocks[l].fcProjWeight
      let post = PostNorm(weights.blocks[l].ln2PostWeight, cache[.block(l, .ln2PostScale)])
      let acts = cache[.block(l, .mlpPost)]!, g = grad[.block(l, .mlpPost)]!
      let pp = acts.pointer, gp = g.pointer, wp = wOut.pointer
      var norms = [Float](repeating: 0, count: F)
      for n in 0..<F {
        var s: Float = 0
        for i in 0..<C {
          let x = wp[n * C + i] * (post?.weight.pointer[i] ?? 1)
          s += x * x
        }
        norms[n] = s.squareRoot()
      }
      let readsThisLayer = neuronRead?.layer == l ? neuronRead!.gradient.pointer : nil
      let projects = hasDirect && readsThisLayer == nil && 2 * l + 2 <= readSlot
      let onRead = projects ? projectRows(wp, n: F, through: post) : []
      onRead.withUnsafeBufferPointer { onRead in
        for t in 0..<T {
          // A neuron's direct effect is a · weight[n]: the read's gradient at its
          // activation, or its write direction projected on the read; none if
          // the read does not see this token.
          let r = readRowIndex[t]
          let weight = readsThisLayer.map { $0 + t * F } ?? (projects && r >= 0 ? onRead.baseAddress! + r * F : nil)
          for n in 0..<F {
            let a = pp[t * F + n]
            let d: Float? = hasDirect ? weight.map { a * $0[n] } ?? 0 : nil
            nodes.append(Node(kind: .neuron, layer: l, index: n, position: t))
            let write = abs(a) * norms[n] / (post?.scale(t) ?? 1)
            scores.append(NodeScores(activation: a, write: write, direct: d, total: a * gp[t * F + n]))
          }
        }
      }
    }

    // Latents: a[t, f] writes a · W_dec[f] (undone normalisation included),
    // through W_out for an SAE on mlp.hook_post.
    for source in latentSources {
      for n in latentNodes(
        source, tokens: T, cache: cache, grad: grad, direct: { slot, p in direct(slot: slot, p) },
        readRowIndex: readRowIndex, direction: direction)
      {
        nodes.append(n.node)
        scores.append(n.scores)
      }
    }
    return NodeAttribution(tokens: tokens, metricValue: run.metricValue, nodes: nodes, scores: scores)
  }

  /// The latent nodes of one SAE.
  private func latentNodes(
    _ source: LatentSource, tokens T: Int, cache: [HookPoint: Tensor], grad: [HookPoint: Tensor],
    direct: (Int?, () -> Float) -> Float?, readRowIndex: [Int], direction: Tensor
  ) -> [AttributedNode] {
    let sae = source.sae, S = sae.dSAE, d = sae.dIn, C = config.dModel
    let input = cache[source.inputPoint]!.reshaped([T, d])
    let state = sae.normalise(input)
    let acts: Tensor, gActs: Tensor?, gHook: Tensor?
    if source.spliced {
      acts = cache[source.actsPoint]!
      gActs = grad[source.actsPoint]!
      gHook = nil
    } else {
      acts = sae.activate(sae.preActivations(state.input))
      gActs = nil
      gHook = grad[sae.hook]!.reshaped([T, d])
    }
    // The factor the decoder's output is multiplied by on the way out.
    let outScale: [Float] = (0..<T).map { t in
      switch sae.normalization {
      case .none: 1
      case .constantNormRescale: 1 / state.factor[t]
      case .layerNorm: state.factor[t]
      }
    }
    let site = sae.hook.site
    let slot = residualSlot(sae.hook, layers: config.layers)
    let throughMLP = site == .mlpPost
    let writesResidual = slot != nil && ![HookPoint.Site.lnFinalScale, .lnFinalNormalized].contains(site)
    let ap = acts.pointer, dec = sae.wDec.pointer
    var active: [(t: Int, f: Int)] = []
    for t in 0..<T { for f in 0..<S where ap[t * S + f] != 0 { active.append((t, f)) } }

    // Norms of each active latent's write direction (through W_out for an MLP
    // SAE, and its post-norm's weight; the scale is the token's, below).
    let directionNorm =
      writesResidual ? latentWriteNormCache.norms(sae, model: self, latents: Set(active.map(\.f))) : [:]
    let post =
      throughMLP
      ? PostNorm(weights.blocks[sae.hook.layer!].ln2PostWeight, cache[.block(sae.hook.layer!, .ln2PostScale)]) : nil
    // The read direction as the latent's input space sees it: W_out · direction[t] for an MLP SAE.
    var readInInput: [Int: [Float]] = [:]
    let dirp = direction.pointer
    for t in 0..<T where readRowIndex[t] >= 0 && writesResidual {
      if throughMLP {
        var r = [Float](repeating: 0, count: d)
        let row = (0..<C).map { i in dirp[t * C + i] * (post?.factor(t, i) ?? 1) }
        gemm(M: d, N: 1, K: C, weights.blocks[sae.hook.layer!].fcProjWeight.pointer, lda: C, row, ldb: 1, &r, ldc: 1)
        readInInput[t] = r
      } else {
        readInInput[t] = Array(UnsafeBufferPointer(start: dirp + t * C, count: d))
      }
    }
    return active.map { (t, f) in
      let a = ap[t * S + f]
      let gradient: Float
      if let gActs {
        gradient = gActs[t, f]
      } else {
        var s: Float = 0
        let g = gHook!.pointer + t * d
        for i in 0..<d { s += dec[f * d + i] * g[i] }
        gradient = s * outScale[t]
      }
      let write = writesResidual ? abs(a) * outScale[t] * directionNorm[f]! / (post?.scale(t) ?? 1) : nil
      let dir = direct(writesResidual ? slot : nil) {
        guard let r = readInInput[t] else { return 0 }
        var s: Float = 0
        for i in 0..<d { s += dec[f * d + i] * r[i] }
        return a * outScale[t] * s
      }
      return AttributedNode(
        node: Node(kind: .latent, layer: sae.hook.layer, index: f, sae: sae.name, position: t),
        scores: NodeScores(activation: a, write: write, direct: dir, total: a * gradient))
    }
  }
}

/// Where a latent node's numbers come from.
struct LatentSource {
  let sae: SparseAutoencoder
  /// Spliced by the run: activations and gradients are the splice's own.
  let spliced: Bool

  func site(_ s: HookPoint.SAESite) -> HookPoint { HookPoint(sae.hook.site, layer: sae.hook.layer, sae: s) }
  var actsPoint: HookPoint { site(.actsPost) }
  /// What the SAE encodes.
  var inputPoint: HookPoint { spliced ? site(.input) : sae.hook }
  var valuePoints: [HookPoint] { spliced ? [site(.input), actsPoint] : [sae.hook] }
  var gradientPoint: HookPoint { spliced ? actsPoint : sae.hook }
}

/// The norms of latents' write directions into the residual stream, kept per
/// SAE as they are first needed: through W_out for an SAE on mlp.hook_post
/// that is a product with a [d_mlp, d_model] matrix per latent, too costly to
/// repeat on every node table.
final class LatentWriteNorms: @unchecked Sendable {
  private struct Entry {
    weak var sae: SparseAutoencoder?
    weak var model: TransformerModel?
    var norms: [Int: Float]
  }
  private var entries: [ObjectIdentifier: Entry] = [:]
  private let lock = NSLock()

  func norms(_ sae: SparseAutoencoder, model: TransformerModel, latents: Set<Int>) -> [Int: Float] {
    lock.lock()
    defer { lock.unlock() }
    var entry = entries[ObjectIdentifier(sae)]
    // An entry for a freed SAE whose address was reused is stale.
    if entry?.sae !== sae || entry?.model !== model { entry = Entry(sae: sae, model: model, norms: [:]) }
    let missing = latents.filter { entry!.norms[$0] == nil }.sorted()
    if !missing.isEmpty {
      for (f, norm) in zip(missing, model.latentWriteNorms(sae, missing)) { entry!.norms[f] = norm }
    }
    entries[ObjectIdentifier(sae)] = entry
    return entry!.norms
  }
}

let latentWriteNormCache = LatentWriteNorms()

extension TransformerModel {
  /// ‖W_dec[f]‖ for each latent, ‖W_dec[f] · W_out‖ for an SAE on mlp.hook_post.
  func latentWriteNorms(_ sae: SparseAutoencoder, _ latents: [Int]) -> [Float] {
    let d = sae.dIn, C = config.dModel, dec = sae.wDec.pointer
    guard sae.hook.site == .mlpPost, !latents.isEmpty else {
      return latents.map { f in (0..<d).reduce(Float(0)) { $0 + dec[f * d + $1] * dec[f * d + $1] }.squareRoot() }
    }
    var rows = [Float](repeating: 0, count: latents.count * d)
    for (r, f) in latents.enumerated() { for i in 0..<d { rows[r * d + i] = dec[f * d + i] } }
    var out = [Float](repeating: 0, count: latents.count * C)
    let b = weights.blocks[sae.hook.layer!]
    gemm(M: latents.count, N: C, K: d, rows, lda: d, b.fcProjWeight.pointer, ldb: C, &out, ldc: C)
    if let w = b.ln2PostWeight?.pointer {
      // Through the post-norm's weight; each token's scale is applied where the norm is used.
      for r in latents.indices { for i in 0..<C { out[r * C + i] *= w[i] } }
    }
    return latents.indices.map { r in (0..<C).reduce(Float(0)) { $0 + out[r * C + $1] * out[r * C + $1] }.squareRoot() }
  }
}

/// A post-norm on the way from a layer's output into the residual stream
/// (Gemma 2 and 3), its scale frozen from the run: x ↦ x ⊙ weight / scale[t].
struct PostNorm {
  let weight: Tensor
  let scales: Tensor

  /// nil for a model without post-norms.
  init?(_ weight: Tensor?, _ scales: Tensor?) {
    guard let weight, let scales else { return nil }
    self.weight = weight
    self.scales = scales
  }

  func scale(_ t: Int) -> Float { scales.pointer[t] }
  func factor(_ t: Int, _ i: Int) -> Float { weight.pointer[i] / scales.pointer[t] }
}
