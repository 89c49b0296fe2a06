import Foundation

/// How a collection runs.
public struct CollectionOptions: Sendable {
  public var kinds: Set<ComponentKind> = Set(ComponentKind.allCases)
  /// Collect the first this-many tokens of the corpus (nil: all of it).
  public var tokenLimit: Int? = nil
  /// Process only windows with `index % shardCount == shardIndex`.
  public var shardIndex = 0
  public var shardCount = 1
  public var topExamples = 20
  public var randomExamples = 10
  /// Save (commit) at least this often, in seconds...
  public var saveInterval: Double = 20
  /// ...and after this many windows, if set.
  public var saveEveryWindows: Int? = nil

  public init() {}
}

/// How far a collection has come, for a progress bar.
public struct CollectionProgress: Sendable {
  /// Windows and tokens processed by this run.
  public var windows: Int
  public var tokens: Int
  /// Estimated tokens this run will process in all, if it can be told.
  public var expectedTokens: Int?
  public var seconds: Double

  public var tokensPerSecond: Double { seconds > 0 ? Double(tokens) / seconds : 0 }
  /// Estimated seconds left, if known.
  public var secondsLeft: Double? {
    guard let expectedTokens, tokens > 0, tokensPerSecond > 0 else { return nil }
    return max(0, Double(expectedTokens - tokens) / tokensPerSecond)
  }
}

/// What a collection did.
public struct CollectionReport: Sendable {
  public var path: String
  /// Totals in the dataset after this run.
  public var windows: Int
  public var tokens: Int
  public var components: Int
  /// Processed by this run.
  public var newWindows: Int
  public var newTokens: Int
  public var seconds: Double
  /// Of which spent writing to the database.
  public var saveSeconds: Double
  /// Stopped early (Ctrl-C); what was done is saved and a rerun resumes.
  public var interrupted: Bool
}

/// A collection that cannot start.
public enum CollectionError: Error, CustomStringConvertible, Equatable {
  case badShard(Int, Int)
  case noKinds
  case noSAEs

  public var description: String {
    switch self {
    case .badShard(let i, let n): "--shard \(i)/\(n): expected I/N with 0 ≤ I < N"
    case .noKinds: "nothing to collect: choose neurons, heads, latents or all"
    case .noSAEs: "--kind latents needs an SAE (the demo model's load by default; others with --sae PATH)"
    }
  }
}

/// Collects (or resumes collecting) an activation dataset: runs `model` over
/// `corpus` window by window, and saves statistics and examples of every
/// component to the SQLite file at `path`. Windows already in the file are
/// skipped, so running it again after an interruption finishes the job.
public func collectActivations(
  model: TransformerModel, saes: [SparseAutoencoder], corpus: Corpus, path: String, options o: CollectionOptions,
  progress: ((CollectionProgress) -> Void)? = nil, shouldStop: @escaping () -> Bool = { false }
) throws -> CollectionReport {
  guard o.shardCount >= 1, o.shardIndex >= 0, o.shardIndex < o.shardCount else {
    throw CollectionError.badShard(o.shardIndex, o.shardCount)
  }
  guard !o.kinds.isEmpty else { throw CollectionError.noKinds }
  let latentSAEs = o.kinds.contains(.latent) ? saes : []
  if o.kinds == [.latent] && latentSAEs.isEmpty { throw CollectionError.noSAEs }
  let started = Date()
  let collector = ActivationCollector(
    model: model, saes: latentSAEs, kinds: o.kinds, topExamples: o.topExamples, randomExamples: o.randomExamples)
  let info = DatasetInfo(
    model: model.folder.lastPathComponent, modelFingerprint: model.fingerprint, windowSize: model.config.context,
    kinds: o.kinds,
    saes: latentSAEs.map(\.datasetLabel), topExamples: o.topExamples, randomExamples: o.randomExamples,
    corpus: corpus.name,
    corpusBytes: corpus.byteCount)
  let store = try ActivationStore(creating: path)
  if let existing = try store.info() {
    if let why = existing.mismatch(info) {
      throw DatabaseError.incompatible(path, "cannot resume: \(why); collect into another --db")
    }
    try store.load(into: collector.accumulator)
    // Loaded examples are already on disk.
    collector.accumulator.markSaved()
  } else {
    try store.db.transaction { try store.writeInfo(info) }
  }
  let done = try store.processedWindows()
  let windows = CorpusWindows(corpus, tokenizer: model.tokenizer, size: model.config.context, tokenLimit: o.tokenLimit)

  var pending: [(Int, Int)] = []
  var lastSave = Date()
  var saveSeconds = 0.0, lastSaveSeconds = 0.0
  var newWindows = 0, newTokens = 0
  var interrupted = false
  func save() throws {
    let t = Date()
    try store.save(
      collector.accumulator, components: collector.catalog.components, newWindows: pending, tokenizer: model.tokenizer)
    pending.removeAll()
    lastSave = Date()
    lastSaveSeconds = lastSave.timeIntervalSince(t)
    saveSeconds += lastSaveSeconds
  }
  // The share of the corpus this run will process, for time left.
  let shardShare = 1.0 / Double(o.shardCount)
  let expectedFromLimit: Int? = windows.limitWindowCount.map { n in
    let mine = (0..<n).filter { $0 % o.shardCount == o.shardIndex && !done.contains($0) }.count
    return mine * model.config.context
  }
  let pipeline = WindowPipeline(
    windows: windows, wanted: { $0 % o.shardCount == o.shardIndex && !done.contains($0) }, collector: collector,
    shouldStop: shouldStop)
  // Whatever happens here, the pipeline's threads stop before this function returns.
  defer { pipeline.stop() }
  while true {
    if shouldStop() {
      interrupted = true
      break
    }
    guard let a = try pipeline.next() else { break }
    let window = a.window
    collector.add(a)
    pending.append((window.index, window.tokens.count))
    newWindows += 1
    newTokens += window.tokens.count
    if let every = o.saveEveryWindows, pending.count >= every {
      try save()
    } else if Date().timeIntervalSince(lastSave) >= max(o.saveInterval, 10 * lastSaveSeconds) {
      // Spaced out so that saving takes at most about a tenth of the time.
      try save()
    }
    if let progress {
      var expected = expectedFromLimit
      if expected == nil, window.bytesRead > 0 {
        // Tokens per byte so far, times what is left of the file, for this shard.
        let perByte = Double(window.index + 1) * Double(model.config.context) / Double(window.bytesRead)
        let remaining = Double(max(0, corpus.byteCount - window.bytesRead)) * perByte * shardShare
        expected = newTokens + Int(remaining)
      }
      progress(
        CollectionProgress(
          windows: newWindows, tokens: newTokens, expectedTokens: expected, seconds: Date().timeIntervalSince(started)))
    }
  }
  pipeline.stop()
  if pipeline.wasInterrupted { interrupted = true }
  try save()
  let totals = try store.totals()
  return CollectionReport(
    path: path, windows: totals.windows, tokens: totals.tokens, components: collector.componentCount,
    newWindows: newWindows,
    newTokens: newTokens, seconds: Date().timeIntervalSince(started), saveSeconds: saveSeconds, interrupted: interrupted
  )
}
