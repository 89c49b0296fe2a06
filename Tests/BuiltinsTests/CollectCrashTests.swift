import Foundation
import XCTest

@testable import Engine

#if canImport(Glibc)
  import Glibc
#endif

/// A `tdb collect` process killed with SIGKILL leaves a valid database that
/// a second `collect` completes into exactly what an uninterrupted run gives.
final class CollectCrashTests: XCTestCase {
  /// The built `tdb`, next to this test bundle.
  var tdb: URL {
    URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
      .appendingPathComponent("tdb")
  }

  func runTDB(_ source: String) throws -> Process {
    let p = Process()
    p.executableURL = tdb
    p.arguments = ["--format", "tsv", "-c", source]
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    try p.run()
    return p
  }

  func rows(_ path: String) throws -> [String] {
    let store = try ActivationStore(path: path)
    var out: [String] = []
    for (table, order) in [("windows", "window"), ("components", "id"), ("examples", "component, sample, window")] {
      let s = try store.db.prepare("SELECT * FROM \(table) ORDER BY \(order)")
      while try s.step() {
        out.append(
          (0..<s.columnCount).map { s.isNull($0) ? "NULL" : s.data($0).base64EncodedString() }.joined(separator: "|"))
      }
    }
    return out
  }

  func testKilledCollectionResumesToTheSameDataset() throws {
    guard FileManager.default.isExecutableFile(atPath: tdb.path) else { throw XCTSkip("no tdb binary at \(tdb.path)") }
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tdb-crash-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let killed = dir.appendingPathComponent("killed.db").path, whole = dir.appendingPathComponent("whole.db").path
    let collect = { (db: String) in #"collect demo --tokens 3000 --kind heads --save-every 0 --db "\#(db)""# }

    let p = try runTDB(collect(killed))
    // Kill it once a few windows are saved (each save is a transaction).
    var saved = 0
    let deadline = Date().addingTimeInterval(120)
    while p.isRunning && Date() < deadline {
      if let store = try? ActivationStore(path: killed), let n = try? store.processedWindows().count { saved = n }
      if saved >= 3 { break }
      usleep(20_000)
    }
    let wasRunning = p.isRunning
    kill(p.processIdentifier, SIGKILL)
    p.waitUntilExit()
    XCTAssertTrue(wasRunning, "collect finished before it could be killed")
    let afterKill = try ActivationStore(path: killed)
    let kept = try afterKill.processedWindows().count
    XCTAssertGreaterThanOrEqual(kept, 3)
    XCTAssertLessThan(kept, 12, "the run was killed part-way")
    // The file is consistent: SQLite's own check, and the statistics count the saved windows' tokens.
    let check = try afterKill.db.prepare("PRAGMA integrity_check")
    XCTAssertTrue(try check.step())
    XCTAssertEqual(check.string(0), "ok")
    XCTAssertEqual(try afterKill.component("L0H0")?.summary.tokens, try afterKill.totals().tokens)

    let resume = try runTDB(collect(killed))
    resume.waitUntilExit()
    XCTAssertEqual(resume.terminationStatus, 0)
    let full = try runTDB(collect(whole))
    full.waitUntilExit()
    XCTAssertEqual(full.terminationStatus, 0)
    XCTAssertEqual(try ActivationStore(path: killed).totals().windows, 12)
    XCTAssertTrue(try rows(killed) == rows(whole), "the resumed dataset differs from an uninterrupted collection")
  }
}
