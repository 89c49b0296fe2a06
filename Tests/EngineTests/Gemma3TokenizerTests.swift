import Foundation
import XCTest

@testable import Engine

/// Gemma 3 270M's tokenizer, read from its GGUF file (SentencePiece `llama`
/// model, 262,144 tokens, byte fallback, BOS added), against the ids
/// transformers gives for the same file (scripts/make-gemma3-tokenizer-cases.py).
extension HFTokenizerTests {
  static let gemma3: HFTokenizer = {
    do { return try HFTokenizer(gguf: GGUFFile(url: try gemma3File())) } catch {
      fatalError("gemma3 tokenizer: \(error)")
    }
  }()

  func testGemma3MatchesHF() throws {
    try checkAgainstHF("gemma3", tokenizer: Self.gemma3)
  }

  func testGemma3SpecialTokens() throws {
    let tokenizer = Self.gemma3
    XCTAssertEqual(tokenizer.beginningOfSequenceID, 2)
    XCTAssertEqual(tokenizer.encode(""), [2])
    XCTAssertEqual(tokenizer.singleTokenID(" Tokyo"), tokenizer.encode(" Tokyo", addSpecialTokens: false).first)
    XCTAssertEqual(tokenizer.encode("The capital of Japan is the city of").count, 9)
  }
}
