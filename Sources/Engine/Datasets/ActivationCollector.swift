import Foundation

/// Runs the model over corpus windows and feeds every component's
/// activations into a `DatasetAccumulator`.
///
/// Activations: a neuron's `mlp.hook_post`; an SAE latent's encoding of its
/// hook; a head's, as TDB scores heads, the attention write of each
/// (query, key) pair, pattern[h, q, k] · ‖v_k W_O_h‖, whose maximum over keys
/// is the head's activation at the query.
public final class ActivationCollector {
  public let model: TransformerModel
  public let saes: [SparseAutoencoder]
  public let kinds: Set<ComponentKind>
  let catalog: DatasetComponents
  let accumulator: DatasetAccumulator

  /// `saes` matter only when `kinds` holds `.latent`.
  public init(
    model: TransformerModel, saes: [SparseAutoencoder], kinds: Set<ComponentKind>, topExamples: Int, randomExamples: Int
  ) {
    self.model = model
    self.saes = kinds.contains(.latent) ? saes : []
    self.kinds = kinds
    catalog = DatasetComponents(config: model.config, kinds: kinds, saes: self.saes)
    accumulator = DatasetAccumulator(names: catalog.names, topCapacity: topExamples, randomCapacity: randomExamples)
  }

  /// Number of components collected.
  public var componentCount: Int { catalog.count }

  /// Runs one window and adds its activations.
  public func process(_ window: CorpusWindow, shouldStop: (() -> Bool)? = nil) throws {
    add(try compute(window, shouldStop: shouldStop))
  }

  /// One window's activations, laid out for `add`.
  struct WindowActivations: @unchecked Sendable {
    let window: CorpusWindow
    let tokens: [Int32]
    /// Neurons and latents: [count, T], component-major.
    var columns: [(base: Int, count: Int, values: [Float])] = []
    /// Heads of one layer: activation [H, T], key of the strongest write [H, T],
    /// and per head the query an example may centre on with its writes [T]: the
    /// window's strongest query, and the sampled one.
    var heads:
      [(
        base: Int, acts: [Float], argmax: [Int32], rows: [(top: Int, topRow: [Float], random: Int, randomRow: [Float])]
      )] = []
  }

  /// Runs the model on a window and works out every component's activations.
  /// Touches no shared state, so it can run while `add` handles the previous window.
  ///
  /// Activations are read by hooks as the forward pass reaches them, rather
  /// than cached: a layer's attention pattern is [H, T, T], too large to keep
  /// for every layer of a long-context model.
  func compute(_ window: CorpusWindow, shouldStop: (() -> Bool)? = nil) throws -> WindowActivations {
    let T = window.tokens.count
    final class Collected: @unchecked Sendable {
      var out: WindowActivations
      var v: [Int: Tensor] = [:]
      init(_ out: WindowActivations) { self.out = out }
    }
    let box = Collected(WindowActivations(window: window, tokens: window.tokens.map { Int32($0) }))
    var reads: [Intervention] = []
    for (source, base, n) in catalog.sources {
      switch source {
      case .neurons(let l):
        reads.append(
          Intervention(hook: .block(l, .mlpPost), label: "collect") { value, _ in
            box.out.columns.append((base, n, transposed(value.pointer, rows: T, columns: n)))
          })
      case .latents(let sae):
        reads.append(
          Intervention(hook: sae.hook, label: "collect") { value, _ in
            let z = sae.encode(value)
            box.out.columns.append((base, n, transposed(z.pointer, rows: T, columns: n)))
          })
      case .heads(let l):
        reads.append(Intervention(hook: .block(l, .v), label: "collect") { value, _ in box.v[l] = value })
        reads.append(
          Intervention(hook: .block(l, .pattern), label: "collect") { [unowned self] value, _ in
            box.out.heads.append(
              try self.headActivations(layer: l, pattern: value, v: box.v[l]!, base: base, T: T, window: window.index))
            box.v[l] = nil
          })
      }
    }
    _ = try model.forward(
      window.tokens, options: ForwardOptions(interventions: reads, logits: .none, shouldStop: shouldStop))
    return box.out
  }

  /// Adds one window's activations to the statistics and examples.
  func add(_ a: WindowActivations) {
    let acc = accumulator
    let T = a.tokens.count, w = a.window.index
    a.tokens.withUnsafeBufferPointer { tok in
      let tp = tok.baseAddress!
      for (base, n, values) in a.columns {
        values.withUnsafeBufferPointer { c in
          let p = c.baseAddress!
          parallelChunks(n, minimumChunk: 64) { range in
            for j in range { acc.observe(base + j, p + j * T, T: T, window: w, windowTokens: tp) }
          }
        }
      }
      for (base, acts, argmax, rows) in a.heads {
        acts.withUnsafeBufferPointer { ap in
          argmax.withUnsafeBufferPointer { am in
            for (h, r) in rows.enumerated() {
              r.topRow.withUnsafeBufferPointer { top in
                r.randomRow.withUnsafeBufferPointer { random in
                  acc.observe(
                    base + h, ap.baseAddress! + h * T, T: T, window: w, windowTokens: tp,
                    head: .init(
                      topQuery: r.top, topRow: top.baseAddress!, randomQuery: r.random, randomRow: random.baseAddress!,
                      argmaxKey: am.baseAddress! + h * T))
                }
              }
            }
          }
        }
      }
    }
  }

  /// A layer's head activations: the strongest write from each query, and its
  /// key; and the write rows of the queries examples may centre on.
  private func headActivations(layer l: Int, pattern: Tensor, v: Tensor, base: Int, T: Int, window: Int) throws -> (
    base: Int, acts: [Float], argmax: [Int32], rows: [(top: Int, topRow: [Float], random: Int, randomRow: [Float])]
  ) {
    let H = model.config.heads
    let writes = try headWrites(layer: l, pattern: pattern, v: v)
    var acts = [Float](repeating: 0, count: H * T)
    var argmax = [Int32](repeating: 0, count: H * T)
    var rows: [(Int, [Float], Int, [Float])] = []
    writes.withUnsafeBufferPointer { w in
      for h in 0..<H {
        var top = 0
        for q in 0..<T {
          let row = w.baseAddress! + (h * T + q) * T
          var best: Float = -.infinity, at = 0
          for k in 0...q where row[k] > best {
            best = row[k]
            at = k
          }
          acts[h * T + q] = best
          argmax[h * T + q] = Int32(at)
          // The first maximum, as DatasetAccumulator.observe picks it.
          if best > acts[h * T + top] { top = q }
        }
        let key = DatasetAccumulator.sampleKey(seed: accumulator.seeds[base + h], window: window)
        let random = DatasetAccumulator.samplePosition(key: key, T: T)
        func row(_ q: Int) -> [Float] { Array(UnsafeBufferPointer(start: w.baseAddress! + (h * T + q) * T, count: T)) }
        rows.append((top, row(top), random, row(random)))
      }
    }
    return (base, acts, argmax, rows.map { (top: $0.0, topRow: $0.1, random: $0.2, randomRow: $0.3) })
  }

  /// Attention write magnitudes [H, T(query), T(key)]: pattern[h, q, k] · ‖v[k, h] W_O_h‖.
  func headWrites(layer l: Int, pattern: Tensor, v: Tensor) throws -> [Float] {
    let c = model.config
    let T = v.shape[0], H = c.heads, D = c.dHead, C = c.dModel
    let wo = model.weights.blocks[l].attnProjWeight.pointer
    var norms = [Float](repeating: 0, count: H * T)
    var projected = [Float](repeating: 0, count: T * C)
    projected.withUnsafeMutableBufferPointer { out in
      for h in 0..<H {
        // v_g [T, D] (g the key/value head h reads, inside [T, KV, D]) · W_O rows hD..<(h+1)D [D, C].
        gemm(
          M: T, N: C, K: D, v.pointer + c.kvHead(of: h) * D, lda: c.kvWidth, wo + h * D * C, ldb: C, out.baseAddress!,
          ldc: C)
        for t in 0..<T {
          var s: Float = 0
          let row = out.baseAddress! + t * C
          for i in 0..<C { s += row[i] * row[i] }
          norms[h * T + t] = s.squareRoot()
        }
      }
    }
    var writes = [Float](repeating: 0, count: H * T * T)
    let p = pattern.pointer
    for h in 0..<H {
      for q in 0..<T {
        let base = (h * T + q) * T
        for k in 0...q { writes[base + k] = p[base + k] * norms[h * T + k] }
      }
    }
    return writes
  }
}

/// [rows, columns] row-major to [columns, rows], so each component's values over a window are contiguous.
func transposed(_ a: UnsafePointer<Float>, rows: Int, columns: Int) -> [Float] {
  [Float](unsafeUninitializedCapacity: rows * columns) { out, n in
    let o = out.baseAddress!
    // Blocks keep both sides in cache.
    let b = 32
    for r0 in stride(from: 0, to: rows, by: b) {
      for c0 in stride(from: 0, to: columns, by: b) {
        for r in r0..<min(rows, r0 + b) {
          for c in c0..<min(columns, c0 + b) { o[c * rows + r] = a[r * columns + c] }
        }
      }
    }
    n = rows * columns
  }
}
