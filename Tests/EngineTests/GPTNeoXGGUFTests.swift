import XCTest

@testable import Engine

/// GPT-NeoX (Pythia) from a GGUF file as llama.cpp's converter writes it:
/// `Tests/Fixtures/gguf/tiny-neox.gguf` is the tiny random `neox` model
/// (parallel residual, partial rotary, biases) with the SmolLM2 tokenizer,
/// converted by convert_hf_to_gguf.py to F16 (scripts/make-gguf-neox-fixture.py).
/// Its weights are the F16 values of the Hugging Face folder, so everything
/// must agree with that folder's model and with transformers' values.
final class GPTNeoXGGUFTests: XCTestCase {
  static let url = repoRoot.appendingPathComponent("Tests/Fixtures/gguf/tiny-neox.gguf")
  static let gguf = try! TransformerModel(gguf: url)
  static let folder = try! hfTinyModel("neox")

  func testTheConfigurationIsTheFoldersOne() throws {
    let mine = Self.gguf.config, theirs = Self.folder.model.config
    XCTAssertEqual(mine.family, .gptNeoX)
    XCTAssertEqual(
      [mine.layers, mine.heads, mine.kvHeads, mine.dModel, mine.dHead, mine.dMLP, mine.context, mine.vocabSize],
      [
        theirs.layers, theirs.heads, theirs.kvHeads, theirs.dModel, theirs.dHead, theirs.dMLP, theirs.context,
        theirs.vocabSize,
      ])
    XCTAssertEqual(mine.positions, theirs.positions)
    XCTAssertEqual(mine.norm, .layerNorm)
    XCTAssertEqual(mine.normEpsilon, theirs.normEpsilon)
    XCTAssertEqual(mine.mlp, .exactGELU)
    XCTAssertTrue(mine.parallelResidual)
    XCTAssertFalse(mine.tiedEmbeddings)
  }

  /// The converter stores the fused q|k|v rows grouped by part, not by head;
  /// read back, every weight has the folder's bits.
  func testEveryWeightHasTheFoldersValues() throws {
    let mine = Self.gguf.weights, theirs = Self.folder.model.weights
    for l in 0..<Self.gguf.config.layers {
      let a = mine.blocks[l], b = theirs.blocks[l]
      let pairs: [(String, Tensor, Tensor)] = [
        ("qkv", a.attnWeight, b.attnWeight), ("qkv bias", a.attnBias, b.attnBias),
        ("o", a.attnProjWeight, b.attnProjWeight), ("o bias", a.attnProjBias, b.attnProjBias),
        ("ln1", a.ln1Weight, b.ln1Weight), ("ln1 bias", a.ln1Bias, b.ln1Bias),
        ("ln2", a.ln2Weight, b.ln2Weight), ("ln2 bias", a.ln2Bias, b.ln2Bias),
        ("fc", a.fcWeight, b.fcWeight), ("fc bias", a.fcBias, b.fcBias),
        ("proj", a.fcProjWeight, b.fcProjWeight), ("proj bias", a.fcProjBias, b.fcProjBias),
      ]
      for (name, x, y) in pairs {
        XCTAssertEqual(x.shape, y.shape, "block \(l) \(name)")
        XCTAssertEqual(x.scalars, y.scalars, "block \(l) \(name)")
      }
    }
    XCTAssertEqual(mine.wte.scalars, theirs.wte.scalars, "embedding")
    XCTAssertEqual(mine.lmHead.scalars, theirs.lmHead.scalars, "unembedding")
    XCTAssertEqual(mine.lnfWeight.scalars + mine.lnfBias.scalars, theirs.lnfWeight.scalars + theirs.lnfBias.scalars)
  }

  func testLogitsAndHookValuesMatchTransformers() throws {
    let ref = Self.folder.reference
    let columns = try ref.integers("logit_columns")
    for k in 0..<3 {
      let tokens = try ref.integers("p\(k).tokens")
      let r = try Self.gguf.forward(tokens, options: ForwardOptions(cache: .all))
      assertClose(logitColumns(r.logits, columns), try ref.tensor("p\(k).logits"), tolerance: 1e-4, "p\(k) logits")
      for key in ref.names where key.hasPrefix("p\(k).") && !key.hasPrefix("p\(k).grad.") {
        guard let point = HookPoint(name: String(key.dropFirst("p\(k).".count))) else { continue }
        assertClose(try XCTUnwrap(r.cache[point]), try ref.tensor(key), tolerance: 1e-4, "p\(k) \(point.name)")
      }
    }
  }

  /// Another architecture in the same file is refused in one line that
  /// names the architectures a GGUF file may have, as llama.cpp spells them.
  func testAnUnknownArchitectureNamesTheGGUFOnes() throws {
    var b = try GGUFBytes(fixture: "tiny-neox.gguf")
    let end = b.end(ofString: "gptneox")
    b.bytes.replaceSubrange(end - 7..<end, with: Array("rwkv777".utf8))
    let url = try b.save("unknown-architecture.gguf")
    XCTAssertThrowsError(try TransformerModel(gguf: url)) { error in
      let text = "\(error)"
      XCTAssertTrue(text.contains("the architecture 'rwkv777' is not supported"), text)
      XCTAssertTrue(text.contains("gemma3, gptneox, llama"), text)
      XCTAssertFalse(text.contains("\n"), text)
    }
  }

  /// The file's tokenizer (`gpt2` model, `smollm` pre-tokenizer) is SmolLM2's.
  func testTheTokenizerIsSmolLM2s() throws {
    let json = try HFTokenizer(
      folder: repoRoot.appendingPathComponent("Tests/Fixtures/tiny-models/tokenizer"))
    for text in [
      "When Mary and John went to the store, John gave a drink to", "1234 tokens\n\n  indented", "naïve café 😀",
    ] {
      XCTAssertEqual(Self.gguf.tokenizer.encode(text), json.encode(text), text)
    }
  }
}
