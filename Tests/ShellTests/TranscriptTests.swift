import Foundation
import XCTest

/// Runs every `Tests/Transcripts/NAME.tdbs` with the built `tdb` and compares
/// standard output, standard error and the exit status with `NAME.out`,
/// `NAME.err` and `NAME.code`. `NAME.opts` (one per line) holds options
/// placed before the script, `NAME.args` arguments after it. With
/// `TDB_RECORD=1` the expected files are rewritten instead.
final class TranscriptTests: XCTestCase {
  static let directory = TDBProcess.root.appendingPathComponent("Tests/Transcripts")

  func lines(_ url: URL) -> [String] {
    guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
    return text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
      .filter { !$0.isEmpty }
  }

  func testTranscripts() throws {
    try check(scripts: Self.directory, expectations: Self.directory)
  }

  /// The investigation scripts in `examples/` run as transcripts too; their
  /// recorded output lives in `Tests/Transcripts/examples/`.
  func testExamples() throws {
    try check(
      scripts: TDBProcess.root.appendingPathComponent("examples"),
      expectations: Self.directory.appendingPathComponent("examples"))
  }

  func check(scripts dir: URL, expectations: URL) throws {
    let scripts = try FileManager.default.contentsOfDirectory(atPath: dir.path)
      .filter { $0.hasSuffix(".tdbs") }.sorted()
    XCTAssertFalse(scripts.isEmpty, "no transcripts in \(dir.path)")
    let record = ProcessInfo.processInfo.environment["TDB_RECORD"] == "1"
    for script in scripts {
      let name = String(script.dropLast(5))
      let base = expectations.appendingPathComponent(name)
      let arguments =
        lines(base.appendingPathExtension("opts")) + [script]
        + lines(base.appendingPathExtension("args"))
      let result = try TDBProcess.run(arguments, in: dir)
      let outURL = base.appendingPathExtension("out")
      let errURL = base.appendingPathExtension("err")
      let codeURL = base.appendingPathExtension("code")
      if record {
        try result.stdout.write(to: outURL, atomically: true, encoding: .utf8)
        try result.stderr.write(to: errURL, atomically: true, encoding: .utf8)
        try "\(result.status)\n".write(to: codeURL, atomically: true, encoding: .utf8)
        continue
      }
      let expected = TDBProcess.Result(
        stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "<missing \(name).out>",
        stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "<missing \(name).err>",
        status: Int32(
          ((try? String(contentsOf: codeURL, encoding: .utf8)) ?? "-1")
            .trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1)
      XCTAssertTrue(
        Self.sameUpToRounding(result.stdout, expected.stdout),
        "\(name): stdout (TDB_RECORD=1 re-records)\n--- got\n\(result.stdout)\n--- expected\n\(expected.stdout)")
      XCTAssertEqual(result.stderr, expected.stderr, "\(name): stderr")
      XCTAssertEqual(result.status, expected.status, "\(name): exit status")
    }
  }

  /// Equal text, except that numbers may differ in their last digits (1e-4
  /// relative): BLAS kernels and summation order move the sixth digit.
  static func sameUpToRounding(_ a: String, _ b: String) -> Bool {
    if a == b { return true }
    let ta = tokens(a), tb = tokens(b)
    guard ta.count == tb.count else { return false }
    for (x, y) in zip(ta, tb) where x != y {
      guard let u = Double(x), let v = Double(y) else { return false }
      if abs(u - v) > 1e-4 * max(abs(u), abs(v), 1e-3) { return false }
    }
    return true
  }

  /// Runs of number characters and runs of everything else, so "0.98x" splits as "0.98", "x".
  static func tokens(_ s: String) -> [String] {
    var out: [String] = []
    var current = ""
    var numeric = false
    for ch in s {
      let isNum = ch.isNumber || ch == "." || ch == "-" || ch == "e" && numeric
      if isNum != numeric && !current.isEmpty {
        out.append(current)
        current = ""
      }
      numeric = isNum
      current.append(ch)
    }
    if !current.isEmpty { out.append(current) }
    return out
  }
}
