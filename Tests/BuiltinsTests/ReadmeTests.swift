import Foundation
import Lang
import XCTest

/// The README's language reference is generated from the commands' own
/// specs; this fails when it drifts. `TDB_RECORD=1` rewrites it.
final class ReadmeTests: XCTestCase {
  func testReferenceSectionIsCurrent() throws {
    let url = repoRoot.appendingPathComponent("README.md")
    let readme = try String(contentsOf: url, encoding: .utf8)
    let begin = "<!-- reference:begin -->\n", end = "<!-- reference:end -->"
    let start = try XCTUnwrap(readme.range(of: begin), "README has no reference markers")
    let stop = try XCTUnwrap(readme.range(of: end, range: start.upperBound..<readme.endIndex))
    var reference = makeInterpreter().1.markdownReference()
    // The README has its own title; the reference's sections go under "Language reference".
    if reference.hasPrefix("# ") { reference = String(reference.drop { $0 != "\n" }.dropFirst()) }
    reference = reference.split(separator: "\n", omittingEmptySubsequences: false)
      .map { $0.hasPrefix("#") ? "#" + $0 : String($0) }.joined(separator: "\n")
    if !reference.hasSuffix("\n") { reference += "\n" }
    if ProcessInfo.processInfo.environment["TDB_RECORD"] == "1" {
      try (readme[..<start.upperBound] + reference + readme[stop.lowerBound...]).write(
        to: url, atomically: true, encoding: .utf8)
      return
    }
    XCTAssertEqual(
      String(readme[start.upperBound..<stop.lowerBound]), reference,
      "README reference is stale: TDB_RECORD=1 swift test --filter ReadmeTests")
  }
}
