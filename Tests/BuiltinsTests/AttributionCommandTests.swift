import Builtins
import Engine
import Lang
import XCTest

/// grad, attribute, trace, attrpatch and `... | ablate` through the language.
final class AttributionCommandTests: XCTestCase {
  let corrupt = #""When Mary and John went to the store, Anna gave a drink to""#
  let (mary, john) = (5335, 1757)
  var model: TransformerModel { sharedSession.model }
  var tokens: [Int] { model.tokenizer.encode("When Mary and John went to the store, John gave a drink to") }

  func table(_ source: String, _ interp: Interpreter? = nil) throws -> Table {
    let v = try eval(source, interp)
    return try XCTUnwrap(Table(tabular: v), "\(source) gave \(v.typeName)")
  }

  /// A host value's plain form (a component's name, a hook's record).
  func plain(_ v: Value) -> Value {
    if case .host(let h) = v { return h.plain() }
    return v
  }
  func name(_ v: Value?) -> String { v.flatMap { plain($0).string } ?? "" }

  func column(_ t: Table, _ name: String) throws -> [Value] {
    try XCTUnwrap(t.column(name), "no column \(name) in \(t.columns)")
  }

  func tensor(_ v: Value) throws -> [Double] {
    func flatten(_ v: Value) -> [Double] { v.list.map { $0.flatMap(flatten) } ?? [v.number!] }
    guard case .host(let h) = v else { XCTFail("expected a tensor, got \(v.typeName)"); return [] }
    return flatten(h.plain())
  }

  /// The largest difference between two gradients, relative to the larger
  /// entry of `b` (at least 1).
  func gap(_ a: [Double], _ b: [Double]) -> Double {
    guard a.count == b.count else { return .infinity }
    let scale = max(1, b.map(abs).max() ?? 0)
    return zip(a, b).map { abs($0 - $1) }.max().map { $0 / scale } ?? 0
  }

  /// `grad` asks for one hook, so its forward pass runs the last block past
  /// its keys and values on the last position only, and attention's
  /// backward runs blocked; the engine gradients it is compared with return
  /// every hook, run that block whole and keep each pattern. The two agree
  /// up to rounding: OpenBLAS's kernels round a product's entries
  /// differently as its shape changes (AVX2 machines; oneDNN's do not).
  func assertSameGradient(_ a: [Double], _ b: [Double], file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, file: file, line: line)
    XCTAssertLessThan(gap(a, b), 1e-5, file: file, line: line)
  }

  func testGradIsTheEngineGradientAndSlicesComponents() throws {
    let metric = Metric.logitDifference(position: -1, target: mary, distractor: john)
    let g = try model.gradients(tokens, metric: metric)
    let v = try eval("grad (run \(ioi)) blocks.0.hook_resid_pre --target \" Mary\" --distractor \" John\"")
    XCTAssertEqual(
      try eval("(grad (run \(ioi)) blocks.0.hook_resid_pre --target \" Mary\" --distractor \" John\").shape"),
      [14, 256])
    assertSameGradient(try tensor(v), g.gradients[.block(0, .residPre)]!.scalars.map(Double.init))
    // A head: its z gradient [pos, d_head]; a neuron: [pos].
    let head = try tensor(try eval("grad (run \(ioi)) L1H2 --target \" Mary\" --distractor \" John\""))
    let z = g.gradients[.block(1, .z)]!
    assertSameGradient(head, (0..<14).flatMap { t in (0..<32).map { Double(z[t, 2, $0]) } })
    let neuron = try tensor(try eval("grad (run \(ioi)) L3N77 --target \" Mary\" --distractor \" John\""))
    assertSameGradient(neuron, (0..<14).map { Double(g.gradients[.block(3, .mlpPost)]![$0, 77]) })
    // Detaching ln_final's scale changes the gradient upstream of it.
    let detached = try model.gradients(
      tokens, metric: metric, backward: BackwardOptions(detachFinalLayerNormScale: true))
    let d = try tensor(
      try eval("grad (run \(ioi)) blocks.3.hook_resid_mid --target \" Mary\" --distractor \" John\" --detach-ln"))
    assertSameGradient(d, detached.gradients[.block(3, .residMid)]!.scalars.map(Double.init))
    XCTAssertGreaterThan(gap(d, g.gradients[.block(3, .residMid)]!.scalars.map(Double.init)), 1e-3)
    // Other metrics, and a latent (its SAE spliced with the error term).
    let loss = try model.gradients(tokens, metric: .loss)
    assertSameGradient(
      try tensor(try eval("grad (run \(ioi)) blocks.2.hook_mlp_out --metric loss")),
      loss.gradients[.block(2, .mlpOut)]!.scalars.map(Double.init))
    let latent = try tensor(
      try eval("grad (run \(ioi)) blocks_3_hook_resid_pre.F3203 --metric logprob --target \" Mary\""))
    XCTAssertEqual(latent.count, 14)
    XCTAssertNotEqual(latent[13], 0)
    XCTAssertEqual(
      errorMessage("grad (run \(ioi)) L1H2 --target \" Mary\""),
      "grad: --metric logitdiff needs --target T and --distractor D (or use --metric logit, logprob or loss)")
    XCTAssertEqual(
      errorMessage("grad (run \(ioi)) L1H2 --metric loss --target \" Mary\""),
      "grad: --metric loss takes no --target or --distractor")
    XCTAssertEqual(
      errorMessage("grad (run \(ioi)) L1H2 --metric nll"),
      "grad: --metric: expected logitdiff, logit, logprob or loss, got 'nll'")
  }

  func testAttributeTableRanksNodesAndMatchesTheEngine() throws {
    let interp = makeInterpreter().0
    let t = try table("attribute (run \(ioi)) \" Mary\" \" John\" --top 3", interp)
    XCTAssertEqual(
      t.columns,
      ["node", "kind", "layer", "pos", "token", "key", "key_token", "activation", "write", "direct", "total"])
    let totals = try column(t, "total").map { abs($0.number!) }
    XCTAssertEqual(totals, totals.sorted(by: >), "ordered by |total|")
    XCTAssertEqual(Set(try column(t, "kind").compactMap(\.string)), ["head", "neuron", "latent", "embedding"])
    // The top row is the engine's largest |total|: head L1H2 from ' to' to the second ' John'.
    let engine = try model.attributeNodes(
      tokens, metric: .logitDifference(position: -1, target: mary, distractor: john),
      saes: sharedSession.saeNames.map { sharedSession.saes[$0]! })
    let best = engine.attributed.max { abs($0.scores.total) < abs($1.scores.total) }!
    let first = t.record(0)
    XCTAssertEqual(name(first["node"]), best.node.component!.description)
    XCTAssertEqual(first["pos"], Value(best.node.position))
    XCTAssertEqual(first["key"], Value(best.node.key!))
    XCTAssertEqual(first["key_token"], " John")
    XCTAssertEqual(first["total"]!.number!, Double(best.scores.total), accuracy: 1e-6)
    // --kind keeps one kind; --top bounds the rows per kind.
    let heads = try table("attribute (run \(ioi)) \" Mary\" \" John\" --kind heads --top 2", interp)
    XCTAssertEqual(Set(try column(heads, "kind").compactMap(\.string)), ["head"])
    XCTAssertLessThanOrEqual(heads.count, 6 * 2)
    XCTAssertEqual(
      errorMessage("attribute (run \(ioi)) \" Mary\" \" John\" --kind bias"),
      "attribute: --kind: expected neurons, heads, latents, embeddings or all, got 'bias'")
  }

  func testAgainstGivesLeftRightAndDifference() throws {
    let t = try table("attribute (run \(ioi)) \" Mary\" \" John\" --kind heads --top 2 --against (run \(corrupt))")
    XCTAssertEqual(
      Array(t.columns.suffix(13)),
      [
        "token_b", "activation_a", "activation_b", "activation_diff", "write_a", "write_b", "write_diff", "direct_a",
        "direct_b", "direct_diff", "total_a", "total_b", "total_diff",
      ])
    let diffs = try column(t, "total_diff").map { abs($0.number!) }
    XCTAssertEqual(diffs, diffs.sorted(by: >))
    for r in t.records {
      for m in ["activation", "write", "direct", "total"] {
        XCTAssertEqual(r[m + "_diff"]!.number!, r[m + "_a"]!.number! - r[m + "_b"]!.number!, accuracy: 1e-5)
      }
    }
    // Both sides agree with single-prompt tables.
    let single = try model.attributeNodes(
      model.tokenizer.encode("When Mary and John went to the store, Anna gave a drink to"),
      metric: .logitDifference(position: -1, target: mary, distractor: john), kinds: [.head])
    let r = t.record(0)
    let node = Node(
      kind: .head, layer: r["layer"]!.int!, index: Int(name(r["node"]).split(separator: "H")[1])!,
      position: r["pos"]!.int!, key: r["key"]!.int!)
    XCTAssertEqual(
      r["total_b"]!.number!, Double(single.attributed.first { $0.node == node }!.scores.total), accuracy: 1e-6)
    XCTAssertEqual(
      errorMessage("attribute (run \(ioi)) \" Mary\" \" John\" --against (run \"When Mary\")"),
      "attribute: --against: the runs have 14 and 2 tokens; compare prompts of the same length")
  }

  /// A row pipes into ablate: a neuron at its token, a head pair's one attention weight.
  func testRowsPipeIntoAblate() throws {
    let interp = makeInterpreter().0
    try eval("let r = run \(ioi)", interp)
    let clean = try number("logitdiff (run \(ioi)) \" Mary\" \" John\"")
    let rows = try table("attribute r \" Mary\" \" John\" --kind heads | sort total --desc | head 1", interp)
    let r = rows.record(0)
    let (layer, q, k) = (r["layer"]!.int!, r["pos"]!.int!, r["key"]!.int!)
    let head = Int(name(r["node"]).split(separator: "H")[1])!
    let viaRow = try XCTUnwrap(
      try eval(
        "logitdiff (run \(ioi) --with (attribute r \" Mary\" \" John\" --kind heads | sort total --desc | head 1 | ablate)) \" Mary\" \" John\"",
        interp
      ).number)
    let viaSet = try number(
      "logitdiff (run \(ioi) --with (set blocks.\(layer).attn.hook_pattern [\(head), \(q), \(k)] 0)) \" Mary\" \" John\""
    )
    XCTAssertEqual(viaRow, viaSet)
    XCTAssertLessThan(viaRow, clean, "the top head pair helps")
    // A neuron row ablates the neuron at its token only.
    let n = try table("attribute r \" Mary\" \" John\" --kind neurons | sort total | head 1", interp).record(0)
    let hook = plain(try eval("attribute r \" Mary\" \" John\" --kind neurons | sort total | head 1 | ablate", interp))
      .record
    XCTAssertEqual(hook?["hook"], Value("ablate \(name(n["node"])) --pos \(n["pos"]!.int!)"))
    XCTAssertEqual(hook?["at"], [Value("blocks.\(n["layer"]!.int!).mlp.hook_post")])
    let neuron = try number(
      "logitdiff (run \(ioi) --with (attribute (run \(ioi)) \" Mary\" \" John\" --kind neurons | sort total | head 1 | ablate)) \" Mary\" \" John\""
    )
    let manual = try number(
      "logitdiff (run \(ioi) --with (ablate \(name(n["node"])) --pos \(n["pos"]!.int!))) \" Mary\" \" John\"")
    XCTAssertEqual(neuron, manual)
    // A latent row splices its SAE; an embedding row zeroes resid_pre there.
    let latent = try number(
      "logitdiff (run \(ioi) --with (attribute (run \(ioi)) \" Mary\" \" John\" --kind latents | sort total --desc | head 1 | ablate)) \" Mary\" \" John\""
    )
    XCTAssertLessThan(latent, clean)
    let embedding = try number(
      "logitdiff (run \(ioi) --with (attribute (run \(ioi)) \" Mary\" \" John\" --kind embeddings | sort total --desc | head 1 | ablate)) \" Mary\" \" John\""
    )
    XCTAssertNotEqual(embedding, clean)
    XCTAssertEqual(errorMessage("[{a: 1}] | ablate"), "ablate: input: the rows have no 'node' column (columns: a)")
    XCTAssertEqual(
      errorMessage("ablate"), "ablate: ablate needs WHAT (a component or hook point), or rows of attribute piped in")
  }

  func testTraceFromAComponentOrARow() throws {
    let interp = makeInterpreter().0
    try eval("let r = run \(ioi)", interp)
    // A neuron: its pre-activation; only upstream nodes.
    let neuron = try table("trace L3N77 r --top 3", interp)
    XCTAssertTrue(try column(neuron, "layer").allSatisfy { ($0.int ?? 0) <= 3 })
    XCTAssertFalse(neuron.records.contains { $0["kind"] == "neuron" && $0["layer"] == 3 })
    let engine = try model.attributeNodes(
      tokens, metric: .neuron(layer: 3, index: 77, position: -1),
      saes: sharedSession.saeNames.map { sharedSession.saes[$0]! })
    let best = engine.attributed.max { abs($0.scores.total) < abs($1.scores.total) }!
    XCTAssertEqual(neuron.record(0)["total"]!.number!, Double(best.scores.total), accuracy: 1e-6)
    // A head row piped in: its score at the row's (query, key) through the query side.
    let piped = try table(
      "attribute r \" Mary\" \" John\" --kind heads | sort total --desc | head 1 | trace r --through q --kind heads --top 2",
      interp)
    let direct = try table("trace L1H2 r --through q --pos 13 --key 9 --kind heads --top 2", interp)
    XCTAssertEqual(piped, direct)
    // Without --key, where the head attends most.
    XCTAssertEqual(
      try table("trace L1H2 r --kind heads --top 2", interp),
      try table("trace L1H2 r --key 9 --kind heads --top 2", interp))
    // Through the value side: the write on the direction of interest.
    let v = try table("trace L1H2 r --through v --key 9 --target \" Mary\" --distractor \" John\" --top 2", interp)
    let vEngine = try model.attributeNodes(
      tokens, metric: .headWrite(layer: 1, head: 2, query: 13, key: 9, target: mary, distractor: john),
      saes: sharedSession.saeNames.map { sharedSession.saes[$0]! })
    XCTAssertEqual(
      v.record(0)["total"]!.number!,
      Double(vEngine.attributed.max { abs($0.scores.total) < abs($1.scores.total) }!.scores.total), accuracy: 1e-6)
    XCTAssertEqual(
      errorMessage("trace L1H2 (run \(ioi)) --through v"),
      "trace: --through v traces the head's write on the direction of interest: give --target T and --distractor D")
    XCTAssertEqual(
      errorMessage("trace L3N77 (run \(ioi)) --through q"), "trace: --through is for heads; L3N77 has one input")
    XCTAssertEqual(
      errorMessage("trace L1H2 (run \(ioi)) --pos 3 --key 5"),
      "trace: key position 5 comes after query position 3; a head attends only to earlier tokens (key ≤ query)")
    XCTAssertTrue(
      errorMessage("trace blocks_3_hook_resid_pre.F0 (run \(ioi))")?.contains("is not active at position 13") ?? false)
    XCTAssertEqual(
      errorMessage("trace L3N77"),
      "trace: trace needs a NODE and a RUN (trace L3N77 RUN), or a row piped in (... | trace RUN)")
  }

  func testAttrPatchEstimatesAndChecks() throws {
    let interp = makeInterpreter().0
    let source =
      "attrpatch --clean (run \(ioi)) --corrupt (run \(corrupt)) --metric { |x| logitdiff x \" Mary\" \" John\" } --top 6 --check 2"
    let t = try table(source, interp)
    XCTAssertEqual(t.columns, ["node", "layer", "pos", "token", "clean_token", "estimate", "actual"])
    XCTAssertEqual(t.count, 6)
    let estimates = try column(t, "estimate").map { $0.number! }
    XCTAssertEqual(estimates.map(abs), estimates.map(abs).sorted(by: >))
    let actual = try column(t, "actual")
    XCTAssertEqual(actual.filter(\.isNull).count, 4, "only the first 2 are checked")
    // The estimates are the engine's; the check is a real patch of that head at that position.
    let engine = try model.attributionPatching(
      clean: tokens, corrupt: model.tokenizer.encode("When Mary and John went to the store, Anna gave a drink to"),
      metric: .logitDifference(position: -1, target: mary, distractor: john), over: .heads)
    let top = engine.estimates.max { abs($0.estimate) < abs($1.estimate) }!
    XCTAssertEqual(estimates[0], Double(top.estimate), accuracy: 1e-5)
    let r = t.record(0)
    let patched = try number(
      "let c = run \(ioi); logitdiff (run \(corrupt) --with (patch \(name(r["node"])) --from c --pos \(r["pos"]!.int!))) \" Mary\" \" John\""
    )
    let base = try number("logitdiff (run \(corrupt)) \" Mary\" \" John\"")
    // The check resumes from the corrupt run's checkpoint (other matrix
    // shapes, so the last float bits may differ from a whole pass).
    XCTAssertEqual(actual[0].number!, patched - base, accuracy: 1e-4)
    XCTAssertEqual(actual[0].number!.sign, estimates[0].sign)
    // Any linear combination works; the same estimates scaled.
    let scaled = try table(
      "attrpatch --clean (run \(ioi)) --corrupt (run \(corrupt)) --metric { |x| -((logits x)[5335] - (logits x)[1757]) / 2 + 1 } --top 6 --check 0",
      interp)
    for (a, b) in zip(estimates, try column(scaled, "estimate").map { $0.number! }) {
      XCTAssertEqual(b, -a / 2, accuracy: 1e-5)
    }
    let linear =
      "attrpatch: the metric must be linear in the logits (logitdiff, logits, and sums and multiples of them); "
    let base2 = "attrpatch --clean (run \(ioi)) --corrupt (run \(corrupt)) --metric "
    XCTAssertEqual(
      errorMessage(base2 + "{ |x| prob x \" Mary\" }"),
      linear + "prob: RUN: expected a run (run PROMPT) or a prompt, got metric probe")
    XCTAssertEqual(
      errorMessage(base2 + "{ |x| (logitdiff x \" Mary\" \" John\") * (logitdiff x \" Mary\" \" John\") }"),
      linear + "cannot apply '*' to a linear metric and a linear metric")
    XCTAssertEqual(errorMessage(base2 + "{ |x| 3 }"), linear + "it returned a number that does not depend on the run")
    XCTAssertEqual(
      errorMessage(
        "attrpatch --clean (run \(ioi)) --corrupt (run \"When Mary\") --metric { |x| logitdiff x \" Mary\" \" John\" }"),
      "attrpatch: the clean run has 14 tokens and the corrupt run 2; use prompts of the same length")
  }
}

final class AnnotateAttributionTests: XCTestCase {
  /// attribute's rows (a `node` column) take the dataset view, as TDB's node table does.
  func testAttributeRowsAreAnnotated() throws {
    let db = FileManager.default.temporaryDirectory.appendingPathComponent("tdb-annotate-\(UUID().uuidString).db").path
    let t = try eval(
      "collect demo --tokens 512 --kind heads --db \"\(db)\"; attribute (run \(ioi)) \" Mary\" \" John\" --kind heads --top 2 | head 2 | annotate --db \"\(db)\""
    )
    let table = try XCTUnwrap(Table(tabular: t))
    XCTAssertTrue(table.columns.contains("explanation"), "\(table.columns)")
    XCTAssertTrue(table.columns.contains("score"), "\(table.columns)")
    XCTAssertEqual(table.count, 2)
  }
}
