@testable import Builtins
import Engine
import Lang
import XCTest

final class InterventionCommandTests: XCTestCase {
  let md = "logitdiff x \" Mary\" \" John\""

  func testMeanAblationFromAListAndFromAFileAgree() throws {
    let prompts = [
      "When Anna and Tom went to the park, Tom gave a ball to",
      "Then Sarah and David went to the school. David gave a book to",
    ]
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("tdb-mean-\(UUID().uuidString).txt")
    try (prompts.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
    let list = "[" + prompts.map { "\"\($0)\"" }.joined(separator: ", ") + "]"
    let a = try number("let x = run \(ioi) --with (ablate L1H2 --mean \(list)); \(md)")
    let b = try number("let x = run \(ioi) --with (ablate L1H2 --mean \"\(file.path)\"); \(md)")
    XCTAssertEqual(a, b, accuracy: 1e-5)
    let zero = try number("let x = run \(ioi) --with (ablate L1H2); \(md)")
    XCTAssertNotEqual(a, zero, accuracy: 1e-3)
  }

  func testResamplingFromItselfChangesNothingAndFromAnotherRunDoes() throws {
    let same = try number("let r = run \(ioi); let x = run \(ioi) --with (ablate L1H2 --resample r); \(md)")
    XCTAssertEqual(same, 12.2629, accuracy: 1e-3)
    let other = try number(
      "let c = run \"When Mary and John went to the store, Anna gave a drink to\"; let x = run \(ioi) --with (ablate blocks.2.hook_resid_pre --pos -5 --resample c); \(md)"
    )
    XCTAssertNotEqual(other, 12.2629, accuracy: 1e-2)
  }

  func testSteeringWithALatentAndSettingAnElement() throws {
    let v = try number(
      "let x = run \(ioi) --with (steer blocks.3.hook_resid_pre blocks_3_hook_resid_pre.F12 --scale 0 --pos -1); \(md)")
    XCTAssertEqual(v, 12.2629, accuracy: 1e-3)
    let w = try number(
      "let x = run \(ioi) --with (steer blocks.3.hook_resid_pre blocks_3_hook_resid_pre.F12 --scale 20 --pos -1); \(md)"
    )
    XCTAssertNotEqual(w, 12.2629, accuracy: 1e-2)
    let s = try eval("act (run \(ioi) --with (set blocks.0.mlp.hook_post [-1, 77] 2.5)) blocks.0.mlp.hook_post")
    XCTAssertEqual(
      try eval(
        "let t = act (run \(ioi) --with (set blocks.0.mlp.hook_post [-1, 77] 2.5)) blocks.0.mlp.hook_post; t[-1, 77]"
      ).number, 2.5)
    _ = s
  }

  func testAblatingALatentSplicesItsSAEWithTheErrorTerm() throws {
    // With the error term, ablating a latent that is inactive at the last position changes nothing.
    let (interp, _) = makeInterpreter()
    let active = try XCTUnwrap(Table(tabular: try eval("latents (run \(ioi)) blocks_3_hook_resid_pre --top 1", interp)))
    let f = try XCTUnwrap(active.rows.first?[1].int)
    let ablated = try number("let x = run \(ioi) --with (ablate blocks_3_hook_resid_pre.F\(f) --pos -1); \(md)")
    XCTAssertNotEqual(ablated, 12.2629, accuracy: 1e-4)
  }

  func testGenerateIsGreedyAndStopsAtTheLimit() throws {
    let text = try eval(
      "generate \"Anna made a list: stone, river, milk, door. Later Anna read the list again: stone, river,\" --n 2")
    XCTAssertEqual(text.string?.hasPrefix(" milk"), true, "\(text)")
    let sampled1 = try eval("generate \"The cow said\" --n 5 --temperature 1 --seed 3")
    let sampled2 = try eval("generate \"The cow said\" --n 5 --temperature 1 --seed 3")
    XCTAssertEqual(sampled1, sampled2)
  }

  /// generate reuses each step's keys and values for the next; it must give
  /// what whole forward passes give, with hooks at fixed positions and with
  /// hooks counted from the end (which move, so those steps are whole passes).
  func testGenerateEqualsWholePassesEveryStep() throws {
    let prompt = "Tom found a shell by the sea. Tom"
    for position in [2, -1] {
      let text = try eval("generate \"\(prompt)\" --n 12 --with (ablate L1H2 --pos \(position))").string!
      var tokens = sharedSession.tokenizer.encode(prompt)
      let ablate = Interventions.zero(
        HookSelection(hook: .block(1, .z), positions: [position], index: 2), label: "ablate")
      var generated: [Int] = []
      for _ in 0..<12 {
        let logits = try sharedSession.model.forward(
          tokens, options: ForwardOptions(interventions: [ablate], logits: .last)
        ).logits.row(0)
        let next = logits.withUnsafeBufferPointer { b in b.indices.max { b[$0] < b[$1] }! }
        if next == sharedSession.tokenizer.endOfSequenceID { break }
        tokens.append(next)
        generated.append(next)
      }
      XCTAssertEqual(text, sharedSession.tokenizer.decode(generated), "--pos \(position)")
    }
  }

  func testLensCompareAndTokensOf() throws {
    let lens = try XCTUnwrap(Table(tabular: try eval("lens (run \(ioi)) --top 1")))
    XCTAssertEqual(lens.count, 7)
    XCTAssertEqual(lens.rows.last?[3].string, " Mary")
    let cmp = try eval("compare (run \(ioi)) (run \"When Mary and John went to the store, Mary gave a drink to\")")
    XCTAssertNotNil(cmp.record?["top"])
    let t = try XCTUnwrap(Table(tabular: try eval("tokensof L4H7 --top 3")))
    XCTAssertEqual(t.count, 6)
  }
}
