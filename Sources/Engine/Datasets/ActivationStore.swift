import Foundation

/// An activation dataset in a SQLite file: what `collect` writes and
/// `explain`, `top` and `search` read.
///
/// Tables (all queryable with the `sqlite3` shell):
/// - `meta(key, value)`: the `DatasetInfo`.
/// - `windows(window, tokens)`: corpus windows already processed (resume, merge).
/// - `components(id, name, kind, layer, unit, sae, tokens, firing, sum, sum_squares,
///   min, max, mean, variance, frequency, quantiles, histogram)`: `sum` and
///   `sum_squares` are exact integers in units of 2^-24 (each window's
///   sums rounded to that unit, then added) as decimal text; `quantiles` is JSON; `histogram` packs the non-empty
///   `ActivationBins` as (UInt16 bin, Int64 count) little-endian pairs.
/// - `examples(component, sample, window, activation, position, token, start,
///   key_position, key_token, sample_key, tokens, acts, keys, text)`: `sample` is
///   'top' (ranked by activation desc, window, position) or 'random' (ranked by
///   sample_key, a hash); at most one example per component, sample and window;
///   `tokens` packs Int32s, `acts` and `keys` Float32s; `text` (top examples only)
///   is the decoded tokens.
/// - `explanations(component, explanation, score, method, details)`.
public final class ActivationStore {
  public let path: String
  let db: Database
  /// Opened only for reading (`tdb serve` without --allow-write): explanations
  /// are computed but not saved.
  public let readOnly: Bool

  /// The quantiles stored for each component.
  public static let quantileLevels: [Double] = [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 0.9999]

  /// Opens an existing dataset.
  public init(path: String, readOnly: Bool = false) throws {
    guard FileManager.default.fileExists(atPath: path) else { throw DatabaseError.open(path, "no such file") }
    self.path = path
    self.readOnly = readOnly
    db = try Database(path: path, create: false, readOnly: readOnly)
    guard try db.hasTable("meta"), try db.hasTable("components") else { throw DatabaseError.notADataset(path) }
  }

  /// Opens or creates a dataset file for writing.
  init(creating path: String) throws {
    self.path = path
    readOnly = false
    db = try Database(path: path, create: true)
    // WAL: readers (explain) do not block the collector, and a commit is atomic on a crash.
    // Large pages suit rows of a few hundred bytes of blobs (only takes effect on a new file).
    try db.execute("PRAGMA page_size = 16384; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
    try db.execute(
      """
      CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS windows(window INTEGER PRIMARY KEY, tokens INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS components(
        id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, layer INTEGER, unit INTEGER NOT NULL, sae TEXT,
        tokens INTEGER NOT NULL, firing INTEGER NOT NULL, sum TEXT NOT NULL, sum_squares TEXT NOT NULL,
        min REAL, max REAL, mean REAL, variance REAL, frequency REAL, quantiles TEXT, histogram BLOB);
      CREATE INDEX IF NOT EXISTS components_by_kind ON components(kind);
      CREATE TABLE IF NOT EXISTS examples(
        component INTEGER NOT NULL, sample TEXT NOT NULL, window INTEGER NOT NULL, activation REAL NOT NULL,
        position INTEGER NOT NULL, token INTEGER NOT NULL, start INTEGER NOT NULL,
        key_position INTEGER, key_token INTEGER, sample_key INTEGER, tokens BLOB NOT NULL, acts BLOB NOT NULL, keys BLOB,
        text TEXT, PRIMARY KEY(component, sample, window)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS explanations(
        component TEXT PRIMARY KEY, explanation TEXT NOT NULL, score REAL, method TEXT NOT NULL, details TEXT);
      """)
  }

  // MARK: - Meta and windows

  /// The dataset's description, or nil for a new file.
  public func info() throws -> DatasetInfo? {
    let s = try db.prepare("SELECT key, value FROM meta")
    var pairs: [String: String] = [:]
    while try s.step() { pairs[s.string(0)] = s.string(1) }
    if pairs.isEmpty { return nil }
    if let v = pairs["format"].flatMap(Int.init), v > DatasetInfo.formatVersion {
      throw DatabaseError.incompatible(path, "written by a newer tdb (format \(v))")
    }
    guard let info = DatasetInfo(pairs: pairs) else { throw DatabaseError.notADataset(path) }
    return info
  }

  func writeInfo(_ info: DatasetInfo) throws {
    let s = try db.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)")
    for (k, v) in info.pairs {
      s.bind(1, k)
      s.bind(2, v)
      try s.run()
    }
  }

  /// Windows already processed.
  public func processedWindows() throws -> Set<Int> {
    let s = try db.prepare("SELECT window FROM windows")
    var out = Set<Int>()
    while try s.step() { out.insert(s.int(0)) }
    return out
  }

  /// Windows processed and the tokens in them.
  public func totals() throws -> (windows: Int, tokens: Int) {
    let s = try db.prepare("SELECT COUNT(*), COALESCE(SUM(tokens), 0) FROM windows")
    _ = try s.step()
    let r = (s.int(0), s.int(1))
    s.reset()
    return r
  }

  // MARK: - Saving and loading collection state

  /// Writes the accumulator's state and the windows it now includes, in one
  /// transaction: after a crash the file holds the previous save or this one.
  func save(_ acc: DatasetAccumulator, components: [Component], newWindows: [(Int, Int)], tokenizer: any Tokenizer)
    throws
  {
    try db.transaction {
      let w = try db.prepare("INSERT INTO windows(window, tokens) VALUES (?, ?)")
      for (i, n) in newWindows {
        w.bind(1, i)
        w.bind(2, n)
        try w.run()
      }
      let c = try db.prepare(
        """
        INSERT OR REPLACE INTO components(id, name, kind, layer, unit, sae, tokens, firing, sum, sum_squares,
          min, max, mean, variance, frequency, quantiles, histogram) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
        """)
      let del = try db.prepare("DELETE FROM examples WHERE component = ? AND sample = ? AND window = ?")
      let ex = try db.prepare(
        """
        INSERT INTO examples(component, sample, window, activation, position, token, start, key_position, key_token,
          sample_key, tokens, acts, keys, text) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)
        """)
      for j in 0..<acc.count {
        let comp = components[j]
        let summary = acc.summary(j)
        let hist = acc.histogram(j)
        c.bind(1, j)
        c.bind(2, acc.names[j])
        c.bind(3, comp.kind.rawValue)
        if let l = comp.layer { c.bind(4, l) } else { c.bindNull(4) }
        c.bind(5, comp.unitIndex)
        if case .latent(let s, _) = comp { c.bind(6, s) } else { c.bindNull(6) }
        c.bind(7, acc.tokens[j])
        c.bind(8, acc.firing[j])
        c.bind(9, acc.sum[j].description)
        c.bind(10, acc.sumSquares[j].description)
        let seen = acc.tokens[j] > 0
        c.bind(11, seen ? Double(acc.minimum[j]) : nil)
        c.bind(12, seen ? Double(acc.maximum[j]) : nil)
        c.bind(13, seen ? summary.mean : nil)
        c.bind(14, seen ? summary.variance : nil)
        c.bind(15, seen ? summary.frequency : nil)
        if seen {
          let q = Self.quantileLevels.map { "\"\($0)\": \(jsonNumber(hist.quantile($0)))" }
          c.bind(16, "{" + q.joined(separator: ", ") + "}")
        } else {
          c.bindNull(16)
        }
        c.bind(17, hist.packed)
        try c.run()
        guard acc.dirty[j] else { continue }
        // Only the examples that came or went since the last save: an example
        // of a given component, sample and window never changes.
        for (sample, list, saved) in [
          ("top", acc.top[j].items, acc.savedTop + j), ("random", acc.random[j].items, acc.savedRandom + j),
        ] {
          let current = Set(list.map(\.window))
          for w in saved.pointee.subtracting(current) {
            del.bind(1, j)
            del.bind(2, sample)
            del.bind(3, w)
            try del.run()
          }
          for e in list where !saved.pointee.contains(e.window) {
            ex.bind(1, j)
            ex.bind(2, sample)
            ex.bind(3, e.window)
            ex.bind(4, Double(e.activation))
            ex.bind(5, e.position)
            ex.bind(6, e.token)
            ex.bind(7, e.start)
            if let k = e.keyPosition {
              ex.bind(8, k)
              if k >= e.start && k - e.start < e.tokens.count {
                ex.bind(9, Int(e.tokens[k - e.start]))
              } else {
                ex.bindNull(9)
              }
            } else {
              ex.bindNull(8)
              ex.bindNull(9)
            }
            if sample == "random" { ex.bind(10, Self.storedSampleKey(e.sampleKey)) } else { ex.bindNull(10) }
            ex.bind(11, pack(e.tokens))
            ex.bind(12, pack(e.acts))
            if let keys = e.keys { ex.bind(13, pack(keys)) } else { ex.bindNull(13) }
            if sample == "top" { ex.bind(14, tokenizer.decode(e.tokens.map(Int.init))) } else { ex.bindNull(14) }
            try ex.run()
          }
          saved.pointee = current
        }
        acc.dirty[j] = false
      }
    }
  }

  /// Sample keys are unsigned; stored with the top bit flipped, SQLite's
  /// signed integers sort them in the same order.
  static func storedSampleKey(_ k: UInt64) -> Int { Int(Int64(bitPattern: k ^ (1 << 63))) }
  static func sampleKey(stored v: Int) -> UInt64 { UInt64(bitPattern: Int64(v)) ^ (1 << 63) }

  /// Adds the saved state into `acc` (whose components must be the saved ones).
  func load(into acc: DatasetAccumulator) throws {
    let c = try db.prepare(
      "SELECT id, name, tokens, firing, sum, sum_squares, min, max, histogram FROM components ORDER BY id")
    var seen = 0
    while try c.step() {
      let j = c.int(0)
      guard j < acc.count, acc.names[j] == c.string(1) else {
        throw DatabaseError.incompatible(path, "its components do not match this model's (\(c.string(1)))")
      }
      guard let s = Int128(c.string(4)), let ss = Int128(c.string(5)) else { throw DatabaseError.notADataset(path) }
      acc.tokens[j] += c.int(2)
      acc.firing[j] += c.int(3)
      acc.sum[j] += s
      acc.sumSquares[j] += ss
      if !c.isNull(6) { acc.minimum[j] = min(acc.minimum[j], Float(c.double(6))) }
      if !c.isNull(7) { acc.maximum[j] = max(acc.maximum[j], Float(c.double(7))) }
      let counts = ActivationHistogram.unpack(c.data(8))
      let h = acc.histogram + j * ActivationBins.count
      for k in 0..<ActivationBins.count { h[k] += counts[k] }
      seen += 1
    }
    guard seen == 0 || seen == acc.count else {
      throw DatabaseError.incompatible(path, "it holds \(seen) components, this collection \(acc.count)")
    }
    let e = try db.prepare(
      "SELECT component, sample, activation, window, position, start, key_position, sample_key, tokens, acts, keys FROM examples"
    )
    while try e.step() {
      let j = e.int(0)
      guard j < acc.count else { continue }
      let ex = readExample(e, from: 2)
      if e.string(1) == "top" {
        if acc.top[j].acceptsTop(ex.activation, window: ex.window, position: ex.position, capacity: acc.topCapacity) {
          acc.top[j].insertTop(ex, capacity: acc.topCapacity)
        }
      } else if acc.random[j].acceptsSample(ex.sampleKey, window: ex.window, capacity: acc.randomCapacity) {
        acc.random[j].insertSample(ex, capacity: acc.randomCapacity)
      }
      acc.dirty[j] = true
    }
  }

  /// Columns activation, window, position, start, key_position, sample_key, tokens, acts, keys from column `i`.
  private func readExample(_ s: Statement, from i: Int32) -> DatasetExample {
    DatasetExample(
      activation: Float(s.double(i)), window: s.int(i + 1), position: s.int(i + 2), start: s.int(i + 3),
      tokens: unpack(s.data(i + 6), as: Int32.self), acts: unpack(s.data(i + 7), as: Float.self),
      keys: s.isNull(i + 8) ? nil : unpack(s.data(i + 8), as: Float.self),
      keyPosition: s.isNull(i + 4) ? nil : s.int(i + 4),
      sampleKey: s.isNull(i + 5) ? 0 : Self.sampleKey(stored: s.int(i + 5)))
  }

  // MARK: - Queries

  /// Everything stored about one component, or nil if the dataset lacks it.
  public func component(_ name: String) throws -> ComponentRecord? {
    let s = try db.prepare(
      "SELECT id, tokens, firing, mean, variance, frequency, min, max, histogram FROM components WHERE name = ?")
    s.bind(1, name)
    guard try s.step() else { return nil }
    let id = s.int(0)
    let tokens = s.int(1)
    let summary = ComponentSummary(
      tokens: tokens, mean: s.isNull(3) ? .nan : s.double(3), variance: s.isNull(4) ? .nan : s.double(4),
      frequency: s.isNull(5) ? .nan : s.double(5), min: s.isNull(6) ? .nan : s.double(6),
      max: s.isNull(7) ? .nan : s.double(7))
    let histogram = ActivationHistogram(
      counts: ActivationHistogram.unpack(s.data(8)), min: Float(summary.min), max: Float(summary.max))
    s.reset()
    let e = try db.prepare(
      """
      SELECT sample, activation, window, position, start, key_position, sample_key, tokens, acts, keys FROM examples
      WHERE component = ? ORDER BY sample DESC, CASE WHEN sample = 'top' THEN -activation ELSE 0 END, sample_key, window, position
      """)
    e.bind(1, id)
    var top: [DatasetExample] = [], random: [DatasetExample] = []
    while try e.step() {
      let ex = readExample(e, from: 1)
      if e.string(0) == "top" { top.append(ex) } else { random.append(ex) }
    }
    return ComponentRecord(name: name, summary: summary, histogram: histogram, top: top, random: random)
  }

  /// Component names of a kind (in collection order), with their summaries.
  public func summaries(kind: ComponentKind) throws -> [(name: String, summary: ComponentSummary)] {
    let s = try db.prepare(
      "SELECT name, tokens, mean, variance, frequency, min, max FROM components WHERE kind = ? ORDER BY id")
    s.bind(1, kind.rawValue)
    var out: [(String, ComponentSummary)] = []
    while try s.step() {
      func d(_ i: Int32) -> Double { s.isNull(i) ? .nan : s.double(i) }
      out.append(
        (
          s.string(0),
          ComponentSummary(tokens: s.int(1), mean: d(2), variance: d(3), frequency: d(4), min: d(5), max: d(6))
        ))
    }
    return out
  }

  /// Components whose top examples centre on `token`: how many of their top
  /// examples do, and the mean activation there, most first.
  public func search(token: Int, limit: Int) throws -> [(
    name: String, examples: Int, activation: Double, maximum: Double
  )] {
    let s = try db.prepare(
      """
      SELECT c.name, COUNT(*) AS n, AVG(e.activation), c.max FROM examples e JOIN components c ON c.id = e.component
      WHERE e.sample = 'top' AND e.token = ? GROUP BY e.component ORDER BY n DESC, AVG(e.activation) DESC, c.id LIMIT ?
      """)
    s.bind(1, token)
    s.bind(2, limit)
    var out: [(String, Int, Double, Double)] = []
    while try s.step() { out.append((s.string(0), s.int(1), s.double(2), s.double(3))) }
    return out
  }

  /// A saved explanation.
  public func explanation(_ component: String) throws -> SavedExplanation? {
    let s = try db.prepare("SELECT explanation, score, method FROM explanations WHERE component = ?")
    s.bind(1, component)
    guard try s.step() else { return nil }
    let r = SavedExplanation(
      component: component, explanation: s.string(0), score: s.isNull(1) ? nil : s.double(1), method: s.string(2))
    s.reset()
    return r
  }

  /// All saved explanations, by component name.
  public func explanations() throws -> [String: SavedExplanation] {
    let s = try db.prepare("SELECT component, explanation, score, method FROM explanations")
    var out: [String: SavedExplanation] = [:]
    while try s.step() {
      out[s.string(0)] = SavedExplanation(
        component: s.string(0), explanation: s.string(1), score: s.isNull(2) ? nil : s.double(2), method: s.string(3))
    }
    return out
  }

  /// Saves explanations (replacing earlier ones of the same components);
  /// nothing in a dataset opened read-only.
  public func saveExplanations(_ list: [SavedExplanation]) throws {
    guard !readOnly else { return }
    try db.transaction {
      let s = try db.prepare(
        "INSERT OR REPLACE INTO explanations(component, explanation, score, method) VALUES (?, ?, ?, ?)")
      for e in list {
        s.bind(1, e.component)
        s.bind(2, e.explanation)
        s.bind(3, e.score)
        s.bind(4, e.method)
        try s.run()
      }
    }
  }
}

/// A component's statistics and examples as stored.
public struct ComponentRecord: Sendable {
  public let name: String
  public let summary: ComponentSummary
  public let histogram: ActivationHistogram
  /// Best first.
  public let top: [DatasetExample]
  public let random: [DatasetExample]
}

/// An explanation kept in a dataset, with its score.
public struct SavedExplanation: Sendable, Equatable {
  public var component: String
  public var explanation: String
  public var score: Double?
  /// "local" or the chat model's name.
  public var method: String

  public init(component: String, explanation: String, score: Double?, method: String) {
    self.component = component
    self.explanation = explanation
    self.score = score
    self.method = method
  }
}

func jsonNumber(_ d: Double) -> String { d.isFinite ? "\(d)" : "null" }

/// Little-endian bytes of fixed-width values (the layout in memory on the
/// little-endian machines Swift runs on, copied in one go).
func pack<T: FixedWidthInteger>(_ values: [T]) -> Data {
  #if _endian(little)
    return values.withUnsafeBytes { Data($0) }
  #else
    return values.map(\.littleEndian).withUnsafeBytes { Data($0) }
  #endif
}

func pack(_ values: [Float]) -> Data {
  #if _endian(little)
    return values.withUnsafeBytes { Data($0) }
  #else
    return pack(values.map(\.bitPattern))
  #endif
}

func unpack(_ data: Data, as: Int32.Type) -> [Int32] {
  let n = data.count / 4
  return data.withUnsafeBytes { raw in
    (0..<n).map { Int32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self)) }
  }
}

func unpack(_ data: Data, as: Float.Type) -> [Float] {
  let n = data.count / 4
  return data.withUnsafeBytes { raw in
    (0..<n).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
  }
}
