/// An error without a location, thrown by host values and command bodies; the
/// interpreter attaches the location of the expression or call that raised it.
public struct EvalError: Error, CustomStringConvertible {
  public let message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}

/// An error the language reports: one line of message and where it happened.
public enum LangError: Error, CustomStringConvertible {
  /// The source does not parse (exit code 65 in scripts).
  case syntax(String, SourceLocation)
  /// Evaluation failed (exit code 70 in scripts).
  case runtime(String, SourceLocation)
  /// Ctrl-C (exit code 130 in scripts).
  case interrupted(SourceLocation)

  public var message: String {
    switch self {
    case .syntax(let m, _), .runtime(let m, _): return m
    case .interrupted: return "interrupted"
    }
  }

  public var location: SourceLocation {
    switch self {
    case .syntax(_, let l), .runtime(_, let l), .interrupted(let l): return l
    }
  }

  public var description: String { "\(location): error: \(message)" }

  /// The diagnostic for a terminal: `FILE:LINE:COL: error: MESSAGE`, the source
  /// line, and a caret under the column.
  public var diagnostic: String {
    let loc = location
    var out = "\(loc.file?.name ?? "?"):\(loc.line):\(loc.column): error: \(message)\n"
    if let text = loc.file?.line(loc.line) {
      out += text + "\n"
      var caret = ""
      for (i, c) in text.unicodeScalars.enumerated() where i < loc.column - 1 {
        caret.unicodeScalars.append(c == "\t" ? "\t" : " ")
      }
      out += caret + "^\n"
    }
    return out
  }
}

/// The message of any error: `EvalError` and `LangError` messages, a
/// `LocalizedError`-like description, or the error's description.
func messageOf(_ error: any Error) -> String {
  switch error {
  case let e as EvalError: return e.message
  case let e as LangError: return e.message
  case let e as CustomStringConvertible: return e.description
  default: return String(describing: error)
  }
}

/// Non-local control flow through expression boundaries (`break` inside an
/// `if` used as a value, `return` inside a nested block).
enum ControlFlow: Error {
  case breakLoop
  case continueLoop
  case returnValue(Value)
}
