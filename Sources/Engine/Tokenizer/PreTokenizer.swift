/// GPT-2's pre-tokenisation, by hand over Unicode scalars.
///
/// It matches Hugging Face's ByteLevel pre-tokenizer (add_prefix_space=false),
/// whose regex is
/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
/// NSRegularExpression is slow and its \s is not Unicode White_Space, so the
/// alternatives are followed one by one instead; at each position the first
/// alternative that matches wins and every `+` is greedy.
enum PreTokenizer {
  /// The character classes the regex distinguishes.
  enum Kind: Equatable {
    case letter  // \p{L}
    case number  // \p{N}
    case space  // \s: Unicode White_Space
    case other  // everything else, including marks and controls
  }

  static func kind(_ scalar: Unicode.Scalar) -> Kind {
    let value = scalar.value
    if value < 0x80 {
      switch value {
      case 0x41...0x5A, 0x61...0x7A: return .letter
      case 0x30...0x39: return .number
      case 0x09...0x0D, 0x20: return .space
      default: return .other
      }
    }
    let properties = scalar.properties
    if properties.isWhitespace { return .space }
    switch properties.generalCategory {
    case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
      return .letter
    case .decimalNumber, .letterNumber, .otherNumber:
      return .number
    default:
      return .other
    }
  }

  /// The pieces of `scalars[range]` as index ranges into `scalars`, in order, covering it.
  static func split(_ scalars: [Unicode.Scalar], _ range: Range<Int>) -> [Range<Int>] {
    var pieces: [Range<Int>] = []
    let end = range.upperBound
    var i = range.lowerBound
    while i < end {
      let length =
        contractionLength(scalars, at: i, end: end)
        ?? runLength(scalars, at: i, end: end)
      pieces.append(i..<(i + length))
      i += length
    }
    return pieces
  }

  /// `'s|'t|'re|'ve|'m|'ll|'d`: lowercase only, like the regex (no case-insensitive flag).
  private static func contractionLength(_ s: [Unicode.Scalar], at i: Int, end: Int) -> Int? {
    guard s[i] == "'", i + 1 < end else { return nil }
    switch s[i + 1] {
    case "s", "t", "m", "d": return 2
    case "r", "v": return i + 2 < end && s[i + 2] == "e" ? 3 : nil
    case "l": return i + 2 < end && s[i + 2] == "l" ? 3 : nil
    default: return nil
    }
  }

  /// The remaining alternatives: a letter, number or other run with an optional
  /// leading U+0020, else a whitespace run.
  private static func runLength(_ s: [Unicode.Scalar], at i: Int, end: Int) -> Int {
    var runStart = i
    var runKind = kind(s[i])
    // ` ?X+`: only a plain space may lead, and only if a non-space run follows.
    if s[i] == " ", i + 1 < end {
      let next = kind(s[i + 1])
      if next != .space {
        runStart = i + 1
        runKind = next
      }
    }
    var j = runStart + 1
    while j < end, kind(s[j]) == runKind { j += 1 }
    if runKind != .space || j == end { return j - i }
    // `\s+(?!\S)` backtracks one step so the last whitespace character is
    // left to lead the following word; a single one falls through to `\s+`.
    return j - i >= 2 ? j - i - 1 : 1
  }
}
