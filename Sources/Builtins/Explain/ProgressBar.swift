import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A one-line progress bar on standard error, drawn only when standard
/// error is a terminal and at most ten times a second.
final class ProgressBar {
  private let enabled: Bool
  private var lastDraw = Date.distantPast
  private var drawn = false

  init(enabled: Bool = isatty(STDERR_FILENO) != 0) { self.enabled = enabled }

  /// Redraws: `done` of `total` (if known) units called `unit`, with a rate and time left.
  func update(done: Int, total: Int?, unit: String, rate: Double, secondsLeft: Double?, force: Bool = false) {
    guard enabled else { return }
    let now = Date()
    guard force || now.timeIntervalSince(lastDraw) >= 0.1 else { return }
    lastDraw = now
    var line = ""
    if let total, total > 0 {
      let f = min(1, Double(done) / Double(total))
      let width = 24
      let full = Int(f * Double(width))
      line += "[" + String(repeating: "█", count: full) + String(repeating: "·", count: width - full) + "] "
      line += String(format: "%3.0f%% ", f * 100)
    }
    line += "\(grouped(done))" + (total.map { "/\(grouped($0))" } ?? "") + " \(unit)  \(grouped(Int(rate))) \(unit)/s"
    if let secondsLeft { line += "  \(duration(secondsLeft)) left" }
    fputs("\r\u{1B}[2K" + line, stderr)
    fflush(stderr)
    drawn = true
  }

  /// Clears the bar.
  func finish() {
    guard enabled, drawn else { return }
    fputs("\r\u{1B}[2K", stderr)
    fflush(stderr)
    drawn = false
  }
}

/// 1234567 -> "1,234,567"
func grouped(_ n: Int) -> String {
  let s = String(abs(n))
  var out = ""
  for (i, ch) in s.enumerated() {
    if i > 0 && (s.count - i) % 3 == 0 { out.append(",") }
    out.append(ch)
  }
  return (n < 0 ? "-" : "") + out
}

/// 83 -> "1m23s"
func duration(_ seconds: Double) -> String {
  let s = Int(seconds.rounded())
  if s < 60 { return "\(s)s" }
  if s < 3600 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
  return "\(s / 3600)h\(String(format: "%02d", (s % 3600) / 60))m"
}
