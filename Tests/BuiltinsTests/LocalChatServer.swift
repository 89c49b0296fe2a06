import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A tiny HTTP/1.1 server on 127.0.0.1 (an ephemeral port) that answers
/// every POST with `respond(body)`, for testing the chat-completions client.
/// It records each request's headers and body.
final class LocalChatServer: @unchecked Sendable {
  struct Request {
    var requestLine: String
    var headers: [String: String]  // lower-cased names
    var body: Data
  }

  let port: UInt16
  private let listener: Int32
  private let respond: (Data) -> (status: Int, body: Data)
  private let lock = NSLock()
  private var _requests: [Request] = []
  private var stopped = false

  var requests: [Request] { lock.withLock { _requests } }
  var baseURL: String { "http://127.0.0.1:\(port)/v1" }

  init(respond: @escaping (Data) -> (status: Int, body: Data)) throws {
    self.respond = respond
    #if canImport(Glibc)
      let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    #else
      let fd = socket(AF_INET, SOCK_STREAM, 0)
    #endif
    guard fd >= 0 else { throw POSIXError(.EIO) }
    var yes: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &addr) { p in
      p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0, listen(fd, 16) == 0 else {
      close(fd)
      throw POSIXError(.EADDRINUSE)
    }
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) { p in
      p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    port = UInt16(bigEndian: addr.sin_port)
    listener = fd
    let thread = Thread { [unowned self] in self.serve() }
    thread.start()
  }

  func stop() {
    lock.withLock { stopped = true }
    shutdown(listener, Int32(SHUT_RDWR))
    close(listener)
  }

  private func serve() {
    while true {
      let client = accept(listener, nil, nil)
      if client < 0 {
        if lock.withLock({ stopped }) { return }
        continue
      }
      handle(client)
      close(client)
    }
  }

  private func handle(_ fd: Int32) {
    var data = Data()
    var buffer = [UInt8](repeating: 0, count: 65536)
    var headerEnd: Range<Data.Index>?
    var contentLength = 0
    var headers: [String: String] = [:]
    var requestLine = ""
    while true {
      let n = read(fd, &buffer, buffer.count)
      if n <= 0 { return }
      data.append(contentsOf: buffer[0..<n])
      if headerEnd == nil, let r = data.range(of: Data("\r\n\r\n".utf8)) {
        headerEnd = r
        let lines = String(decoding: data[..<r.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        requestLine = lines.first ?? ""
        for line in lines.dropFirst() {
          guard let colon = line.firstIndex(of: ":") else { continue }
          headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        contentLength = Int(headers["content-length"] ?? "0") ?? 0
      }
      if let r = headerEnd, data.count - r.upperBound >= contentLength { break }
    }
    let body = data[headerEnd!.upperBound...].prefix(contentLength)
    lock.withLock { _requests.append(Request(requestLine: requestLine, headers: headers, body: Data(body))) }
    let (status, reply) = respond(Data(body))
    var head = "HTTP/1.1 \(status) \(status == 200 ? "OK" : "Error")\r\nContent-Type: application/json\r\n"
    head += "Content-Length: \(reply.count)\r\nConnection: close\r\n\r\n"
    let out = Data(head.utf8) + reply
    out.withUnsafeBytes { raw in
      var sent = 0
      while sent < raw.count {
        let n = write(fd, raw.baseAddress! + sent, raw.count - sent)
        if n <= 0 { return }
        sent += n
      }
    }
  }
}

/// A chat-completions reply with `content` as the assistant's message.
func chatReply(_ content: String) -> Data {
  try! JSONSerialization.data(withJSONObject: [
    "id": "test", "object": "chat.completion",
    "choices": [["index": 0, "message": ["role": "assistant", "content": content], "finish_reason": "stop"]],
  ])
}
