import Foundation
import XCTest

/// The non-interactive shell: -c, scripts with arguments, standard input,
/// exit statuses and diagnostics.
final class CommandLineTests: XCTestCase {
  func tdb(_ arguments: [String], stdin: String? = nil) throws -> TDBProcess.Result {
    try TDBProcess.run(arguments, stdin: stdin)
  }

  func testDashC() throws {
    XCTAssertEqual(
      try tdb(["-c", "let xs = [3, 1, 2]; for x in xs { print (x * 2) }"]),
      .init(stdout: "6\n2\n4\n", stderr: "", status: 0))
    XCTAssertEqual(try tdb(["-c", "def f(a) { a + 1 }; f 41"]).stdout, "42\n")
    XCTAssertEqual(
      try tdb(["-c", "[{a: 1, b: 2}, {a: 3, b: 4}] | where a > 1 | to csv"]).stdout, "a,b\n3,4\n")
    XCTAssertEqual(try tdb(["-c", "print $args", "--", "x", "-y"]).stdout, "[\"x\", \"-y\"]\n")
  }

  func testStdinScriptWithSyntaxError() throws {
    let r = try tdb(["-"], stdin: "let a = 1\nprint (a +)\n")
    XCTAssertEqual(r.status, 65)
    XCTAssertEqual(r.stdout, "")
    XCTAssertEqual(
      r.stderr, "-:2:11: error: expected an expression, found ')'\nprint (a +)\n          ^\n")
    // A non-terminal stdin without "-" is read as a script too.
    XCTAssertEqual(try tdb([], stdin: "print \"piped\"\n").stdout, "piped\n")
  }

  func testScriptArguments() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tdb-args-\(UUID())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let script = dir.appendingPathComponent("s.tdbs")
    try "let n = len $args\nprint \"got $n\"\n".write(to: script, atomically: true, encoding: .utf8)
    XCTAssertEqual(
      try tdb([script.path, "a", "b"]), .init(stdout: "got 2\n", stderr: "", status: 0))
    // Options after the script belong to the script.
    XCTAssertEqual(try tdb([script.path, "--format", "json"]).stdout, "got 2\n")
  }

  func testExitStatuses() throws {
    XCTAssertEqual(
      try tdb(["nope.tdbs"]),
      .init(stdout: "", stderr: "tdb: error: no such file 'nope.tdbs'\n", status: 64))
    let unknown = try tdb(["--bogus"])
    XCTAssertEqual(unknown.status, 64)
    XCTAssertTrue(unknown.stderr.hasPrefix("tdb: error: "), unknown.stderr)
    XCTAssertEqual(try tdb(["--format", "xml", "-c", "1"]).status, 64)
    XCTAssertEqual(try tdb(["-c", "1 +"]).status, 65)
    let runtime = try tdb(["-c", "print 1; nope"])
    XCTAssertEqual(
      runtime,
      .init(
        stdout: "1\n", stderr: "-c:1:10: error: unknown name 'nope'\nprint 1; nope\n         ^\n",
        status: 70))
    XCTAssertEqual(try tdb(["--version"]).stdout, "tdb 0.1.0\n")
    XCTAssertEqual(try tdb(["--help"]).status, 0)
  }

  func testOutputFormats() throws {
    let table = "[{a: 1, b: \"x\"}, {a: 2.5, b: \"y\"}]"
    XCTAssertEqual(try tdb(["-c", table]).stdout, "a\tb\n1\tx\n2.5\ty\n")
    XCTAssertEqual(try tdb(["--format", "csv", "-c", table]).stdout, "a,b\n1,x\n2.5,y\n")
    XCTAssertEqual(
      try tdb(["--format", "json", "-c", table]).stdout,
      "[{\"a\":1,\"b\":\"x\"},{\"a\":2.5,\"b\":\"y\"}]\n")
    XCTAssertEqual(
      try tdb(["--format", "ndjson", "-c", table]).stdout,
      "{\"a\":1,\"b\":\"x\"}\n{\"a\":2.5,\"b\":\"y\"}\n")
    XCTAssertEqual(
      try tdb(["--format", "table", "-c", table]).stdout, "    a  b\n─────  ─\n    1  x\n2.500  y\n"
    )
    XCTAssertEqual(
      try tdb(["--format", "table", "--color", "always", "-c", "{k: 1}"]).stdout,
      "\u{1B}[1mk:\u{1B}[0m 1\n")
  }

  func testSave() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tdb-save-\(UUID())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let csv = dir.appendingPathComponent("t.csv").path
    let json = dir.appendingPathComponent("t.json").path
    let txt = dir.appendingPathComponent("t.txt").path
    let r = try tdb([
      "-c",
      "let t = [{a: 1}, {a: 2}]; t | save \"\(csv)\"; t | save \"\(json)\"; \"hi\\n\" | save \"\(txt)\"",
    ])
    XCTAssertEqual(r, .init(stdout: "", stderr: "", status: 0))
    XCTAssertEqual(try String(contentsOfFile: csv, encoding: .utf8), "a\n1\n2\n")
    XCTAssertEqual(try String(contentsOfFile: json, encoding: .utf8), "[{\"a\":1},{\"a\":2}]\n")
    XCTAssertEqual(try String(contentsOfFile: txt, encoding: .utf8), "hi\n")
  }

  func testInterruptExits130() throws {
    guard let binary = TDBProcess.binary else { throw XCTSkip("no tdb binary") }
    let process = Process()
    process.executableURL = binary
    process.arguments = ["-c", "print \"start\"; let i = 0; while true { i += 1 }"]
    let out = Pipe()
    process.standardOutput = out
    process.standardError = Pipe()
    process.standardInput = FileHandle.nullDevice
    try process.run()
    // Let the loop start, then press Ctrl-C.
    usleep(500_000)
    kill(process.processIdentifier, SIGINT)
    let deadline = Date().addingTimeInterval(10)
    while process.isRunning && Date() < deadline { usleep(10_000) }
    if process.isRunning {
      kill(process.processIdentifier, SIGKILL)
      XCTFail("tdb ignored SIGINT")
    }
    process.waitUntilExit()
    XCTAssertEqual(process.terminationStatus, 130)
    let printed = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    XCTAssertEqual(printed, "start\n")
  }

  func testMarkdownReferenceMentionsEveryCoreCommand() throws {
    let r = try tdb(["-c", "help"])
    for name in [
      "print", "where", "sort", "select", "head", "tail", "count", "len", "get", "to", "save",
      "range", "help", "apropos", "type", "time",
    ] {
      XCTAssertTrue(r.stdout.contains("  \(name) "), "help lacks \(name)")
    }
  }
}

final class ModelPathTests: XCTestCase {
  func testWrongModelAndSAEPathsAreUsageErrors() throws {
    let r = try TDBProcess.run(["--model", "/nonexistent/gpt2", "-c", "print 1"])
    XCTAssertEqual(r.status, 64)
    XCTAssertEqual(
      r.stderr,
      "tdb: error: --model: no such folder or file '/nonexistent/gpt2' (built-in names: tdb-demo, smollm2, gemma3-270m)\n"
    )
    let file = try TDBProcess.run(["--model", "/etc/hostname", "-c", "print 1"])
    XCTAssertEqual(file.status, 64)
    XCTAssertTrue(file.stderr.contains("is a file but not a .gguf file"), file.stderr)
    let gguf = FileManager.default.temporaryDirectory.appendingPathComponent("tdb-bad-\(UUID().uuidString).gguf")
    try Data("not a gguf file at all".utf8).write(to: gguf)
    let bad = try TDBProcess.run(["--model", gguf.path, "-c", "model"])
    XCTAssertEqual(bad.status, 70)
    XCTAssertTrue(bad.stderr.contains(gguf.path), bad.stderr)
    // A folder holding no SAE (and no SAE folders: /tmp may hold other tests' SAEs).
    let empty = FileManager.default.temporaryDirectory.appendingPathComponent("tdb-no-sae-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: empty) }
    let s = try TDBProcess.run(["--sae", empty.path, "-c", "print 1"])
    XCTAssertEqual(s.status, 64)
    XCTAssertTrue(s.stderr.contains("has no cfg.json"), s.stderr)
  }

  /// GPT-NeoX and GPT-2 GGUF files (llama.cpp's converter's layouts) load
  /// and predict as their Hugging Face folders do.
  func testConvertedGGUFFilesPredictAsTheirFoldersDo() throws {
    let fixtures = TDBProcess.root.appendingPathComponent("Tests/Fixtures")
    for (name, family) in [("neox", "GPT-NeoX"), ("gpt2", "GPT-2")] {
      let gguf = fixtures.appendingPathComponent("gguf/tiny-\(name).gguf")
      let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tdb-\(name)-\(UUID().uuidString)")
      try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
      defer { try? FileManager.default.removeItem(at: folder) }
      for (dir, file) in [(name, "config.json"), (name, "model.safetensors"), ("tokenizer", "tokenizer.json")] {
        try FileManager.default.copyItem(
          at: fixtures.appendingPathComponent("tiny-models/\(dir)/\(file)"), to: folder.appendingPathComponent(file))
      }
      let script = #"predict "When Mary and John went to the store, John gave a drink to" --top 5"#
      let fromGGUF = try TDBProcess.run(["--model", gguf.path, "-c", script])
      let fromFolder = try TDBProcess.run(["--model", folder.path, "-c", script])
      XCTAssertEqual(fromGGUF.status, 0, fromGGUF.stderr)
      XCTAssertEqual(fromGGUF.stdout.split(separator: "\n").count, 6, fromGGUF.stdout)
      XCTAssertEqual(fromGGUF.stdout, fromFolder.stdout, name)
      let model = try TDBProcess.run(["--model", gguf.path, "--format", "json", "-c", "model"])
      XCTAssertTrue(model.stdout.contains(#""family":"\#(family)""#), model.stdout)
    }
  }

  func testTruncatedCheckpointIsAOneLineRuntimeError() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tdb-trunc-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let demo = TDBProcess.root.appendingPathComponent("models/tdb-demo")
    for f in ["config.json", "vocab.json", "merges.txt"] {
      try FileManager.default.copyItem(at: demo.appendingPathComponent(f), to: dir.appendingPathComponent(f))
    }
    let data = try Data(contentsOf: demo.appendingPathComponent("model.safetensors"))
    try data.prefix(data.count / 2).write(to: dir.appendingPathComponent("model.safetensors"))
    let r = try TDBProcess.run(["--model", dir.path, "-c", "predict \"a\""])
    XCTAssertEqual(r.status, 70)
    XCTAssertTrue(r.stderr.contains("is truncated"), r.stderr)
    XCTAssertEqual(r.stderr.split(separator: "\n").first?.contains("model.safetensors"), true, r.stderr)
  }
}
