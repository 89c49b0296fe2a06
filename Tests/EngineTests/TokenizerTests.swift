import Foundation
import XCTest

@testable import Engine

final class TokenizerTests: XCTestCase {
  static let repoRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
  static let modelFolder = repoRoot.appendingPathComponent("models/tdb-demo")

  // Loaded once: every test shares it, which also exercises the cache.
  static let shared: GPT2Tokenizer = {
    do { return try GPT2Tokenizer(folder: modelFolder) } catch { fatalError("\(error)") }
  }()
  var tokenizer: GPT2Tokenizer { Self.shared }

  func goldenCases() throws -> [(text: String, ids: [Int])] {
    let url = Self.repoRoot.appendingPathComponent("Tests/Fixtures/golden/golden.json")
    let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    let cases = try XCTUnwrap(json["tokenizer_cases"] as? [[String: Any]])
    return try cases.map { (try XCTUnwrap($0["text"] as? String), try XCTUnwrap($0["ids"] as? [Int])) }
  }

  func testVocabulary() {
    XCTAssertEqual(tokenizer.vocabularySize, 50257)
    XCTAssertEqual(tokenizer.endOfTextID, 50256)
    XCTAssertEqual(tokenizer.singleTokenID(" Mary"), 5335)
    XCTAssertEqual(tokenizer.singleTokenID(GPT2Tokenizer.endOfText), 50256)
    XCTAssertNil(tokenizer.singleTokenID(" Mary and"))
    XCTAssertNil(tokenizer.singleTokenID(""))
    XCTAssertEqual(tokenizer.tokenText(5335), " Mary")
    XCTAssertEqual(tokenizer.tokenText(50256), GPT2Tokenizer.endOfText)
    XCTAssertNil(tokenizer.tokenText(-1))
    XCTAssertNil(tokenizer.tokenText(50257))
  }

  func testGoldenPrompts() {
    XCTAssertEqual(
      tokenizer.encode("When Mary and John went to the store, John gave a drink to"),
      [2215, 5335, 290, 1757, 1816, 284, 262, 3650, 11, 1757, 2921, 257, 4144, 284])
    let second = tokenizer.encode("<|endoftext|>Then, Sarah and Tom went to the park. Tom gave a ball to")
    XCTAssertEqual(second.first, 50256)
    XCTAssertEqual(second.dropFirst().first, 6423)  // "Then", not a merge across the special token
    XCTAssertEqual(tokenizer.decode(second), "<|endoftext|>Then, Sarah and Tom went to the park. Tom gave a ball to")
  }

  func testGoldenCases() throws {
    let cases = try goldenCases()
    XCTAssertEqual(cases.count, 318)
    var failures = 0
    for (text, ids) in cases {
      let got = tokenizer.encode(text)
      if got != ids {
        failures += 1
        if failures <= 5 { XCTFail("encode(\(text.debugDescription)) = \(got), want \(ids)") }
      }
      XCTAssertEqual(Array(tokenizer.decode(ids).utf8), Array(text.utf8), "decode of \(text.debugDescription)")
    }
    XCTAssertEqual(failures, 0)
  }

  func testSpecialTokenSplit() {
    let eot = tokenizer.endOfTextID
    XCTAssertEqual(tokenizer.encode(""), [])
    XCTAssertEqual(tokenizer.encode("<|endoftext|>"), [eot])
    XCTAssertEqual(tokenizer.encode("<|endoftext|><|endoftext|>"), [eot, eot])
    // Text on either side is pre-tokenised on its own: " " stays a lone token.
    XCTAssertEqual(tokenizer.encode("a <|endoftext|> b"), tokenizer.encode("a ") + [eot] + tokenizer.encode(" b"))
    // A broken marker is ordinary text.
    XCTAssertFalse(tokenizer.encode("<|endoftext|").contains(eot))
  }

  func testPreTokenizerPieces() {
    func pieces(_ text: String) -> [String] {
      let scalars = Array(text.unicodeScalars)
      return PreTokenizer.split(scalars, 0..<scalars.count).map { range in
        var piece = ""
        piece.unicodeScalars.append(contentsOf: scalars[range])
        return piece
      }
    }
    XCTAssertEqual(pieces("Hello world's  \t end!!\n\n"), ["Hello", " world", "'s", "  \t", " end", "!!", "\n\n"])
    XCTAssertEqual(pieces("I'M don't they'LL we're"), ["I", "'", "M", " don", "'t", " they", "'", "LL", " we", "'re"])
    XCTAssertEqual(pieces("!'s x'"), ["!'", "s", " x", "'"])
    XCTAssertEqual(pieces(" 123abc 4.5"), [" 123", "abc", " 4", ".", "5"])
    XCTAssertEqual(pieces("a\r\nb\r\n"), ["a", "\r", "\n", "b", "\r\n"])
    XCTAssertEqual(pieces("\t\ta"), ["\t", "\t", "a"])
    XCTAssertEqual(pieces("x\u{00A0}y x \u{2009}y"), ["x", "\u{00A0}", "y", " x", " ", "\u{2009}", "y"])
    // U+200B is a format character, not White_Space; U+0301 is a mark, not a letter.
    XCTAssertEqual(pieces("a\u{200B}b e\u{0301}"), ["a", "\u{200B}", "b", " e", "\u{0301}"])
    XCTAssertEqual(pieces("日本語 ٣٤ 🤖🤖"), ["日本語", " ٣٤", " 🤖🤖"])
    XCTAssertEqual(pieces("  "), ["  "])
    XCTAssertEqual(pieces(" "), [" "])
  }

  func testCanonicallyEquivalentTextsStayDistinct() {
    // Swift's String == would call these equal; the tokenizer must not.
    let angstrom = tokenizer.encode(" \u{212B}")
    let aRing = tokenizer.encode(" \u{00C5}")
    XCTAssertNotEqual(angstrom, aRing)
    XCTAssertEqual(Array(tokenizer.decode(angstrom).utf8), Array(" \u{212B}".utf8))
    XCTAssertEqual(Array(tokenizer.decode(aRing).utf8), Array(" \u{00C5}".utf8))
  }

  func testPartialTokensDecodeWithReplacement() {
    let robot = tokenizer.encode("🤖")  // four bytes, more than one GPT-2 token
    XCTAssertGreaterThan(robot.count, 1)
    XCTAssertEqual(tokenizer.decode(robot), "🤖")
    XCTAssertEqual(tokenizer.decode(Array(robot.prefix(1))), "\u{FFFD}")
    XCTAssertEqual(tokenizer.tokenText(robot[0]), "\u{FFFD}")
    // A lone lead byte followed by ASCII: one U+FFFD, then the ASCII, as Rust's from_utf8_lossy.
    let lead = tokenizer.byteIDs[0xE2]
    XCTAssertEqual(tokenizer.decode([lead, tokenizer.singleTokenID("a")!]), "\u{FFFD}a")
    XCTAssertEqual(tokenizer.decode([99_999, -3]), "")
  }

  func testRoundTripRandomStrings() {
    let alphabet: [String] = [
      "a", "b", "z", "A", "Q", "0", "7", "'", "s", "t", "l", "re", "ve", "!", ".", ",", "?", "-", "\"", "(",
      "é", "ü", "ñ", "Å", "ß", "日", "本", "語", "中", "한", "Ж", "λ", "٣", "½", "Ⅻ",
      "🤖", "😀", "👍🏽", "👨‍👩‍👧", "🇫🇷",
      "e\u{0301}", "\u{0308}", "\u{0301}\u{0327}",
      " ", " ", " ", "  ", "\t", "\n", "\r\n", "\r", "\u{00A0}", "\u{2009}", "\u{200B}", "\u{3000}", "\u{0085}",
      "\u{2028}", "\u{000B}", "\u{0000}", "\u{007F}", "\u{FEFF}", "<|endoftext|>", "<|", "|>",
    ]
    var generator = SplitMix64(seed: 0x7DB_70C3)
    for _ in 0..<3000 {
      let length = Int.random(in: 0...40, using: &generator)
      var text = ""
      for _ in 0..<length { text += alphabet.randomElement(using: &generator)! }
      let ids = tokenizer.encode(text)
      XCTAssertEqual(Array(tokenizer.decode(ids).utf8), Array(text.utf8), "round trip of \(text.debugDescription)")
      XCTAssertTrue(ids.allSatisfy { (0..<tokenizer.vocabularySize).contains($0) })
    }
  }

  func testMissingFileError() {
    let folder = URL(fileURLWithPath: "/nonexistent/tdb-model")
    XCTAssertThrowsError(try GPT2Tokenizer(folder: folder)) { error in
      guard case TokenizerError.missingFile(let url) = error else { return XCTFail("got \(error)") }
      XCTAssertEqual(url.lastPathComponent, "vocab.json")
      XCTAssertEqual(
        "\(error)",
        "tokenizer: /nonexistent/tdb-model/vocab.json not found; point to a Hugging Face GPT-2 folder with vocab.json and merges.txt"
      )
    }
  }

  /// vocab.json keys spelled with \u escapes (upper- and lower-case hex,
  /// and a surrogate pair) read as the characters they stand for.
  func testEscapedVocabularyKeys() throws {
    let folder = scratchDirectory()
    defer { try? FileManager.default.removeItem(at: folder) }
    let vocabURL = folder.appendingPathComponent("vocab.json")
    let mergesURL = folder.appendingPathComponent("merges.txt")
    func escaped(_ text: String, upper: Bool) -> String {
      text.utf16.map { String(format: upper ? "\\u%04X" : "\\u%04x", $0) }.joined()
    }
    var keys = (0...255).map { byte in
      "\"\(escaped(ByteEncoder.mappedText(of: [UInt8(byte)]), upper: byte % 2 == 0))\": \(byte)"
    }
    keys.append("\"\\u0061\\u0062\": 256")  // "ab"
    keys.append("\"\(GPT2Tokenizer.endOfText)\": 257")
    // An added token outside the byte table, as a surrogate pair: its own UTF-8 bytes.
    keys.append("\"\\ud83d\\ude00\": 258")
    try ("{" + keys.joined(separator: ", ") + "}").write(to: vocabURL, atomically: true, encoding: .utf8)
    try "#version: 0.2\na b\n".write(to: mergesURL, atomically: true, encoding: .utf8)
    let tokenizer = try GPT2Tokenizer(vocabURL: vocabURL, mergesURL: mergesURL)
    XCTAssertEqual(tokenizer.vocabularySize, 259)
    XCTAssertEqual(tokenizer.encode("abab a\u{0100}"), [256, 256, 0x20, 0x61, 0xC4, 0x80])
    XCTAssertEqual(tokenizer.singleTokenID("\u{1F600}"), 258)

    try "{\"\\u00G1\": 0}".write(to: vocabURL, atomically: true, encoding: .utf8)
    XCTAssertThrowsError(try GPT2Tokenizer(vocabURL: vocabURL, mergesURL: mergesURL)) { error in
      XCTAssertTrue("\(error)".contains("bad \\u escape"), "\(error)")
    }
  }

  func testMalformedFiles() throws {
    let folder = scratchDirectory()
    defer { try? FileManager.default.removeItem(at: folder) }
    let vocabURL = folder.appendingPathComponent("vocab.json")
    let mergesURL = folder.appendingPathComponent("merges.txt")

    // A tiny vocabulary: the 256 bytes, "ab", and the special token.
    var entries = (0...255).map { (ByteEncoder.mappedText(of: [UInt8($0)]), $0) }
    entries += [("ab", 256), (GPT2Tokenizer.endOfText, 257)]
    let object = Dictionary(uniqueKeysWithValues: entries)
    try JSONSerialization.data(withJSONObject: object).write(to: vocabURL)
    try "#version: 0.2\na b\n".write(to: mergesURL, atomically: true, encoding: .utf8)
    let tiny = try GPT2Tokenizer(vocabURL: vocabURL, mergesURL: mergesURL)
    XCTAssertEqual(tiny.vocabularySize, 258)
    // Byte b has id b here; "Ā" is the bytes C4 80.
    XCTAssertEqual(tiny.encode("abab a\u{0100}"), [256, 256, 0x20, 0x61, 0xC4, 0x80])
    XCTAssertEqual(tiny.encode("ba<|endoftext|>"), [0x62, 0x61, 257])

    try "#version: 0.2\na b\nab zz\n".write(to: mergesURL, atomically: true, encoding: .utf8)
    XCTAssertThrowsError(try GPT2Tokenizer(vocabURL: vocabURL, mergesURL: mergesURL)) { error in
      guard case TokenizerError.malformedMerges(_, let line, _) = error else { return XCTFail("got \(error)") }
      XCTAssertEqual(line, 3)
    }
    try "{\"a\": 1,".write(to: vocabURL, atomically: true, encoding: .utf8)
    XCTAssertThrowsError(try GPT2Tokenizer(vocabURL: vocabURL, mergesURL: mergesURL)) { error in
      guard case TokenizerError.malformedVocab = error else { return XCTFail("got \(error)") }
      XCTAssertTrue("\(error)".contains("vocab.json"))
    }
  }
}
