import AsyncHTTPClient
import Foundation
import Lang
import NIOCore

/// POSTs JSON over HTTP(S) through AsyncHTTPClient, on the SwiftNIO the
/// server already runs on.
///
/// Not URLSession: on Linux it lives in FoundationNetworking, which links
/// libcurl and some thirty libraries behind it (TLS, Kerberos, LDAP) into
/// every tdb process, loaded at start for a request that only `explain`
/// with an endpoint makes. Measured: `tdb --version` took 26.5 ms with it
/// and 18.9 ms with this client (hyperfine, 60 runs).
enum JSONPost {
  struct Reply {
    let status: Int
    let body: Data
  }

  /// The largest reply read; a chat completion is a few kilobytes.
  static let replyLimit = 16 << 20

  /// Sends `body` to `url` and waits for the whole reply. Ctrl-C cancels
  /// the request rather than waiting out the timeout.
  static func send(
    _ body: Data, to url: URL, headers: [(name: String, value: String)], timeout: TimeInterval,
    environment: [String: String] = ProcessInfo.processInfo.environment
  ) throws -> Reply {
    var request = HTTPClientRequest(url: url.absoluteString)
    request.method = .POST
    for header in headers { request.headers.add(name: header.name, value: header.value) }
    request.body = .bytes(ByteBuffer(bytes: body))
    let client = try client(for: url, environment: environment)

    final class Outcome: @unchecked Sendable { var result: Result<Reply, any Error>? }
    let outcome = Outcome()
    let done = DispatchSemaphore(value: 0)
    let task = Task {
      defer { done.signal() }
      do {
        let response = try await client.execute(request, timeout: .milliseconds(Int64(timeout * 1000)))
        let bytes = try await response.body.collect(upTo: replyLimit)
        outcome.result = .success(Reply(status: Int(response.status.code), body: Data(bytes.readableBytesView)))
      } catch {
        outcome.result = .failure(error)
      }
    }
    while done.wait(timeout: .now() + 0.1) == .timedOut {
      if Interrupt.requested { task.cancel() }
    }
    return try outcome.result!.get()
  }

  /// Why a request failed, in a few words and with what to do.
  static func reason(_ error: any Error, timeout: TimeInterval) -> String {
    if let io = error as? IOError {
      return String(cString: strerror(io.errnoCode)).lowercased() + "; is the server up, and TDB_EXPLAINER_URL right?"
    }
    if error is CancellationError { return "cancelled" }
    guard let client = error as? HTTPClientError else { return String(describing: error) }
    switch client {
    case .connectTimeout: return "no connection within 10 s; is the host reachable (or a proxy needed)?"
    case .deadlineExceeded, .readTimeout: return "no complete answer within \(Int(timeout)) s"
    case .cancelled: return "cancelled"
    case .remoteConnectionClosed: return "the server closed the connection before answering"
    default: return String(describing: client)
    }
  }

  /// A client that connects directly, or through the proxy that
  /// `https_proxy` or `http_proxy` (for the URL's scheme, either case, as
  /// curl reads them) names, unless `no_proxy` lists the host or the host
  /// is this machine.
  static func client(for url: URL, environment: [String: String]) throws -> HTTPClient {
    Clients.shared.client(through: try proxy(for: url, environment: environment))
  }

  /// The proxy's host, port and credentials for `url`, or nil to connect directly.
  static func proxy(for url: URL, environment: [String: String]) throws -> ProxyServer? {
    func variable(_ name: String) -> String? {
      (environment[name] ?? environment[name.uppercased()]).flatMap { $0.isEmpty ? nil : $0 }
    }
    let scheme = url.scheme?.lowercased() ?? "http"
    guard let raw = variable(scheme == "https" ? "https_proxy" : "http_proxy") else { return nil }
    let host = url.host?.lowercased() ?? ""
    if ["localhost", "127.0.0.1", "::1", "[::1]"].contains(host) { return nil }
    if let exceptions = variable("no_proxy") {
      for entry in exceptions.split(separator: ",") {
        let pattern = entry.trimmingCharacters(in: .whitespaces).lowercased()
        let domain = pattern.hasPrefix(".") ? String(pattern.dropFirst()) : pattern
        if pattern == "*" || host == domain || host.hasSuffix("." + domain) { return nil }
      }
    }
    guard let parsed = URL(string: raw.contains("://") ? raw : "http://" + raw), let host = parsed.host, !host.isEmpty
    else { throw ProxyError(variable: scheme == "https" ? "https_proxy" : "http_proxy", value: raw) }
    return ProxyServer(
      host: host, port: parsed.port ?? 1080, user: parsed.user?.removingPercentEncoding,
      password: parsed.password?.removingPercentEncoding)
  }

  struct ProxyServer: Hashable {
    let host: String
    let port: Int
    let user: String?
    let password: String?
  }

  struct ProxyError: Error, CustomStringConvertible {
    let variable: String
    let value: String
    var description: String { "\(variable) '\(value)' names no proxy host; set it to host:port or http://host:port" }
  }
}

/// One client per proxy (nil: direct), made on first use and kept for the process.
private final class Clients: @unchecked Sendable {
  static let shared = Clients()
  private let lock = NSLock()
  private var clients: [JSONPost.ProxyServer?: HTTPClient] = [:]

  func client(through proxy: JSONPost.ProxyServer?) -> HTTPClient {
    lock.lock()
    defer { lock.unlock() }
    if let client = clients[proxy] { return client }
    var configuration = HTTPClient.Configuration()
    // A refused connection fails the request at once, as curl does; by
    // default the client retries until the request's whole timeout.
    configuration.connectionPool.retryConnectionEstablishment = false
    if let proxy {
      let authorization = proxy.user.map {
        HTTPClient.Authorization.basic(username: $0, password: proxy.password ?? "")
      }
      configuration.proxy = .server(host: proxy.host, port: proxy.port, authorization: authorization)
    }
    let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    clients[proxy] = client
    return client
  }
}
