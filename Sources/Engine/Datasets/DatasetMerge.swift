import Foundation

/// Why shard datasets cannot be merged.
public enum MergeError: Error, CustomStringConvertible, Equatable {
  case noInputs
  case outputExists(String)
  case overlap(String, String, window: Int)

  public var description: String {
    switch self {
    case .noInputs: "merge needs at least one dataset"
    case .outputExists(let p): "\(p) already exists; merge into a new file"
    case .overlap(let a, let b, let w): "\(a) and \(b) both hold window \(w) (the same shard twice?)"
    }
  }
}

/// What a merge produced.
public struct MergeReport: Sendable {
  public var path: String
  public var inputs: Int
  public var windows: Int
  public var tokens: Int
  public var components: Int
}

/// Combines shard datasets (`collect --shard I/N`) into a new file at
/// `output`. Sums, histograms and min/max add up exactly and examples are
/// ranked under total orders, so the result equals a one-process collection
/// over the same windows.
public func mergeDatasets(_ inputs: [String], into output: String, tokenizer: any Tokenizer) throws -> MergeReport {
  guard let first = inputs.first else { throw MergeError.noInputs }
  guard !FileManager.default.fileExists(atPath: output) else { throw MergeError.outputExists(output) }
  let head = try ActivationStore(path: first)
  guard let info = try head.info() else { throw DatabaseError.notADataset(first) }
  let names = try componentNames(head)
  let acc = DatasetAccumulator(
    names: names.map(\.description), topCapacity: info.topExamples, randomCapacity: info.randomExamples)
  var owner: [Int: String] = [:]
  var windowRows: [(Int, Int)] = []
  for path in inputs {
    let store = path == first ? head : try ActivationStore(path: path)
    guard let other = try store.info() else { throw DatabaseError.notADataset(path) }
    if let why = info.mismatch(other) { throw DatabaseError.incompatible(path, "cannot merge with \(first): \(why)") }
    let s = try store.db.prepare("SELECT window, tokens FROM windows ORDER BY window")
    while try s.step() {
      let w = s.int(0)
      if let o = owner[w] { throw MergeError.overlap(o, path, window: w) }
      owner[w] = path
      windowRows.append((w, s.int(1)))
    }
    try store.load(into: acc)
  }
  windowRows.sort { $0.0 < $1.0 }
  let out = try ActivationStore(creating: output)
  do {
    try out.db.transaction { try out.writeInfo(info) }
    try out.save(acc, components: names, newWindows: windowRows, tokenizer: tokenizer)
  } catch {
    try? FileManager.default.removeItem(atPath: output)
    throw error
  }
  let totals = try out.totals()
  return MergeReport(
    path: output, inputs: inputs.count, windows: totals.windows, tokens: totals.tokens, components: names.count)
}

/// The components of a dataset, in id order.
func componentNames(_ store: ActivationStore) throws -> [Component] {
  let s = try store.db.prepare("SELECT name FROM components ORDER BY id")
  var out: [Component] = []
  while try s.step() {
    guard let c = Component(name: s.string(0)) else { throw DatabaseError.notADataset(store.path) }
    out.append(c)
  }
  return out
}
