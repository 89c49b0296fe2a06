import Foundation
import XCTest

@testable import Engine

/// The real SmolLM2-135M-Instruct Q4_1 model: its metadata, and tensors
/// dequantized bit for bit as gguf-py does (expectations in smollm2-expected.json).
final class GGUFModelTests: XCTestCase {
  func modelFile() throws -> GGUFFile { try GGUFFile(url: try smolLM2File()) }

  struct Expected: Decodable {
    let type: String, shape: [Int], first: [UInt32], last: [UInt32], middle: [UInt32], bitsum: String, sum: Double
  }

  func testMetadata() throws {
    let f = try modelFile()
    XCTAssertEqual(f.version, 3)
    XCTAssertEqual(f.metadata["general.architecture"]?.string, "llama")
    XCTAssertEqual(f.metadata["llama.block_count"]?.int, 30)
    XCTAssertEqual(f.metadata["llama.embedding_length"]?.int, 576)
    XCTAssertEqual(f.metadata["llama.attention.head_count_kv"]?.int, 3)
    XCTAssertEqual(f.metadata["llama.attention.layer_norm_rms_epsilon"]?.float, 1e-5)
    XCTAssertEqual(f.metadata["tokenizer.ggml.tokens"]?.strings?.count, 49152)
    XCTAssertEqual(f.metadata["tokenizer.ggml.token_type"]?.ints?.count, 49152)
    XCTAssertEqual(f.metadata["tokenizer.ggml.merges"]?.strings?.count, 48900)
    XCTAssertEqual(f.metadata["tokenizer.ggml.add_bos_token"]?.bool, false)
    XCTAssertEqual(f.tensorInfos.count, 272)
    XCTAssertEqual(f.tensors["blk.0.attn_q.weight"]?.type, .q4_1)
    XCTAssertEqual(f.tensors["token_embd.weight"]?.shape, [49152, 576])
    XCTAssertFalse(f.describe().isEmpty)
  }

  func testTensorsMatchGGUFPy() throws {
    let f = try modelFile()
    let data = try Data(contentsOf: ggufFixtures.appendingPathComponent("smollm2-expected.json"))
    let expected = try JSONDecoder().decode([String: Expected].self, from: data)
    XCTAssertEqual(expected.count, 3)
    for (name, e) in expected.sorted(by: { $0.key < $1.key }) {
      XCTAssertEqual(f.tensors[name]?.type.name, e.type, name)
      let t = try f.tensor(name, shape: e.shape)
      let bits = t.scalars.map(\.bitPattern)
      let mid = bits.count / 2
      XCTAssertEqual(Array(bits.prefix(16)), e.first, name)
      XCTAssertEqual(Array(bits.suffix(16)), e.last, name)
      XCTAssertEqual(Array(bits[mid..<mid + 16]), e.middle, name)
      XCTAssertEqual(bits.reduce(UInt64(0)) { $0 &+ UInt64($1) }, UInt64(e.bitsum), name)
      let sum = t.scalars.reduce(0.0) { $0 + Double($1) }
      XCTAssertEqual(sum, e.sum, accuracy: 1e-9 * max(1, abs(e.sum)), name)
    }
  }

  /// Loading dequantizes every tensor (its speed is measured by scripts/bench.sh, not here).
  func testDequantizesTheWholeModel() throws {
    let f = try modelFile()
    var elements = 0
    for info in f.tensorInfos {
      let t = try f.tensor(info.name)
      XCTAssertTrue(t.scalars.allSatisfy(\.isFinite), info.name)
      elements += t.count
    }
    XCTAssertEqual(elements, 134_515_008)
  }
}
