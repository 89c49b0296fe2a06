/// A piece of tdb source text and the name it is reported under: a script path,
/// `-c` for a command-line program, `-` for standard input.
public final class SourceFile: @unchecked Sendable {
  /// The name diagnostics print before `:LINE:COL`.
  public let name: String
  /// The whole text.
  public let text: String
  /// The text as Unicode scalars, which the scanner walks and columns count.
  let scalars: [Unicode.Scalar]
  private var lineStarts: [Int]? = nil

  /// Wraps `text` under a name.
  public init(name: String, text: String) {
    self.name = name
    self.text = text
    self.scalars = Array(text.unicodeScalars)
  }

  /// The text of 1-based line `number`, without its line break, or nil past the end.
  public func line(_ number: Int) -> String? {
    if lineStarts == nil {
      var starts = [0]
      for (i, s) in scalars.enumerated() where s == "\n" { starts.append(i + 1) }
      lineStarts = starts
    }
    let starts = lineStarts!
    guard number >= 1, number <= starts.count else { return nil }
    let start = starts[number - 1]
    var end = number < starts.count ? starts[number] - 1 : scalars.count
    if end > start, scalars[end - 1] == "\r" { end -= 1 }
    var out = String.UnicodeScalarView()
    out.append(contentsOf: scalars[start..<max(start, end)])
    return String(out)
  }
}

/// A place in a source file: 1-based line and column (columns count Unicode scalars).
public struct SourceLocation: CustomStringConvertible, Sendable {
  /// The file, or nil for values made by the host.
  public let file: SourceFile?
  public let line: Int
  public let column: Int

  public init(file: SourceFile?, line: Int, column: Int) {
    self.file = file
    self.line = line
    self.column = column
  }

  /// A location that points nowhere (host-made values, tests).
  public static let unknown = SourceLocation(file: nil, line: 0, column: 0)

  /// `FILE:LINE:COL`.
  public var description: String { "\(file?.name ?? "?"):\(line):\(column)" }
}
