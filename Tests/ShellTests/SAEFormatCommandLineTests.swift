import Foundation
import XCTest

/// `tdb --sae` with Gemma Scope and sparsify SAEs, end to end.
final class SAEFormatCommandLineTests: XCTestCase {
  let fixtures = TDBProcess.root.appendingPathComponent("Tests/Fixtures/sae-formats")
  var gemma: String { fixtures.appendingPathComponent("gemma-scope-demo-res/layer_3/width_256/stored").path }
  var sparsify: String { fixtures.appendingPathComponent("sparsify-demo").path }
  let prompt = #""When Mary and John went to the store, John gave a drink to""#

  func testSAEsListsAndRunSplicesBothFormats() throws {
    let r = try TDBProcess.run([
      "--sae", gemma, "--sae", sparsify, "-c", #"saes | where hook == "blocks.3.hook_resid_post""#,
    ])
    XCTAssertEqual(r.stderr, "")
    XCTAssertEqual(
      r.stdout,
      """
      name\thook\td_in\td_sae\tarchitecture
      layer_3_width_256_stored\tblocks.3.hook_resid_post\t256\t256\tjumprelu
      layers_3\tblocks.3.hook_resid_post\t256\t256\ttopk (k=16)

      """)
    for name in ["layer_3_width_256_stored", "layers_3"] {
      let script = """
        let p = \(prompt)
        let clean = logitdiff (run p) " Mary" " John"
        let kept = logitdiff (run p --sae \(name) --keep-error) " Mary" " John"
        let spliced = logitdiff (run p --sae \(name)) " Mary" " John"
        print ((kept - clean) * (kept - clean) < 0.000001) ((spliced - clean) * (spliced - clean) > 0.0001)
        latents (run p --sae \(name)) \(name) --top 1 | count
        """
      let s = try TDBProcess.run(["--sae", gemma, "--sae", sparsify, "-c", script])
      XCTAssertEqual(s.stderr, "", name)
      XCTAssertEqual(s.stdout, "true true\n1\n", name)
    }
  }

  func testHookAfterAtAndItsErrors() throws {
    let npz = gemma + "/params.npz"
    let at = try TDBProcess.run(["--sae", npz + "@blocks.2.hook_mlp_out", "-c", "saes | where d_sae == 256 | get hook"])
    XCTAssertEqual(at.stderr, "")
    XCTAssertTrue(at.stdout.contains("blocks.2.hook_mlp_out"), at.stdout)
    let badHook = try TDBProcess.run(["--sae", npz + "@blocks.2.nowhere", "-c", "saes"])
    XCTAssertEqual(badHook.status, 64)
    XCTAssertEqual(
      badHook.stderr,
      "tdb: error: --sae: 'blocks.2.nowhere' after @ is not a hook point (e.g. blocks.3.hook_resid_post)\n")
    // A hook this model does not have is refused when the SAE loads.
    let tooDeep = try TDBProcess.run(["--sae", npz + "@blocks.9.hook_resid_post", "-c", "saes"])
    XCTAssertEqual(tooDeep.status, 70)
    let notZip = fixtures.appendingPathComponent("cases/not-a-zip.npz").path
    let bad = try TDBProcess.run(["--sae", notZip + "@blocks.0.hook_resid_post", "-c", "saes"])
    XCTAssertEqual(bad.status, 70)
    // One line of message (then the command it stopped, with a caret).
    let message = bad.stderr.split(separator: "\n").first ?? ""
    XCTAssertTrue(
      message.hasPrefix("-c:1:1: error: saes: cannot load the model: SAE '\(notZip)': not a .npz (zip) archive"),
      bad.stderr)
    // The MLP output is 256 wide; the MLP's hidden layer (1024) is not.
    let wide = try TDBProcess.run(["--sae", npz + "@blocks.2.mlp.hook_post", "-c", "saes"])
    XCTAssertEqual(wide.status, 70)
    XCTAssertTrue(
      wide.stderr.contains("d_in 256 does not match blocks.2.mlp.hook_post of this model (width 1024)"), wide.stderr)
  }
}
