import Foundation

// The stages of a Hugging Face tokenizer.json pipeline, each as a value that
// works on Unicode scalars: normalizer -> pre-tokenizer -> model -> post-processor,
// and the decoder back. Names and semantics follow the `tokenizers` library.

/// A piece of text between pipeline stages.
struct TextPiece {
  var scalars: [Unicode.Scalar]
  /// Whether the piece starts at the beginning of the input (Metaspace's "first").
  var atStart: Bool
}

/// What a Split finds: a literal string or a regex.
enum SplitPattern {
  case literal([Unicode.Scalar])
  case regex(ScalarRegex)

  func matches(in text: [Unicode.Scalar]) -> [Range<Int>] {
    switch self {
    case .regex(let regex):
      return regex.matches(in: text, 0..<text.count)
    case .literal(let needle):
      guard !needle.isEmpty else { return [] }
      var found: [Range<Int>] = []
      var i = 0
      while i + needle.count <= text.count {
        if text[i] == needle[0], text[i..<(i + needle.count)].elementsEqual(needle) {
          found.append(i..<(i + needle.count))
          i += needle.count
        } else {
          i += 1
        }
      }
      return found
    }
  }

  /// Every match replaced by `content`.
  func replacing(in text: [Unicode.Scalar], with content: [Unicode.Scalar]) -> [Unicode.Scalar] {
    let found = matches(in: text)
    guard !found.isEmpty else { return text }
    var out: [Unicode.Scalar] = []
    var last = 0
    for range in found {
      out.append(contentsOf: text[last..<range.lowerBound])
      out.append(contentsOf: content)
      last = range.upperBound
    }
    out.append(contentsOf: text[last...])
    return out
  }
}

/// How a Split keeps the text it matched.
enum SplitBehavior: String {
  case removed = "Removed"
  case isolated = "Isolated"
  case mergedWithPrevious = "MergedWithPrevious"
  case mergedWithNext = "MergedWithNext"
  case contiguous = "Contiguous"

  /// The pieces of `piece` given its matches, as HF's NormalizedString.split makes them.
  func split(_ piece: TextPiece, matches: [Range<Int>], invert: Bool = false) -> [TextPiece] {
    let text = piece.scalars
    // (range, isMatch) covering the text.
    var marked: [(Range<Int>, Bool)] = []
    var last = 0
    for range in matches {
      if last < range.lowerBound { marked.append((last..<range.lowerBound, invert)) }
      marked.append((range, !invert))
      last = range.upperBound
    }
    if last < text.count { marked.append((last..<text.count, invert)) }

    var kept: [Range<Int>] = []
    switch self {
    case .isolated:
      kept = marked.map(\.0)
    case .removed:
      kept = marked.filter { !$0.1 }.map(\.0)
    case .contiguous:
      var previous = false
      for (range, isMatch) in marked {
        if isMatch == previous, let end = kept.indices.last {
          kept[end] = kept[end].lowerBound..<range.upperBound
        } else {
          kept.append(range)
        }
        previous = isMatch
      }
    case .mergedWithPrevious:
      var previous = false
      for (range, isMatch) in marked {
        if isMatch, !previous, let end = kept.indices.last {
          kept[end] = kept[end].lowerBound..<range.upperBound
        } else {
          kept.append(range)
        }
        previous = isMatch
      }
    case .mergedWithNext:
      var previous = false
      for (range, isMatch) in marked.reversed() {
        if isMatch, !previous, let end = kept.indices.last {
          kept[end] = range.lowerBound..<kept[end].upperBound
        } else {
          kept.append(range)
        }
        previous = isMatch
      }
      kept.reverse()
    }
    return kept.filter { !$0.isEmpty }.map {
      TextPiece(scalars: Array(text[$0]), atStart: piece.atStart && $0.lowerBound == 0)
    }
  }
}

/// Matches every scalar a predicate accepts, one match per scalar.
private func scalarMatches(_ text: [Unicode.Scalar], _ accept: (Unicode.Scalar) -> Bool) -> [Range<Int>] {
  text.indices.filter { accept(text[$0]) }.map { $0..<($0 + 1) }
}

// MARK: Normalizers

indirect enum Normalizer {
  case nfc, nfd, nfkc, nfkd
  case lowercase
  case prepend([Unicode.Scalar])
  case replace(SplitPattern, [Unicode.Scalar])
  case strip(left: Bool, right: Bool)
  case sequence([Normalizer])

  func apply(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
    switch self {
    case .nfc: return Self.mapped(text) { $0.precomposedStringWithCanonicalMapping }
    case .nfd: return Self.mapped(text) { $0.decomposedStringWithCanonicalMapping }
    case .nfkc: return Self.mapped(text) { $0.precomposedStringWithCompatibilityMapping }
    case .nfkd: return Self.mapped(text) { $0.decomposedStringWithCompatibilityMapping }
    case .lowercase:
      // Per scalar, as Rust's char::to_lowercase (no final-sigma context).
      var out: [Unicode.Scalar] = []
      for scalar in text { out.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars) }
      return out
    case .prepend(let prefix):
      return text.isEmpty ? text : prefix + text
    case .replace(let pattern, let content):
      return pattern.replacing(in: text, with: content)
    case .strip(let left, let right):
      var lower = 0
      var upper = text.count
      if left { while lower < upper, text[lower].properties.isWhitespace { lower += 1 } }
      if right { while upper > lower, text[upper - 1].properties.isWhitespace { upper -= 1 } }
      return Array(text[lower..<upper])
    case .sequence(let steps):
      return steps.reduce(text) { $1.apply($0) }
    }
  }

  private static func mapped(_ text: [Unicode.Scalar], _ transform: (String) -> String) -> [Unicode.Scalar] {
    var string = ""
    string.unicodeScalars.append(contentsOf: text)
    return Array(transform(string).unicodeScalars)
  }
}

// MARK: Pre-tokenizers

enum PrependScheme: String {
  case always, first, never
}

indirect enum PreTokenizerStep {
  case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
  case split(SplitPattern, SplitBehavior, invert: Bool)
  case digits(individual: Bool)
  case metaspace(replacement: Unicode.Scalar, prependScheme: PrependScheme, split: Bool)
  case punctuation(SplitBehavior)
  case whitespace
  case whitespaceSplit
  case sequence([PreTokenizerStep])

  /// `\w+|[^\w\s]+`, the words and punctuation runs Whitespace keeps.
  private static let wordsOrPunctuation = try! ScalarRegex(#"\w+|[^\w\s]+"#)

  func apply(_ pieces: [TextPiece]) -> [TextPiece] {
    switch self {
    case .sequence(let steps):
      return steps.reduce(pieces) { $1.apply($0) }
    default:
      return pieces.flatMap { apply(piece: $0) }
    }
  }

  private func apply(piece: TextPiece) -> [TextPiece] {
    switch self {
    case .byteLevel(let addPrefixSpace, let useRegex):
      var piece = piece
      if addPrefixSpace, piece.scalars.first != " " { piece.scalars.insert(" ", at: 0) }
      let ranges = useRegex ? PreTokenizer.split(piece.scalars, 0..<piece.scalars.count) : [0..<piece.scalars.count]
      return ranges.map { range in
        var bytes: [UInt8] = []
        for scalar in piece.scalars[range] { bytes.append(contentsOf: UTF8.encode(scalar)!) }
        return TextPiece(
          scalars: bytes.map { Unicode.Scalar(ByteEncoder.scalarOfByte[Int($0)])! },
          atStart: piece.atStart && range.lowerBound == 0)
      }
    case .split(let pattern, let behavior, let invert):
      return behavior.split(piece, matches: pattern.matches(in: piece.scalars), invert: invert)
    case .digits(let individual):
      let matches = scalarMatches(piece.scalars, Self.isNumeric)
      return (individual ? SplitBehavior.isolated : .contiguous).split(piece, matches: matches)
    case .metaspace(let replacement, let scheme, let split):
      var piece = piece
      piece.scalars = piece.scalars.map { $0 == " " ? replacement : $0 }
      let prepend =
        switch scheme {
        case .always: true
        case .first: piece.atStart
        case .never: false
        }
      if prepend, piece.scalars.first != replacement { piece.scalars.insert(replacement, at: 0) }
      guard split else { return [piece] }
      return SplitBehavior.mergedWithNext.split(piece, matches: scalarMatches(piece.scalars) { $0 == replacement })
    case .punctuation(let behavior):
      let matches = scalarMatches(piece.scalars) { scalar in
        // Rust's is_ascii_punctuation (ASCII graphic, not alphanumeric) or Unicode P*.
        let v = scalar.value
        let asciiPunctuation =
          (0x21...0x2F).contains(v) || (0x3A...0x40).contains(v) || (0x5B...0x60).contains(v)
          || (0x7B...0x7E).contains(v)
        return asciiPunctuation || Self.isPunctuation(scalar)
      }
      return behavior.split(piece, matches: matches)
    case .whitespace:
      return SplitBehavior.removed.split(
        piece, matches: Self.wordsOrPunctuation.matches(in: piece.scalars, 0..<piece.scalars.count), invert: true)
    case .whitespaceSplit:
      return SplitBehavior.removed.split(piece, matches: scalarMatches(piece.scalars) { $0.properties.isWhitespace })
    case .sequence:
      return apply([piece])
    }
  }

  /// Rust's char::is_numeric: general categories Nd, Nl, No.
  static func isNumeric(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.properties.generalCategory {
    case .decimalNumber, .letterNumber, .otherNumber: return true
    default: return false
    }
  }

  static func isPunctuation(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.properties.generalCategory {
    case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
      .finalPunctuation, .otherPunctuation:
      return true
    default:
      return false
    }
  }
}

// MARK: Post-processors

indirect enum PostProcessor {
  /// The single-sequence template: ids before and after the text's ids.
  case template(before: [Int], after: [Int])
  case byteLevel
  case sequence([PostProcessor])

  func apply(_ ids: [Int]) -> [Int] {
    switch self {
    case .template(let before, let after): return before + ids + after
    case .byteLevel: return ids
    case .sequence(let steps): return steps.reduce(ids) { $1.apply($0) }
    }
  }

  /// The first id the processor puts before the text, if any.
  var leadingID: Int? {
    switch self {
    case .template(let before, _): return before.first
    case .byteLevel: return nil
    case .sequence(let steps): return steps.lazy.compactMap(\.leadingID).first
    }
  }
}

// MARK: Decoders

indirect enum DecoderStep {
  case byteLevel
  case metaspace(replacement: Unicode.Scalar, prependScheme: PrependScheme)
  case byteFallback
  case fuse
  case strip(content: Unicode.Scalar, start: Int, stop: Int)
  case replace(SplitPattern, [Unicode.Scalar])
  case sequence([DecoderStep])

  /// HF's decode_chain: token strings in, strings out (joined by the caller).
  func apply(_ tokens: [String]) -> [String] {
    switch self {
    case .byteLevel:
      var bytes: [UInt8] = []
      for token in tokens {
        var token = token
        token.withUTF8 { ByteEncoder.appendRawBytes(ofMapped: $0, to: &bytes) }
      }
      return [String(decoding: bytes, as: UTF8.self)]
    case .metaspace(let replacement, let scheme):
      return tokens.enumerated().map { i, token in
        var out = ""
        for scalar in token.unicodeScalars {
          if scalar == replacement {
            if i == 0 && scheme != .never { continue }
            out.unicodeScalars.append(" ")
          } else {
            out.unicodeScalars.append(scalar)
          }
        }
        return out
      }
    case .byteFallback:
      var out: [String] = []
      var pending: [UInt8] = []
      func flush() {
        guard !pending.isEmpty else { return }
        if let text = String(validating: pending, as: UTF8.self) {
          out.append(text)
        } else {
          out.append(String(repeating: "\u{FFFD}", count: pending.count))
        }
        pending.removeAll()
      }
      for token in tokens {
        if let byte = Self.fallbackByte(token) {
          pending.append(byte)
        } else {
          flush()
          out.append(token)
        }
      }
      flush()
      return out
    case .fuse:
      return [tokens.joined()]
    case .strip(let content, let start, let stop):
      return tokens.map { token in
        let scalars = Array(token.unicodeScalars)
        var lower = 0
        while lower < min(start, scalars.count), scalars[lower] == content { lower += 1 }
        var upper = scalars.count
        while scalars.count - upper < stop, upper > lower, scalars[upper - 1] == content { upper -= 1 }
        var out = ""
        out.unicodeScalars.append(contentsOf: scalars[lower..<upper])
        return out
      }
    case .replace(let pattern, let content):
      return tokens.map { token in
        var out = ""
        out.unicodeScalars.append(contentsOf: pattern.replacing(in: Array(token.unicodeScalars), with: content))
        return out
      }
    case .sequence(let steps):
      return steps.reduce(tokens) { $1.apply($0) }
    }
  }

  /// The byte of a `<0xNN>` byte-fallback token.
  static func fallbackByte(_ token: String) -> UInt8? {
    let utf8 = Array(token.utf8)
    guard utf8.count == 6, utf8[0] == UInt8(ascii: "<"), utf8[1] == UInt8(ascii: "0"),
      utf8[2] == UInt8(ascii: "x"), utf8[5] == UInt8(ascii: ">")
    else { return nil }
    return UInt8(String(decoding: utf8[3..<5], as: UTF8.self), radix: 16)
  }

  /// Whether a step turns byte-level stand-ins back into bytes.
  var isByteLevel: Bool {
    switch self {
    case .byteLevel: return true
    case .sequence(let steps): return steps.contains { $0.isByteLevel }
    default: return false
    }
  }
}
