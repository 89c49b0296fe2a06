import XCTest

@testable import Engine

/// GPT-NeoX (Pythia) and GPT-2 from GGUF files as llama.cpp's converter
/// writes them: `Tests/Fixtures/gguf/tiny-neox.gguf` and `tiny-gpt2.gguf`
/// are the tiny random `neox` (parallel residual, partial rotary, biases)
/// and `gpt2` models with the SmolLM2 tokenizer, converted by
/// convert_hf_to_gguf.py (scripts/make-gguf-model-fixtures.py) to their
/// folders' own precision. So everything must agree with the folders'
/// models and with transformers' values.
final class ConvertedGGUFModelTests: XCTestCase {
  static let names = ["neox", "gpt2"]
  static let gguf = Dictionary(
    uniqueKeysWithValues: names.map { name in
      (name, try! TransformerModel(gguf: repoRoot.appendingPathComponent("Tests/Fixtures/gguf/tiny-\(name).gguf")))
    })
  static let folder = Dictionary(uniqueKeysWithValues: names.map { ($0, try! hfTinyModel($0)) })

  func testTheConfigurationIsTheFoldersOne() throws {
    for name in Self.names {
      let mine = Self.gguf[name]!.config, theirs = Self.folder[name]!.model.config
      XCTAssertEqual(
        [mine.layers, mine.heads, mine.kvHeads, mine.dModel, mine.dHead, mine.dMLP, mine.context, mine.vocabSize],
        [
          theirs.layers, theirs.heads, theirs.kvHeads, theirs.dModel, theirs.dHead, theirs.dMLP, theirs.context,
          theirs.vocabSize,
        ], name)
      XCTAssertEqual(mine.family, theirs.family, name)
      XCTAssertEqual(mine.positions, theirs.positions, name)
      XCTAssertEqual(mine.norm, theirs.norm, name)
      XCTAssertEqual(mine.normEpsilon, theirs.normEpsilon, name)
      XCTAssertEqual(mine.mlp, theirs.mlp, name)
      XCTAssertEqual(mine.parallelResidual, theirs.parallelResidual, name)
      XCTAssertEqual(mine.tiedEmbeddings, theirs.tiedEmbeddings, name)
    }
    XCTAssertEqual(Self.gguf["neox"]!.config.family, .gptNeoX)
    XCTAssertEqual(Self.gguf["neox"]!.config.mlp, .exactGELU)
    XCTAssertTrue(Self.gguf["neox"]!.config.parallelResidual)
    XCTAssertEqual(Self.gguf["gpt2"]!.config.positions, .learned)
  }

  /// The converter regroups NeoX's fused q|k|v rows by part and stores
  /// GPT-2's Conv1D weights transposed; read back, every weight has the
  /// folder's bits.
  func testEveryWeightHasTheFoldersValues() throws {
    for name in Self.names {
      let mine = Self.gguf[name]!.weights, theirs = Self.folder[name]!.model.weights
      for l in 0..<mine.blocks.count {
        let a = mine.blocks[l], b = theirs.blocks[l]
        let pairs: [(String, Tensor, Tensor)] = [
          ("qkv", a.attnWeight, b.attnWeight), ("qkv bias", a.attnBias, b.attnBias),
          ("o", a.attnProjWeight, b.attnProjWeight), ("o bias", a.attnProjBias, b.attnProjBias),
          ("ln1", a.ln1Weight, b.ln1Weight), ("ln1 bias", a.ln1Bias, b.ln1Bias),
          ("ln2", a.ln2Weight, b.ln2Weight), ("ln2 bias", a.ln2Bias, b.ln2Bias),
          ("fc", a.fcWeight, b.fcWeight), ("fc bias", a.fcBias, b.fcBias),
          ("proj", a.fcProjWeight, b.fcProjWeight), ("proj bias", a.fcProjBias, b.fcProjBias),
        ]
        for (part, x, y) in pairs {
          XCTAssertEqual(x.shape, y.shape, "\(name) block \(l) \(part)")
          XCTAssertEqual(x.scalars, y.scalars, "\(name) block \(l) \(part)")
        }
      }
      XCTAssertEqual(mine.wte.scalars, theirs.wte.scalars, "\(name) embedding")
      XCTAssertEqual(mine.wpe?.scalars, theirs.wpe?.scalars, "\(name) positions")
      XCTAssertEqual(mine.lmHead.scalars, theirs.lmHead.scalars, "\(name) unembedding")
      XCTAssertEqual(
        mine.lnfWeight.scalars + mine.lnfBias.scalars, theirs.lnfWeight.scalars + theirs.lnfBias.scalars, name)
    }
  }

  func testLogitsAndHookValuesMatchTransformers() throws {
    for name in Self.names {
      let ref = Self.folder[name]!.reference
      let columns = try ref.integers("logit_columns")
      for k in 0..<3 {
        let tokens = try ref.integers("p\(k).tokens")
        let r = try Self.gguf[name]!.forward(tokens, options: ForwardOptions(cache: .all))
        assertClose(
          logitColumns(r.logits, columns), try ref.tensor("p\(k).logits"), tolerance: 1e-4, "\(name) p\(k) logits")
        for key in ref.names where key.hasPrefix("p\(k).") && !key.hasPrefix("p\(k).grad.") {
          guard let point = HookPoint(name: String(key.dropFirst("p\(k).".count))) else { continue }
          assertClose(
            try XCTUnwrap(r.cache[point]), try ref.tensor(key), tolerance: 1e-4, "\(name) p\(k) \(point.name)")
        }
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
      XCTAssertTrue(text.contains("gemma3, gpt2, gptneox, llama"), text)
      XCTAssertFalse(text.contains("\n"), text)
    }
  }

  /// The files' tokenizer (`gpt2` model, `smollm` pre-tokenizer) is SmolLM2's.
  func testTheTokenizerIsSmolLM2s() throws {
    let json = try HFTokenizer(
      folder: repoRoot.appendingPathComponent("Tests/Fixtures/tiny-models/tokenizer"))
    for text in [
      "When Mary and John went to the store, John gave a drink to", "1234 tokens\n\n  indented", "naïve café 😀",
    ] {
      for name in Self.names {
        XCTAssertEqual(Self.gguf[name]!.tokenizer.encode(text), json.encode(text), "\(name): \(text)")
      }
    }
  }
}
