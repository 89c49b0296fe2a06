@testable import Builtins
@testable import Engine
import Lang
import XCTest

/// The commands on a GPT-NeoX model (the tiny random one, attention and MLP
/// in parallel): what `model` says, the hook it refuses, and the paths that
/// reuse work (generate's KV cache, sweeps resumed from a checkpoint) giving
/// what whole forward passes give.
final class GPTNeoXCommandTests: XCTestCase {
  static let session = tinyModelSession("neox")
  let prompt = "When Mary and John went to the store, John gave a drink to"
  let other = "When Mary and John went to the store, Anna gave a drink to"
  let md = "logitdiff x \" Mary\" \" John\""

  func newInterpreter() -> Interpreter { makeInterpreter(session: Self.session).0 }

  func evaluate(_ source: String, _ interp: Interpreter? = nil) throws -> Value {
    try eval(source, interp ?? newInterpreter())
  }

  func number(_ source: String, _ interp: Interpreter? = nil) throws -> Double {
    try XCTUnwrap(try evaluate(source, interp).number, source)
  }

  func testModelSaysParallelPartialRotaryAndExactGELU() throws {
    let r = try XCTUnwrap(try evaluate("model").record)
    XCTAssertEqual(r["family"]?.string, "GPT-NeoX")
    XCTAssertEqual(r["residual"]?.string, "parallel attention and MLP")
    XCTAssertEqual(r["positions"]?.string, "rotary theta 10000 over 4 dims of 8 (partial)")
    XCTAssertEqual(r["mlp"]?.string, "gelu (exact)")
  }

  func testResidMidIsRefusedWithTheReason() {
    XCTAssertThrowsError(try evaluate("act (run \"\(prompt)\") blocks.1.hook_resid_mid")) {
      XCTAssertTrue("\($0)".contains("attention and MLP run in parallel"), "\($0)")
    }
    XCTAssertThrowsError(try evaluate("run \"\(prompt)\" --with (ablate blocks.0.hook_resid_mid)")) {
      XCTAssertTrue("\($0)".contains("no resid_mid"), "\($0)")
    }
    let hooks = try? XCTUnwrap(Table(tabular: try evaluate("hooks")))
    XCTAssertEqual(hooks?.count, HookPoint.all(config: Self.session.config).count)
    XCTAssertEqual(hooks?.rows.contains { $0[0].string?.contains("resid_mid") == true }, false)
  }

  /// Each step of generate resumes from the previous step's keys and values.
  func testGenerateEqualsWholePassesEveryStep() throws {
    let s = Self.session
    for position in [2, -1] {
      let text = try XCTUnwrap(
        try evaluate("generate \"\(prompt)\" --n 8 --with (ablate L1H2 --pos \(position))").string)
      var tokens = s.tokenizer.encode(prompt)
      let ablate = Interventions.zero(
        HookSelection(hook: .block(1, .z), positions: [position], index: 2), label: "ablate")
      var generated: [Int] = []
      for _ in 0..<8 {
        let logits = try s.model.forward(tokens, options: ForwardOptions(interventions: [ablate], logits: .last))
          .logits.row(0)
        let next = logits.withUnsafeBufferPointer { b in b.indices.max { b[$0] < b[$1] }! }
        if next == s.tokenizer.endOfSequenceID { break }
        tokens.append(next)
        generated.append(next)
      }
      XCTAssertEqual(text, s.tokenizer.decode(generated), "--pos \(position)")
    }
  }

  /// Sweeps resume each run from the base run's checkpoint.
  func testSweepRowsEqualTheWholeRunsTheyStandFor() throws {
    let interp = newInterpreter()
    _ = try evaluate("let clean = run \"\(prompt)\"; let corrupt = run \"\(other)\"", interp)
    let base = try number("let x = clean; \(md)", interp)
    func column(_ t: Table, _ name: String) -> Int { t.columns.firstIndex(of: name)! }

    let heads = try XCTUnwrap(
      Table(tabular: try evaluate("sweep ablate clean --metric { |x| \(md) } --over heads --pos -1", interp)))
    XCTAssertEqual(heads.count, 8)
    for row in heads.rows {
      let (l, h) = (row[column(heads, "layer")].int!, row[column(heads, "head")].int!)
      let whole = try number("let x = run \"\(prompt)\" --with (ablate L\(l)H\(h) --pos -1); \(md)", interp)
      XCTAssertEqual(row[column(heads, "effect")].number!, whole - base, accuracy: 1e-4, "L\(l)H\(h)")
    }
    for over in ["resid", "mlp", "attn"] {
      let table = try XCTUnwrap(
        Table(
          tabular: try evaluate(
            "sweep patch --clean clean --corrupt corrupt --metric { |x| \(md) } --over \(over)", interp)))
      let hook = over == "resid" ? "hook_resid_pre" : over == "mlp" ? "hook_mlp_out" : "hook_attn_out"
      for row in table.rows where row[column(table, "pos")].int! >= 8 {
        let (l, t) = (row[column(table, "layer")].int!, row[column(table, "pos")].int!)
        let whole = try number(
          "let x = run \"\(other)\" --with (patch blocks.\(l).\(hook) --from clean --pos \(t)); \(md)", interp)
        XCTAssertEqual(row[column(table, "metric")].number!, whole, accuracy: 1e-4, "\(over) \(l) \(t)")
      }
    }
  }

  func testLensAndAttributionPatching() throws {
    let interp = newInterpreter()
    _ = try evaluate("let clean = run \"\(prompt)\"; let corrupt = run \"\(other)\"", interp)
    let lens = try XCTUnwrap(Table(tabular: try evaluate("lens clean --top 1", interp)))
    XCTAssertEqual(lens.count, 3)
    let top = try XCTUnwrap(Table(tabular: try evaluate("predict \"\(prompt)\" --top 1", interp)))
    XCTAssertEqual(
      lens.rows.last?[lens.columns.firstIndex(of: "token")!], top.rows[0][top.columns.firstIndex(of: "token")!])
    for over in ["heads", "neurons", "resid"] {
      let patched = try XCTUnwrap(
        Table(
          tabular: try evaluate(
            "attrpatch --clean clean --corrupt corrupt --metric { |x| \(md) } --over \(over) --check 2 --top 4", interp)
        ))
      XCTAssertEqual(patched.count, 4, over)
      XCTAssertNotNil(patched.rows[0][patched.columns.firstIndex(of: "actual")!].number, over)
    }
  }

  func testDLAAttributeTraceAndKeyValueHeads() throws {
    let interp = newInterpreter()
    _ = try evaluate("let x = run \"\(prompt)\"", interp)
    let total = try number(md, interp)
    let dla = try XCTUnwrap(Table(tabular: try evaluate("dla x \" Mary\" \" John\" --by head", interp)))
    let sum = dla.rows.map { $0[dla.columns.firstIndex(of: "total")!].number! }.reduce(0, +)
    XCTAssertEqual(sum, total, accuracy: 1e-4)
    let nodes = try XCTUnwrap(Table(tabular: try evaluate("attribute x \" Mary\" \" John\" --top 5", interp)))
    XCTAssertGreaterThan(nodes.count, 0)
    // A neuron of block 1 reads block 0 only: its block's heads run beside it.
    let trace = try XCTUnwrap(Table(tabular: try evaluate("trace L1N5 x --pos -1 --top 50", interp)))
    let layer = trace.columns.firstIndex(of: "layer")!
    XCTAssertTrue(trace.rows.contains { $0[layer].int == 0 })
    XCTAssertFalse(trace.rows.contains { $0[layer].int == 1 }, "\(trace.rows)")
    // Multi-head attention: key/value head g is head g's keys and values.
    let kv = try number("let x = run \"\(prompt)\" --with (ablate L1KV3 --pos -1); \(md)", interp)
    let s = Self.session, tokens = s.tokenizer.encode(prompt)
    let zero = [HookPoint.Site.k, .v].map {
      Interventions.zero(HookSelection(hook: .block(1, $0), positions: [-1], index: 3), label: "")
    }
    let logits = try s.model.forward(tokens, options: ForwardOptions(interventions: zero, logits: .last)).lastLogits
    let mary = try XCTUnwrap(s.tokenizer.singleTokenID(" Mary")),
      john = try XCTUnwrap(s.tokenizer.singleTokenID(" John"))
    XCTAssertEqual(kv, Double(logits[mary] - logits[john]), accuracy: 1e-5)
    XCTAssertNotEqual(kv, total, accuracy: 1e-6)
  }
}
