import Foundation
import XCTest

@testable import Builtins
@testable import Engine
@testable import Lang

/// collect, merge, explain, top, search, annotate from the language, and
/// the chat-completions explainer against a local server.
final class ExplainCommandTests: XCTestCase {
  /// One session and one small dataset for every test in this class.
  static let session = LazyModelSession { try ModelSession.load(modelFolder: nil, saeFolders: []) }
  static let directory: URL = {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("tdb-explain-tests-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }()
  static let dataset = directory.appendingPathComponent("demo.db").path

  func interpreter() -> (CommandRegistry, Interpreter) {
    let registry = CommandRegistry()
    registerCoreCommands(into: registry)
    let interpreter = Interpreter(registry: registry)
    registerModelCommands(into: registry, interpreter: interpreter, session: Self.session)
    return (registry, interpreter)
  }

  /// Evaluates tdb source in a fresh interpreter.
  func eval(_ source: String) throws -> Value { try interpreter().1.evaluate(source) }

  /// The shared dataset: the first 2,560 tokens (10 windows) of the demo corpus, every component.
  func demoDataset() throws -> String {
    let v = try eval(#"collect demo --tokens 2560 --top 8 --random 4 --db "\#(Self.dataset)""#)
    XCTAssertEqual(v.record?["tokens"], Value(2560))
    return Self.dataset
  }

  func testCollectThenExplainANeuron() throws {
    let db = try demoDataset()
    let v = try eval(#"explain L3N77 --db "\#(db)""#)
    guard case .host(let h as ComponentPageValue) = v else { return XCTFail("explain returned \(v.typeName)") }
    let r = h.plain().record!
    XCTAssertEqual(r["component"], Value("L3N77"))
    XCTAssertEqual(r["method"], Value("local"))
    let explanation = r["explanation"]!.string!
    XCTAssertTrue(explanation.hasPrefix("fires on"), explanation)
    let score = r["score"]!.number!
    XCTAssertTrue(score >= -1 && score <= 1, "score \(score)")
    XCTAssertEqual(r["held_out_examples"], Value(8), "4 odd-ranked top + 4 random")
    XCTAssertEqual(r["top"]!.list!.count, 8)
    XCTAssertEqual(r["histogram"]!.list!.map { $0.record!["count"]!.int! }.reduce(0, +), 2560)
    XCTAssertEqual(r["promotes"]!.list!.count, 8)
    // The score is the Bills et al. correlation on the held-out examples, recomputed here.
    let store = try ActivationStore(path: db)
    let rec = try store.component("L3N77")!
    let (_, heldOut) = ExplanationScore.split(top: rec.top, random: rec.random)
    XCTAssertEqual(h.page.local!.sentence, explanation)
    let s = try Self.session.get()
    let simulated = heldOut.map { h.page.local!.simulate($0.tokens.map { s.tokenText(Int($0)) }) }
    XCTAssertEqual(score, ExplanationScore.score(simulated: simulated, real: heldOut.map(\.acts)), accuracy: 1e-12)
    // Saved in the dataset, and shown beside the component by annotate.
    XCTAssertEqual(try store.explanation("L3N77")?.explanation, explanation)
    let annotated = try Table.from(try eval(#"[{component: "L3N77", total: 1}] | annotate --db "\#(db)""#))
    XCTAssertEqual(annotated.columns, ["component", "total", "explanation", "score"])
    XCTAssertEqual(annotated.rows[0][2], Value(explanation))
    // The terminal page: every section, examples marked without colour and coloured with it.
    let page = h.display(width: 120, color: false)
    for part in [
      "L3N77  neuron 77 of layer 3", "explanation: ", "score: ", "histogram:", "promotes: ", "driven by: ",
      "top examples:", "random examples:", "[[",
    ] {
      XCTAssertTrue(page.contains(part), "page lacks '\(part)':\n\(page)")
    }
    XCTAssertTrue(h.display(width: 120, color: true).contains("\u{1B}[48;2;"))
    // Into a pipe: JSON with the same fields.
    let json = try JSONSerialization.jsonObject(with: Data(v.json().utf8)) as! [String: Any]
    XCTAssertEqual(json["explanation"] as? String, explanation)
    XCTAssertEqual((json["top"] as? [Any])?.count, 8)
  }

  func testExplainAHeadAndALatent() throws {
    let db = try demoDataset()
    let head = try eval(#"explain L2H3 --db "\#(db)""#)
    guard case .host(let h as ComponentPageValue) = head else { return XCTFail() }
    XCTAssertTrue(h.page.explanation.hasPrefix("attends"), h.page.explanation)
    XCTAssertEqual(h.page.output.method, "OV copying score")
    XCTAssertNotNil(h.page.record.top.first?.keys)
    XCTAssertTrue(h.display(width: 100, color: false).contains("query underlined"))
    // A latent that fired in this dataset.
    let store = try ActivationStore(path: db)
    let latent = try store.summaries(kind: .latent).first { $0.summary.max > 0 }!.name
    let v = try eval(#"(explain \#(latent) --db "\#(db)").score"#)
    XCTAssertNotNil(v.number)
    XCTAssertThrowsError(try eval(#"explain L9N1 --db "\#(db)""#))
  }

  func testTopAndSearch() throws {
    let db = try demoDataset()
    let top = try Table.from(try eval(#"top neurons --by max --n 5 --db "\#(db)""#))
    XCTAssertEqual(top.count, 5)
    let maxes = top.rows.map { $0[1].number! }
    XCTAssertEqual(maxes, maxes.sorted(by: >))
    let store = try ActivationStore(path: db)
    XCTAssertEqual(maxes[0], try store.summaries(kind: .neuron).map(\.summary.max).max()!)
    let freq = try Table.from(try eval(#"top latents --by frequency --n 3 --asc --db "\#(db)""#))
    XCTAssertEqual(freq.rows.map { $0[3].number! }, freq.rows.map { $0[3].number! }.sorted())

    // --by score explains every head, saves them, and ranks by score.
    let scored = try Table.from(try eval(#"top heads --by score --n 4 --db "\#(db)""#))
    XCTAssertEqual(scored.count, 4)
    let scores = scored.rows.map { $0[4].number! }
    XCTAssertEqual(scores, scores.sorted(by: >))
    XCTAssertEqual(try store.explanations().keys.filter { $0.hasPrefix("L") && $0.contains("H") }.count, 48)

    // search: components whose top examples centre on " because".
    let hits = try Table.from(try eval(#"search " because" --n 5 --kind neurons --db "\#(db)""#))
    XCTAssertFalse(hits.rows.isEmpty)
    let because = 780
    for row in hits.rows {
      guard case .host(let c as ComponentValue) = row[0] else { return XCTFail("component column") }
      let name = c.component.description
      let centred = try store.component(name)!.top.filter { $0.token == because }.count
      XCTAssertEqual(row[1], Value(centred), name)
      XCTAssertTrue(name.contains("N"))
    }
  }

  func testMergeCommandAndShards() throws {
    let a = Self.directory.appendingPathComponent("s0.db").path, b = Self.directory.appendingPathComponent("s1.db").path
    let out = Self.directory.appendingPathComponent("merged.db").path
    let v = try eval(
      #"merge (collect demo --tokens 600 --kind heads --shard "0/2" --db "\#(a)").db (collect demo --tokens 600 --kind heads --shard "1/2" --db "\#(b)").db --db "\#(out)""#
    )
    XCTAssertEqual(v.record?["windows"], Value(3))
    XCTAssertEqual(v.record?["tokens"], Value(600))
    XCTAssertThrowsError(try eval(#"merge "\#(a)" "\#(b)" --db "\#(out)""#)) {
      XCTAssertTrue("\($0)".contains("already exists"), "\($0)")
    }
    XCTAssertNoThrow(try eval(#"merge "\#(a)" "\#(b)" --db "\#(out)" --replace"#))
    XCTAssertThrowsError(try eval(#"collect demo --shard "2/2" --db "\#(a)""#))
    XCTAssertThrowsError(try eval(#"collect demo --shard 1/2 --db "\#(a)""#)) {
      XCTAssertTrue("\($0)".contains("division"), "\($0)")
    }
    XCTAssertEqual(try eval(#"(collect demo --tokens 600 --kind heads --shard [1, 2] --db "\#(b)").windows"#), Value(1))
    XCTAssertThrowsError(try eval(#"collect demo --kind bogus --db "\#(a)""#))
  }

  /// Every example of the dataset commands runs (they build their own small datasets under /tmp).
  func testExamplesRun() throws {
    let (registry, interpreter) = interpreter()
    for command in registry.all where command.spec.group == "datasets" {
      XCTAssertFalse(command.spec.examples.isEmpty, command.spec.name)
      for example in command.spec.examples {
        XCTAssertNoThrow(try interpreter.evaluate(example), "\(command.spec.name): \(example)")
      }
    }
  }

  // MARK: - The chat-completions explainer

  func testChatExplainerAgainstALocalServer() throws {
    let db = try demoDataset()
    // The "model": explains every neuron as "the word because"; simulates 10 on " because", else 0.
    let server = try LocalChatServer { body in
      let request = try! JSONSerialization.jsonObject(with: body) as! [String: Any]
      let messages = request["messages"] as! [[String: String]]
      if messages[0]["content"]!.contains("summarize") { return (200, chatReply("the word because.")) }
      let tokens = messages[1]["content"]!.components(separatedBy: "Tokens:\n")[1].components(separatedBy: "\n")
      return (200, chatReply(tokens.map { "\($0)\t\($0 == " because" ? 10 : 0)" }.joined(separator: "\n")))
    }
    defer { server.stop() }
    let chat = try ChatExplainer.fromEnvironment([
      "TDB_EXPLAINER_URL": server.baseURL, "TDB_EXPLAINER_KEY": "test-key", "TDB_EXPLAINER_MODEL": "tiny-test",
    ])!
    XCTAssertEqual(chat.endpoint.absoluteString, server.baseURL + "/chat/completions")
    let s = try Self.session.get()
    let store = try ActivationStore(path: db)
    let page = try ComponentExplainer(session: s, store: store, chat: chat).page(.neuron(layer: 3, index: 77))
    XCTAssertEqual(page.explanation, "the word because")
    XCTAssertEqual(page.method, "chat tiny-test")
    // One explanation request, then one simulation per held-out example.
    let requests = server.requests
    XCTAssertEqual(requests.count, 1 + page.heldOutExamples)
    for r in requests {
      XCTAssertEqual(r.requestLine, "POST /v1/chat/completions HTTP/1.1")
      XCTAssertEqual(r.headers["authorization"], "Bearer test-key")
      let body = try JSONSerialization.jsonObject(with: r.body) as! [String: Any]
      XCTAssertEqual(body["model"] as? String, "tiny-test")
    }
    let explainPrompt =
      (try JSONSerialization.jsonObject(with: requests[0].body) as! [String: Any])["messages"] as! [[String: String]]
    XCTAssertTrue(explainPrompt[1]["content"]!.contains("<start example 1>"))
    // The score: the server's predictions correlated with the real activations.
    let rec = try store.component("L3N77")!
    XCTAssertTrue(
      explainPrompt[1]["content"]!.contains(s.tokenText(rec.top[0].token) + "\t10"),
      "the top activation is scaled to 10")
    let (_, heldOut) = ExplanationScore.split(top: rec.top, random: rec.random)
    let predicted = heldOut.map { $0.tokens.map { s.tokenText(Int($0)) == " because" ? 10.0 : 0 } }
    XCTAssertEqual(page.score, ExplanationScore.score(simulated: predicted, real: heldOut.map(\.acts)), accuracy: 1e-12)
    XCTAssertGreaterThan(page.score, 0.3, "L3N77 does fire on ' because'")

    // From the language: TDB_EXPLAINER_URL switches explain to the endpoint.
    setenv("TDB_EXPLAINER_URL", server.baseURL, 1)
    defer { unsetenv("TDB_EXPLAINER_URL") }
    let v = try eval(#"(explain L3N77 --db "\#(db)").method"#)
    XCTAssertEqual(v.string?.hasPrefix("chat "), true)
    XCTAssertEqual(try eval(#"(explain L3N77 --explainer local --db "\#(db)").method"#), Value("local"))
  }

  func testChatExplainerErrors() throws {
    let server = try LocalChatServer { _ in (500, Data("{\"error\": \"boom\"}".utf8)) }
    defer { server.stop() }
    let chat = try ChatExplainer.fromEnvironment(["TDB_EXPLAINER_URL": server.baseURL + "/chat/completions"])!
    XCTAssertEqual(chat.endpoint.absoluteString, server.baseURL + "/chat/completions")
    XCTAssertNil(chat.key)
    XCTAssertThrowsError(try chat.complete(system: "s", user: "u")) {
      XCTAssertTrue("\($0)".contains("HTTP 500"), "\($0)")
    }
    XCTAssertThrowsError(try ChatExplainer.fromEnvironment(["TDB_EXPLAINER_URL": "ftp://x"]))
    XCTAssertNil(try ChatExplainer.fromEnvironment([:]))
    XCTAssertEqual(ChatExplainer.parsePredictions("a\t3\nb\tx\nc\t12", count: 4), [3, 0, 10, 0])
  }
}
