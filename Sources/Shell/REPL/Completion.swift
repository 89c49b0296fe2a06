import Lang

/// Tab completion for the REPL: what the word before the cursor could become.
///
/// At the head of a stage (start of the line, after `|`, `(`, `;`, `{`, `=`)
/// it offers commands, keywords and variables; after a command, that
/// command's flags for a word starting with `-`, else variables, `true`,
/// `false`, `null`, and the loaded model's components and hook points; after
/// `$`, variables; after `r.`, the fields or members of variable `r`. Dotted
/// names complete one segment at a time, the way file names complete one
/// directory at a time: `blocks.` offers `blocks.0.` to `blocks.5.`.
struct Completer {
  let interpreter: Interpreter
  /// Components and hook points of the model; with `load`, the model is
  /// loaded first if it is not yet (the word being completed names one).
  let modelWords: (_ load: Bool) -> [String]

  static let keywords = ["let", "def", "for", "if", "while", "return", "break", "continue"]

  /// The completions of `request.word`, sorted.
  func complete(_ request: CompletionRequest) -> [String] {
    let word = request.word
    var candidates: [String]
    switch Completer.position(before: request.before) {
    case .inText:
      return []
    case _ where memberBase(of: word) != nil:
      let (base, value) = memberBase(of: word)!
      candidates = Completer.memberNames(of: value).map { base + "." + $0 }
    case _ where word.hasPrefix("$"):
      candidates = (interpreter.variableNames + ["_", "env"]).map { "$" + $0 }
    case .head:
      candidates =
        interpreter.registry.names + Completer.keywords + interpreter.variableNames
        + modelWords(Completer.namesModelPart(word))
    case .argument(let command):
      if word.hasPrefix("-") {
        candidates = interpreter.registry.lookup(command ?? "")?.spec.flags.map { "--" + $0.name } ?? []
      } else {
        candidates =
          interpreter.variableNames + ["true", "false", "null"]
          + modelWords(Completer.namesModelPart(word))
        if command == "help" { candidates += interpreter.registry.names }
      }
    }
    var seen = Set<String>()
    var out: [String] = []
    for c in candidates where c.hasPrefix(word) {
      let s = Completer.nextSegment(of: c, after: word)
      if seen.insert(s).inserted { out.append(s) }
    }
    return out.sorted()
  }

  /// For `r.to` or `$r.to` where `r` is a variable: `r` (as written) and its value.
  func memberBase(of word: String) -> (String, Value)? {
    guard let dot = word.firstIndex(of: "."), !word[word.index(after: dot)...].contains(".")
    else { return nil }
    let base = String(word[..<dot])
    let name = base.hasPrefix("$") ? String(base.dropFirst()) : base
    guard let value = interpreter.variable(name) else { return nil }
    return (base, value)
  }

  /// Fields of a record, members of a host value (a run's `logits` ...).
  static func memberNames(of value: Value) -> [String] {
    switch value {
    case .record(let r): return r.keys
    case .host(let h): return h.memberNames
    default: return []
    }
  }

  /// Whether a word is worth loading the model for: the start of a hook
  /// point (`blocks.`, `hook_`, `ln_final`) or of a component (`L1`).
  static func namesModelPart(_ word: String) -> Bool {
    if word.hasPrefix("blocks.") || word.hasPrefix("hook_") || word.hasPrefix("ln_final") {
      return true
    }
    let scalars = Array(word.unicodeScalars)
    return scalars.count >= 2 && scalars[0] == "L" && ("0"..."9").contains(scalars[1])
  }

  /// `candidate` cut after the first `.` past `word`, so that dotted names
  /// complete a segment at a time.
  static func nextSegment(of candidate: String, after word: String) -> String {
    let rest = candidate.dropFirst(word.count)
    guard let dot = rest.firstIndex(of: ".") else { return candidate }
    return String(candidate[...dot])
  }

  /// Where a word starting after `before` stands.
  enum Position: Equatable {
    /// Inside a string or a comment, or naming a new loop variable: nothing to offer.
    case inText
    /// Where a command or an expression starts.
    case head
    /// After a command's name (nil inside a list, where no command is).
    case argument(command: String?)
  }

  /// Reads the line up to the word: skips strings, finds where the current
  /// stage starts, and takes its first word as the command.
  static func position(before: String) -> Position {
    let chars = Array(before)
    var quote: Character? = nil
    var escaped = false
    var stageStart = 0
    var inList = false
    for (i, c) in chars.enumerated() {
      if let q = quote {
        if escaped {
          escaped = false
        } else if c == "\\" {
          escaped = true
        } else if c == q {
          quote = nil
        }
        continue
      }
      switch c {
      case "\"", "'":
        quote = c
      case "#":
        return .inText
      case "|", "(", ";", "{":
        stageStart = i + 1
        inList = false
      case "[", ",":
        stageStart = i + 1
        inList = true
      case "=":
        // `let x = `, `x += `, but not `==`, `!=`, `<=`, `>=`.
        let previous = i > 0 ? chars[i - 1] : " "
        let next = i + 1 < chars.count ? chars[i + 1] : " "
        if next != "=" && !"=!<>".contains(previous) {
          stageStart = i + 1
          inList = false
        }
      default:
        break
      }
    }
    if quote != nil { return .inText }
    var words = String(chars[stageStart...]).split(whereSeparator: \.isWhitespace).map(String.init)
    // Keywords that introduce an expression leave the head position open.
    while let first = words.first, ["if", "while", "not", "return", "else"].contains(first) {
      words.removeFirst()
    }
    if words.first == "for" {
      guard words.count >= 3 else { return .inText }  // naming the loop variable
      words.removeFirst(3)
    }
    if words.isEmpty { return inList ? .argument(command: nil) : .head }
    return .argument(command: inList ? nil : words[0])
  }
}
