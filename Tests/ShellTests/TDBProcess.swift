import Foundation
import XCTest

/// Runs the built `tdb` executable.
enum TDBProcess {
  /// The repository root (this file is Tests/ShellTests/TDBProcess.swift).
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

  /// The `tdb` binary: $TDB_BINARY, else next to the test bundle (the build
  /// products directory of whatever configuration is being tested), else
  /// .build/{debug,release}.
  static let binary: URL? = {
    var candidates: [URL] = []
    if let env = ProcessInfo.processInfo.environment["TDB_BINARY"] {
      candidates.append(URL(fileURLWithPath: env))
    }
    for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
      candidates.append(bundle.bundleURL.deletingLastPathComponent().appendingPathComponent("tdb"))
    }
    candidates.append(
      URL(fileURLWithPath: CommandLine.arguments.first ?? "").deletingLastPathComponent()
        .appendingPathComponent("tdb"))
    for config in ["debug", "release"] {
      candidates.append(root.appendingPathComponent(".build/\(config)/tdb"))
    }
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
  }()

  struct Result: Equatable {
    var stdout: String
    var stderr: String
    var status: Int32
  }

  /// Runs `tdb arguments` in `directory` with `stdin` (or an empty, non-terminal stdin).
  static func run(_ arguments: [String], stdin: String? = nil, in directory: URL? = nil) throws
    -> Result
  {
    guard let binary else {
      throw XCTSkip("tdb binary not found; build it with `swift build --product tdb`")
    }
    let process = Process()
    process.executableURL = binary
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = directory }
    var env = ProcessInfo.processInfo.environment
    env["NO_COLOR"] = "1"
    env["COLUMNS"] = "80"
    env["TDB_RECORD"] = nil
    process.environment = env

    let tmp = FileManager.default.temporaryDirectory.appendingPathComponent(
      "tdb-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: tmp) }
    let outURL = tmp.appendingPathComponent("out")
    let errURL = tmp.appendingPathComponent("err")
    let inURL = tmp.appendingPathComponent("in")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    _ = FileManager.default.createFile(
      atPath: inURL.path, contents: (stdin ?? "").data(using: .utf8))
    let out = try FileHandle(forWritingTo: outURL)
    let err = try FileHandle(forWritingTo: errURL)
    let input = try FileHandle(forReadingFrom: inURL)
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input
    try process.run()
    process.waitUntilExit()
    try out.close()
    try err.close()
    try input.close()
    return Result(
      stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
      stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self),
      status: process.terminationStatus)
  }
}
