import Builtins
import Foundation
import Lang
import XCTest

@testable import Server

/// The page in headless Chromium (Debian's `chromium`, which .ci/run
/// installs): it renders the node table for the IOI prompt, ablating a head
/// changes the logit difference shown, a component page colours its examples,
/// and no JavaScript error is logged (the page writes errors into #js-errors).
final class ServerBrowserTests: XCTestCase {
  static let ioiQuery =
    "prompt=When%20Mary%20and%20John%20went%20to%20the%20store%2C%20John%20gave%20a%20drink%20to&target=%20Mary&distractor=%20John"

  /// A server with a small activation dataset (for component pages).
  nonisolated(unsafe) static var server: TestServer?
  static func start() throws -> TestServer {
    if let server { return server }
    let db = NSTemporaryDirectory() + "tdb-serve-browser.db"
    if !FileManager.default.fileExists(atPath: db) {
      let interpreter = SessionSetup.interpreter(model: SessionSetup.model(folder: nil, saeFolders: []))
      try interpreter.evaluate("collect demo --tokens 2048 --db '\(db)'")
    }
    setenv("TDB_DB", db, 1)
    let s = try TestServer.start()
    // Load the model before the browser's first request.
    _ = try s.eval("predict \"warm up\" --top 1")
    server = s
    return s
  }

  func chromium(_ url: String, extra: [String] = []) throws -> String {
    let path = "/usr/bin/chromium"
    XCTAssertTrue(
      FileManager.default.isExecutableFile(atPath: path), "chromium is not installed (apt-get install chromium)")
    return try runProcess(
      path,
      ["--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000"] + extra + ["--dump-dom", url])
  }

  func noJavaScriptErrors(_ dom: String, file: StaticString = #filePath, line: UInt = #line) {
    let marker = "<pre id=\"js-errors\">"
    guard let start = dom.range(of: marker) else { return XCTFail("no #js-errors element", file: file, line: line) }
    let rest = dom[start.upperBound...]
    let errors = rest[..<(rest.range(of: "</pre>")?.lowerBound ?? rest.endIndex)]
    XCTAssertEqual(String(errors), "", "JavaScript errors", file: file, line: line)
  }

  func attribute(_ name: String, in dom: String) -> String? {
    guard let r = dom.range(of: name + "=\"") else { return nil }
    let rest = dom[r.upperBound...]
    return String(rest[..<(rest.firstIndex(of: "\"") ?? rest.endIndex)])
  }

  func testInvestigationPageShowsTheNodeTable() throws {
    let s = try Self.start()
    let dom = try chromium("\(s.base)/?token=secret&\(Self.ioiQuery)")
    XCTAssertTrue(dom.contains("id=\"nodes\""), dom)
    XCTAssertTrue(dom.contains("data-state=\"ready\""), dom)
    // Head rows with their actions, and the logit difference (about 12 on the demo model).
    XCTAssertTrue(dom.range(of: #"data-node="L\d+H\d+""#, options: .regularExpression) != nil)
    XCTAssertTrue(dom.contains("class=\"ablate\""))
    let ld = try XCTUnwrap(attribute("data-value", in: dom).flatMap(Double.init))
    XCTAssertGreaterThan(ld, 5)
    XCTAssertTrue(dom.contains("id=\"predictions\""))
    noJavaScriptErrors(dom)
  }

  func testAblatingAHeadChangesTheLogitDifference() throws {
    let s = try Self.start()
    let dom = try chromium("\(s.base)/?token=secret&\(Self.ioiQuery)&test=ablate-first")
    XCTAssertEqual(attribute("data-test-done", in: dom), "1", dom)
    let before = try XCTUnwrap(attribute("data-ld-before", in: dom).flatMap(Double.init))
    let after = try XCTUnwrap(attribute("data-ld-after", in: dom).flatMap(Double.init))
    XCTAssertNotEqual(before, after)
    XCTAssertTrue(dom.contains("id=\"ablations\""))
    noJavaScriptErrors(dom)
  }

  func testStateInTheURLReproducesAnAblation() throws {
    let s = try Self.start()
    let plain = try XCTUnwrap(
      attribute("data-value", in: try chromium("\(s.base)/?token=secret&\(Self.ioiQuery)")).flatMap(Double.init))
    let dom = try chromium("\(s.base)/?token=secret&\(Self.ioiQuery)&ablate=L1H2@13@9")
    XCTAssertTrue(dom.contains("id=\"ablations\""), dom)
    XCTAssertTrue(dom.contains("id=\"ld0\""))
    let ablated = try XCTUnwrap(attribute("data-value", in: dom).flatMap(Double.init))
    XCTAssertNotEqual(plain, ablated)
    noJavaScriptErrors(dom)
  }

  func testTraceShowsTheUpstreamTableWithABreadcrumb() throws {
    let s = try Self.start()
    let dom = try chromium("\(s.base)/?token=secret&\(Self.ioiQuery)&trace=L3N77@13@@")
    XCTAssertTrue(dom.contains("id=\"breadcrumb\""), dom)
    XCTAssertTrue(dom.contains("L3N77 @13"), dom)
    XCTAssertTrue(dom.contains("id=\"nodes\""), dom)
    noJavaScriptErrors(dom)
  }

  func testComponentPageColoursItsExamples() throws {
    let s = try Self.start()
    let dom = try chromium("\(s.base)/?token=secret&\(Self.ioiQuery)&view=component&c=L3N77")
    XCTAssertTrue(dom.contains("id=\"examples-top\""), dom)
    XCTAssertTrue(dom.contains("class=\"tok\" style=\"background:rgb("), dom)
    XCTAssertTrue(dom.contains("id=\"explanation\""))
    XCTAssertTrue(dom.contains("id=\"prompt-acts\""))
    noJavaScriptErrors(dom)
  }

  func testAttentionPatternIsAnSVGHeatmap() throws {
    let s = try Self.start()
    let dom = try chromium("\(s.base)/?token=secret&\(Self.ioiQuery)&view=attn&head=L1H2")
    XCTAssertTrue(dom.contains("class=\"heatmap\""), dom)
    XCTAssertTrue(dom.contains("<rect"))
    noJavaScriptErrors(dom)
  }

  func testSweepHeatmapAndLogitLens() throws {
    let s = try Self.start()
    let dom = try chromium("\(s.base)/?token=secret&\(Self.ioiQuery)&view=sweep")
    XCTAssertTrue(dom.contains("data-title=\"heads\""), dom)
    XCTAssertTrue(dom.contains("id=\"lens\""), dom)
    noJavaScriptErrors(dom)
  }

  func testThePageMakesNoRequestToAnotherHost() throws {
    for asset in ["/", "/app.js", "/app.css"] {
      let text = String(decoding: try XCTUnwrap(PageAssets.asset(at: asset)).bytes, as: UTF8.self)
      XCTAssertNil(text.range(of: #"(src|href)=["']?(https?:)?//"#, options: .regularExpression), asset)
      XCTAssertFalse(text.contains("@import"), asset)
    }
    let total = ["/", "/app.js", "/app.css"].map { PageAssets.asset(at: $0)!.bytes.count }.reduce(0, +)
    XCTAssertLessThan(total, 200_000)
  }

  /// Screenshots of the main views for docs/ (TDB_SCREENSHOTS=1).
  func testScreenshots() throws {
    guard ProcessInfo.processInfo.environment["TDB_SCREENSHOTS"] == "1" else { return }
    let s = try Self.start()
    let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("docs").path
    for (name, query) in [
      ("main", ""), ("ablate", "&ablate=L1H2@13@9"), ("trace", "&trace=L3N77@13@@"),
      ("component", "&view=component&c=L3N77"), ("attn", "&view=attn&head=L1H2"), ("sweep", "&view=sweep"),
    ] {
      _ = try runProcess(
        "/usr/bin/chromium",
        [
          "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000", "--hide-scrollbars",
          "--screenshot=\(docs)/serve-\(name).png", "--window-size=1400,1000",
          "\(s.base)/?token=secret&\(Self.ioiQuery)\(query)",
        ])
    }
  }
}
