import Engine
import Foundation
import Lang

/// Remembers the dataset the session last collected or read, so that
/// `explain L3N77` works without repeating `--db`.
final class DatasetContext {
  var current: String?
  /// Datasets open only for reading (`tdb serve` without --allow-write).
  let readOnly: Bool

  init(readOnly: Bool = false) { self.readOnly = readOnly }

  /// `--db FILE`, else the dataset last used in this session, else `TDB_DB`,
  /// else `activations.db` if it exists (where `collect` writes by default).
  func path(_ call: CommandCall) throws -> String {
    if let p = try call.flag("db", as: String.self) { return p }
    if let current { return current }
    if let env = ProcessInfo.processInfo.environment["TDB_DB"], !env.isEmpty { return env }
    if FileManager.default.fileExists(atPath: defaultDatasetPath) { return defaultDatasetPath }
    throw EvalError("no dataset: collect one (collect CORPUS --db FILE) or pass --db FILE")
  }

  /// Where `collect` and `merge` write without `--db`: `TDB_DB`, else activations.db.
  var defaultDatasetPath: String {
    ProcessInfo.processInfo.environment["TDB_DB"].flatMap { $0.isEmpty ? nil : $0 } ?? "activations.db"
  }

  /// Opens the dataset at `path` and makes it the session's current one.
  func open(_ path: String) throws -> ActivationStore {
    let store = try ActivationStore(path: path, readOnly: readOnly)
    current = path
    return store
  }
}

/// The corpus named by a `collect` argument: a file path, or `demo` for the
/// sample of held-out stories shipped with the demo model.
func corpusPath(_ name: String) throws -> String {
  if name == "demo" {
    guard let folder = ModelLocator.defaultModelFolder() else {
      throw EvalError("the demo corpus ships with the demo model (models/tdb-demo), which was not found")
    }
    return folder.appendingPathComponent("corpus/stories-sample.txt").path
  }
  return name
}

/// `--kind neurons|heads|latents|all` (also a comma list).
func parseKinds(_ s: String) throws -> Set<ComponentKind> {
  if s == "all" { return Set(ComponentKind.allCases) }
  var out = Set<ComponentKind>()
  for part in s.split(separator: ",") {
    guard let k = ComponentKind(plural: String(part)) else {
      throw EvalError("--kind: expected neurons, heads, latents or all, got '\(part)'")
    }
    out.insert(k)
  }
  return out
}

/// `--shard "I/N"` or `--shard [I, N]`.
func parseShard(_ v: Value) throws -> (Int, Int) {
  let parts: [Int?]
  switch v {
  case .string(let s): parts = s.split(separator: "/").map { Int($0.trimmingCharacters(in: .whitespaces)) }
  case .list(let items): parts = items.map(\.int)
  case .number:
    // A bare 1/2 is a division by the time the command sees it.
    throw EvalError(
      "--shard: write the shard as a string, --shard \"1/4\" (a bare 1/4 is a division), or a list [1, 4]")
  default: parts = []
  }
  guard parts.count == 2, let i = parts[0], let n = parts[1], n >= 1, i >= 0, i < n else {
    throw EvalError("--shard: expected \"I/N\" with 0 ≤ I < N (\"0/4\" is the first of four shards), got \(v.repr)")
  }
  return (i, n)
}
