import Builtins
import Engine
import Foundation
import Lang
import XCTest

@testable import Server

/// A server started in this process on a free loopback port.
final class TestServer: @unchecked Sendable {
  let port: Int
  let task: Task<Void, Error>
  let token: String

  init(port: Int, task: Task<Void, Error>, token: String) {
    self.port = port
    self.task = task
    self.token = token
  }

  /// Starts a server and waits (blocking, off Swift's cooperative pool) until it listens.
  static func start(_ configure: (inout ServerConfiguration) -> Void = { _ in }) throws -> TestServer {
    var configuration = ServerConfiguration(token: "secret")
    configuration.port = 0
    configuration.logRequests = false
    configure(&configuration)
    let server = APIServer(configuration)
    final class Box: @unchecked Sendable { var port = 0 }
    let box = Box()
    let ready = DispatchSemaphore(value: 0)
    let app = server.application { port in
      box.port = port
      ready.signal()
    }
    let task = Task { try await app.runService(gracefulShutdownSignals: []) }
    guard ready.wait(timeout: .now() + 60) == .success else { throw EvalError("the server did not start") }
    return TestServer(port: box.port, task: task, token: configuration.token)
  }

  var base: String { "http://127.0.0.1:\(port)" }

  /// Runs curl; returns the status code and the body.
  func request(
    _ path: String, method: String = "GET", body: String? = nil, headers: [String] = [],
    token: String? = "secret"
  ) throws -> (status: Int, body: String) {
    var arguments = ["-s", "-o", "-", "-w", "\n%{http_code}", "-X", method]
    if let token { arguments += ["-H", "Authorization: Bearer \(token)"] }
    for h in headers { arguments += ["-H", h] }
    if let body { arguments += ["--data-binary", body] }
    arguments.append(base + path)
    let out = try runProcess("/usr/bin/curl", arguments)
    let lines = out.split(separator: "\n", omittingEmptySubsequences: false)
    return (Int(lines.last ?? "") ?? -1, lines.dropLast().joined(separator: "\n"))
  }

  func eval(_ script: String, headers: [String] = []) throws -> (status: Int, json: [String: Any]) {
    let body = String(data: try JSONSerialization.data(withJSONObject: ["script": script]), encoding: .utf8)!
    let (status, text) = try request("/api/eval", method: "POST", body: body, headers: headers)
    return (status, try json(text))
  }
}

func json(_ text: String) throws -> [String: Any] {
  let object = try JSONSerialization.jsonObject(with: Data(text.utf8))
  guard let dict = object as? [String: Any] else { throw EvalError("not a JSON object: \(text)") }
  return dict
}

/// Runs a program and returns its standard output (standard error is discarded).
func runProcess(_ path: String, _ arguments: [String], environment: [String: String]? = nil) throws -> String {
  let p = Process()
  p.executableURL = URL(fileURLWithPath: path)
  p.arguments = arguments
  if let environment { p.environment = environment }
  let out = Pipe()
  p.standardOutput = out
  p.standardError = FileHandle(forWritingAtPath: "/dev/null")
  try p.run()
  let data = out.fileHandleForReading.readDataToEndOfFile()
  p.waitUntilExit()
  return String(decoding: data, as: UTF8.self)
}

/// One server for the API tests (starting one loads the model once).
enum Shared {
  nonisolated(unsafe) static var server: TestServer?
  static func get() throws -> TestServer {
    if let server { return server }
    let s = try TestServer.start()
    server = s
    return s
  }
}

final class ServerAPITests: XCTestCase {
  func testEvalReturnsTheValueAsJSON() throws {
    let s = try Shared.get()
    let (status, body) = try s.eval("1 + 2")
    XCTAssertEqual(status, 200)
    XCTAssertEqual(body["value"] as? Double, 3)
    let (_, record) = try s.eval("{a: [1, \"x\"]}")
    let value = try XCTUnwrap(record["value"] as? [String: Any])
    XCTAssertEqual((value["a"] as? [Any])?.count, 2)
  }

  func testPredictAsInTheIssue() throws {
    let s = try Shared.get()
    let (status, text) = try s.request(
      "/api/eval", method: "POST", body: #"{"script": "predict \"The cow said\" --top 3"}"#)
    XCTAssertEqual(status, 200, text)
    let rows = try XCTUnwrap(try json(text)["value"] as? [[String: Any]])
    XCTAssertEqual(rows.count, 3)
    XCTAssertNotNil(rows[0]["token"] as? String)
    XCTAssertNotNil(rows[0]["prob"] as? Double)
  }

  func testPrintedOutputIsReturned() throws {
    let s = try Shared.get()
    let (status, body) = try s.eval("print \"hi\"; 5")
    XCTAssertEqual(status, 200)
    XCTAssertEqual(body["output"] as? String, "hi\n")
    XCTAssertEqual(body["value"] as? Double, 5)
  }

  func testScriptErrorIs400WithLineAndColumn() throws {
    let s = try Shared.get()
    let (status, body) = try s.eval("let x = 1\nx + nosuchvariable")
    XCTAssertEqual(status, 400)
    let error = try XCTUnwrap(body["error"] as? [String: Any])
    XCTAssertEqual(error["line"] as? Int, 2)
    XCTAssertEqual(error["col"] as? Int, 5)
    XCTAssertNotNil(error["message"] as? String)
    let (syntaxStatus, syntax) = try s.eval("let = ")
    XCTAssertEqual(syntaxStatus, 400)
    XCTAssertEqual((syntax["error"] as? [String: Any])?["line"] as? Int, 1)
  }

  func testTokenIsRequired() throws {
    let s = try Shared.get()
    XCTAssertEqual(try s.request("/api/eval", method: "POST", body: #"{"script": "1"}"#, token: nil).status, 401)
    XCTAssertEqual(try s.request("/api/eval", method: "POST", body: #"{"script": "1"}"#, token: "wrong").status, 401)
    XCTAssertEqual(try s.request("/api/model", token: nil).status, 401)
    // ?token= and the cookie work too.
    XCTAssertEqual(
      try s.request("/api/eval?token=secret", method: "POST", body: #"{"script": "1"}"#, token: nil).status, 200)
    XCTAssertEqual(
      try s.request(
        "/api/eval", method: "POST", body: #"{"script": "1"}"#, headers: ["Cookie: tdb_token=secret"], token: nil
      ).status, 200)
  }

  func testThePageSetsTheCookieOnlyForTheRightToken() throws {
    let s = try Shared.get()
    let out = try runProcess("/usr/bin/curl", ["-s", "-D", "-", "-o", "/dev/null", s.base + "/?token=secret"])
    XCTAssertTrue(out.lowercased().contains("set-cookie: tdb_token=secret"), out)
    XCTAssertTrue(out.contains("HttpOnly"))
    let wrong = try runProcess("/usr/bin/curl", ["-s", "-D", "-", "-o", "/dev/null", s.base + "/?token=nope"])
    XCTAssertFalse(wrong.lowercased().contains("set-cookie"), wrong)
  }

  func testForeignHostIsRefused() throws {
    let s = try Shared.get()
    let (status, text) = try s.request(
      "/api/eval", method: "POST", body: #"{"script": "1"}"#, headers: ["Host: evil.example:\(s.port)"])
    XCTAssertEqual(status, 403)
    XCTAssertNotNil(try json(text)["error"])
    XCTAssertEqual(try s.request("/", headers: ["Host: evil.example"]).status, 403)
    XCTAssertEqual(try s.request("/api/model", headers: ["Host: localhost:\(s.port)"]).status, 200)
    // A page of another origin cannot call the API, and gets no CORS header.
    let out = try runProcess(
      "/usr/bin/curl",
      [
        "-s", "-D", "-", "-o", "/dev/null", "-H", "Authorization: Bearer secret", "-H", "Origin: http://evil.example",
        "--data-binary", #"{"script": "1"}"#, s.base + "/api/eval",
      ])
    XCTAssertTrue(out.hasPrefix("HTTP/1.1 403"), out)
    XCTAssertFalse(out.lowercased().contains("access-control-allow"), out)
  }

  func testUnknownRoutesAndWrongMethods() throws {
    let s = try Shared.get()
    let missing = try s.request("/api/nothing")
    XCTAssertEqual(missing.status, 404)
    XCTAssertNotNil(try json(missing.body)["error"])
    XCTAssertEqual(try s.request("/etc/passwd").status, 404)
    XCTAssertEqual(try s.request("/../../etc/passwd").status, 404)
    let get = try s.request("/api/eval")
    XCTAssertEqual(get.status, 405)
    XCTAssertNotNil(try json(get.body)["error"])
    XCTAssertEqual(try s.request("/api/model", method: "DELETE").status, 405)
    XCTAssertEqual(try s.request("/", method: "POST", body: "x").status, 405)
  }

  func testBadJSONIs400() throws {
    let s = try Shared.get()
    for body in ["not json", "{\"script\": 1}", "[1]", "{}", ""] {
      let (status, text) = try s.request("/api/eval", method: "POST", body: body)
      XCTAssertEqual(status, 400, body)
      XCTAssertNotNil(try json(text)["error"], body)
    }
  }

  func testBodySizeIsLimited() throws {
    let s = try Shared.get()
    let path = NSTemporaryDirectory() + "tdb-big-body.json"
    try ("{\"script\": \"" + String(repeating: "1", count: 2 << 20) + "\"}").write(
      toFile: path, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: path) }
    let (status, _) = try s.request("/api/eval", method: "POST", body: "@" + path)
    XCTAssertEqual(status, 413)
  }

  func testCommandsThatWriteFilesAreRefused() throws {
    let s = try Shared.get()
    let path = NSTemporaryDirectory() + "tdb-refused.txt"
    try? FileManager.default.removeItem(atPath: path)
    for script in [
      "\"x\" | save '\(path)'", "collect demo --tokens 16 --db '\(path)'", "merge a.db b.db --db '\(path)'",
      "[{component: \"L1H2\"}] | annotate --db '\(path)'",
    ] {
      let (status, body) = try s.eval(script)
      XCTAssertEqual(status, 400, script)
      let message = (body["error"] as? [String: Any])?["message"] as? String ?? ""
      XCTAssertTrue(message.contains("--allow-write"), message)
    }
    XCTAssertFalse(FileManager.default.fileExists(atPath: path))
  }

  func testAllowWriteLetsSaveWrite() throws {
    let s = try TestServer.start { $0.allowWrite = true }
    defer { s.task.cancel() }
    let path = NSTemporaryDirectory() + "tdb-allowed.txt"
    try? FileManager.default.removeItem(atPath: path)
    let (status, _) = try s.eval("\"x\" | save '\(path)'")
    XCTAssertEqual(status, 200)
    XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "x")
  }

  func testDatasetsAreReadOnlyUnlessWritesAreAllowed() throws {
    let db = NSTemporaryDirectory() + "tdb-serve-readonly-\(UUID().uuidString).db"
    defer { try? FileManager.default.removeItem(atPath: db) }
    let local = SessionSetup.interpreter(model: SessionSetup.model(folder: nil, saeFolders: []))
    try local.evaluate("collect demo --tokens 256 --kind neurons --db '\(db)'")
    let explain = "explain L0N5 --db '\(db)'"
    let readOnly = try TestServer.start()
    defer { readOnly.task.cancel() }
    let (status, body) = try readOnly.eval(explain)
    XCTAssertEqual(status, 200, "\(body)")
    XCTAssertEqual(try ActivationStore(path: db).explanations().count, 0, "the read-only server saved an explanation")
    let writable = try TestServer.start { $0.allowWrite = true }
    defer { writable.task.cancel() }
    XCTAssertEqual(try writable.eval(explain).status, 200)
    XCTAssertEqual(try ActivationStore(path: db).explanations().keys.sorted(), ["L0N5"])
  }

  func testTimeoutStopsALongScript() throws {
    let s = try TestServer.start { $0.timeout = 1 }
    defer { s.task.cancel() }
    let started = Date()
    let (status, body) = try s.eval("let n = 0\nwhile true { n = n + 1 }")
    XCTAssertEqual(status, 408)
    XCTAssertLessThan(Date().timeIntervalSince(started), 10)
    let message = (body["error"] as? [String: Any])?["message"] as? String ?? ""
    XCTAssertTrue(message.contains("timeout"), message)
    // The next script runs normally.
    XCTAssertEqual(try s.eval("2").status, 200)
  }

  func testAClientThatGoesAwayStopsItsScript() throws {
    let s = try TestServer.start { $0.timeout = 0 }  // no timeout: only the disconnect can stop it
    defer { s.task.cancel() }
    let body = #"{"script": "let n = 0\nwhile true { n = n + 1 }"}"#
    // curl gives up after a second and closes the connection.
    _ = try? runProcess(
      "/usr/bin/curl",
      ["-s", "--max-time", "1", "-H", "Authorization: Bearer secret", "--data-binary", body, s.base + "/api/eval"])
    // Were the loop still running, this would wait behind it until curl's own limit.
    let out = try runProcess(
      "/usr/bin/curl",
      [
        "-s", "--max-time", "20", "-w", "\n%{http_code}", "-H", "Authorization: Bearer secret", "--data-binary",
        #"{"script": "2"}"#, s.base + "/api/eval",
      ])
    XCTAssertEqual(out.split(separator: "\n").last, "200", out)
  }

  func testSessionsKeepTheirVariables() throws {
    let s = try Shared.get()
    XCTAssertEqual(try s.eval("let kept = 41", headers: ["X-TDB-Session: one"]).status, 200)
    let (status, body) = try s.eval("kept + 1", headers: ["X-TDB-Session: one"])
    XCTAssertEqual(status, 200)
    XCTAssertEqual(body["value"] as? Double, 42)
    XCTAssertEqual(try s.eval("kept", headers: ["X-TDB-Session: two"]).status, 400)
    XCTAssertEqual(try s.eval("kept").status, 400)
  }

  func testModelDescribesTheModel() throws {
    let s = try Shared.get()
    let (status, text) = try s.request("/api/model")
    XCTAssertEqual(status, 200, text)
    let body = try json(text)
    let value = try XCTUnwrap(body["value"] as? [String: Any])
    XCTAssertNotNil(value["model"])
    XCTAssertNotNil(value["saes"])
    XCTAssertEqual(body["allow_write"] as? Bool, false)
  }

  func testConcurrentRequestsAreSerialised() throws {
    let s = try Shared.get()
    final class Results: @unchecked Sendable {
      let lock = NSLock()
      var values: [Int] = []
    }
    let results = Results()
    DispatchQueue.concurrentPerform(iterations: 8) { i in
      let v = (try? s.eval("let x = \(i); x * 2", headers: ["X-TDB-Session: c\(i % 2)"]).json["value"] as? Int) ?? -1
      results.lock.withLock { results.values.append(v) }
    }
    XCTAssertEqual(results.values.sorted(), (0..<8).map { $0 * 2 })
  }
}

final class ServerHTMLTests: XCTestCase {
  func testToHTMLIsSelfContained() throws {
    let model = SessionSetup.model(folder: nil, saeFolders: [])
    let interpreter = SessionSetup.interpreter(model: model)
    let ioi = "(run \"When Mary and John went to the store, John gave a drink to\")"
    for script in [
      "attn \(ioi) L1H2 | to html", "attribute \(ioi) \" Mary\" \" John\" --top 3 | to html",
      "[{a: 1, b: \"<x>\"}] | to html", "{a: 1} | to html",
    ] {
      guard case .string(let html) = try interpreter.evaluate(script) else { return XCTFail(script) }
      XCTAssertTrue(html.hasPrefix("<!doctype html>"), script)
      XCTAssertTrue(html.contains("</html>"), script)
      for external in ["src=", "href=", "http://", "https://", "@import", "url("] {
        XCTAssertFalse(html.contains(external), "\(script): \(external)")
      }
    }
    guard case .string(let attn) = try interpreter.evaluate("attn \(ioi) L1H2 | to html") else { return XCTFail() }
    XCTAssertTrue(attn.contains("<svg"))
    XCTAssertTrue(attn.contains(" Mary"))
    guard case .string(let table) = try interpreter.evaluate("[{a: 1, b: \"<x>\"}] | to html") else { return XCTFail() }
    XCTAssertTrue(table.contains("&lt;x&gt;"))
    XCTAssertFalse(table.contains("<x>"))
  }
}
