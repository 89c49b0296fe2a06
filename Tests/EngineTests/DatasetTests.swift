import Foundation
import XCTest

@testable import Engine

/// Activation datasets: collection checked against a direct computation,
/// shard merges, resume, histograms, corpora.
final class DatasetTests: XCTestCase {
  static let saes: [SparseAutoencoder] = ModelLocator.bundledSAEFolders(model: demoFolder).map {
    try! SparseAutoencoder(folder: $0)
  }
  static let sampleCorpus = demoFolder.appendingPathComponent("corpus/stories-sample.txt").path

  func options(tokens: Int, kinds: Set<ComponentKind> = Set(ComponentKind.allCases), top: Int = 6, random: Int = 3)
    -> CollectionOptions
  {
    var o = CollectionOptions()
    o.tokenLimit = tokens
    o.kinds = kinds
    o.topExamples = top
    o.randomExamples = random
    return o
  }

  func collect(_ path: String, _ o: CollectionOptions, stopAfter: Int? = nil) throws -> CollectionReport {
    // Progress is reported on the collecting thread; the stop is asked on the window workers'.
    let windows = LockedCount()
    return try collectActivations(
      model: demoModel, saes: Self.saes, corpus: try Corpus(path: Self.sampleCorpus), path: path, options: o,
      progress: { p in windows.value = p.windows },
      shouldStop: { stopAfter.map { windows.value >= $0 } ?? false })
  }

  final class LockedCount: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    var value: Int {
      get { lock.withLock { count } }
      set { lock.withLock { count = newValue } }
    }
  }

  /// Every row of the dataset's tables except `meta`, as text, for identity checks.
  func dump(_ path: String) throws -> [String] {
    let store = try ActivationStore(path: path)
    var rows: [String] = []
    for (table, order) in [("windows", "window"), ("components", "id"), ("examples", "component, sample, window")] {
      let s = try store.db.prepare("SELECT * FROM \(table) ORDER BY \(order)")
      let columns = s.columnCount
      while try s.step() {
        rows.append(
          table + ": "
            + (0..<columns).map { i in s.isNull(i) ? "NULL" : s.data(i).base64EncodedString() }.joined(separator: "|"))
      }
    }
    return rows
  }

  // MARK: - Against a direct computation

  func testCollectionMatchesDirectComputation() throws {
    let dir = scratchDirectory()
    let path = dir.appendingPathComponent("direct.db").path
    let report = try collect(path, options(tokens: 600))
    XCTAssertEqual(report.windows, 3)
    XCTAssertEqual(report.tokens, 600)
    XCTAssertFalse(report.interrupted)

    // The windows, cut by hand: documents + <|endoftext|>, every 256 tokens.
    let text = try String(contentsOfFile: Self.sampleCorpus, encoding: .utf8)
    var stream: [Int] = []
    for doc in text.components(separatedBy: "\n\n") where !doc.isEmpty {
      stream += demoModel.tokenizer.encode(doc.trimmingCharacters(in: .whitespacesAndNewlines)) + [50256]
      if stream.count > 600 { break }
    }
    let windows = [Array(stream[0..<256]), Array(stream[256..<512]), Array(stream[512..<600])]

    let sae = Self.saes.first { $0.name == "blocks_3_hook_resid_pre" }!
    var points: Set<HookPoint> = [
      .block(3, .mlpPost), .block(0, .mlpPost), .block(2, .pattern), .block(2, .v), sae.hook,
    ]
    points.insert(.block(5, .mlpPost))
    let runs = try windows.map {
      try demoModel.forward($0, options: ForwardOptions(cache: .points(points), logits: .none))
    }

    // Per component: its activation at every token of every window, computed here.
    func direct(_ c: Component) -> [[Float]] {
      runs.enumerated().map { w, r in
        let T = windows[w].count
        switch c {
        case .neuron(let l, let n): return (0..<T).map { r.cache[.block(l, .mlpPost)]![$0, n] }
        case .latent(_, let f):
          let z = sae.encode(r.cache[sae.hook]!)
          return (0..<T).map { z[$0, f] }
        case .head(let l, let h):
          return (0..<T).map { q in (0...q).map { k in headWrite(r, layer: l, head: h, q: q, k: k) }.max()! }
        }
      }
    }
    let store = try ActivationStore(path: path)
    // The latent most active on window 0, so that it has examples to check.
    let z0 = sae.encode(runs[0].cache[sae.hook]!)
    var bestLatent = 0
    for f in 0..<sae.dSAE where z0[10, f] > z0[10, bestLatent] { bestLatent = f }
    for c: Component in [
      .neuron(layer: 3, index: 77), .neuron(layer: 0, index: 5), .neuron(layer: 5, index: 1000),
      .head(layer: 2, head: 3), .latent(sae: sae.name, index: bestLatent),
    ] {
      let acts = direct(c)
      let all = acts.flatMap { $0 }.map(Double.init)
      guard let rec = try store.component(c.description) else { return XCTFail("\(c) missing") }
      let mean = all.reduce(0, +) / Double(all.count)
      let variance = all.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(all.count)
      XCTAssertEqual(rec.summary.tokens, 600, "\(c)")
      XCTAssertEqual(rec.summary.mean, mean, accuracy: 1e-5 + 1e-4 * abs(mean), "\(c) mean")
      XCTAssertEqual(rec.summary.variance, variance, accuracy: 1e-5 + 1e-3 * variance, "\(c) variance")
      XCTAssertEqual(rec.summary.max, all.max()!, accuracy: 1e-4 * max(1, abs(all.max()!)), "\(c) max")
      XCTAssertEqual(rec.summary.min, all.min()!, accuracy: 1e-4 * max(1, abs(all.min()!)), "\(c) min")
      XCTAssertEqual(rec.summary.frequency, Double(all.filter { $0 > 0 }.count) / 600, accuracy: 1e-9, "\(c) frequency")
      XCTAssertEqual(rec.histogram.total, 600)
      // Top examples: each window's maximum, best first, tokens and activations as computed.
      let perWindow = acts.enumerated().map { w, a in (w: w, pos: a.firstIndex(of: a.max()!)!, value: a.max()!) }
        .sorted { $0.value > $1.value }
      XCTAssertEqual(rec.top.count, 3, "\(c): one top example per window")
      for (e, want) in zip(rec.top, perWindow) {
        XCTAssertEqual(e.window, want.w, "\(c) top window")
        XCTAssertEqual(e.position, want.pos, "\(c) top position")
        XCTAssertEqual(e.activation, want.value, accuracy: 1e-4 * max(1, abs(want.value)), "\(c) top activation")
        XCTAssertEqual(
          e.tokens.map(Int.init), Array(windows[e.window][e.start..<(e.start + e.tokens.count)]), "\(c) example tokens")
        for (i, a) in e.acts.enumerated() {
          XCTAssertEqual(
            a, acts[e.window][e.start + i], accuracy: 1e-4 * max(1, abs(a)), "\(c) example activation \(i)")
        }
        if case .head(let l, let h) = c {
          let r = runs[e.window]
          XCTAssertEqual(e.keys!.count, e.tokens.count)
          for (i, k) in e.keys!.enumerated() where e.start + i <= e.position {
            XCTAssertEqual(
              k, headWrite(r, layer: l, head: h, q: e.position, k: e.start + i), accuracy: 1e-4, "\(c) key write")
          }
          let strongest = (0...e.position).max {
            headWrite(r, layer: l, head: h, q: e.position, k: $0)
              < headWrite(r, layer: l, head: h, q: e.position, k: $1)
          }!
          XCTAssertEqual(e.keyPosition, strongest, "\(c) strongest key")
        }
      }
      XCTAssertEqual(rec.random.count, 3, "\(c): random sample of the 3 windows")
      for e in rec.random {
        XCTAssertEqual(
          e.activation, acts[e.window][e.position], accuracy: 1e-4 * max(1, abs(e.activation)), "\(c) random example")
      }
    }
    // The file is an ordinary SQLite database.
    let s = try store.db.prepare("SELECT COUNT(*) FROM components WHERE kind = 'neuron'")
    XCTAssertTrue(try s.step())
    XCTAssertEqual(s.int(0), 6 * 1024)
  }

  /// pattern[h, q, k] · ‖v[k, h] W_O_h‖ by plain loops (the norms computed once per run and head).
  func headWrite(_ r: ForwardResult, layer l: Int, head h: Int, q: Int, k: Int) -> Float {
    let key = "\(ObjectIdentifier(r.cache[.block(l, .v)]!.buffer)) \(h)"
    if normCache[key] == nil {
      let c = demoModel.config
      let D = c.dHead, C = c.dModel
      let v = r.cache[.block(l, .v)]!.scalars
      let wo = demoModel.weights.blocks[l].attnProjWeight.scalars
      normCache[key] = (0..<r.tokens.count).map { k in
        var norm: Float = 0
        for j in 0..<C {
          var s: Float = 0
          for d in 0..<D { s += v[(k * c.heads + h) * D + d] * wo[(h * D + d) * C + j] }
          norm += s * s
        }
        return norm.squareRoot()
      }
    }
    return r.cache[.block(l, .pattern)]![h, q, k] * normCache[key]![k]
  }
  var normCache: [String: [Float]] = [:]

  // MARK: - Shards, merge, resume

  func testShardsMergeIntoTheOneProcessCollection() throws {
    let dir = scratchDirectory()
    let one = dir.appendingPathComponent("one.db").path
    _ = try collect(one, options(tokens: 1100))
    var shards: [String] = []
    for i in 0..<3 {
      var o = options(tokens: 1100)
      o.shardIndex = i
      o.shardCount = 3
      let p = dir.appendingPathComponent("shard\(i).db").path
      let r = try collect(p, o)
      XCTAssertEqual(r.newWindows, [2, 2, 1][i], "shard \(i) takes every third window")
      shards.append(p)
    }
    let merged = dir.appendingPathComponent("merged.db").path
    let report = try mergeDatasets(shards.reversed(), into: merged, tokenizer: demoModel.tokenizer)
    XCTAssertEqual(report.windows, 5)
    XCTAssertEqual(report.tokens, 1100)
    let a = try dump(one), b = try dump(merged)
    XCTAssertEqual(a.count, b.count)
    XCTAssertTrue(a == b, "the merged dataset differs from the one-process collection")
    XCTAssertEqual(try ActivationStore(path: merged).info(), try ActivationStore(path: one).info())

    // The same shard twice is refused, as is a dataset of other components.
    XCTAssertThrowsError(
      try mergeDatasets(
        [shards[0], shards[0]], into: dir.appendingPathComponent("twice.db").path, tokenizer: demoModel.tokenizer))
    let heads = dir.appendingPathComponent("heads.db").path
    _ = try collect(heads, options(tokens: 300, kinds: [.head]))
    XCTAssertThrowsError(
      try mergeDatasets(
        [shards[0], heads], into: dir.appendingPathComponent("mixed.db").path, tokenizer: demoModel.tokenizer)
    ) {
      XCTAssertTrue("\($0)".contains("component kinds"), "\($0)")
    }
  }

  func testResumeAfterAnInterruptedRun() throws {
    let dir = scratchDirectory()
    let whole = dir.appendingPathComponent("whole.db").path
    _ = try collect(whole, options(tokens: 1100, kinds: [.neuron, .head]))
    let resumed = dir.appendingPathComponent("resumed.db").path
    var o = options(tokens: 1100, kinds: [.neuron, .head])
    o.saveEveryWindows = 1
    let first = try collect(resumed, o, stopAfter: 2)
    XCTAssertTrue(first.interrupted)
    XCTAssertEqual(first.windows, 2)
    // Windows run side by side, so the two finished first need not be 0 and 1.
    let done = try ActivationStore(path: resumed).processedWindows()
    XCTAssertEqual(done.count, 2, "the windows finished before the stop are saved: \(done)")
    XCTAssertTrue(done.isSubset(of: Set(0..<5)), "\(done)")
    let second = try collect(resumed, o)
    XCTAssertFalse(second.interrupted)
    XCTAssertEqual(second.newWindows, 3, "only the windows not yet done")
    XCTAssertEqual(second.windows, 5)
    XCTAssertTrue(try dump(whole) == dump(resumed), "a resumed collection differs from an uninterrupted one")
    // Nothing left: a third run does nothing.
    XCTAssertEqual(try collect(resumed, o).newWindows, 0)
    // A longer --tokens continues from there.
    XCTAssertEqual(try collect(resumed, options(tokens: 1400, kinds: [.neuron, .head])).newWindows, 1)
    // Another kind of collection into the same file is refused.
    XCTAssertThrowsError(try collect(resumed, options(tokens: 1100, kinds: [.head]))) {
      XCTAssertTrue("\($0)".contains("cannot resume"), "\($0)")
    }
  }

  // MARK: - Pieces

  func testHistogramBinsAndQuantiles() {
    var last = -1
    // One value per bin: overflow, octaves, sub-bins of an octave, underflow, zero.
    for v: Float in [-1e9, -3, -1.1, -1, -0.5, -1e-7, 0, 1e-7, 0.5, 1, 1.1, 3, 10000, 1e9] {
      let i = ActivationBins.index(v)
      XCTAssertGreaterThan(i, last, "bins increase with the value (\(v))")
      last = i
      let (lo, hi) = ActivationBins.range(i)
      XCTAssertTrue(Double(v) >= lo && Double(v) <= hi, "\(v) in [\(lo), \(hi)]")
    }
    XCTAssertEqual(ActivationBins.index(0), ActivationBins.zero)
    // Quantiles of 10,000 values within a bin's width of the exact ones.
    var values: [Float] = (0..<10_000).map { i in Float(i) / 1000 - 2 }
    values.shuffle()
    var counts = [Int](repeating: 0, count: ActivationBins.count)
    for v in values { counts[ActivationBins.index(v)] += 1 }
    let h = ActivationHistogram(counts: counts, min: values.min()!, max: values.max()!)
    let sorted = values.sorted()
    for p in [0.1, 0.5, 0.9, 0.99] {
      let exact = Double(sorted[Int(p * 10_000) - 1])
      XCTAssertEqual(h.quantile(p), exact, accuracy: 0.07 * max(abs(exact), 0.01), "quantile \(p)")
    }
    XCTAssertEqual(ActivationHistogram.unpack(h.packed), counts)
    XCTAssertEqual(h.linearBins(10).counts.reduce(0, +), 10_000)
  }

  func testCorpusDocumentsAndWindows() throws {
    let dir = scratchDirectory()
    let text = dir.appendingPathComponent("c.txt")
    try "one two\nthree\n\n\n  four<|endoftext|>five\n\nsix".write(to: text, atomically: true, encoding: .utf8)
    var docs: [String] = []
    try Corpus(path: text.path).forEachDocument {
      docs.append($0); return true
    }
    XCTAssertEqual(docs, ["one two\nthree", "four", "five", "six"])
    let jsonl = dir.appendingPathComponent("c.jsonl")
    try "{\"text\": \"alpha beta gamma delta\"}\n\n{\"text\": \"epsilon zeta eta theta iota\", \"id\": 2}\n".write(
      to: jsonl, atomically: true, encoding: .utf8)
    docs = []
    try Corpus(path: jsonl.path).forEachDocument {
      docs.append($0); return true
    }
    XCTAssertEqual(docs, ["alpha beta gamma delta", "epsilon zeta eta theta iota"])
    let bad = dir.appendingPathComponent("bad.jsonl")
    try "{\"text\": 1}\n".write(to: bad, atomically: true, encoding: .utf8)
    XCTAssertThrowsError(try Corpus(path: bad.path).forEachDocument { _ in true }) {
      XCTAssertEqual($0 as? CorpusError, .badJSONLine(bad.path, line: 1))
    }
    XCTAssertThrowsError(try Corpus(path: dir.appendingPathComponent("none.txt").path))

    // Windows of 4 tokens over the stream doc + <|endoftext|> ..., limited to 10 tokens.
    let tok = demoModel.tokenizer
    let stream = docs.flatMap { tok.encode($0) + [tok.endOfSequenceID!] }
    XCTAssertGreaterThan(stream.count, 10)
    var windows: [CorpusWindow] = []
    try CorpusWindows(try Corpus(path: jsonl.path), tokenizer: tok, size: 4, tokenLimit: 10).forEach {
      windows.append($0); return true
    }
    XCTAssertEqual(windows.map(\.index), [0, 1, 2])
    XCTAssertEqual(windows.flatMap(\.tokens), Array(stream.prefix(10)))
    XCTAssertEqual(windows.map(\.tokens.count), [4, 4, 2])
    // Skipped windows are still cut in the same places.
    var odd: [CorpusWindow] = []
    try CorpusWindows(try Corpus(path: jsonl.path), tokenizer: tok, size: 4, tokenLimit: 10).forEach(wanted: {
      $0 % 2 == 1
    }) {
      odd.append($0); return true
    }
    XCTAssertEqual(odd.map(\.tokens), [windows[1].tokens])
  }
}
