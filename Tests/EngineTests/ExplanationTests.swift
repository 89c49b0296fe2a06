import Foundation
import XCTest

@testable import Engine

/// Local explanations and their Bills et al. score, on toy examples worked by hand.
final class ExplanationTests: XCTestCase {
  /// A toy vocabulary: token id = index into `words`.
  static let words = [
    " the", " cat", " sat", " on", " mat", " dog", ".", " ran", " A", " B", " C", " D", " 42", " and", " Cat",
  ]
  func text(_ id: Int) -> String { Self.words[id] }
  func id(_ w: String) -> Int32 { Int32(Self.words.firstIndex(of: w)!) }

  func example(_ words: [String], _ acts: [Float], window: Int = 0, key: Int? = nil) -> DatasetExample {
    let top = acts.indices.max { acts[$0] < acts[$1] }!
    return DatasetExample(
      activation: acts[top], window: window, position: top, start: 0, tokens: words.map(id), acts: acts,
      keys: key == nil ? nil : acts, keyPosition: key)
  }

  func testScoreIsTheCorrelationOfSimulatedAndRealActivations() {
    // Worked by hand: x = [0,1,0,1], y = [0,2,0,1]; means 0.5 and 0.75;
    // Σdxdy = 1.5, Σdx² = 1, Σdy² = 2.75, r = 1.5 / √2.75.
    var e = LocalExplanation(kind: .neuron)
    e.tokens = [" cat"]
    let simulated = e.simulate([" the", " cat", " sat", " cat"])
    XCTAssertEqual(simulated, [0, 1, 0, 1])
    let score = ExplanationScore.score(
      simulated: [Array(simulated[0..<2]), Array(simulated[2..<4])], real: [[0, 2], [0, 1]])
    XCTAssertEqual(score, 1.5 / 2.75.squareRoot(), accuracy: 1e-12)
    XCTAssertEqual(score, 0.904534, accuracy: 1e-6)
    // A constant simulation explains nothing: score 0, not NaN.
    XCTAssertEqual(ExplanationScore.score(simulated: [[0, 0, 0]], real: [[1, 2, 3]]), 0)
    XCTAssertNil(ExplanationScore.correlation([1, 1], [1, 2]))
    XCTAssertEqual(ExplanationScore.correlation([1, 2, 3], [2, 4, 6])!, 1, accuracy: 1e-12)
    XCTAssertEqual(ExplanationScore.correlation([1, 2, 3], [3, 2, 1])!, -1, accuracy: 1e-12)
  }

  func testHeldOutExamplesAreNeverSeenByTheExplainer() {
    let top = (0..<6).map { example([" cat"], [Float(6 - $0)], window: $0) }
    let random = (10..<12).map { example([" dog"], [0], window: $0) }
    let (train, test) = ExplanationScore.split(top: top, random: random)
    XCTAssertEqual(train.map(\.window), [0, 2, 4])
    XCTAssertEqual(test.map(\.window), [1, 3, 5, 10, 11])
  }

  func testLocalExplainerNamesTheTokensItFiresOn() {
    let train = [
      example([" the", " cat", " sat", " on", " the", " mat"], [0, 3, 0.1, 0, 0, 0.2]),
      example([" A", " cat", " ran", "."], [0, 2.5, 0, 0]),
      example([" the", " dog", " and", " the", " cat"], [0, 0.1, 0, 0, 2]),
      example([" Cat", " sat", "."], [1.8, 0, 0]),
    ]
    let e = LocalExplainer.explain(kind: .neuron, train: train, text: text, promotes: [" meow"], frequency: 0.012)
    XCTAssertEqual(e.tokens, [" cat"])
    XCTAssertTrue(e.contexts.isEmpty)
    XCTAssertEqual(e.sentence, #"fires on " cat" (1.2% of tokens); promotes " meow""#)
    // " Cat" matches " cat" as a reader would: case and spaces ignored.
    XCTAssertEqual(e.simulate([" Cat", " dog", "cat"]), [1, 0, 1])
  }

  func testLocalExplainerFindsAContext() {
    // " sat" fires only after " cat": the token and its context.
    let train = [
      example([" the", " cat", " sat", " on", " the", " mat"], [0, 0, 2, 0, 0, 0]),
      example([" A", " cat", " sat", "."], [0, 0, 2.2, 0]),
      example([" the", " dog", " sat", " the", " cat", " sat"], [0, 0, 0, 0, 0, 1.9]),
    ]
    let e = LocalExplainer.explain(kind: .neuron, train: train, text: text)
    XCTAssertEqual(e.tokens, [" sat"])
    XCTAssertEqual(e.contexts, [" cat"])
    XCTAssertEqual(e.sentence, #"fires on " sat" after " cat""#)
    XCTAssertEqual(e.simulate([" cat", " sat", " dog", " sat"]), [0, 1, 0, 0.5])
  }

  func testLocalExplainerFallsBackToACategory() {
    // Fires on a different capitalised word each time: no token is reliable, the category is.
    let train = [
      example([" the", " A", " sat"], [0, 2, 0]),
      example([" on", " B", " sat"], [0, 2.1, 0]),
      example([" sat", " C", " ran"], [0, 1.5, 0]),
      example([" dog", " D", "."], [0, 1.7, 0]),
    ]
    let e = LocalExplainer.explain(kind: .latent, train: train, text: text)
    XCTAssertEqual(e.tokens, [])
    XCTAssertEqual(e.category, .capitalized)
    XCTAssertEqual(e.sentence, "fires on capitalised words")
    XCTAssertEqual(e.simulate([" the", " Cat", " 42"]), [0, 1, 0])
  }

  func testHeadExplanationFindsThePreviousTokenRelation() {
    // The strongest write from every query goes to the token just before it.
    let train = [
      example([" the", " cat", " sat"], [0.1, 0.2, 3], key: 1),
      example([" the", " dog", " ran"], [0.1, 0.2, 2.5], key: 1),
      example([" A", " cat", " sat", " on"], [0.1, 0.2, 0.3, 2], key: 2),
    ]
    let e = LocalExplainer.explain(kind: .head, train: train, text: text, promotes: [" cat"])
    XCTAssertEqual(e.relation, .previousToken)
    XCTAssertTrue(e.sentence.hasPrefix("attends from"), e.sentence)
    XCTAssertTrue(e.sentence.contains("to the previous token"), e.sentence)
    XCTAssertTrue(e.sentence.hasSuffix(#"copies " cat" forward"#), e.sentence)
  }

  func testADeadComponentSaysSo() {
    let e = LocalExplainer.explain(
      kind: .latent, train: [example([" the", " cat"], [0, 0])], text: text, promotes: [" dog"])
    XCTAssertEqual(e.sentence, "never fires in this dataset")
    XCTAssertEqual(e.simulate([" cat"]), [0])
  }

  func testTokenCategories() {
    XCTAssertEqual(TokenCategory.of(" 1984"), .number)
    XCTAssertEqual(TokenCategory.of("."), .punctuation)
    XCTAssertEqual(TokenCategory.of(" Mary"), .capitalized)
    XCTAssertEqual(TokenCategory.of(" went"), .lowercase)
    XCTAssertEqual(TokenCategory.of("\n"), .newline)
    XCTAssertEqual(TokenCategory.of("<|endoftext|>"), .endOfText)
  }
}
