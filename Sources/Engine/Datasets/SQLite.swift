import CSQLite
import Foundation

/// A failure reported by SQLite, with the database file it concerns.
public enum DatabaseError: Error, CustomStringConvertible, Equatable {
  case open(String, String)
  case sqlite(String, String)
  case notADataset(String)
  case incompatible(String, String)

  public var description: String {
    switch self {
    case .open(let path, let message): "cannot open database \(path): \(message)"
    case .sqlite(let path, let message): "\(path): \(message)"
    case .notADataset(let path):
      "\(path) is not a tdb activation dataset (collect one with: collect CORPUS --db \(path))"
    case .incompatible(let path, let why): "\(path): \(why)"
    }
  }
}

// SQLITE_TRANSIENT tells SQLite to copy bound text and blobs before the call returns.
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// One SQLite connection. Not thread-safe: use it from one thread at a time.
final class Database {
  let path: String
  private var handle: OpaquePointer?

  /// Opens (creating if asked, or only for reading) the database file at `path`.
  init(path: String, create: Bool, readOnly: Bool = false) throws {
    self.path = path
    let access = readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0)
    let flags = access | SQLITE_OPEN_NOMUTEX
    var db: OpaquePointer?
    let rc = sqlite3_open_v2(path, &db, flags, nil)
    guard rc == SQLITE_OK, let db else {
      let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
      sqlite3_close(db)
      throw DatabaseError.open(path, rc == SQLITE_CANTOPEN ? "no such file or not writable" : message)
    }
    handle = db
    // Another process (a shard, an explain) may hold the file briefly.
    sqlite3_busy_timeout(db, 30_000)
  }

  deinit { sqlite3_close(handle) }

  var errorMessage: String { String(cString: sqlite3_errmsg(handle)) }

  /// Runs one or more statements that return no rows.
  func execute(_ sql: String) throws {
    var message: UnsafeMutablePointer<CChar>?
    if sqlite3_exec(handle, sql, nil, nil, &message) != SQLITE_OK {
      let text = message.map { String(cString: $0) } ?? errorMessage
      sqlite3_free(message)
      throw DatabaseError.sqlite(path, text)
    }
  }

  func prepare(_ sql: String) throws -> Statement {
    var stmt: OpaquePointer?
    guard sqlite3_prepare_v2(handle, sql, -1, &stmt, nil) == SQLITE_OK, let stmt else {
      throw DatabaseError.sqlite(path, "\(errorMessage) in: \(sql)")
    }
    return Statement(stmt, database: self)
  }

  /// Runs `body` in one transaction: all of its writes land, or none do.
  func transaction<R>(_ body: () throws -> R) throws -> R {
    try execute("BEGIN IMMEDIATE")
    do {
      let r = try body()
      try execute("COMMIT")
      return r
    } catch {
      try? execute("ROLLBACK")
      throw error
    }
  }

  /// Whether a table exists.
  func hasTable(_ name: String) throws -> Bool {
    let s = try prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?")
    s.bind(1, name)
    return try s.step()
  }
}

/// A prepared statement; bind parameters (1-based), then `step` through rows.
final class Statement {
  private let stmt: OpaquePointer
  private unowned let database: Database

  init(_ stmt: OpaquePointer, database: Database) {
    self.stmt = stmt
    self.database = database
  }

  deinit { sqlite3_finalize(stmt) }

  func bind(_ i: Int32, _ v: Int) { sqlite3_bind_int64(stmt, i, sqlite3_int64(v)) }
  func bind(_ i: Int32, _ v: Double) { sqlite3_bind_double(stmt, i, v) }
  func bind(_ i: Int32, _ v: String) { sqlite3_bind_text(stmt, i, v, -1, transient) }
  func bind(_ i: Int32, _ v: Data) {
    v.withUnsafeBytes { b in _ = sqlite3_bind_blob(stmt, i, b.baseAddress, Int32(b.count), transient) }
  }
  func bindNull(_ i: Int32) { sqlite3_bind_null(stmt, i) }
  func bind(_ i: Int32, _ v: Double?) { if let v { bind(i, v) } else { bindNull(i) } }
  func bind(_ i: Int32, _ v: String?) { if let v { bind(i, v) } else { bindNull(i) } }

  /// Advances to the next row; false when done. Resets when done so the statement can run again.
  @discardableResult
  func step() throws -> Bool {
    switch sqlite3_step(stmt) {
    case SQLITE_ROW: return true
    case SQLITE_DONE:
      sqlite3_reset(stmt)
      return false
    default:
      let message = database.errorMessage
      sqlite3_reset(stmt)
      throw DatabaseError.sqlite(database.path, message)
    }
  }

  /// Runs a statement that returns no rows, then clears its bindings.
  func run() throws {
    while try step() {}
    sqlite3_clear_bindings(stmt)
  }

  /// Stops a statement mid-way (rows left unread) so it can run again.
  func reset() {
    sqlite3_reset(stmt)
    sqlite3_clear_bindings(stmt)
  }

  var columnCount: Int32 { sqlite3_column_count(stmt) }

  func int(_ i: Int32) -> Int { Int(sqlite3_column_int64(stmt, i)) }
  func double(_ i: Int32) -> Double { sqlite3_column_double(stmt, i) }
  func isNull(_ i: Int32) -> Bool { sqlite3_column_type(stmt, i) == SQLITE_NULL }
  func string(_ i: Int32) -> String {
    guard let p = sqlite3_column_text(stmt, i) else { return "" }
    return String(cString: p)
  }
  func data(_ i: Int32) -> Data {
    let n = Int(sqlite3_column_bytes(stmt, i))
    guard n > 0, let p = sqlite3_column_blob(stmt, i) else { return Data() }
    return Data(bytes: p, count: n)
  }
}
