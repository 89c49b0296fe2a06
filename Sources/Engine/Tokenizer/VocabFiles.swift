import Foundation

/// Readers for Hugging Face's vocab.json and merges.txt.
///
/// Both are parsed by hand over bytes: vocab.json is one flat object of 50k
/// string keys, which a small scanner reads several times faster than
/// JSONSerialization, and merges.txt is plain lines.
enum VocabFiles {
  /// The whole file, with a missing file told apart from an unreadable one.
  static func read(_ url: URL) throws -> Data {
    guard FileManager.default.fileExists(atPath: url.path) else { throw TokenizerError.missingFile(url) }
    do {
      return try Data(contentsOf: url)
    } catch {
      throw TokenizerError.unreadableFile(url, error.localizedDescription)
    }
  }

  /// Calls `body` with each key (as UTF-8, escapes resolved) and id of a JSON
  /// object of strings to non-negative integers.
  static func parseVocab(
    _ data: Data, url: URL, _ body: (UnsafeBufferPointer<UInt8>, Int) throws -> Void
  ) throws {
    try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
      var scanner = JSONScanner(bytes: raw.bindMemory(to: UInt8.self), url: url)
      var key: [UInt8] = []
      try scanner.expect(UInt8(ascii: "{"))
      if try scanner.peek() == UInt8(ascii: "}") {
        scanner.position += 1
        return
      }
      while true {
        let plainKey = try scanner.string(into: &key)
        try scanner.expect(UInt8(ascii: ":"))
        let id = try scanner.integer()
        // Ids index arrays, so an absurd one would allocate gigabytes.
        guard id < 1 << 24 else { throw scanner.error("id \(id) is implausibly large") }
        if let plainKey {
          try body(plainKey, id)
        } else {
          try key.withUnsafeBufferPointer { try body($0, id) }
        }
        let separator = try scanner.peek()
        scanner.position += 1
        if separator == UInt8(ascii: "}") { break }
        guard separator == UInt8(ascii: ",") else { throw scanner.error("expected , or } in the object") }
      }
      if scanner.skipSpace() != nil { throw scanner.error("text after the object") }
    }
  }

  private static let versionPrefix = Array("#version".utf8)

  /// Calls `body` with the two halves (UTF-8) and 1-based line number of each
  /// merge, skipping the `#version` header and blank lines.
  static func parseMerges(
    _ data: Data, url: URL,
    _ body: (UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>, Int) throws -> Void
  ) throws {
    try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
      let bytes = raw.bindMemory(to: UInt8.self)
      var lineStart = 0
      var lineNumber = 0
      while lineStart < bytes.count {
        lineNumber += 1
        var lineEnd = lineStart
        while lineEnd < bytes.count, bytes[lineEnd] != UInt8(ascii: "\n") { lineEnd += 1 }
        let next = lineEnd + 1
        if lineEnd > lineStart, bytes[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
        defer { lineStart = next }
        if lineEnd == lineStart { continue }
        // HF skips any "#version" line, not only the first.
        if bytes[lineStart..<lineEnd].starts(with: Self.versionPrefix) { continue }
        var space = lineStart
        while space < lineEnd, bytes[space] != UInt8(ascii: " ") { space += 1 }
        let right = space + 1
        guard space > lineStart, right < lineEnd,
          !bytes[right..<lineEnd].contains(UInt8(ascii: " "))
        else {
          throw TokenizerError.malformedMerges(url, line: lineNumber, "expected two tokens separated by one space")
        }
        try body(
          UnsafeBufferPointer(rebasing: bytes[lineStart..<space]),
          UnsafeBufferPointer(rebasing: bytes[right..<lineEnd]), lineNumber)
      }
    }
  }
}

/// A cursor over JSON text that reads just what vocab.json needs.
private struct JSONScanner {
  let bytes: UnsafeBufferPointer<UInt8>
  let url: URL
  var position = 0

  init(bytes: UnsafeBufferPointer<UInt8>, url: URL) {
    self.bytes = bytes
    self.url = url
  }

  func error(_ what: String) -> TokenizerError {
    .malformedVocab(url, "\(what) at byte \(position)")
  }

  /// The next non-space byte (position moved onto it), or nil at the end.
  mutating func skipSpace() -> UInt8? {
    while position < bytes.count {
      switch bytes[position] {
      case 0x20, 0x09, 0x0A, 0x0D: position += 1
      default: return bytes[position]
      }
    }
    return nil
  }

  mutating func peek() throws -> UInt8 {
    guard let byte = skipSpace() else { throw error("unexpected end of file") }
    return byte
  }

  mutating func expect(_ byte: UInt8) throws {
    guard try peek() == byte else { throw error("expected \(Character(Unicode.Scalar(byte)))") }
    position += 1
  }

  mutating func integer() throws -> Int {
    _ = try peek()
    var value = 0
    let start = position
    while position < bytes.count, (0x30...0x39).contains(bytes[position]), value < Int(Int32.max) {
      value = value * 10 + Int(bytes[position] - 0x30)
      position += 1
    }
    guard position > start else { throw error("expected a non-negative integer id") }
    return value
  }

  /// A JSON string's contents as UTF-8: the bytes in place when it has no
  /// escapes (most vocab.json keys), else nil with the unescaped text in `out`.
  mutating func string(into out: inout [UInt8]) throws -> UnsafeBufferPointer<UInt8>? {
    try expect(UInt8(ascii: "\""))
    let start = position
    while position < bytes.count, bytes[position] != UInt8(ascii: "\""), bytes[position] != UInt8(ascii: "\\") {
      position += 1
    }
    guard position < bytes.count else { throw error("unterminated string") }
    if bytes[position] == UInt8(ascii: "\"") {
      position += 1
      return UnsafeBufferPointer(rebasing: bytes[start..<(position - 1)])
    }
    out.removeAll(keepingCapacity: true)
    out.append(contentsOf: bytes[start..<position])
    while true {
      guard position < bytes.count else { throw error("unterminated string") }
      let byte = bytes[position]
      position += 1
      if byte == UInt8(ascii: "\"") { return nil }
      if byte != UInt8(ascii: "\\") {
        out.append(byte)
        continue
      }
      guard position < bytes.count else { throw error("unterminated escape") }
      let escape = bytes[position]
      position += 1
      switch escape {
      case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
      case UInt8(ascii: "b"): out.append(0x08)
      case UInt8(ascii: "f"): out.append(0x0C)
      case UInt8(ascii: "n"): out.append(0x0A)
      case UInt8(ascii: "r"): out.append(0x0D)
      case UInt8(ascii: "t"): out.append(0x09)
      case UInt8(ascii: "u"): appendUTF8(of: try unicodeEscape(), to: &out)
      default: throw error("bad escape")
      }
    }
  }

  /// The scalar of a `\uXXXX` escape (the `\u` already read), joining surrogate pairs.
  private mutating func unicodeEscape() throws -> Unicode.Scalar {
    let first = try hex4()
    if (0xD800..<0xDC00).contains(first), position + 1 < bytes.count,
      bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u")
    {
      position += 2
      let second = try hex4()
      guard (0xDC00..<0xE000).contains(second) else { throw error("unpaired surrogate") }
      return Unicode.Scalar(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))!
    }
    guard let scalar = Unicode.Scalar(first) else { throw error("unpaired surrogate") }
    return scalar
  }

  private mutating func hex4() throws -> UInt32 {
    guard position + 4 <= bytes.count else { throw error("short \\u escape") }
    var value: UInt32 = 0
    for _ in 0..<4 {
      // By hand: GPT-2's vocab.json has some 36,000 of these escapes, and
      // `Character.hexDigitValue` made them a fifth of the tokenizer's load.
      let byte = UInt32(bytes[position])
      let digit: UInt32
      switch byte {
      case 0x30...0x39: digit = byte - 0x30
      case 0x41...0x46: digit = byte - 0x41 + 10
      case 0x61...0x66: digit = byte - 0x61 + 10
      default: throw error("bad \\u escape")
      }
      value = value << 4 | digit
      position += 1
    }
    return value
  }

  /// Appends the UTF-8 encoding of `scalar` to `out`.
  private func appendUTF8(of scalar: Unicode.Scalar, to out: inout [UInt8]) {
    let v = scalar.value
    switch v {
    case 0..<0x80:
      out.append(UInt8(v))
    case 0x80..<0x800:
      out.append(UInt8(0xC0 | v >> 6))
      out.append(UInt8(0x80 | v & 0x3F))
    case 0x800..<0x10000:
      out.append(UInt8(0xE0 | v >> 12))
      out.append(UInt8(0x80 | v >> 6 & 0x3F))
      out.append(UInt8(0x80 | v & 0x3F))
    default:
      out.append(UInt8(0xF0 | v >> 18))
      out.append(UInt8(0x80 | v >> 12 & 0x3F))
      out.append(UInt8(0x80 | v >> 6 & 0x3F))
      out.append(UInt8(0x80 | v & 0x3F))
    }
  }
}
