import Foundation
import XCTest

@testable import Shell

/// The history file: where it lives, what it keeps, how it stays bounded.
final class HistoryTests: XCTestCase {
  var directory: URL!

  override func setUpWithError() throws {
    directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("tdb-history-\(UUID().uuidString)")
  }

  override func tearDownWithError() throws {
    try? FileManager.default.removeItem(at: directory)
  }

  func testLocation() {
    XCTAssertEqual(
      History.defaultURL(environment: ["XDG_STATE_HOME": "/s", "HOME": "/h"]).path,
      "/s/tdb/history")
    XCTAssertEqual(History.defaultURL(environment: ["HOME": "/h"]).path, "/h/.local/state/tdb/history")
    XCTAssertEqual(
      History.defaultURL(environment: ["XDG_STATE_HOME": "relative", "HOME": "/h"]).path,
      "/h/.local/state/tdb/history", "a relative XDG_STATE_HOME is ignored")
  }

  func testKeepsEntriesAcrossSessionsWithoutRepeatsOrBlanks() throws {
    let url = directory.appendingPathComponent("tdb/history")
    let first = History(url: url)
    first.load()
    XCTAssertTrue(first.add("let a = 1"))
    XCTAssertFalse(first.add("let a = 1"), "a repeat of the previous entry is not kept")
    XCTAssertFalse(first.add("   "))
    XCTAssertTrue(first.add("for i in 0..2 {\n  print \"a\\tb\"\n}"))
    XCTAssertTrue(first.add("let a = 1"))
    let attributes = try FileManager.default.attributesOfItem(atPath: url.path)
    XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)

    let second = History(url: url)
    second.load()
    XCTAssertEqual(second.entries, ["let a = 1", "for i in 0..2 {\n  print \"a\\tb\"\n}", "let a = 1"])
  }

  func testBoundedSize() throws {
    let url = directory.appendingPathComponent("tdb/history")
    let history = History(url: url, limit: 5)
    for i in 0..<12 { history.add("entry \(i)") }
    XCTAssertEqual(history.entries.count, 5)
    let next = History(url: url, limit: 5)
    next.load()
    XCTAssertEqual(next.entries, (7..<12).map { "entry \($0)" })
    let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n")
    XCTAssertEqual(lines.count, 5, "the file is cut back when a session starts")
  }

  func testEncoding() {
    for entry in ["plain", "a\nb", "back\\slash", "\\n literally", "ends with \\"] {
      XCTAssertEqual(History.decode(History.encode(entry)), entry)
      XCTAssertFalse(History.encode(entry).contains("\n"))
    }
  }
}
