import Engine
import Foundation
import Lang

/// A forward pass in the language: its tokens, logits, the interventions it
/// ran with and its cache of hook values (filled on demand).
final class RunValue: HostValue, RichDisplay {
  let session: ModelSession
  let tokens: [Int]
  let hooks: [HookValue]
  /// SAEs spliced in (from `--sae` or needed by latent hooks).
  let saes: [SAESplice]
  /// [T, V], or nil until asked for when the run was made with `lazyLogits`.
  private var allLogits: Tensor?
  /// Rows of logits computed on demand (lazy runs).
  private var logitRows: [Int: Tensor] = [:]
  private(set) var cache: [HookPoint: Tensor]
  /// For a run resumed from another run's checkpoint: that run (positions
  /// before `position` are its), and ln_final's output [T - position, C] at the rest.
  private var resumed: (source: RunValue, position: Int, tail: Tensor)?
  /// What later runs can resume from, made when first asked for.
  private var savedCheckpoint: ForwardCheckpoint?

  /// - Parameter lazyLogits: keep only ln_final's output and compute logits
  ///   per position when asked (sweeps evaluate a metric at one position, and
  ///   the unembedding of every position dominates small models' forward pass).
  /// - Parameter source: a run this one extends (same prompt and SAEs, the
  ///   same hooks but the last): when that last hook only changes some
  ///   positions from some block on, only those are computed, from the
  ///   source's checkpoint (sweeps run hundreds of these).
  /// - Parameter deferred: run nothing now; every value is computed when
  ///   first asked for (commands that run their own passes on a prompt).
  /// - Parameter lastLogitsOnly: compute the last position's logits and
  ///   nothing else (a command on a prompt that reads only those); the
  ///   engine then runs the last block at that position alone.
  init(
    session: ModelSession, tokens: [Int], hooks: [HookValue], saes: [SAESplice], cacheAll: Bool,
    lazyLogits: Bool = false, extending source: RunValue? = nil, deferred: Bool = false,
    lastLogitsOnly: Bool = false
  )
    throws
  {
    self.session = session
    self.tokens = tokens
    self.hooks = hooks
    self.saes = saes
    if deferred {
      cache = [:]
      return
    }
    if lastLogitsOnly {
      var o = Self.options(hooks: hooks, saes: saes)
      o.logits = .last
      logitRows[tokens.count - 1] = try session.forward(tokens, o).logits.row(0)
      cache = [:]
      return
    }
    var o = Self.options(hooks: hooks, saes: saes)
    if let source, !cacheAll, let start = Self.resumePoint(extending: source, hooks: hooks, saes: saes) {
      let final = HookPoint(.lnFinalNormalized)
      o.resume = ResumePoint(checkpoint: try source.checkpoint(), position: start.position, layer: start.layer)
      o.cache = .points([final])
      o.logits = .none
      let r = try session.forward(tokens, o)
      resumed = (source, start.position, r.cache[final]!)
      cache = [:]
      return
    }
    let final = HookPoint(.lnFinalNormalized)
    o.cache = cacheAll ? .all : lazyLogits ? .points([final]) : .none
    o.logits = lazyLogits ? .none : .all
    let r = try session.forward(tokens, o)
    allLogits = lazyLogits ? nil : r.logits
    cache = r.cache
  }

  /// Where a run of `hooks` can resume from `source`'s checkpoint: nil unless
  /// it is `source` with one more hook of row-local interventions and the same SAEs.
  private static func resumePoint(extending source: RunValue, hooks: [HookValue], saes: [SAESplice])
    -> (position: Int, layer: Int?)?
  {
    guard hooks.count == source.hooks.count + 1, zip(hooks, source.hooks).allSatisfy({ $0 === $1 }),
      saes.count == source.saes.count,
      zip(saes, source.saes).allSatisfy({ $0.sae === $1.sae && $0.keepError == $1.keepError })
    else { return nil }
    let added = hooks.last!.interventions
    guard !added.isEmpty, !source.hooks.contains(where: { $0.interventions.contains { $0.rows == .mixed } }) else {
      return nil
    }
    let T = source.tokens.count, L = source.session.config.layers
    var position = T
    var layer: Int? = L
    for i in added {
      guard let first = i.firstPosition(tokens: T) else { return nil }
      position = min(position, first)
      // Embedding hooks come before block 0 (the embeddings are computed
      // again); ln_final's come after the last block.
      let at: Int? = i.hook.layer ?? (i.hook.site == .embed || i.hook.site == .posEmbed ? nil : L)
      if let l = layer { layer = at.map { min(l, $0) } }
    }
    return (position, layer)
  }

  /// What a run extending this one resumes from: the keys, values and
  /// residual stream of every block (one more forward pass, kept).
  func checkpoint() throws -> ForwardCheckpoint {
    if let savedCheckpoint { return savedCheckpoint }
    var o = forwardOptions
    o.keepCheckpoint = true
    o.logits = .none
    let r = try session.forward(tokens, o)
    savedCheckpoint = r.checkpoint
    return r.checkpoint!
  }

  /// Frees the checkpoint (3·layers·T·d_model floats) once the runs that
  /// extend this one are done; it is made again if asked for.
  func releaseCheckpoint() { savedCheckpoint = nil }

  /// Logits at every position [T, V].
  var logits: Tensor {
    get throws {
      if let allLogits { return allLogits }
      let t = session.model.unembed(try value(HookPoint(.lnFinalNormalized)))
      allLogits = t
      return t
    }
  }

  static func options(hooks: [HookValue], saes: [SAESplice]) -> ForwardOptions {
    ForwardOptions(interventions: hooks.flatMap(\.interventions), saes: saes)
  }

  var forwardOptions: ForwardOptions { Self.options(hooks: hooks, saes: saes) }

  /// Whether a full cache is cheap enough to keep for a prompt this long.
  static func cacheAllIsCheap(_ c: ModelConfig, tokens T: Int) -> Bool {
    let floatsPerLayer = T * (9 * c.dModel + 2 * c.dMLP) + 2 * c.heads * T * T
    return floatsPerLayer * c.layers < 64_000_000  // 256 MB
  }

  /// A hook value, computed by re-running the same forward pass if it was not kept.
  func value(_ point: HookPoint) throws -> Tensor {
    if let t = cache[point] { return t }
    try session.model.validate(point)
    if point.sae != nil, !saes.contains(where: { $0.sae.hook == point.base }) {
      throw EvalError("\(point.name): no SAE is spliced at \(point.base.name) in this run (run PROMPT --sae NAME)")
    }
    var o = forwardOptions
    o.cache = .points([point])
    o.logits = .none
    let r = try session.forward(tokens, o)
    guard let t = r.cache[point] else { throw EvalError("\(point.name) is not computed by this model") }
    cache[point] = t
    return t
  }

  /// Logits [V] at a position (negative from the end).
  func logits(at position: Int) throws -> Tensor {
    let p = try self.position(position)
    if let allLogits { return allLogits.row(p) }
    if let row = logitRows[p] { return row }
    if let resumed, p < resumed.position { return try resumed.source.logits(at: p) }
    let final = try resumed.map { $0.tail.row(p - $0.position) } ?? value(HookPoint(.lnFinalNormalized)).row(p)
    let row = session.model.unembed(final.reshaped([1, session.config.dModel])).row(0)
    logitRows[p] = row
    return row
  }

  /// A few logits at a position: dot products of ln_final's output with the
  /// tokens' unembedding rows, so a logit difference never unembeds the vocabulary.
  func logits(at position: Int, tokens ids: [Int]) throws -> [Float] {
    let p = try self.position(position)
    if let allLogits { return ids.map { allLogits[p, $0] } }
    if let row = logitRows[p] { return ids.map { row[$0] } }
    if let resumed, p < resumed.position { return try resumed.source.logits(at: p, tokens: ids) }
    let C = session.config.dModel
    let x =
      try resumed.map { $0.tail.pointer + (p - $0.position) * C }
      ?? value(HookPoint(.lnFinalNormalized)).pointer + p * C
    let w = session.model.weights.lmHead.pointer
    let cap = session.config.finalSoftcap
    return ids.map { id in
      var s: Float = 0
      for i in 0..<C { s += x[i] * w[id * C + i] }
      // Gemma 2's soft-cap, as the whole-vocabulary unembedding applies it.
      return cap.map { softcapped(s, cap: $0) } ?? s
    }
  }

  func position(_ position: Int) throws -> Int {
    let T = tokens.count
    let p = position < 0 ? T + position : position
    guard p >= 0 && p < T else { throw InterventionError.positionOutOfRange(position, tokens: T) }
    return p
  }

  var typeName: String { "run" }

  /// Top next tokens at the last position.
  func top(_ k: Int, position: Int = -1) throws -> [(rank: Int, id: Int, token: String, logit: Float, prob: Float)] {
    let l = try logits(at: position)
    let probs = softmax(l)
    return l.withUnsafeBufferPointer { topK($0, k) }.enumerated().map { i, s in
      (i + 1, s.id, session.tokenText(s.id), s.score, probs[s.id])
    }
  }

  var memberNames: [String] { ["tokens", "ids", "text", "length", "logits", "top", "hooks"] }

  func member(_ name: String) throws -> Value {
    switch name {
    case "ids": return .list(tokens.map { Value($0) })
    case "tokens": return .list(tokens.map { Value(session.tokenText($0)) })
    case "text": return Value(session.tokenizer.decode(tokens))
    case "length": return Value(tokens.count)
    case "logits": return try .host(TensorValue(logits))
    case "top": return topTable(5)
    case "hooks": return .list(hooks.map { .host($0) })
    default: throw EvalError("a run has no member '\(name)' (members: \(memberNames.joined(separator: ", ")))")
    }
  }

  func topTable(_ k: Int, position: Int = -1) -> Value {
    guard let rows = try? top(k, position: position) else { return .null }
    return .table(
      Table(
        columns: ["rank", "token", "id", "logit", "prob"],
        rows: rows.map {
          [Value($0.rank), Value($0.token), Value($0.id), Value(Double($0.logit)), Value(Double($0.prob))]
        }))
  }

  func plain() -> Value {
    var r = Record()
    r["text"] = Value(session.tokenizer.decode(tokens))
    r["tokens"] = .list(tokens.map { Value($0) })
    if !hooks.isEmpty { r["with"] = .list(hooks.map { Value($0.label) }) }
    if !saes.isEmpty { r["saes"] = .list(saes.map { Value($0.sae.name) }) }
    if case .table(let t) = topTable(5) { r["top"] = .list(t.records.map { .record($0) }) }
    return .record(r)
  }

  func summary() -> String {
    let best = (try? top(3)) ?? []
    let next = best.map { "\(quoted($0.token)) \(String(format: "%.2f", $0.logit))" }.joined(separator: ", ")
    var s = "run of \(tokens.count) tokens; next: \(next)"
    if !hooks.isEmpty { s += " (with \(hooks.map(\.label).joined(separator: ", ")))" }
    return s
  }

  func display(width: Int, color: Bool) -> String {
    var lines = [
      "run of \(tokens.count) tokens" + (hooks.isEmpty ? "" : " with \(hooks.map(\.label).joined(separator: ", "))")
    ]
    for row in (try? top(5)) ?? [] {
      let bar = String(repeating: "█", count: Int((row.prob * 20).rounded()))
      let token = quoted(row.token).padding(toLength: max(16, quoted(row.token).count), withPad: " ", startingAt: 0)
      lines.append(
        "  \(row.rank)  \(token)" + String(format: " %8.3f  %6.2f%%  ", Double(row.logit), Double(row.prob * 100)) + bar
      )
    }
    return lines.joined(separator: "\n")
  }
}

/// A token string shown with visible quotes (leading spaces matter).
func quoted(_ s: String) -> String {
  "'" + s.replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\t", with: "\\t") + "'"
}

/// Softmax of a logit vector, in Double for the sum.
func softmax(_ logits: Tensor) -> [Float] {
  logits.withUnsafeBufferPointer { l in
    let m = l.max() ?? 0
    var sum: Double = 0
    var out = [Float](repeating: 0, count: l.count)
    for i in 0..<l.count {
      let e = exp(Double(l[i] - m))
      out[i] = Float(e)
      sum += e
    }
    return out.map { Float(Double($0) / sum) }
  }
}
