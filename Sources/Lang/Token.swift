/// What a token is; payloads live in `Token`.
enum TokenKind: Equatable {
  case number, string, word, variable, flag
  case kwLet, kwDef, kwIf, kwElse, kwFor, kwIn, kwWhile, kwBreak, kwContinue, kwReturn
  case kwTrue, kwFalse, kwNull, kwAnd, kwOr, kwNot
  case plus, minus, star, slash, percent
  case equalEqual, bangEqual, less, lessEqual, greater, greaterEqual
  case equal, plusEqual, minusEqual, starEqual, slashEqual
  case ampAmp, pipePipe, bang, pipe, dotDot, dot, comma, colon, semicolon
  case leftParen, rightParen, leftBracket, rightBracket, leftBrace, rightBrace
  case newline, eof
  /// A lexical error; `Token.text` holds the message. The parser reports it when reached.
  case error
}

/// A piece of an interpolated string or word.
enum TextPart {
  case text(String)
  /// `$name`
  case variable(String, SourceLocation)
  /// `$(expr)`: the tokens between the parentheses, ending with `.eof`.
  case code([Token], SourceLocation)
}

/// One lexeme with its location and whether whitespace preceded it (the parser
/// uses that to tell `a -1` from `a - 1`, and `f(x)` from `f (x)`).
struct Token {
  var kind: TokenKind
  /// Source text for words, flags (the name without `--`), variables (the name
  /// without `$`), keywords and operators; the message for `.error`.
  var text: String
  var number: Double = 0
  /// Parts of strings and words; a plain word has a single `.text` part.
  var parts: [TextPart] = []
  var location: SourceLocation
  var spaceBefore: Bool

  /// For a word: true if it is one plain identifier (no dots, no interpolation).
  var isPlainIdentifier: Bool {
    guard kind == .word, parts.count == 1, case .text(let t) = parts[0] else { return false }
    return !t.contains(".")
  }

  /// For a word without interpolation: its text.
  var plainWord: String? {
    guard kind == .word, parts.count == 1, case .text(let t) = parts[0] else { return nil }
    return t
  }

  /// How the token reads in an error message.
  var display: String {
    switch kind {
    case .number: return "number \(text)"
    case .string: return "a string"
    case .word: return "'\(text)'"
    case .variable: return "'$\(text)'"
    case .flag: return "flag --\(text)"
    case .newline: return "end of line"
    case .eof: return "end of input"
    case .error: return text
    default: return "'\(text)'"
    }
  }
}

let keywords: [String: TokenKind] = [
  "let": .kwLet, "def": .kwDef, "if": .kwIf, "else": .kwElse, "for": .kwFor, "in": .kwIn,
  "while": .kwWhile, "break": .kwBreak, "continue": .kwContinue, "return": .kwReturn,
  "true": .kwTrue, "false": .kwFalse, "null": .kwNull, "and": .kwAnd, "or": .kwOr, "not": .kwNot,
]
