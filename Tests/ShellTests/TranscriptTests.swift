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
      XCTAssertEqual(result.stdout, expected.stdout, "\(name): stdout (TDB_RECORD=1 re-records)")
      XCTAssertEqual(result.stderr, expected.stderr, "\(name): stderr")
      XCTAssertEqual(result.status, expected.status, "\(name): exit status")
    }
  }
}
