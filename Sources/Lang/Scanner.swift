/// Turns source text into tokens (jlox's Scanner).
///
/// Lexical rules worth knowing:
/// - Newlines end statements, except inside `(...)` and `[...]`; inside `{...}`
///   they separate the statements of a block. A `\` at the end of a line joins
///   it with the next.
/// - A word starts with a letter or `_` and runs over letters, digits, `_` and
///   dots followed by a word character, so `blocks.3.hook_resid_pre` and
///   `r.total` are one word; `$name` and `$(expr)` inside a word interpolate
///   (`blocks.$L.hook_mlp_out`). `a..b` is a range: `..` never joins a word.
/// - `--name` is a flag; `-` is always its own token (the parser decides
///   between negation, subtraction and a negative argument, see Parser).
/// - `"..."` strings interpolate `$name` and `$(expr)` and know the escapes
///   `\n \t \r \0 \" \' \\ \$ \u{HEX}`; `'...'` strings take the same escapes
///   but do not interpolate.
/// - `#` starts a comment to the end of the line (so a `#!` line is one).
struct Scanner {
  let file: SourceFile
  private let s: [Unicode.Scalar]
  private var pos = 0
  private var line: Int
  private var column: Int
  /// Open brackets, innermost last: decides whether a newline is a token.
  private var brackets: [TokenKind] = []
  /// The first lexical error, once met; scanning stops there.
  private var failure: Token? = nil
  /// Whether that error is only that the input ran out (an unterminated
  /// string or `$(`, a `\` ending the text): more text could fix it.
  private(set) var failedAtEndOfInput = false
  /// How many `$(` are open around the scanner's position.
  private var interpolationDepth = 0

  init(file: SourceFile) {
    self.file = file
    self.s = file.scalars
    self.line = 1
    self.column = 1
    if s.first == "\u{FEFF}" { pos = 1 }  // a byte-order mark is not text
  }

  /// All tokens of the file, ending with `.eof` (or with an `.error` token then `.eof`).
  mutating func scanAll() -> [Token] {
    scanTokens(nested: false)
  }

  private func peek(_ offset: Int = 0) -> Unicode.Scalar? {
    let i = pos + offset
    return i < s.count ? s[i] : nil
  }

  private var here: SourceLocation { SourceLocation(file: file, line: line, column: column) }

  private mutating func advance() {
    if s[pos] == "\n" {
      line += 1
      column = 1
    } else {
      column += 1
    }
    pos += 1
  }

  private func isIdentStart(_ c: Unicode.Scalar?) -> Bool {
    guard let c else { return false }
    return c == "_" || (c.properties.isAlphabetic)
  }

  private func isIdentChar(_ c: Unicode.Scalar?) -> Bool {
    guard let c else { return false }
    return c == "_" || c.properties.isAlphabetic || ("0"..."9").contains(c)
  }

  private func isDigit(_ c: Unicode.Scalar?) -> Bool {
    guard let c else { return false }
    return ("0"..."9").contains(c)
  }

  /// Records the first lexical error; `ranOut` says it is only that the input ended.
  private mutating func fail(
    _ message: String, at location: SourceLocation, ranOut: Bool = false
  ) -> Token {
    let t = Token(kind: .error, text: message, location: location, spaceBefore: false)
    if failure == nil {
      failure = t
      failedAtEndOfInput = ranOut
    }
    return t
  }

  /// Scans until the end of input, or (nested) until the `)` that closes a `$(`.
  private mutating func scanTokens(nested: Bool) -> [Token] {
    let savedBrackets = brackets
    brackets = []
    defer { brackets = savedBrackets }
    var tokens: [Token] = []
    var space = true
    while failure == nil {
      // Whitespace, comments and line continuations.
      while let c = peek() {
        if c == " " || c == "\t" || c == "\r" {
          advance()
        } else if c == "#" {
          while let d = peek(), d != "\n" { advance() }
        } else if c == "\\" && (peek(1) == "\n" || (peek(1) == "\r" && peek(2) == "\n")) {
          advance()
          if peek() == "\r" { advance() }
          advance()
        } else if c == "\\" && peek(1) == nil {
          // The line continues in input that is not there (yet).
          let loc = here
          advance()
          _ = fail("'\\' at the end of the input joins a line that never comes", at: loc, ranOut: true)
        } else {
          break
        }
        space = true
      }
      guard let c = peek() else {
        if nested {
          tokens.append(fail("unterminated '$(' (missing ')')", at: here, ranOut: true))
        }
        break
      }
      if c == "\n" {
        let loc = here
        advance()
        space = true
        if brackets.isEmpty || brackets.last == .leftBrace,
          let last = tokens.last, last.kind != .newline
        {
          tokens.append(Token(kind: .newline, text: "\n", location: loc, spaceBefore: true))
        }
        continue
      }
      if nested && c == ")" && brackets.isEmpty {
        tokens.append(Token(kind: .eof, text: ")", location: here, spaceBefore: space))
        advance()
        return tokens
      }
      var token = scanToken(c)
      token.spaceBefore = space
      space = false
      tokens.append(token)
    }
    if let failure {
      if tokens.last?.kind != .error { tokens.append(failure) }
      tokens.append(Token(kind: .eof, text: "", location: failure.location, spaceBefore: true))
    } else {
      tokens.append(Token(kind: .eof, text: "", location: here, spaceBefore: true))
    }
    return tokens
  }

  private mutating func op(_ kind: TokenKind, _ length: Int) -> Token {
    let loc = here
    var text = ""
    for _ in 0..<length {
      text.unicodeScalars.append(s[pos])
      advance()
    }
    switch kind {
    case .leftParen, .leftBracket, .leftBrace:
      brackets.append(kind)
    case .rightParen, .rightBracket, .rightBrace:
      let open: TokenKind =
        kind == .rightParen ? .leftParen : kind == .rightBracket ? .leftBracket : .leftBrace
      if brackets.last == open { brackets.removeLast() }
    default: break
    }
    return Token(kind: kind, text: text, location: loc, spaceBefore: false)
  }

  private mutating func scanToken(_ c: Unicode.Scalar) -> Token {
    let next = peek(1)
    switch c {
    case "0"..."9": return scanNumber()
    case "\"": return scanString(interpolating: true)
    case "'": return scanString(interpolating: false)
    case "$":
      if next == "(" {
        // `$(expr)` outside a string is just `(expr)`.
        advance()
        return op(.leftParen, 1)
      }
      if isIdentChar(next) {
        let loc = here
        advance()
        var name = ""
        while isIdentChar(peek()) {
          name.unicodeScalars.append(s[pos])
          advance()
        }
        return Token(kind: .variable, text: name, location: loc, spaceBefore: false)
      }
      return fail("expected a variable name after '$'", at: here)
    case "-":
      if next == "-" {
        let loc = here
        if isIdentStart(peek(2)) {
          advance()
          advance()
          var name = ""
          while let d = peek(), isIdentChar(d) || (d == "-" && isIdentChar(peek(1))) {
            name.unicodeScalars.append(d)
            advance()
          }
          return Token(kind: .flag, text: name, location: loc, spaceBefore: false)
        }
        return fail("expected a flag name after '--'", at: loc)
      }
      return next == "=" ? op(.minusEqual, 2) : op(.minus, 1)
    case "+": return next == "=" ? op(.plusEqual, 2) : op(.plus, 1)
    case "*": return next == "=" ? op(.starEqual, 2) : op(.star, 1)
    case "/": return next == "=" ? op(.slashEqual, 2) : op(.slash, 1)
    case "%": return op(.percent, 1)
    case "=": return next == "=" ? op(.equalEqual, 2) : op(.equal, 1)
    case "!": return next == "=" ? op(.bangEqual, 2) : op(.bang, 1)
    case "<": return next == "=" ? op(.lessEqual, 2) : op(.less, 1)
    case ">": return next == "=" ? op(.greaterEqual, 2) : op(.greater, 1)
    case "&":
      if next == "&" { return op(.ampAmp, 2) }
      return fail("unexpected '&' (write 'and' or '&&')", at: here)
    case "|": return next == "|" ? op(.pipePipe, 2) : op(.pipe, 1)
    case ".": return next == "." ? op(.dotDot, 2) : op(.dot, 1)
    case ",": return op(.comma, 1)
    case ":": return op(.colon, 1)
    case ";": return op(.semicolon, 1)
    case "(": return op(.leftParen, 1)
    case ")": return op(.rightParen, 1)
    case "[": return op(.leftBracket, 1)
    case "]": return op(.rightBracket, 1)
    case "{": return op(.leftBrace, 1)
    case "}": return op(.rightBrace, 1)
    default:
      if isIdentStart(c) { return scanWord() }
      return fail("unexpected character '\(c)'", at: here)
    }
  }

  private mutating func scanNumber() -> Token {
    let loc = here
    var text = ""
    func take(_ me: inout Scanner) {
      text.unicodeScalars.append(me.s[me.pos])
      me.advance()
    }
    while isDigit(peek()) { take(&self) }
    if peek() == ".", isDigit(peek(1)) {
      take(&self)
      while isDigit(peek()) { take(&self) }
    }
    if let e = peek(), e == "e" || e == "E" {
      if isDigit(peek(1)) || ((peek(1) == "+" || peek(1) == "-") && isDigit(peek(2))) {
        take(&self)
        if !isDigit(peek()) { take(&self) }
        while isDigit(peek()) { take(&self) }
      }
    }
    if isIdentChar(peek()) {
      while isIdentChar(peek()) { take(&self) }
      return fail("invalid number '\(text)'", at: loc)
    }
    guard let value = Double(text) else { return fail("invalid number '\(text)'", at: loc) }
    return Token(kind: .number, text: text, number: value, location: loc, spaceBefore: false)
  }

  /// `$name` or `$(...)` at `pos` (which holds the `$`), as a text part.
  private mutating func scanInterpolation() -> TextPart? {
    let loc = here
    advance()  // $
    if peek() == "(" {
      advance()
      if interpolationDepth >= 32 {
        _ = fail("string interpolation nested too deeply", at: loc)
        return nil
      }
      interpolationDepth += 1
      let tokens = scanTokens(nested: true)
      interpolationDepth -= 1
      if failure != nil { return nil }
      return .code(tokens, loc)
    }
    var name = ""
    while isIdentChar(peek()) {
      name.unicodeScalars.append(s[pos])
      advance()
    }
    return .variable(name, loc)
  }

  private mutating func scanWord() -> Token {
    let loc = here
    let start = pos
    var parts: [TextPart] = []
    var current = ""
    while let c = peek() {
      if isIdentChar(c) {
        current.unicodeScalars.append(c)
        advance()
      } else if c == ".", isIdentChar(peek(1)) || peek(1) == "$" {
        current.unicodeScalars.append(c)
        advance()
      } else if c == "$", isIdentChar(peek(1)) || peek(1) == "(" {
        if !current.isEmpty { parts.append(.text(current)) }
        current = ""
        guard let part = scanInterpolation() else { return failure! }
        parts.append(part)
      } else {
        break
      }
    }
    if !current.isEmpty || parts.isEmpty { parts.append(.text(current)) }
    var text = ""
    text.unicodeScalars.append(contentsOf: s[start..<pos])
    if parts.count == 1, case .text(let t) = parts[0], let kw = keywords[t] {
      return Token(kind: kw, text: t, location: loc, spaceBefore: false)
    }
    return Token(kind: .word, text: text, parts: parts, location: loc, spaceBefore: false)
  }

  private mutating func scanString(interpolating: Bool) -> Token {
    let loc = here
    let quote = s[pos]
    let start = pos
    advance()
    var parts: [TextPart] = []
    var buffer = ""
    while true {
      guard let c = peek() else { return fail("unterminated string", at: loc, ranOut: true) }
      if c == quote {
        advance()
        break
      }
      if c == "\\" {
        let escLoc = here
        advance()
        guard let e = peek() else { return fail("unterminated string", at: loc, ranOut: true) }
        advance()
        switch e {
        case "n": buffer.append("\n")
        case "t": buffer.append("\t")
        case "r": buffer.append("\r")
        case "0": buffer.append("\0")
        case "\"", "'", "\\", "$": buffer.unicodeScalars.append(e)
        case "\n": break  // line continuation inside a string
        case "u":
          guard peek() == "{" else { return fail("expected '{' after \\u", at: escLoc) }
          advance()
          var hex = ""
          while let h = peek(), h.properties.isASCIIHexDigit {
            hex.unicodeScalars.append(h)
            advance()
          }
          guard peek() == "}", !hex.isEmpty, hex.count <= 8, let v = UInt32(hex, radix: 16),
            let scalar = Unicode.Scalar(v)
          else { return fail("invalid unicode escape (write \\u{1F916})", at: escLoc) }
          advance()
          buffer.unicodeScalars.append(scalar)
        default:
          return fail("unknown escape '\\\(e)'", at: escLoc)
        }
        continue
      }
      if interpolating && c == "$" && (isIdentChar(peek(1)) || peek(1) == "(") {
        if !buffer.isEmpty { parts.append(.text(buffer)) }
        buffer = ""
        guard let part = scanInterpolation() else { return failure! }
        parts.append(part)
        continue
      }
      buffer.unicodeScalars.append(c)
      advance()
    }
    if !buffer.isEmpty || parts.isEmpty { parts.append(.text(buffer)) }
    var text = ""
    text.unicodeScalars.append(contentsOf: s[start..<pos])
    return Token(kind: .string, text: text, parts: parts, location: loc, spaceBefore: false)
  }
}
