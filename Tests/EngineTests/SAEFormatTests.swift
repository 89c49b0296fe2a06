import Foundation
import XCTest

@testable import Engine

/// Gemma Scope's params.npz and EleutherAI sparsify folders against the
/// values numpy computed for them (scripts/make-sae-format-fixtures.py).
final class SAEFormatTests: XCTestCase {
  static let fixtures = repoRoot.appendingPathComponent("Tests/Fixtures/sae-formats")
  static let expected = try! SafeTensorsFile(url: fixtures.appendingPathComponent("expected.safetensors"))
  static let gemmaFolder = "gemma-scope-demo-res/layer_3/width_256"

  func fixture(_ path: String) -> String { Self.fixtures.appendingPathComponent(path).path }

  func load(_ argument: String) throws -> [SparseAutoencoder] { try SAESource(argument).load() }

  func assertMatchesNumpy(
    _ sae: SparseAutoencoder, _ prefix: String, file: StaticString = #filePath, line: UInt = #line
  )
    throws
  {
    let x = try Self.expected.tensor("input")
    let latents = try Self.expected.tensor("\(prefix).latents")
    let (z, recon) = sae.encodeDecode(x)
    assertClose(z, latents, tolerance: 1e-5, "\(sae.name) latents", file: file, line: line)
    assertClose(sae.encode(x), latents, tolerance: 1e-5, "\(sae.name) encode", file: file, line: line)
    assertClose(
      recon, try Self.expected.tensor("\(prefix).recon"), tolerance: 1e-5, "\(sae.name) recon", file: file, line: line)
    assertClose(
      sae.decode(latents), try Self.expected.tensor("\(prefix).recon"), tolerance: 1e-5, "\(sae.name) decode",
      file: file, line: line)
    // The fixtures are built so that some latents fire and most do not.
    let active = z.scalars.filter { $0 != 0 }.count
    XCTAssertGreaterThan(active, 0, file: file, line: line)
    XCTAssertLessThan(active, z.count / 2, file: file, line: line)
  }

  // MARK: Gemma Scope

  func testGemmaScopeStoredAndDeflatedMatchNumpy() throws {
    for kind in ["stored", "deflated"] {
      // The folder and the file itself both load.
      for argument in ["\(Self.gemmaFolder)/\(kind)", "\(Self.gemmaFolder)/\(kind)/params.npz"] {
        let saes = try load(fixture(argument))
        XCTAssertEqual(saes.count, 1)
        let sae = saes[0]
        XCTAssertEqual(sae.name, "layer_3_width_256_\(kind)")
        XCTAssertEqual(sae.hook.name, "blocks.3.hook_resid_post")
        XCTAssertEqual(sae.architecture, .jumpReLU)
        XCTAssertFalse(sae.applyBDecToInput)
        XCTAssertEqual([sae.dIn, sae.dSAE], [256, 256])
        try assertMatchesNumpy(sae, "gemma_scope")
      }
    }
  }

  func testGemmaScopeHookFromPathOrArgument() throws {
    let hook = SparseAutoencoder.gemmaScopeHook
    XCTAssertEqual(
      hook("/x/gemma-scope-2b-pt-res/layer_12/width_16k/average_l0_82/params.npz")?.name, "blocks.12.hook_resid_post")
    XCTAssertEqual(
      hook("/x/gemma-scope-2b-pt-res-canonical/layer_0/width_16k/canonical")?.name, "blocks.0.hook_resid_post")
    XCTAssertEqual(hook("gemma-scope-9b-it-mlp/layer_7/width_131k/average_l0_10")?.name, "blocks.7.hook_mlp_out")
    XCTAssertEqual(hook("gemma-scope-2b-pt-att/layer_5/width_16k/average_l0_50")?.name, "blocks.5.attn.hook_z")
    XCTAssertNil(hook("/x/my-sae/params.npz"))
    XCTAssertNil(hook("/x/gemma-scope-2b-pt-res/params.npz"))
    XCTAssertEqual(
      SparseAutoencoder.gemmaScopeName(path: "/x/gemma-scope-2b-pt-res/layer_12/width_16k/average_l0_82/params.npz"),
      "layer_12_width_16k_average_l0_82")
    XCTAssertEqual(SparseAutoencoder.gemmaScopeName(path: "/x/my-sae.v2.npz"), "my_sae_v2")

    // @HOOK overrides the path; a copy with no hook in its path needs it.
    let copy = FileManager.default.temporaryDirectory.appendingPathComponent("tdb-sae-\(UUID().uuidString).npz")
    defer { try? FileManager.default.removeItem(at: copy) }
    try FileManager.default.copyItem(atPath: fixture("\(Self.gemmaFolder)/stored/params.npz"), toPath: copy.path)
    XCTAssertThrowsError(try load(copy.path)) { e in
      XCTAssertTrue("\(e)".contains("give one as --sae PATH@blocks.12.hook_resid_post"), "\(e)")
    }
    let at = try load(copy.path + "@blocks.2.hook_mlp_out")[0]
    XCTAssertEqual(at.hook.name, "blocks.2.hook_mlp_out")
    try assertMatchesNumpy(at, "gemma_scope")
    XCTAssertThrowsError(try SAESource(copy.path + "@blocks.2.nowhere")) { e in
      XCTAssertEqual("\(e)", "--sae: 'blocks.2.nowhere' after @ is not a hook point (e.g. blocks.3.hook_resid_post)")
    }
  }

  /// Version 2 and 3 headers, float16 and float64 data and a Fortran-ordered
  /// array read as the same values as plain float32.
  func testNpyVariantsReadAlike() throws {
    let plain = try NumpyArchive(url: URL(fileURLWithPath: fixture("cases/variants-f4.npz")))
    let mixed = try NumpyArchive(url: URL(fileURLWithPath: fixture("cases/variants-mixed.npz")))
    XCTAssertEqual(plain.names, ["W_enc", "W_dec", "b_enc", "b_dec", "threshold"])
    for name in plain.names {
      let a = try plain.array(name), b = try mixed.array(name)
      XCTAssertEqual(a.shape, b.shape, name)
      XCTAssertEqual(a.tensor.scalars, b.tensor.scalars, name)
    }
  }

  func testHeaderParser() {
    let h = NumpyHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }     \n")
    XCTAssertEqual(h?.descr, "<f4")
    XCTAssertEqual(h?.shape, [2, 3])
    XCTAssertEqual(NumpyHeader("{'descr': '<f2', 'fortran_order': True, 'shape': (5,)}")?.shape, [5])
    XCTAssertEqual(NumpyHeader("{'descr': '<f8', 'fortran_order': False, 'shape': ()}")?.shape, [])
    XCTAssertNil(NumpyHeader("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}"))
    XCTAssertNil(NumpyHeader("{'descr': '<f4', 'shape': (2,)}"))
    XCTAssertNil(NumpyHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2,"))
    XCTAssertNil(NumpyHeader(""))
  }

  /// Each damaged archive is one line naming the file and what is wrong.
  func testDamagedArchivesAreOneLineErrors() throws {
    let cases: [(String, String)] = [
      ("not-a-zip", "not a .npz (zip) archive"),
      ("missing-threshold", "no array 'threshold' in it (it has: W_enc, W_dec, b_enc, b_dec)"),
      ("bad-magic", "W_enc.npy: bad magic (not a .npy array)"),
      ("bad-version", "W_enc.npy: format version 9.0 is not one numpy writes"),
      ("bad-header", "W_enc.npy: header is not a dict literal with descr, fortran_order and shape"),
      ("bfloat16", "W_enc.npy: dtype '<V2' is not supported"),
      ("int-dtype", "W_enc.npy: dtype '<i4' is not supported"),
      ("truncated", "W_enc.npy: truncated: shape [4, 3] needs 48 bytes of data, the file has 43"),
      ("shape-disagrees", "W_dec.npy: shape [4, 3] disagrees with W_enc [4, 3]: expected [3, 4]"),
      ("rank-3", "W_enc.npy: shape [4, 3, 1] is not [d_in, d_sae]"),
      ("damaged-stored", "W_enc.npy: damaged in the archive (CRC32 mismatch)"),
      ("damaged-deflated", "W_enc.npy: "),
    ]
    for (name, why) in cases {
      let path = fixture("cases/\(name).npz")
      XCTAssertThrowsError(try load(path + "@blocks.0.hook_resid_post"), name) { e in
        let message = "\(e)"
        XCTAssertTrue(e is ModelError, "\(name): \(type(of: e))")
        XCTAssertTrue(message.hasPrefix("SAE '\(path)': \(why)"), "\(name): \(message)")
        XCTAssertFalse(message.contains("\n"), name)
      }
    }
    // A good archive of the same family loads (the faults above are the only ones).
    XCTAssertEqual(try load(fixture("cases/variants-f4.npz") + "@blocks.0.hook_resid_post")[0].dSAE, 3)
  }

  // MARK: sparsify

  func testSparsifyMatchesNumpy() throws {
    let sae = try XCTUnwrap(load(fixture("sparsify-demo/layers.3")).first)
    XCTAssertEqual(sae.name, "layers_3")
    XCTAssertEqual(sae.hook.name, "blocks.3.hook_resid_post")
    XCTAssertEqual(sae.architecture, .topK(16))
    XCTAssertTrue(sae.applyBDecToInput)
    XCTAssertEqual([sae.dIn, sae.dSAE], [256, 256])
    try assertMatchesNumpy(sae, "sparsify")
    // The checkpoint folder loads every hookpoint in it.
    let all = try load(fixture("sparsify-demo"))
    XCTAssertEqual(all.map(\.name), ["layers_3"])
  }

  func testSparsifyHookpoints() {
    let hook = SparseAutoencoder.sparsifyHook
    XCTAssertEqual(hook("layers.3")?.name, "blocks.3.hook_resid_post")
    XCTAssertEqual(hook("layers.10.mlp")?.name, "blocks.10.hook_mlp_out")
    XCTAssertEqual(hook("gpt_neox.layers.5")?.name, "blocks.5.hook_resid_post")
    XCTAssertEqual(hook("gpt_neox.layers.5.mlp")?.name, "blocks.5.hook_mlp_out")
    XCTAssertEqual(hook("model.layers.2")?.name, "blocks.2.hook_resid_post")
    XCTAssertNil(hook("layers.3.self_attn"))
    XCTAssertNil(hook("embed_tokens"))
    XCTAssertNil(hook("layers.x"))
  }

  func testBadSparsifyFoldersAreOneLineErrors() {
    let cases: [(String, String, String)] = [
      ("no-k", "cfg.json", "cfg.json has no k"),
      ("groupmax", "cfg.json", "activation 'groupmax' is not supported (topk is)"),
      ("wrong-b-dec", "sae.safetensors", "b_dec is [3], which disagrees with encoder.weight [3, 4]: expected [4]"),
      ("missing-w-dec", "sae.safetensors", "no tensor 'W_dec'"),
    ]
    for (name, file, why) in cases {
      let folder = fixture("cases/sparsify/\(name)/layers.0")
      XCTAssertThrowsError(try load(folder), name) { e in
        XCTAssertEqual("\(e)".split(separator: ":").first, "SAE '\(folder)/\(file)'", name)
        XCTAssertTrue("\(e)".contains(why), "\(name): \(e)")
        XCTAssertFalse("\(e)".contains("\n"), name)
      }
    }
  }

  /// Spliced into the demo model at blocks.3.hook_resid_post, each reads the
  /// clean value there and its latents are what encode gives for it.
  func testSplicedIntoTheDemoModel() throws {
    let tokens = try golden.integers("p0.tokens")
    let sparsify = try load(fixture("sparsify-demo/layers.3"))[0]
    let gemma = try load(fixture("\(Self.gemmaFolder)/deflated"))[0]
    let clean = try demoModel.forward(tokens, options: ForwardOptions(cache: .points([sparsify.hook])))
    let x = clean.cache[sparsify.hook]!
    for sae in [sparsify, gemma] {
      let acts = HookPoint(sae.hook.site, layer: sae.hook.layer, sae: .actsPost)
      let spliced = try demoModel.forward(
        tokens, options: ForwardOptions(cache: .points([acts]), saes: [SAESplice(sae, keepError: false)], logits: .last)
      )
      assertClose(spliced.cache[acts]!, sae.encode(x), tolerance: 1e-5, "\(sae.name) spliced latents")
      XCTAssertGreaterThan(spliced.cache[acts]!.scalars.filter { $0 != 0 }.count, 0, sae.name)
      // Without the error term the model sees the reconstruction: other logits.
      XCTAssertGreaterThan(relativeError(spliced.lastLogits, clean.lastLogits), 1e-3, sae.name)
    }
  }

  /// At attn.hook_z ([T, H, D]) an SAE reads the heads flattened to [T, H·D]
  /// (8 × 32 = 256 here) and gives the hook its shape back, forward and backward.
  func testSplicedAtHookZWithTheHeadsFlattened() throws {
    let tokens = try golden.integers("p0.tokens")
    let sae = try load(fixture("\(Self.gemmaFolder)/stored/params.npz") + "@blocks.3.attn.hook_z")[0]
    XCTAssertEqual(sae.hook.saeInputWidth(config: demoModel.config), 256)
    XCTAssertNil(HookPoint.block(3, .pattern).saeInputWidth(config: demoModel.config))
    let z = try demoModel.forward(tokens, options: ForwardOptions(cache: .points([sae.hook]))).cache[sae.hook]!
    XCTAssertEqual(z.shape, [tokens.count, 8, 32])
    let acts = HookPoint(.z, layer: 3, sae: .actsPost), output = HookPoint(.z, layer: 3, sae: .output)
    let spliced = try demoModel.forward(
      tokens,
      options: ForwardOptions(
        cache: .points([acts, output, sae.hook]), saes: [SAESplice(sae, keepError: false)], logits: .last))
    assertClose(spliced.cache[acts]!, sae.encode(z.reshaped([tokens.count, 256])), tolerance: 1e-5, "latents")
    XCTAssertEqual(spliced.cache[output]!.shape, [tokens.count, 256])
    let metric = Metric.logitDifference(position: -1, target: 5335, distractor: 1757)
    let forward = ForwardOptions(saes: [SAESplice(sae, keepError: false)])
    let g = try demoModel.gradients(tokens, metric: metric, forward: forward)
    XCTAssertEqual(g.gradients[sae.hook]?.shape, [tokens.count, 8, 32])
    try checkDirectionalDerivatives(
      tokens, metric, hooks: [.block(3, .v), sae.hook, acts, .block(4, .q)], forward: forward, seed: 9,
      largestStep: 3e-3)
  }

  // MARK: Which loader

  func testPathsThatHoldNoSAE() throws {
    XCTAssertEqual(try SAESource("/nonexistent/sae").problem(), "--sae: no such folder or file '/nonexistent/sae'")
    let empty = FileManager.default.temporaryDirectory.appendingPathComponent("tdb-empty-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: empty) }
    XCTAssertTrue(try SAESource(empty.path).problem()?.contains("has no cfg.json or params.npz") == true)
    XCTAssertThrowsError(try load(empty.path))
    // A hook is for one SAE, not a folder of them.
    XCTAssertTrue(
      try SAESource(fixture("sparsify-demo") + "@blocks.1.hook_resid_post").problem()?.contains("not a folder of them")
        == true)
    // A folder of SAELens folders loads each, in name order.
    XCTAssertEqual(
      try load(demoFolder.appendingPathComponent("sae").path).map(\.name),
      ["blocks_3_hook_resid_pre", "blocks_3_mlp_hook_post"])
    // The SAELens path is unchanged; its hook comes from cfg.json.
    let saeLens = demoFolder.appendingPathComponent("sae/blocks_3_hook_resid_pre").path
    XCTAssertEqual(try load(saeLens).map(\.hook.name), ["blocks.3.hook_resid_pre"])
    XCTAssertThrowsError(try load(saeLens + "@blocks.1.hook_resid_post")) { e in
      XCTAssertTrue("\(e)".contains("names its hook in cfg.json"), "\(e)")
    }
  }
}
