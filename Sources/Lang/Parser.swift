/// Recursive-descent parser from tokens to statements (jlox's Parser). It stops
/// at the first error, reported with the location of the offending token.
///
/// Grammar, loosest first:
///
///     program    = statement (("\n" | ";") statement)*
///     statement  = "let" NAME "=" pipeline | "def" NAME ["(" names ")"] block
///                | "for" NAME "in" pipeline block | "while" pipeline block
///                | "break" | "continue" | "return" [pipeline]
///                | target ("=" | "+=" | "-=" | "*=" | "/=") pipeline | pipeline
///     pipeline   = stage ("|" stage)*          (a line may start with "|" to continue)
///     stage      = command | expression
///     command    = NAME argument*              (see "Commands" below)
///     expression = or;  or = and ("or"|"||" and)*;  and = not ("and"|"&&" not)*
///     not        = ("not"|"!") not | comparison;   comparison = range (CMP range)*
///     range      = additive [".." additive]    (exclusive end: 0..3 is [0, 1, 2])
///     additive   = multiplicative (("+"|"-") multiplicative)*
///     multiplicative = unary (("*"|"/"|"%") unary)*;   unary = "-" unary | postfix
///     postfix    = primary ("[" subscripts "]" | "." NAME | "(" arguments ")")*
///     primary    = NUMBER | STRING | WORD | $NAME | true | false | null | "(" pipeline ")"
///                | "[" list "]" | "{" record "}" | "{" "|" names "|" statements "}"
///                | "{" statements "}" | if
///
/// Commands. A plain identifier at the start of a stage is a command call when
/// it names a command (builtin, or a `def` anywhere in the same source), or
/// when an argument follows it on the same line after a space; otherwise it
/// starts an expression. The arguments are expressions separated by spaces,
/// and `--name` flags. Postfix operators must touch what they apply to:
/// `xs[0]`, `r.total`, `f(x)`; `f (x)` and `f [0]` pass arguments instead.
///
/// Minus signs (gdb/nushell-like): inside a command's arguments, a `-` with a
/// space before it and none after it starts a new, negated argument, so
/// `sort x --pos -1` and `print a -1` pass -1, while `print a - 1` and
/// `print a-1` pass one difference. Everywhere else `-` between two operands
/// subtracts: `let d = a -1` is a - 1.
///
/// A plain identifier that is not a command but is followed by a value (`g 1`)
/// is also a call, e.g. of a function stored in a variable; `a -1` is not.
///
/// In the header of `if`, `while` and `for`, a `{` ends the expression (it
/// opens the body), as in Rust.
struct Parser {
  private var tokens: [Token]
  private var current = 0
  private let file: SourceFile
  private let isCommand: (String) -> Bool
  private var defined: Set<String>
  /// In an `if`/`while`/`for` header: `{` is not an argument.
  private var noBlock = false
  /// Parsing a command argument: `a -1` ends the argument before `-1`.
  private var argumentMode = false
  private var loopDepth = 0
  private var functionDepth = 0
  private var nesting = 0
  /// A command call already parsed that starts the expression being parsed (`count + 1`).
  private var pendingPrimary: Expr? = nil

  static let maxNesting = 100
  static let maxChain = 10_000

  init(
    tokens: [Token], file: SourceFile, isCommand: @escaping (String) -> Bool, defined: Set<String>
  ) {
    self.tokens = tokens
    self.file = file
    self.isCommand = isCommand
    self.defined = defined
  }

  /// Parses a whole source file.
  static func parse(_ file: SourceFile, isCommand: @escaping (String) -> Bool) throws -> Program {
    var scanner = Scanner(file: file)
    let tokens = scanner.scanAll()
    var defined = Set<String>()
    for i in tokens.indices.dropLast() where tokens[i].kind == .kwDef {
      if tokens[i + 1].isPlainIdentifier { defined.insert(tokens[i + 1].text) }
    }
    var parser = Parser(tokens: tokens, file: file, isCommand: isCommand, defined: defined)
    let statements = try parser.parseProgram()
    return Program(statements: statements, file: file, definedCommands: defined.sorted())
  }

  // MARK: - Token helpers

  private var peek: Token { tokens[current] }
  private func peekAt(_ offset: Int) -> Token { tokens[min(current + offset, tokens.count - 1)] }
  private func check(_ kind: TokenKind) -> Bool { tokens[current].kind == kind }

  @discardableResult
  private mutating func advance() -> Token {
    let t = tokens[current]
    if t.kind != .eof { current += 1 }
    return t
  }

  private mutating func match(_ kinds: TokenKind...) -> Bool {
    if kinds.contains(peek.kind) {
      advance()
      return true
    }
    return false
  }

  private func error(_ message: String, at token: Token) -> LangError {
    if token.kind == .error { return .syntax(token.text, token.location) }
    return .syntax(message, token.location)
  }

  private func expected(_ what: String) -> LangError {
    error("expected \(what), found \(peek.display)", at: peek)
  }

  private mutating func expect(_ kind: TokenKind, _ what: String) throws -> Token {
    if check(kind) { return advance() }
    throw expected(what)
  }

  private mutating func skipNewlines() {
    while check(.newline) { advance() }
  }

  private mutating func skipSeparators() {
    while check(.newline) || check(.semicolon) { advance() }
  }

  private mutating func enter() throws {
    nesting += 1
    if nesting > Parser.maxNesting { throw error("expression nested too deeply", at: peek) }
  }

  private mutating func leave() { nesting -= 1 }

  private func position(_ l: SourceLocation) -> String { "\(l.line):\(l.column)" }

  // MARK: - Statements

  mutating func parseProgram() throws -> [Stmt] {
    var statements: [Stmt] = []
    skipSeparators()
    while !check(.eof) {
      statements.append(try parseStatement())
      if check(.eof) { break }
      if !(check(.newline) || check(.semicolon)) { throw unexpectedAfterStatement() }
      skipSeparators()
    }
    return statements
  }

  private func unexpectedAfterStatement() -> LangError {
    switch peek.kind {
    case .rightParen, .rightBracket, .rightBrace:
      return error("unmatched \(peek.display)", at: peek)
    default:
      return error("expected end of statement, found \(peek.display)", at: peek)
    }
  }

  /// `{ statements }`
  private mutating func parseBlock() throws -> [Stmt] {
    let open = try expect(.leftBrace, "'{'")
    return try parseBlockBody(open: open)
  }

  /// Statements up to and including the `}` matching `open`.
  private mutating func parseBlockBody(open: Token) throws -> [Stmt] {
    try enter()
    defer { leave() }
    let saved = (noBlock, argumentMode)
    noBlock = false
    argumentMode = false
    defer { (noBlock, argumentMode) = saved }
    var statements: [Stmt] = []
    skipSeparators()
    while !check(.rightBrace) {
      if check(.eof) {
        throw error("expected '}' to close '{' at \(position(open.location))", at: peek)
      }
      statements.append(try parseStatement())
      if check(.rightBrace) { break }
      if !(check(.newline) || check(.semicolon)) {
        if check(.eof) {
          throw error("expected '}' to close '{' at \(position(open.location))", at: peek)
        }
        throw unexpectedAfterStatement()
      }
      skipSeparators()
    }
    advance()
    return statements
  }

  private mutating func parseStatement() throws -> Stmt {
    let t = peek
    switch t.kind {
    case .kwLet:
      advance()
      guard peek.isPlainIdentifier else { throw expected("a variable name after 'let'") }
      let name = advance().text
      _ = try expect(.equal, "'=' after 'let \(name)'")
      skipNewlines()
      return .letBinding(name, try parsePipeline(), t.location)
    case .kwDef:
      return .def(try parseDef())
    case .kwFor:
      advance()
      guard peek.isPlainIdentifier else { throw expected("a loop variable after 'for'") }
      let name = advance().text
      _ = try expect(.kwIn, "'in' after 'for \(name)'")
      let iterable = try parseHeader()
      loopDepth += 1
      defer { loopDepth -= 1 }
      return .forIn(name, iterable, try parseBlock(), t.location)
    case .kwWhile:
      advance()
      let condition = try parseHeader()
      loopDepth += 1
      defer { loopDepth -= 1 }
      return .whileLoop(condition, try parseBlock(), t.location)
    case .kwBreak, .kwContinue:
      if loopDepth == 0 { throw error("'\(t.text)' outside a loop", at: t) }
      advance()
      return t.kind == .kwBreak ? .breakLoop(t.location) : .continueLoop(t.location)
    case .kwReturn:
      if functionDepth == 0 { throw error("'return' outside a function", at: t) }
      advance()
      switch peek.kind {
      case .newline, .semicolon, .rightBrace, .eof: return .returnValue(nil, t.location)
      default: return .returnValue(try parsePipeline(), t.location)
      }
    case .word where assignmentAhead():
      return try parseAssignment()
    default:
      return .expression(try parsePipeline())
    }
  }

  /// The expression after `if`, `while`, `for x in`: a pipeline ended by `{`.
  private mutating func parseHeader() throws -> Expr {
    let saved = noBlock
    noBlock = true
    defer { noBlock = saved }
    if check(.leftBrace) {
      // Only a record literal can start a header: `for f in {a: 1} { ... }`.
      let key = peekAt(1)
      let isRecord =
        peekAt(2).kind == .colon
        && (key.kind == .word || key.kind == .string || key.kind == .number)
      if !isRecord { throw expected("an expression") }
    }
    return try parsePipeline()
  }

  private mutating func parseDef() throws -> FunctionDecl {
    let kw = advance()
    guard peek.isPlainIdentifier else { throw expected("a command name after 'def'") }
    let name = advance().text
    var parameters: [String] = []
    if match(.leftParen) {
      while !check(.rightParen) {
        guard peek.isPlainIdentifier else { throw expected("a parameter name") }
        let p = advance()
        if parameters.contains(p.text) { throw error("duplicate parameter '\(p.text)'", at: p) }
        parameters.append(p.text)
        if !match(.comma) { break }
      }
      _ = try expect(.rightParen, "')' after the parameters of '\(name)'")
    }
    let (savedLoop, savedFunction) = (loopDepth, functionDepth)
    loopDepth = 0
    functionDepth += 1
    defer { (loopDepth, functionDepth) = (savedLoop, savedFunction) }
    if !check(.leftBrace) { throw expected("'{' to start the body of '\(name)'") }
    let body = try parseBlock()
    return FunctionDecl(name: name, parameters: parameters, body: body, location: kw.location)
  }

  /// Whether the tokens from here read `target =` (or `+=` ...).
  private func assignmentAhead() -> Bool {
    guard peek.plainWord != nil else { return false }
    var i = current + 1
    while i < tokens.count, !tokens[i].spaceBefore {
      if tokens[i].kind == .leftBracket {
        var depth = 0
        while i < tokens.count {
          if tokens[i].kind == .leftBracket { depth += 1 }
          if tokens[i].kind == .rightBracket {
            depth -= 1
            if depth == 0 { break }
          }
          if tokens[i].kind == .eof { return false }
          i += 1
        }
        i += 1
      } else if tokens[i].kind == .dot, i + 1 < tokens.count, tokens[i + 1].kind == .word {
        i += 2
      } else {
        break
      }
    }
    guard i < tokens.count else { return false }
    switch tokens[i].kind {
    case .equal, .plusEqual, .minusEqual, .starEqual, .slashEqual: return true
    default: return false
    }
  }

  private mutating func parseAssignment() throws -> Stmt {
    let first = advance()
    let segments = first.text.split(separator: ".").map(String.init)
    var target = AssignTarget.variable(segments[0], first.location)
    for s in segments.dropFirst() { target = .member(target, s, first.location) }
    while !peek.spaceBefore {
      if check(.leftBracket) {
        let open = advance()
        let saved = (noBlock, argumentMode)
        (noBlock, argumentMode) = (false, false)
        let index = try parsePipeline()
        (noBlock, argumentMode) = saved
        _ = try expect(.rightBracket, "']' to close '[' at \(position(open.location))")
        target = .index(target, index, open.location)
      } else if check(.dot) {
        let dot = advance()
        let name = advance()
        for s in name.text.split(separator: ".") {
          target = .member(target, String(s), dot.location)
        }
      } else {
        break
      }
    }
    let op = peek
    let binary: BinaryOperator?
    switch op.kind {
    case .equal: binary = nil
    case .plusEqual: binary = .add
    case .minusEqual: binary = .subtract
    case .starEqual: binary = .multiply
    case .slashEqual: binary = .divide
    default: throw expected("'=' in the assignment")
    }
    advance()
    skipNewlines()
    return .assign(target, binary, try parsePipeline(), op.location)
  }

  // MARK: - Pipelines and commands

  private mutating func parsePipeline() throws -> Expr {
    try enter()
    defer { leave() }
    let start = peek.location
    var stages = [try parseStage()]
    while true {
      if check(.pipe) {
        advance()
        skipNewlines()
        stages.append(try parseStage())
      } else if check(.newline), peekAt(1).kind == .pipe {
        advance()
      } else {
        break
      }
    }
    return stages.count == 1 ? stages[0] : .pipeline(stages, start)
  }

  private mutating func parseStage() throws -> Expr {
    if peek.isPlainIdentifier && isCommandHead() {
      let command = try parseCommand()
      if case .command(let c) = command, c.arguments.isEmpty, isBinaryOperatorAhead() {
        pendingPrimary = command
        return try parseExpression()
      }
      return command
    }
    return try parseExpression()
  }

  private func isCommandHead() -> Bool {
    let next = peekAt(1)
    if !next.spaceBefore, [.leftParen, .leftBracket, .dot].contains(next.kind) { return false }
    let name = peek.text
    if isCommand(name) || defined.contains(name) { return true }
    // Not a known command: a following value still makes it a call (`g 1`
    // for a function in a variable), but not a `-` or `!` (`a -1` subtracts).
    if next.kind == .minus || next.kind == .bang { return false }
    return startsArgument(at: current + 1)
  }

  /// Whether the token at `i` begins a command argument.
  private func startsArgument(at i: Int) -> Bool {
    guard i < tokens.count else { return false }
    let t = tokens[i]
    guard t.spaceBefore else { return false }
    switch t.kind {
    case .number, .string, .word, .variable, .flag, .leftParen, .leftBracket, .kwTrue, .kwFalse,
      .kwNull:
      return true
    case .leftBrace:
      return !noBlock
    case .minus, .bang:
      return i + 1 < tokens.count && !tokens[i + 1].spaceBefore && tokens[i + 1].kind != .eof
        && tokens[i + 1].kind != .newline
    default:
      return false
    }
  }

  private func isBinaryOperatorAhead() -> Bool {
    switch peek.kind {
    case .plus, .minus, .star, .slash, .percent, .equalEqual, .bangEqual, .less, .lessEqual,
      .greater, .greaterEqual, .kwAnd, .kwOr, .ampAmp, .pipePipe, .dotDot:
      return true
    default:
      return false
    }
  }

  private mutating func parseCommand() throws -> Expr {
    let head = advance()
    var arguments: [Argument] = []
    let saved = argumentMode
    argumentMode = true
    defer { argumentMode = saved }
    while startsArgument(at: current) {
      if check(.flag) {
        let f = advance()
        arguments.append(.flag(f.text, f.location))
      } else {
        arguments.append(.positional(try parseExpression()))
      }
    }
    return .command(CommandExpr(name: head.text, arguments: arguments, location: head.location))
  }

  // MARK: - Expressions

  private mutating func parseExpression() throws -> Expr {
    try enter()
    defer { leave() }
    return try parseOr()
  }

  private mutating func parseOr() throws -> Expr {
    var left = try parseAnd()
    var n = 0
    while check(.kwOr) || check(.pipePipe) {
      let op = advance()
      skipNewlines()
      left = .or(left, try parseAnd(), op.location)
      n += 1
      if n > Parser.maxChain { throw error("expression too long", at: op) }
    }
    return left
  }

  private mutating func parseAnd() throws -> Expr {
    var left = try parseNot()
    var n = 0
    while check(.kwAnd) || check(.ampAmp) {
      let op = advance()
      skipNewlines()
      left = .and(left, try parseNot(), op.location)
      n += 1
      if n > Parser.maxChain { throw error("expression too long", at: op) }
    }
    return left
  }

  private mutating func parseNot() throws -> Expr {
    if pendingPrimary == nil, check(.kwNot) || check(.bang) {
      let op = advance()
      try enter()
      defer { leave() }
      return .not(try parseNot(), op.location)
    }
    return try parseComparison()
  }

  private mutating func parseComparison() throws -> Expr {
    var left = try parseRange()
    var n = 0
    while true {
      let op: BinaryOperator
      switch peek.kind {
      case .equalEqual: op = .equal
      case .bangEqual: op = .notEqual
      case .less: op = .less
      case .lessEqual: op = .lessEqual
      case .greater: op = .greater
      case .greaterEqual: op = .greaterEqual
      default: return left
      }
      let t = advance()
      skipNewlines()
      left = .binary(op, left, try parseRange(), t.location)
      n += 1
      if n > Parser.maxChain { throw error("expression too long", at: t) }
    }
  }

  private mutating func parseRange() throws -> Expr {
    let left = try parseAdditive()
    if check(.dotDot) {
      let op = advance()
      return .range(left, try parseAdditive(), op.location)
    }
    return left
  }

  private mutating func parseAdditive() throws -> Expr {
    var left = try parseMultiplicative()
    var n = 0
    while check(.plus) || check(.minus) {
      // `a -1` inside command arguments: -1 is the next argument.
      if argumentMode, check(.minus), peek.spaceBefore, !peekAt(1).spaceBefore { break }
      let t = advance()
      skipNewlines()
      let right = try parseMultiplicative()
      left = .binary(t.kind == .plus ? .add : .subtract, left, right, t.location)
      n += 1
      if n > Parser.maxChain { throw error("expression too long", at: t) }
    }
    return left
  }

  private mutating func parseMultiplicative() throws -> Expr {
    var left = try parseUnary()
    var n = 0
    while true {
      let op: BinaryOperator
      switch peek.kind {
      case .star: op = .multiply
      case .slash: op = .divide
      case .percent: op = .remainder
      default: return left
      }
      let t = advance()
      skipNewlines()
      left = .binary(op, left, try parseUnary(), t.location)
      n += 1
      if n > Parser.maxChain { throw error("expression too long", at: t) }
    }
  }

  private mutating func parseUnary() throws -> Expr {
    if pendingPrimary == nil, check(.minus) {
      let op = advance()
      try enter()
      defer { leave() }
      let operand = try parseUnary()
      if case .literal(.number(let n), _) = operand { return .literal(.number(-n), op.location) }
      return .negate(operand, op.location)
    }
    if pendingPrimary == nil, check(.bang) {
      let op = advance()
      try enter()
      defer { leave() }
      return .not(try parseUnary(), op.location)
    }
    return try parsePostfix()
  }

  private mutating func parsePostfix() throws -> Expr {
    var expr = try parsePrimary()
    var n = 0
    while !peek.spaceBefore {
      n += 1
      if n > Parser.maxChain { throw error("expression too long", at: peek) }
      switch peek.kind {
      case .leftBracket:
        let open = advance()
        expr = .index(expr, try parseSubscripts(open: open), open.location)
      case .dot:
        let dot = advance()
        let name = peek
        if name.kind == .word, let text = name.plainWord {
          advance()
          for s in text.split(separator: ".") { expr = .member(expr, String(s), dot.location) }
        } else if name.kind == .number, !name.spaceBefore, name.number.rounded() == name.number {
          advance()
          expr = .index(expr, [.index(.literal(.number(name.number), name.location))], dot.location)
        } else {
          throw error("expected a field name after '.', found \(name.display)", at: name)
        }
      case .leftParen:
        let open = advance()
        let saved = (noBlock, argumentMode)
        (noBlock, argumentMode) = (false, false)
        defer { (noBlock, argumentMode) = saved }
        var arguments: [Expr] = []
        while !check(.rightParen) {
          arguments.append(try parsePipeline())
          if !match(.comma) { break }
        }
        _ = try expect(.rightParen, "')' to close '(' at \(position(open.location))")
        expr = .call(expr, arguments, open.location)
      default:
        return expr
      }
    }
    return expr
  }

  private mutating func parseSubscripts(open: Token) throws -> [SubscriptExpr] {
    let saved = (noBlock, argumentMode)
    (noBlock, argumentMode) = (false, false)
    defer { (noBlock, argumentMode) = saved }
    var subscripts: [SubscriptExpr] = []
    func endOfPart(_ p: Parser) -> Bool {
      p.check(.colon) || p.check(.comma) || p.check(.rightBracket)
    }
    repeat {
      if check(.rightBracket) && subscripts.isEmpty { throw expected("a subscript") }
      let start: Expr? = check(.colon) ? nil : try parsePipeline()
      if match(.colon) {
        let end: Expr? = endOfPart(self) ? nil : try parsePipeline()
        var step: Expr? = nil
        if match(.colon) { step = endOfPart(self) ? nil : try parsePipeline() }
        if start == nil && end == nil && step == nil {
          subscripts.append(.all)
        } else {
          subscripts.append(.slice(start, end, step))
        }
      } else {
        subscripts.append(.index(start!))
      }
    } while match(.comma)
    _ = try expect(.rightBracket, "']' to close '[' at \(position(open.location))")
    return subscripts
  }

  private mutating func parsePrimary() throws -> Expr {
    if let p = pendingPrimary {
      pendingPrimary = nil
      return p
    }
    let t = peek
    switch t.kind {
    case .number:
      advance()
      return .literal(.number(t.number), t.location)
    case .string:
      advance()
      if t.parts.count == 1, case .text(let s) = t.parts[0] {
        return .literal(.string(s), t.location)
      }
      return .interpolated(try parseParts(t.parts), t.location)
    case .kwTrue, .kwFalse:
      advance()
      return .literal(.bool(t.kind == .kwTrue), t.location)
    case .kwNull:
      advance()
      return .literal(.null, t.location)
    case .word:
      advance()
      if let text = t.plainWord {
        return .word(text, segments: text.split(separator: ".").map(String.init), t.location)
      }
      return .interpolatedWord(try parseParts(t.parts), t.location)
    case .variable:
      advance()
      return .variable(t.text, t.location)
    case .leftParen:
      advance()
      let saved = (noBlock, argumentMode)
      (noBlock, argumentMode) = (false, false)
      defer { (noBlock, argumentMode) = saved }
      if check(.rightParen) { throw expected("an expression inside '()'") }
      let e = try parsePipeline()
      _ = try expect(.rightParen, "')' to close '(' at \(position(t.location))")
      return e
    case .leftBracket:
      advance()
      let saved = (noBlock, argumentMode)
      (noBlock, argumentMode) = (false, false)
      defer { (noBlock, argumentMode) = saved }
      var items: [Expr] = []
      while !check(.rightBracket) {
        items.append(try parsePipeline())
        if !match(.comma) { break }
      }
      _ = try expect(.rightBracket, "',' or ']' to close '[' at \(position(t.location))")
      return .list(items, t.location)
    case .leftBrace:
      return try parseBrace()
    case .kwIf:
      return .ifElse(try parseIf())
    default:
      throw expected("an expression")
    }
  }

  /// `{a: 1}` record, `{ |x| ... }` closure, or `{ ... }` closure without parameters.
  private mutating func parseBrace() throws -> Expr {
    let open = advance()
    var parameters: [String]? = nil
    if match(.pipePipe) {
      parameters = []
    } else if match(.pipe) {
      var names: [String] = []
      while !check(.pipe) {
        guard peek.isPlainIdentifier else { throw expected("a parameter name") }
        let p = advance()
        if names.contains(p.text) { throw error("duplicate parameter '\(p.text)'", at: p) }
        names.append(p.text)
        if !match(.comma) { break }
      }
      _ = try expect(.pipe, "'|' after the closure's parameters")
      parameters = names
    }
    if parameters == nil {
      let save = current
      skipNewlines()
      if check(.rightBrace) {
        advance()
        return .record([], open.location)
      }
      let keyLike =
        peek.kind == .word || peek.kind == .string || peek.kind == .number
        || keywords[peek.text] == peek.kind
      if keyLike, peekAt(1).kind == .colon {
        return try parseRecord(open: open)
      }
      current = save
    }
    let (savedLoop, savedFunction) = (loopDepth, functionDepth)
    loopDepth = 0
    functionDepth += 1
    defer { (loopDepth, functionDepth) = (savedLoop, savedFunction) }
    let body = try parseBlockBody(open: open)
    return .closure(
      FunctionDecl(name: nil, parameters: parameters ?? [], body: body, location: open.location))
  }

  private mutating func parseRecord(open: Token) throws -> Expr {
    try enter()
    defer { leave() }
    let saved = (noBlock, argumentMode)
    (noBlock, argumentMode) = (false, false)
    defer { (noBlock, argumentMode) = saved }
    var fields: [(key: String, value: Expr)] = []
    skipNewlines()
    while !check(.rightBrace) {
      let k = peek
      let key: String
      switch k.kind {
      case .word, .number: key = k.text
      case _ where keywords[k.text] == k.kind: key = k.text
      case .string:
        guard k.parts.count == 1, case .text(let s) = k.parts[0] else {
          throw error("a record key cannot be interpolated", at: k)
        }
        key = s
      default: throw expected("a field name")
      }
      advance()
      _ = try expect(.colon, "':' after the field name '\(key)'")
      skipNewlines()
      fields.append((key, try parsePipeline()))
      skipNewlines()
      if !match(.comma) { break }
      skipNewlines()
    }
    skipNewlines()
    _ = try expect(.rightBrace, "',' or '}' to close '{' at \(position(open.location))")
    return .record(fields, open.location)
  }

  private mutating func parseIf() throws -> IfExpr {
    let kw = advance()
    var branches: [(condition: Expr, body: [Stmt])] = []
    var elseBody: [Stmt]? = nil
    let condition = try parseHeader()
    branches.append((condition, try parseBlock()))
    while true {
      let save = current
      skipNewlines()
      if match(.kwElse) {
        if match(.kwIf) {
          let c = try parseHeader()
          branches.append((c, try parseBlock()))
          continue
        }
        elseBody = try parseBlock()
      } else {
        current = save
      }
      break
    }
    return IfExpr(branches: branches, elseBody: elseBody, location: kw.location)
  }

  /// String or word parts: `$name` becomes a variable, `$(...)` is parsed.
  private func parseParts(_ parts: [TextPart]) throws -> [InterpolationPart] {
    try parts.map { part in
      switch part {
      case .text(let s): return .text(s)
      case .variable(let name, let loc): return .expr(.variable(name, loc))
      case .code(let tokens, let loc):
        var sub = Parser(tokens: tokens, file: file, isCommand: isCommand, defined: defined)
        sub.nesting = nesting + 1
        if sub.check(.eof) { throw LangError.syntax("empty '$()'", loc) }
        sub.skipNewlines()
        let e = try sub.parsePipeline()
        sub.skipNewlines()
        if !sub.check(.eof) {
          throw sub.error("expected ')' to end '$(', found \(sub.peek.display)", at: sub.peek)
        }
        return .expr(e)
      }
    }
  }
}
