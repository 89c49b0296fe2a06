import Builtins
import Lang
import XCTest

let ioi = #""When Mary and John went to the store, John gave a drink to""#

final class ModelCommandTests: XCTestCase {
  func testTokensOfTheEmptyStringIsAnEmptyTableButARunOnItIsAnError() throws {
    XCTAssertEqual(try number("tokens \"\" | count"), 0)
    XCTAssertEqual(try number("tokens \"a b\" | count"), 2)
    XCTAssertThrowsError(try eval("run \"\"")) { XCTAssertTrue("\($0)".contains("the prompt has no tokens"), "\($0)") }
  }

  func testLogitDiffMatchesGolden() throws {
    XCTAssertEqual(try number("logitdiff (run \(ioi)) \" Mary\" \" John\""), 12.2629, accuracy: 1e-3)
  }

  func testAblatingAHeadChangesTheLogitDiffAndTheHookIsAValue() throws {
    let clean = try number("logitdiff (run \(ioi)) \" Mary\" \" John\"")
    let ablated = try number("let k = ablate L1H2 --pos -1; logitdiff (run \(ioi) --with k) \" Mary\" \" John\"")
    XCTAssertNotEqual(clean, ablated)
    let twice = try number(
      "logitdiff (run \(ioi) --with [(ablate L1H2 --pos -1), (ablate L1H2 --pos -1)]) \" Mary\" \" John\"")
    XCTAssertEqual(twice, ablated, accuracy: 1e-6)
  }

  func testSplicingSAEsByBareNameListOrAll() throws {
    let md = "\" Mary\" \" John\""
    let clean = try number("logitdiff (run \(ioi)) \(md)")
    // With the error term the forward pass is unchanged; without it the model sees reconstructions.
    XCTAssertEqual(try number("logitdiff (run \(ioi) --sae all --keep-error) \(md)"), clean, accuracy: 1e-3)
    let all = try number("logitdiff (run \(ioi) --sae all) \(md)")
    XCTAssertGreaterThan(abs(all - clean), 1e-3)
    let both = "[\"blocks_3_hook_resid_pre\", \"blocks_3_mlp_hook_post\"]"
    XCTAssertEqual(try number("logitdiff (run \(ioi) --sae \(both)) \(md)"), all, accuracy: 1e-6)
    let one = try number("logitdiff (run \(ioi) --sae blocks_3_hook_resid_pre) \(md)")
    XCTAssertEqual(try number("let n = \"blocks_3_hook_resid_pre\"; logitdiff (run \(ioi) --sae $n) \(md)"), one)
    XCTAssertTrue(errorMessage("run \(ioi) --sae nosuch")?.contains("no SAE named 'nosuch'") ?? false)
  }

  func testDLAByHeadSumsToTheLogitDifference() throws {
    let interp = makeInterpreter().0
    let total = try number("logitdiff (run \(ioi)) \" Mary\" \" John\"")
    for by in ["layer", "head", "neuron"] {
      let sum = try eval("dla (run \(ioi)) \" Mary\" \" John\" --by \(by) | get total", interp)
      let parts = try XCTUnwrap(sum.list).compactMap(\.number)
      XCTAssertEqual(parts.reduce(0, +), total, accuracy: 1e-3, by)
    }
    let sorted = try eval("dla (run \(ioi)) \" Mary\" \" John\" --by head | sort total --desc | head 5", interp)
    XCTAssertEqual(Table(tabular: sorted)?.count, 5)
  }

  func testPatchingFromTheSameRunChangesNothing() throws {
    let v = try number(
      "let r = run \(ioi); logitdiff (run \(ioi) --with (patch blocks.3.hook_resid_pre --from r)) \" Mary\" \" John\"")
    XCTAssertEqual(v, 12.2629, accuracy: 1e-3)
  }

  func testSweepAblateHeadsGivesOneRowPerHead() throws {
    let t = try eval("sweep ablate (run \(ioi)) --metric { |x| logitdiff x \" Mary\" \" John\" } --over heads --pos -1")
    let table = try XCTUnwrap(Table(tabular: t))
    XCTAssertEqual(table.count, 48)
    XCTAssertEqual(table.columns, ["component", "layer", "head", "effect"])
  }

  /// Sweeps resume every run from the base run's checkpoint; each row must
  /// still equal the whole run it stands for, made by hand.
  func testSweepRowsEqualTheWholeRunsTheyStandFor() throws {
    let interp = makeInterpreter().0
    let md = "logitdiff x \" Mary\" \" John\""
    let corrupt = "\"When Mary and John went to the store, Anna gave a drink to\""
    _ = try eval("let clean = run \(ioi); let corrupt = run \(corrupt)", interp)
    func column(_ t: Table, _ name: String) -> Int { t.columns.firstIndex(of: name)! }
    func num(_ source: String, _ interp: Interpreter) throws -> Double {
      try XCTUnwrap(try eval(source, interp).number)
    }

    let heads = try XCTUnwrap(
      Table(tabular: try eval("sweep ablate clean --metric { |x| \(md) } --over heads --pos -1", interp)))
    let base = try num("let x = clean; \(md)", interp)
    for row in heads.rows where [0, 1, 4, 5].contains(row[column(heads, "layer")].int!) {
      let (l, h) = (row[column(heads, "layer")].int!, row[column(heads, "head")].int!)
      let whole = try num("let x = run \(ioi) --with (ablate L\(l)H\(h) --pos -1); \(md)", interp)
      XCTAssertEqual(row[column(heads, "effect")].number!, whole - base, accuracy: 1e-4, "L\(l)H\(h)")
    }

    let resid = try XCTUnwrap(
      Table(
        tabular: try eval(
          "sweep patch --clean clean --corrupt corrupt --metric { |x| \(md) } --over resid", interp)))
    for row in resid.rows where row[column(resid, "pos")].int! >= 8 {
      let (l, t) = (row[column(resid, "layer")].int!, row[column(resid, "pos")].int!)
      let whole = try num(
        "let x = run \(corrupt) --with (patch blocks.\(l).hook_resid_pre --from clean --pos \(t)); \(md)", interp)
      XCTAssertEqual(row[column(resid, "metric")].number!, whole, accuracy: 1e-4, "resid \(l) \(t)")
    }

    let latents = try XCTUnwrap(
      Table(
        tabular: try eval(
          "sweep ablate clean --metric { |x| \(md) } --over latents --sae blocks_3_hook_resid_pre --pos -1", interp)))
    XCTAssertGreaterThan(latents.count, 0)
    for row in latents.rows.prefix(8) {
      let f = row[column(latents, "latent")].int!
      let whole = try num(
        "let x = run \(ioi) --with (ablate blocks_3_hook_resid_pre.F\(f) --pos -1); \(md)", interp)
      XCTAssertEqual(row[column(latents, "effect")].number!, whole - base, accuracy: 1e-4, "F\(f)")
    }
  }

  func testSweepPatchNormalisesBetweenCleanAndCorrupt() throws {
    let t = try eval(
      "sweep patch --clean (run \(ioi)) --corrupt (run \"When Mary and John went to the store, Anna gave a drink to\") --metric { |x| logitdiff x \" Mary\" \" John\" } --over resid"
    )
    let table = try XCTUnwrap(Table(tabular: t))
    let norm = table.columns.firstIndex(of: "normalized")!, layer = table.columns.firstIndex(of: "layer")!,
      pos = table.columns.firstIndex(of: "pos")!
    // Patching the whole last-position residual stream at layer 0 changes the
    // name token only; at the last position, patching all of layer 0's input there does nothing
    // but patching the S2 position (where the prompts differ) restores fully.
    let s2 = table.rows.first { $0[layer].int == 0 && $0[pos].int == 9 }!
    XCTAssertEqual(s2[norm].number!, 1, accuracy: 1e-4)
    let other = table.rows.first { $0[layer].int == 0 && $0[pos].int == 2 }!
    XCTAssertEqual(other[norm].number!, 0, accuracy: 1e-4)
  }

  /// The caret goes under the argument an error is about, not the command.
  func testErrorsPointAtTheArgument() {
    func column(_ source: String) -> Int? {
      do {
        _ = try eval(source)
        return nil
      } catch let e as LangError {
        return e.location.column
      } catch {
        return nil
      }
    }
    XCTAssertEqual(column("ablate L99H3 --pos 2"), 8)
    XCTAssertEqual(column("neurons (run \"Mary\") 12"), 22)
    XCTAssertEqual(column("sweep ablate (run \"Mary\") --over bogus --metric { |x| 1 }"), 34)
    XCTAssertEqual(column("logitdiff (run \"When Mary\") \" Xyzzyqq\" \" John\""), 29)
    XCTAssertEqual(column("heads (run \"When Mary\") --pos 9"), 31)
    // Counts must not be negative: a clear error, not an empty table or a crash.
    for source in [
      "predict \"The cow\" --top -2", "generate \"The cow\" --n -3", "compare (run \"a\") (run \"b\") --top -1",
    ] {
      XCTAssertTrue(errorMessage(source)?.contains("must be a whole number, 0 or more") ?? false, source)
    }
  }

  func testClearErrors() {
    XCTAssertEqual(errorMessage("ablate L99H3"), "L99H3: the model has 6 layers (0...5)")
    XCTAssertTrue(
      errorMessage("logitdiff (run \(ioi)) \" Xyzzyqq\" \" John\"")?.contains("is 4 tokens, not one") ?? false)
    XCTAssertTrue(errorMessage("run \"\(String(repeating: "a b ", count: 200))\"")?.contains("context is 256") ?? false)
    XCTAssertTrue(errorMessage("act (run \(ioi)) blocks.9.hook_resid_pre")?.contains("0...5") ?? false)
  }
}
