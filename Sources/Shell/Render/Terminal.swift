import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Facts about where output goes, and buffered writing to it.
enum Terminal {
  /// Whether standard output is a terminal.
  static var stdoutIsTerminal: Bool { isatty(STDOUT_FILENO) != 0 }
  /// Whether standard input is a terminal.
  static var stdinIsTerminal: Bool { isatty(STDIN_FILENO) != 0 }
  /// Whether standard error is a terminal.
  static var stderrIsTerminal: Bool { isatty(STDERR_FILENO) != 0 }

  /// The terminal's width in columns ($COLUMNS, the tty's size, else 80).
  static var width: Int {
    if let c = ProcessInfo.processInfo.environment["COLUMNS"], let n = Int(c), n > 0 { return n }
    var size = winsize()
    if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 {
      return Int(size.ws_col)
    }
    return 80
  }

  nonisolated(unsafe) private static var lastFlush: UInt64 = 0

  /// Writes to standard output. Output is buffered, but flushed when the last
  /// flush is more than a tenth of a second old, so slow scripts show progress.
  static func out(_ text: String) {
    fputs(text, stdout)
    let now = DispatchTime.now().uptimeNanoseconds
    if now &- lastFlush > 100_000_000 {
      fflush(stdout)
      lastFlush = now
    }
  }

  /// Writes to standard error after flushing standard output, so the two
  /// interleave in order on a terminal.
  static func err(_ text: String) {
    fflush(stdout)
    fputs(text, stderr)
  }

  static func flush() {
    fflush(stdout)
    lastFlush = DispatchTime.now().uptimeNanoseconds
  }
}

/// ANSI styles, applied only when colour is on.
struct Style {
  var enabled: Bool

  func bold(_ s: String) -> String { enabled ? "\u{1B}[1m\(s)\u{1B}[0m" : s }
  func dim(_ s: String) -> String { enabled ? "\u{1B}[2m\(s)\u{1B}[0m" : s }
  func cyan(_ s: String) -> String { enabled ? "\u{1B}[36m\(s)\u{1B}[0m" : s }
}
