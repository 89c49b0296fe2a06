import Foundation
import Lang
import XCTest

@testable import Builtins

/// The explainer's HTTP client: which proxy the environment names, and how a
/// request that cannot be made fails.
final class JSONPostTests: XCTestCase {
  let remote = URL(string: "https://api.example.com/v1/chat/completions")!

  func testTheSchemesProxyVariableInEitherCase() throws {
    XCTAssertNil(try JSONPost.proxy(for: remote, environment: [:]))
    XCTAssertEqual(
      try JSONPost.proxy(for: remote, environment: ["https_proxy": "proxy.corp:3128"]),
      JSONPost.ProxyServer(host: "proxy.corp", port: 3128, user: nil, password: nil))
    XCTAssertEqual(
      try JSONPost.proxy(for: remote, environment: ["HTTPS_PROXY": "http://me%40corp:secret@proxy.corp"]),
      JSONPost.ProxyServer(host: "proxy.corp", port: 1080, user: "me@corp", password: "secret"))
    // http_proxy is for http URLs, https_proxy for https ones.
    XCTAssertNil(try JSONPost.proxy(for: remote, environment: ["http_proxy": "proxy.corp:8080"]))
    let plain = URL(string: "http://api.example.com/v1")!
    XCTAssertEqual(try JSONPost.proxy(for: plain, environment: ["http_proxy": "proxy.corp:8080"])?.port, 8080)
  }

  func testNoProxyAndThisMachineConnectDirectly() throws {
    for exceptions in ["example.com", ".example.com", "other.org, api.example.com", "*"] {
      let environment = ["https_proxy": "proxy.corp:3128", "no_proxy": exceptions]
      XCTAssertNil(try JSONPost.proxy(for: remote, environment: environment), exceptions)
    }
    let environment = ["https_proxy": "proxy.corp:3128", "no_proxy": "ample.com,other.org"]
    XCTAssertNotNil(try JSONPost.proxy(for: remote, environment: environment))
    for local in ["http://127.0.0.1:8000/v1", "http://localhost/v1"] {
      XCTAssertNil(try JSONPost.proxy(for: URL(string: local)!, environment: ["http_proxy": "proxy.corp:3128"]))
    }
  }

  func testAProxyVariableWithoutAHostIsOneLineNamingIt() {
    XCTAssertThrowsError(try JSONPost.proxy(for: remote, environment: ["https_proxy": "http://"])) {
      XCTAssertEqual(
        "\($0)", "https_proxy 'http://' names no proxy host; set it to host:port or http://host:port")
    }
  }

  func testAnEndpointNobodyListensOnIsOneLineNamingIt() throws {
    // A port that was free a moment ago: bound by a server that then stopped.
    let server = try LocalChatServer { _ in (200, chatReply("unused")) }
    server.stop()
    let chat = try ChatExplainer.fromEnvironment(["TDB_EXPLAINER_URL": server.baseURL])!
    let start = Date()
    XCTAssertThrowsError(try chat.complete(system: "s", user: "u")) {
      // At once, not after the request's timeout.
      XCTAssertLessThan(Date().timeIntervalSince(start), 5)
      let message = "\($0)"
      XCTAssertEqual(
        message,
        "explainer \(server.baseURL)/chat/completions: connection refused; is the server up, and TDB_EXPLAINER_URL right?"
      )
      XCTAssertFalse(message.contains("\n"), message)
    }
  }

  func testCtrlCCancelsAWaitingRequest() throws {
    // The server answers after the client has gone: its write must not end the process.
    signal(SIGPIPE, SIG_IGN)
    let server = try LocalChatServer { _ in
      Thread.sleep(forTimeInterval: 4)
      return (200, chatReply("too late"))
    }
    defer { server.stop() }
    let chat = try ChatExplainer.fromEnvironment(["TDB_EXPLAINER_URL": server.baseURL])!
    DispatchQueue.global().asyncAfter(deadline: .now() + 0.3) { Interrupt.requested = true }
    defer { Interrupt.requested = false }
    let start = Date()
    XCTAssertThrowsError(try chat.complete(system: "s", user: "u"))
    XCTAssertLessThan(Date().timeIntervalSince(start), 3)
  }
}
