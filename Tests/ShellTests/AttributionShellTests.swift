import Foundation
import XCTest

/// The attribution commands end to end from the `tdb` command line.
final class AttributionShellTests: XCTestCase {
  let prompt = "When Mary and John went to the store, John gave a drink to"

  func testGradAsJSON() throws {
    let r = try TDBProcess.run([
      "-c", #"grad (run "\#(prompt)") blocks.0.hook_resid_pre --target " Mary" --distractor " John""#, "--format",
      "json",
    ])
    XCTAssertEqual(r.status, 0, r.stderr)
    let rows = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[Double]])
    XCTAssertEqual(rows.count, 14)
    XCTAssertTrue(rows.allSatisfy { $0.count == 256 })
    XCTAssertTrue(rows[13].contains { $0 != 0 }, "the last token's stream matters")
  }

  func testAttributePipesIntoAblateAndCSV() throws {
    let r = try TDBProcess.run([
      "-c",
      #"let r = run "\#(prompt)"; let h = (attribute r " Mary" " John" --kind heads | sort total --desc | head 1 | ablate); print (logitdiff r " Mary" " John"); print (logitdiff (run "\#(prompt)" --with h) " Mary" " John"); attribute r " Mary" " John" --kind heads --top 1 | select node pos key total | to csv"#,
    ])
    XCTAssertEqual(r.status, 0, r.stderr)
    let lines = r.stdout.split(separator: "\n").map(String.init)
    let (clean, ablated) = (Double(lines[0])!, Double(lines[1])!)
    XCTAssertLessThan(ablated, clean)
    XCTAssertEqual(lines[2], "node,pos,key,total")
    XCTAssertTrue(lines[3].hasPrefix("L1H2,13,9,"), lines[3])
  }
}
