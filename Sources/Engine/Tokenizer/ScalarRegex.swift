/// A small backtracking regex engine over Unicode scalars, for the split
/// patterns of tokenizer.json files and llama.cpp's pre-tokenizers.
///
/// It follows Oniguruma (which Hugging Face's tokenizers use) where the two
/// differ from NSRegularExpression: `\s` is Unicode White_Space (so U+000B and
/// U+0085 are spaces), classes see scalars, never grapheme clusters, and
/// alternatives are leftmost-first. The subset: literals, `.`, classes
/// `[...]` with ranges and negation, `\p{..}`/`\P{..}` general categories,
/// `\s \S \d \D \w \W`, groups `(...)`, `(?:...)`, `(?i:...)`, lookahead
/// `(?=...)`/`(?!...)`, anchors `^ $`, quantifiers `? * + {n} {n,} {n,m}`
/// (greedy, or lazy with a trailing `?`).
struct ScalarRegex {
  private var program: [Instruction] = []
  private var sets: [ScalarSet] = []

  private enum Instruction {
    case scalar(Int)  // index into sets
    case split(Int, Int)  // try the first, then the second
    case jump(Int)
    case lookahead(negative: Bool, end: Int)  // sub-program follows, ending in .match
    case lineStart
    case lineEnd
    case match
  }

  struct SyntaxError: Error {
    var pattern: String
    var reason: String
  }

  init(_ pattern: String) throws {
    var parser = Parser(scalars: Array(pattern.unicodeScalars), pattern: pattern)
    let node = try parser.parseAlternation(caseless: false)
    guard parser.position == parser.scalars.count else { throw parser.error("unbalanced )") }
    compile(node)
    program.append(.match)
  }

  /// Non-overlapping leftmost matches in `text[range]`, as ranges; empty matches are skipped.
  func matches(in text: [Unicode.Scalar], _ range: Range<Int>) -> [Range<Int>] {
    var found: [Range<Int>] = []
    var stack: [(Int, Int)] = []
    var start = range.lowerBound
    while start < range.upperBound {
      if let end = run(0, start, text, range, &stack), end > start {
        found.append(start..<end)
        start = end
      } else {
        start += 1
      }
    }
    return found
  }

  /// The end of the first match of program[pc...] at `position`, trying
  /// alternatives in order.
  private func run(
    _ pc: Int, _ position: Int, _ text: [Unicode.Scalar], _ range: Range<Int>, _ stack: inout [(Int, Int)]
  ) -> Int? {
    let base = stack.count
    defer { stack.removeSubrange(base...) }
    stack.append((pc, position))
    while stack.count > base {
      var (pc, sp) = stack.removeLast()
      thread: while true {
        switch program[pc] {
        case .scalar(let set):
          guard sp < range.upperBound, sets[set].contains(text[sp]) else { break thread }
          pc += 1
          sp += 1
        case .split(let first, let second):
          stack.append((second, sp))
          pc = first
        case .jump(let target):
          pc = target
        case .lookahead(let negative, let end):
          let found = run(pc + 1, sp, text, range, &stack) != nil
          guard found != negative else { break thread }
          pc = end
        case .lineStart:
          guard sp == range.lowerBound || text[sp - 1] == "\n" else { break thread }
          pc += 1
        case .lineEnd:
          guard sp == range.upperBound || text[sp] == "\n" else { break thread }
          pc += 1
        case .match:
          return sp
        }
      }
    }
    return nil
  }

  // MARK: Compiling

  private mutating func compile(_ node: Node) {
    switch node {
    case .empty:
      break
    case .set(let set):
      sets.append(set)
      program.append(.scalar(sets.count - 1))
    case .lineStart:
      program.append(.lineStart)
    case .lineEnd:
      program.append(.lineEnd)
    case .sequence(let nodes):
      for node in nodes { compile(node) }
    case .alternation(let nodes):
      // split L1, next; L1: a; jump end; next: split L2, next2 ...
      var jumps: [Int] = []
      for (i, node) in nodes.enumerated() {
        if i == nodes.count - 1 {
          compile(node)
        } else {
          let split = program.count
          program.append(.split(split + 1, -1))
          compile(node)
          jumps.append(program.count)
          program.append(.jump(-1))
          program[split] = .split(split + 1, program.count)
        }
      }
      for jump in jumps { program[jump] = .jump(program.count) }
    case .lookahead(let node, let negative):
      let head = program.count
      program.append(.match)
      compile(node)
      program.append(.match)
      program[head] = .lookahead(negative: negative, end: program.count)
    case .repetition(let node, let minimum, let maximum, let greedy):
      for _ in 0..<minimum { compile(node) }
      if let maximum {
        // Each optional copy: split body, skip (nested so a failed copy ends them all).
        var splits: [Int] = []
        for _ in minimum..<maximum {
          splits.append(program.count)
          program.append(.match)
          compile(node)
        }
        for split in splits {
          program[split] = greedy ? .split(split + 1, program.count) : .split(program.count, split + 1)
        }
      } else {
        let loop = program.count
        program.append(.match)
        compile(node)
        program.append(.jump(loop))
        program[loop] = greedy ? .split(loop + 1, program.count) : .split(program.count, loop + 1)
      }
    }
  }

  // MARK: Parsing

  fileprivate indirect enum Node {
    case empty
    case set(ScalarSet)
    case lineStart
    case lineEnd
    case sequence([Node])
    case alternation([Node])
    case lookahead(Node, negative: Bool)
    case repetition(Node, minimum: Int, maximum: Int?, greedy: Bool)
  }

  private struct Parser {
    var scalars: [Unicode.Scalar]
    var pattern: String
    var position = 0

    func error(_ reason: String) -> SyntaxError {
      SyntaxError(pattern: pattern, reason: "\(reason) at scalar \(position)")
    }

    var atEnd: Bool { position >= scalars.count }
    func peek(_ offset: Int = 0) -> Unicode.Scalar? {
      position + offset < scalars.count ? scalars[position + offset] : nil
    }

    mutating func parseAlternation(caseless: Bool) throws -> Node {
      var branches = [try parseSequence(caseless: caseless)]
      while peek() == "|" {
        position += 1
        branches.append(try parseSequence(caseless: caseless))
      }
      return branches.count == 1 ? branches[0] : .alternation(branches)
    }

    mutating func parseSequence(caseless: Bool) throws -> Node {
      var items: [Node] = []
      while let c = peek(), c != "|", c != ")" {
        var atom = try parseAtom(caseless: caseless)
        atom = try parseQuantifiers(atom)
        items.append(atom)
      }
      return items.count == 1 ? items[0] : .sequence(items)
    }

    mutating func parseQuantifiers(_ atom: Node) throws -> Node {
      var atom = atom
      while let c = peek() {
        var minimum = 0
        var maximum: Int? = nil
        switch c {
        case "?": maximum = 1
        case "*": break
        case "+": minimum = 1
        case "{":
          guard let (low, high, length) = countedRepetition() else { return atom }
          minimum = low
          maximum = high
          position += length - 1
        default: return atom
        }
        position += 1
        var greedy = true
        if peek() == "?" {
          greedy = false
          position += 1
        } else if peek() == "+" {
          position += 1  // possessive: treated as greedy
        }
        atom = .repetition(atom, minimum: minimum, maximum: maximum, greedy: greedy)
      }
      return atom
    }

    /// `{n}`, `{n,}` or `{n,m}` at the position: bounds and length, or nil for a literal brace.
    func countedRepetition() -> (Int, Int?, Int)? {
      var i = position + 1
      func number() -> Int? {
        var value: Int? = nil
        while i < scalars.count, let digit = Int(String(scalars[i])), scalars[i].isASCII {
          value = (value ?? 0) * 10 + digit
          i += 1
        }
        return value
      }
      guard let low = number() else { return nil }
      var high: Int? = low
      if i < scalars.count, scalars[i] == "," {
        i += 1
        high = number()
      }
      guard i < scalars.count, scalars[i] == "}" else { return nil }
      return (low, high, i + 1 - position)
    }

    mutating func parseAtom(caseless: Bool) throws -> Node {
      let c = scalars[position]
      position += 1
      switch c {
      case "(":
        var caseless = caseless
        var lookahead: Bool? = nil
        if peek() == "?" {
          position += 1
          switch peek() {
          case ":": position += 1
          case "=": lookahead = false; position += 1
          case "!": lookahead = true; position += 1
          case "i":
            guard peek(1) == ":" else { throw error("only the (?i:...) flag group is supported") }
            caseless = true
            position += 2
          default: throw error("unsupported group (?\(peek().map { String($0) } ?? "")")
          }
        }
        let inner = try parseAlternation(caseless: caseless)
        guard peek() == ")" else { throw error("missing )") }
        position += 1
        if let negative = lookahead { return .lookahead(inner, negative: negative) }
        return inner
      case "[":
        return .set(try parseClass(caseless: caseless))
      case ".":
        return .set(ScalarSet(items: [.range(0x0A, 0x0A)], negated: true))
      case "^":
        return .lineStart
      case "$":
        return .lineEnd
      case "\\":
        let item = try parseEscape()
        if case .range(let low, let high) = item, low == high {
          return .set(literal(Unicode.Scalar(low)!, caseless: caseless))
        }
        return .set(ScalarSet(items: [item], negated: false))
      case "*", "+", "?":
        throw error("nothing to repeat")
      default:
        return .set(literal(c, caseless: caseless))
      }
    }

    func literal(_ c: Unicode.Scalar, caseless: Bool) -> ScalarSet {
      var items: [ScalarSet.Item] = [.range(c.value, c.value)]
      if caseless {
        for variant in [c.properties.lowercaseMapping, c.properties.uppercaseMapping] {
          let variantScalars = Array(variant.unicodeScalars)
          if variantScalars.count == 1 { items.append(.range(variantScalars[0].value, variantScalars[0].value)) }
        }
      }
      return ScalarSet(items: items, negated: false)
    }

    mutating func parseClass(caseless: Bool) throws -> ScalarSet {
      var negated = false
      if peek() == "^" {
        negated = true
        position += 1
      }
      var items: [ScalarSet.Item] = []
      var first = true
      while true {
        guard let c = peek() else { throw error("missing ]") }
        if c == "]", !first {
          position += 1
          break
        }
        first = false
        position += 1
        var low: UInt32
        if c == "\\" {
          let item = try parseEscape()
          guard case .range(let value, let high) = item, value == high else {
            items.append(item)
            continue
          }
          low = value
        } else if c == "[" {
          items.append(.set(try parseClass(caseless: caseless)))
          continue
        } else {
          low = c.value
        }
        var high = low
        if peek() == "-", let next = peek(1), next != "]" {
          position += 2
          if next == "\\" {
            guard case .range(let value, _) = try parseEscape() else { throw error("bad range end") }
            high = value
          } else {
            high = next.value
          }
          guard high >= low else { throw error("range out of order") }
        }
        items.append(.range(low, high))
        if caseless {
          // Case variants of ASCII letters are enough for the patterns in use.
          let l = max(low, 0x41)
          let h = min(high, 0x5A)
          if l <= h { items.append(.range(l + 32, h + 32)) }
          let ll = max(low, 0x61)
          let lh = min(high, 0x7A)
          if ll <= lh { items.append(.range(ll - 32, lh - 32)) }
        }
      }
      return ScalarSet(items: items, negated: negated)
    }

    /// The escape after a backslash.
    mutating func parseEscape() throws -> ScalarSet.Item {
      guard let c = peek() else { throw error("trailing backslash") }
      position += 1
      switch c {
      case "n": return .range(0x0A, 0x0A)
      case "r": return .range(0x0D, 0x0D)
      case "t": return .range(0x09, 0x09)
      case "f": return .range(0x0C, 0x0C)
      case "v": return .range(0x0B, 0x0B)
      case "a": return .range(0x07, 0x07)
      case "e": return .range(0x1B, 0x1B)
      case "0": return .range(0, 0)
      case "s": return .property(.whitespace, negated: false)
      case "S": return .property(.whitespace, negated: true)
      case "d": return .property(.categories(ScalarSet.categories("Nd")), negated: false)
      case "D": return .property(.categories(ScalarSet.categories("Nd")), negated: true)
      case "w": return .property(.word, negated: false)
      case "W": return .property(.word, negated: true)
      case "x", "u":
        var digits = ""
        if peek() == "{" {
          position += 1
          while let d = peek(), d != "}" {
            digits.unicodeScalars.append(d)
            position += 1
          }
          position += 1
        } else {
          for _ in 0..<(c == "x" ? 2 : 4) {
            guard let d = peek() else { break }
            digits.unicodeScalars.append(d)
            position += 1
          }
        }
        guard let value = UInt32(digits, radix: 16) else { throw error("bad \\\(c) escape") }
        return .range(value, value)
      case "p", "P":
        var name = ""
        if peek() == "{" {
          position += 1
          while let d = peek(), d != "}" {
            name.unicodeScalars.append(d)
            position += 1
          }
          position += 1
        } else if let d = peek() {
          name = String(d)
          position += 1
        }
        var negated = c == "P"
        if name.hasPrefix("^") {
          negated.toggle()
          name.removeFirst()
        }
        let categories = ScalarSet.categories(name)
        guard !categories.isEmpty else { throw error("unknown property \\p{\(name)}") }
        return .property(.categories(categories), negated: negated)
      default:
        if c.properties.isAlphabetic || c.properties.numericType != nil {
          throw error("unsupported escape \\\(c)")
        }
        return .range(c.value, c.value)
      }
    }
  }
}

/// A set of scalars: ranges, general categories and classes, possibly negated.
struct ScalarSet {
  indirect enum Item {
    case range(UInt32, UInt32)
    case property(Property, negated: Bool)
    case set(ScalarSet)
  }

  enum Property {
    case categories(Set<Unicode.GeneralCategory>)
    case whitespace  // White_Space, as Oniguruma's \s
    case word  // letters, marks, decimal digits, connector punctuation
  }

  var items: [Item]
  var negated: Bool
  /// Membership of each ASCII scalar, precomputed.
  private var ascii: (UInt64, UInt64) = (0, 0)

  init(items: [Item], negated: Bool) {
    self.items = items
    self.negated = negated
    for value in 0..<128 where slowContains(Unicode.Scalar(UInt8(value))) {
      if value < 64 { ascii.0 |= 1 << UInt64(value) } else { ascii.1 |= 1 << UInt64(value - 64) }
    }
  }

  func contains(_ scalar: Unicode.Scalar) -> Bool {
    let value = scalar.value
    if value < 64 { return ascii.0 & (1 << UInt64(value)) != 0 }
    if value < 128 { return ascii.1 & (1 << UInt64(value - 64)) != 0 }
    return slowContains(scalar)
  }

  private func slowContains(_ scalar: Unicode.Scalar) -> Bool {
    var found = false
    for item in items where Self.matches(item, scalar) {
      found = true
      break
    }
    return found != negated
  }

  private static func matches(_ item: Item, _ scalar: Unicode.Scalar) -> Bool {
    switch item {
    case .range(let low, let high):
      return scalar.value >= low && scalar.value <= high
    case .set(let set):
      return set.contains(scalar)
    case .property(let property, let negated):
      let has: Bool
      switch property {
      case .categories(let categories): has = categories.contains(scalar.properties.generalCategory)
      case .whitespace: has = scalar.properties.isWhitespace
      case .word: has = isWord(scalar)
      }
      return has != negated
    }
  }

  static func isWord(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.properties.generalCategory {
    case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
      .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation:
      return true
    default:
      return false
    }
  }

  /// The general categories of a property name (`L`, `Lu`, `N`, `P`, `Letter` ...), empty if unknown.
  static func categories(_ name: String) -> Set<Unicode.GeneralCategory> {
    let all: [(String, Unicode.GeneralCategory)] = [
      ("Lu", .uppercaseLetter), ("Ll", .lowercaseLetter), ("Lt", .titlecaseLetter), ("Lm", .modifierLetter),
      ("Lo", .otherLetter), ("Mn", .nonspacingMark), ("Mc", .spacingMark), ("Me", .enclosingMark),
      ("Nd", .decimalNumber), ("Nl", .letterNumber), ("No", .otherNumber), ("Pc", .connectorPunctuation),
      ("Pd", .dashPunctuation), ("Ps", .openPunctuation), ("Pe", .closePunctuation),
      ("Pi", .initialPunctuation), ("Pf", .finalPunctuation), ("Po", .otherPunctuation),
      ("Sm", .mathSymbol), ("Sc", .currencySymbol), ("Sk", .modifierSymbol), ("So", .otherSymbol),
      ("Zs", .spaceSeparator), ("Zl", .lineSeparator), ("Zp", .paragraphSeparator), ("Cc", .control),
      ("Cf", .format), ("Cs", .surrogate), ("Co", .privateUse), ("Cn", .unassigned),
    ]
    let long = [
      "Letter": "L", "Mark": "M", "Number": "N", "Punctuation": "P", "Symbol": "S", "Separator": "Z",
      "Other": "C",
    ]
    let key = long[name] ?? name
    return Set(all.filter { $0.0 == key || ($0.0.hasPrefix(key) && key.count == 1) }.map { $0.1 })
  }
}
