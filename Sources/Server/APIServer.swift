import Builtins
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Lang
import NIOCore

/// What `tdb serve` was started with.
public struct ServerConfiguration: Sendable {
  public var host = "127.0.0.1"
  /// 0 picks a free port.
  public var port = 8765
  public var token: String
  public var modelFolder: String? = nil
  public var saeFolders: [String] = []
  public var allowWrite = false
  /// Seconds a script may run (0: no limit).
  public var timeout: Double = 60
  /// The largest request body accepted.
  public var maxBodyBytes = 1 << 20
  /// Log each request to standard error.
  public var logRequests = true

  public init(token: String) { self.token = token }
}

/// The HTTP side of `tdb serve`: the page, `POST /api/eval` and
/// `GET /api/model`, with the security rules of issue 11 (token, Host check,
/// no CORS, size limit, JSON errors).
public final class APIServer: Sendable {
  let configuration: ServerConfiguration
  let worker: EvalWorker

  public init(_ configuration: ServerConfiguration) {
    self.configuration = configuration
    let model = SessionSetup.model(folder: configuration.modelFolder, saeFolders: configuration.saeFolders)
    worker = EvalWorker(model: model, allowWrite: configuration.allowWrite, timeout: configuration.timeout)
  }

  /// The Hummingbird application; `onRunning` receives the bound port.
  public func application(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
    let responder = CallbackResponder<ServeRequestContext> { [self] request, context in
      let started = Date()
      let ticket = EvalTicket()
      let (response, port) = await context.whileConnected(onClose: { ticket.cancel() }) {
        await respond(request, ticket: ticket)
      }
      if configuration.logRequests {
        let ms = Int(Date().timeIntervalSince(started) * 1000)
        FileHandle.standardError.write(
          Data("\(request.method) \(request.uri.path) \(response.status.code) \(ms) ms\n".utf8))
      }
      _ = port
      return response
    }
    return Application(
      responder: responder,
      configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
      onServerRunning: { [self] channel in
        let port = channel.localAddress?.port ?? configuration.port
        boundPort.set(port)
        await onRunning(port)
      },
      logger: {
        var l = Logger(label: "tdb.serve")
        l.logLevel = .warning
        return l
      }())
  }

  let boundPort = BoundPort()

  // MARK: - Routing

  /// The response to `request`; cancelling `ticket` (its client has gone) stops its script.
  func respond(_ request: Request, ticket: EvalTicket = EvalTicket()) async -> (Response, Int) {
    let port = boundPort.get() ?? configuration.port
    guard hostAllowed(request.head.authority, port: port) else {
      return (
        jsonError(.forbidden, "the Host header must name this server (127.0.0.1:\(port) or localhost:\(port))"), port
      )
    }
    let path = request.uri.path
    if path.hasPrefix("/api/") {
      if let origin = request.headers[.origin], !originAllowed(origin, port: port) {
        return (jsonError(.forbidden, "requests from other origins are refused"), port)
      }
      guard authorised(request) else {
        return (
          jsonError(
            .unauthorized, "missing or wrong token (Authorization: Bearer TOKEN, ?token=TOKEN, or open the page's URL)"),
          port
        )
      }
      switch path {
      case "/api/eval":
        guard request.method == .post else { return (methodNotAllowed("POST"), port) }
        return (await eval(request, ticket: ticket), port)
      case "/api/model":
        guard request.method == .get || request.method == .head else { return (methodNotAllowed("GET"), port) }
        return (await modelInfo(), port)
      default:
        return (jsonError(.notFound, "no such API route '\(path)' (try POST /api/eval or GET /api/model)"), port)
      }
    }
    guard let asset = PageAssets.asset(at: path) else {
      return (jsonError(.notFound, "not found: '\(path)'"), port)
    }
    guard request.method == .get || request.method == .head else { return (methodNotAllowed("GET"), port) }
    var headers: HTTPFields = [
      .contentType: asset.contentType, .cacheControl: "no-store",
      .contentSecurityPolicy:
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'",
      HTTPField.Name("X-Content-Type-Options")!: "nosniff",
    ]
    if let token = request.uri.queryParameters["token"].map(String.init), constantTimeEqual(token, configuration.token)
    {
      headers[.setCookie] = "tdb_token=\(configuration.token); Path=/; HttpOnly; SameSite=Strict"
    }
    return (Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: asset.bytes))), port)
  }

  func hostAllowed(_ authority: String?, port: Int) -> Bool {
    guard let authority = authority?.lowercased() else { return false }
    var names = ["127.0.0.1", "localhost", "[::1]"]
    names.append(configuration.host.lowercased())
    return names.contains { authority == "\($0):\(port)" }
  }

  func originAllowed(_ origin: String, port: Int) -> Bool {
    guard let url = URL(string: origin), url.scheme == "http", let host = url.host else { return false }
    return hostAllowed("\(host.contains(":") ? "[\(host)]" : host):\(url.port ?? 80)", port: port)
  }

  func authorised(_ request: Request) -> Bool {
    if let auth = request.headers[.authorization], auth.hasPrefix("Bearer "),
      constantTimeEqual(String(auth.dropFirst(7)), configuration.token)
    {
      return true
    }
    if let token = request.uri.queryParameters["token"], constantTimeEqual(String(token), configuration.token) {
      return true
    }
    if let cookies = request.headers[.cookie] {
      for part in cookies.split(separator: ";") {
        let kv = part.trimmingCharacters(in: .whitespaces)
        if kv.hasPrefix("tdb_token="), constantTimeEqual(String(kv.dropFirst(10)), configuration.token) { return true }
      }
    }
    return false
  }

  // MARK: - Endpoints

  func eval(_ request: Request, ticket: EvalTicket) async -> Response {
    var request = request
    let body: ByteBuffer
    do {
      body = try await request.collectBody(upTo: configuration.maxBodyBytes)
    } catch {
      return jsonError(.contentTooLarge, "the request body is over \(configuration.maxBodyBytes) bytes")
    }
    let data = Data(buffer: body)
    guard let object = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) else {
      return jsonError(.badRequest, "the body is not JSON; send {\"script\": \"...\"}")
    }
    guard let dict = object as? [String: Any], let script = dict["script"] as? String else {
      return jsonError(.badRequest, "expected a JSON object with a string field \"script\"")
    }
    let session = request.headers[HTTPField.Name("X-TDB-Session")!]
    switch await worker.evaluate(script, session: session, ticket: ticket) {
    case .cancelled:
      return jsonError(.requestTimeout, "the client closed the connection; the script was stopped")
    case .value(let json, let output):
      var text = "{\"value\":" + json
      if !output.isEmpty { text += ",\"output\":" + jsonString(output) }
      return jsonResponse(.ok, text + "}")
    case .scriptError(let message, let line, let column):
      return jsonResponse(.badRequest, errorJSON(message, line: line, column: column))
    case .timedOut(let seconds, let line, let column):
      return jsonResponse(
        .requestTimeout,
        errorJSON(
          "the script ran longer than --timeout \(formatNumber(seconds)) s and was stopped", line: line,
          column: column))
    }
  }

  func modelInfo() async -> Response {
    let script = "{model: (model), saes: (saes)}"
    let dataset = ProcessInfo.processInfo.environment["TDB_DB"].flatMap { $0.isEmpty ? nil : $0 }
    switch await worker.evaluate(script, session: nil) {
    case .value(let json, _):
      let text =
        "{\"value\":\(json),\"dataset\":\(dataset.map(jsonString) ?? "null"),\"allow_write\":\(configuration.allowWrite),\"timeout\":\(formatNumber(configuration.timeout))}"
      return jsonResponse(.ok, text)
    case .scriptError(let message, _, _):
      return jsonResponse(.internalServerError, errorJSON("cannot describe the model: \(message)"))
    case .timedOut, .cancelled:
      return jsonResponse(.requestTimeout, errorJSON("describing the model took longer than --timeout"))
    }
  }

  // MARK: - Responses

  func errorJSON(_ message: String, line: Int? = nil, column: Int? = nil) -> String {
    var s = "{\"error\":{\"message\":" + jsonString(message)
    if let line, let column { s += ",\"line\":\(line),\"col\":\(column)" }
    return s + "}}"
  }

  func jsonResponse(_ status: HTTPResponse.Status, _ text: String, headers extra: HTTPFields = [:]) -> Response {
    var headers: HTTPFields = [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"]
    headers.append(contentsOf: extra)
    return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text + "\n")))
  }

  func jsonError(_ status: HTTPResponse.Status, _ message: String) -> Response {
    jsonResponse(status, errorJSON(message))
  }

  func methodNotAllowed(_ allowed: String) -> Response {
    jsonResponse(.methodNotAllowed, errorJSON("method not allowed; use \(allowed)"), headers: [.allow: allowed])
  }
}

/// The port the server bound (known once it runs; `--port 0` picks one).
final class BoundPort: @unchecked Sendable {
  private let lock = NSLock()
  private var port: Int?
  func set(_ p: Int) { lock.withLock { port = p } }
  func get() -> Int? { lock.withLock { port } }
}

/// Compares without stopping at the first difference (the token is a secret).
func constantTimeEqual(_ a: String, _ b: String) -> Bool {
  let x = Array(a.utf8), y = Array(b.utf8)
  var diff = x.count ^ y.count
  for i in 0..<min(x.count, y.count) { diff |= Int(x[i] ^ y[i]) }
  return diff == 0
}
