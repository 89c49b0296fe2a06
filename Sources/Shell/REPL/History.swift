import Foundation
import Lang

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The REPL's history, kept across sessions in a plain text file: one entry
/// per line, oldest first; an entry of several lines is stored on one with
/// `\n` for its line breaks (and `\\` for a backslash).
///
/// The file is appended to as entries are made, so sessions running side by
/// side lose nothing; it is cut back to the newest `limit` entries when a
/// session starts.
final class History {
  let url: URL
  let limit: Int
  /// The entries, oldest first.
  private(set) var entries: [String] = []

  init(url: URL, limit: Int = 10_000) {
    self.url = url
    self.limit = limit
  }

  /// `$XDG_STATE_HOME/tdb/history`, or `~/.local/state/tdb/history` (the XDG
  /// base directory spec ignores a relative `XDG_STATE_HOME`).
  static func defaultURL(environment: [String: String] = ProcessInfo.processInfo.environment)
    -> URL
  {
    var state: URL
    if let xdg = environment["XDG_STATE_HOME"], xdg.hasPrefix("/") {
      state = URL(fileURLWithPath: xdg, isDirectory: true)
    } else {
      let home = environment["HOME"] ?? NSHomeDirectory()
      state = URL(fileURLWithPath: home, isDirectory: true)
        .appendingPathComponent(".local/state", isDirectory: true)
    }
    return state.appendingPathComponent("tdb/history")
  }

  /// Reads the file (a missing one is an empty history) and, if it has grown
  /// past the limit, rewrites it with the newest entries.
  func load() {
    guard let data = FileManager.default.contents(atPath: url.path),
      let text = String(data: data, encoding: .utf8)
    else { return }
    let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
    entries = lines.suffix(limit).map { History.decode(String($0)) }
    if lines.count > limit {
      let kept = entries.map { History.encode($0) + "\n" }.joined()
      try? Data(kept.utf8).write(to: url, options: .atomic)
    }
  }

  /// Records an entry unless it is blank or repeats the previous one; returns
  /// whether it was added. A history that cannot be written is not an error
  /// worth interrupting the session for.
  @discardableResult
  func add(_ entry: String) -> Bool {
    guard !entry.allSatisfy(\.isWhitespace), entry != entries.last else { return false }
    entries.append(entry)
    if entries.count > limit { entries.removeFirst(entries.count - limit) }
    append(History.encode(entry) + "\n")
    return true
  }

  private func append(_ line: String) {
    let directory = url.deletingLastPathComponent()
    try? FileManager.default.createDirectory(
      at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    // Owner-only: prompts typed at a debugger can be private.
    let fd = open(url.path, O_WRONLY | O_CREAT | O_APPEND, 0o600)
    guard fd >= 0 else { return }
    defer { close(fd) }
    let bytes = Array(line.utf8)
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
  }

  /// One entry as one line of the file.
  static func encode(_ entry: String) -> String { Escapes.oneLine.apply(entry) }

  /// The entry a line of the file holds.
  static func decode(_ line: String) -> String {
    var out = ""
    var escaped = false
    for c in line.unicodeScalars {
      if escaped {
        switch c {
        case "n": out += "\n"
        case "r": out += "\r"
        default: out.unicodeScalars.append(c)
        }
        escaped = false
      } else if c == "\\" {
        escaped = true
      } else {
        out.unicodeScalars.append(c)
      }
    }
    if escaped { out += "\\" }
    return out
  }
}
