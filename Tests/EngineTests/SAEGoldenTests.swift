import XCTest

@testable import Engine

/// Both demo SAEs against the golden latents, reconstructions and spliced logits.
final class SAEGoldenTests: XCTestCase {
  let folders = ["blocks_3_hook_resid_pre", "blocks_3_mlp_hook_post"]

  func load(_ name: String) throws -> SparseAutoencoder {
    try SparseAutoencoder(folder: demoFolder.appendingPathComponent("sae/\(name)"))
  }

  func testLatentsAndReconstructionMatchGolden() throws {
    let tokens = try golden.integers("p0.tokens")
    for name in folders {
      let sae = try load(name)
      XCTAssertEqual(sae.architecture, .topK(32))
      let x = try demoModel.forward(tokens, options: ForwardOptions(cache: .points([sae.hook]))).cache[sae.hook]!
      let (z, recon) = sae.encodeDecode(x)
      assertClose(z, try golden.tensor("sae.\(name).latents"), tolerance: 1e-4, "\(name) latents")
      assertClose(recon, try golden.tensor("sae.\(name).recon"), tolerance: 1e-4, "\(name) recon")
      // TopK keeps exactly k latents per token (none is exactly zero here).
      for t in 0..<tokens.count { XCTAssertLessThanOrEqual(z.row(t).scalars.filter { $0 != 0 }.count, 32) }
    }
  }

  /// `sae_spliced_causal.safetensors` is the same reference recomputed with the
  /// block's causal mask kept: the shipped golden value for the resid_pre SAE
  /// came from a forward pre-hook that dropped block 3's other arguments, so
  /// block 3 attended to future tokens there (the mlp_post value is unaffected
  /// and is checked against the shipped file too).
  func testSplicedWithoutErrorMatchesGoldenLogits() throws {
    let tokens = try golden.integers("p0.tokens")
    let fixed = try SafeTensorsFile(url: goldenFolder.appendingPathComponent("sae_spliced_causal.safetensors"))
    for name in folders {
      let sae = try load(name)
      let r = try demoModel.forward(
        tokens, options: ForwardOptions(saes: [SAESplice(sae, keepError: false)], logits: .last))
      assertClose(
        r.logits.row(0), try fixed.tensor("sae.\(name).spliced_logits_last_no_error"), tolerance: 1e-4,
        "\(name) spliced")
    }
    let mlp = try load("blocks_3_mlp_hook_post")
    let r = try demoModel.forward(
      tokens, options: ForwardOptions(saes: [SAESplice(mlp, keepError: false)], logits: .last))
    assertClose(
      r.logits.row(0), try golden.tensor("sae.blocks_3_mlp_hook_post.spliced_logits_last_no_error"), tolerance: 1e-4,
      "shipped")
  }

  func testSplicedWithErrorLeavesForwardUnchangedAndExposesSites() throws {
    let tokens = try golden.integers("p0.tokens")
    let sae = try load("blocks_3_hook_resid_pre")
    let sites = HookPoint.SAESite.allCases.map { HookPoint(sae.hook.site, layer: 3, sae: $0) }
    let r = try demoModel.forward(
      tokens,
      options: ForwardOptions(cache: .points(Set(sites)), saes: [SAESplice(sae, keepError: true)], logits: .last))
    assertClose(r.logits.row(0), try golden.tensor("p0.logits").row(tokens.count - 1), tolerance: 1e-4, "unchanged")
    for s in sites { XCTAssertNotNil(r.cache[s], s.name) }
    XCTAssertEqual(r.cache[sites[1]]?.shape, [tokens.count, 4096])
    assertClose(
      r.cache[sites[1]]!, try golden.tensor("sae.blocks_3_hook_resid_pre.latents"), tolerance: 1e-4, "acts_post")
  }

  func testBadFoldersGiveOneLineErrors() throws {
    let dir = scratchDirectory()
    XCTAssertThrowsError(try SparseAutoencoder(folder: dir)) { XCTAssertTrue("\($0)".contains("no cfg.json")) }
    let cfg = #"{"architecture":"gated","d_in":256,"d_sae":8,"hook_name":"blocks.3.hook_resid_pre"}"#
    try cfg.write(to: dir.appendingPathComponent("cfg.json"), atomically: true, encoding: .utf8)
    XCTAssertThrowsError(try SparseAutoencoder(folder: dir)) { XCTAssertTrue("\($0)".contains("'gated'"), "\($0)") }
    let norm =
      #"{"architecture":"standard","d_in":256,"d_sae":8,"hook_name":"blocks.3.hook_resid_pre","normalize_activations":"expected_average_only_in"}"#
    try norm.write(to: dir.appendingPathComponent("cfg.json"), atomically: true, encoding: .utf8)
    XCTAssertThrowsError(try SparseAutoencoder(folder: dir)) {
      XCTAssertTrue("\($0)".contains("scaling factor"), "\($0)")
    }
  }
}
