import XCTest

@testable import Engine

/// Gemma hyperparameters from GGUF metadata alone (a file of key/values and
/// no tensors, written here): what llama.cpp's converter stores, and the
/// Gemma defaults for what it leaves out.
final class GemmaGGUFConfigTests: XCTestCase {
  enum Meta {
    case u32(UInt32), f32(Float), string(String)
  }

  /// A GGUF v3 file holding `metadata` and no tensors.
  func ggufFile(_ metadata: [(String, Meta)]) throws -> URL {
    var d = Data("GGUF".utf8)
    func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
    func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
    func string(_ s: String) {
      u64(UInt64(s.utf8.count))
      d.append(contentsOf: Array(s.utf8))
    }
    u32(3)
    u64(0)
    u64(UInt64(metadata.count))
    for (key, value) in metadata {
      string(key)
      switch value {
      case .u32(let v):
        u32(4)
        u32(v)
      case .f32(let v):
        u32(6)
        u32(v.bitPattern)
      case .string(let v):
        u32(8)
        string(v)
      }
    }
    let url = scratchDirectory().appendingPathComponent("config.gguf")
    try d.write(to: url)
    return url
  }

  func config(_ arch: String, layers: Int, dModel: Int, heads: Int, extra: [(String, Meta)]) throws -> ModelConfig {
    let keys: [(String, Meta)] = [
      ("general.architecture", .string(arch)), ("\(arch).block_count", .u32(UInt32(layers))),
      ("\(arch).embedding_length", .u32(UInt32(dModel))), ("\(arch).attention.head_count", .u32(UInt32(heads))),
      ("\(arch).attention.head_count_kv", .u32(UInt32(heads / 2))), ("\(arch).attention.key_length", .u32(128)),
      ("\(arch).feed_forward_length", .u32(UInt32(4 * dModel))), ("\(arch).context_length", .u32(8192)),
      ("\(arch).vocab_size", .u32(256_000)), ("\(arch).attention.layer_norm_rms_epsilon", .f32(1e-6)),
    ]
    return try ModelConfig(gguf: GGUFFile(url: try ggufFile(keys + extra)))
  }

  func testGemma2SoftCapsWindowsAndThe27BScale() throws {
    let caps: [(String, Meta)] = [
      ("gemma2.attention.sliding_window", .u32(4096)), ("gemma2.attn_logit_softcapping", .f32(50)),
      ("gemma2.final_logit_softcapping", .f32(30)),
    ]
    let small = try config("gemma2", layers: 26, dModel: 2304, heads: 8, extra: caps)
    XCTAssertEqual(small.family, .gemma2)
    XCTAssertEqual(small.attentionSoftcap, 50)
    XCTAssertEqual(small.finalSoftcap, 30)
    XCTAssertEqual(small.attentionWindows.prefix(4).map { $0 }, [4096, nil, 4096, nil])
    XCTAssertEqual(small.attentionScale, 1 / Float(128).squareRoot())
    XCTAssertTrue(small.postNorms)
    XCTAssertEqual(small.mlp, .gatedGELU)
    let large = try config("gemma2", layers: 46, dModel: 4608, heads: 32, extra: caps)
    XCTAssertEqual(large.attentionScale, 1 / Float(144).squareRoot(), "27B: d_model / heads")
  }

  func testGemma3LocalLayersAndTheirRope() throws {
    let c = try config(
      "gemma3", layers: 12, dModel: 1152, heads: 4,
      extra: [("gemma3.attention.sliding_window", .u32(512)), ("gemma3.rope.freq_base", .f32(1_000_000))])
    XCTAssertEqual(c.attentionWindows.map { $0 == nil }, (0..<12).map { ($0 + 1) % 6 == 0 })
    XCTAssertEqual(c.localPositions, .rotary(RotaryConfig(theta: 10_000, dimensions: 128)))
    XCTAssertEqual(c.positions, .rotary(RotaryConfig(theta: 1_000_000, dimensions: 128)))
    XCTAssertTrue(c.qkNorm && c.postNorms)
    XCTAssertEqual(c.embeddingScale ?? 0, Float(1152).squareRoot(), accuracy: 1e-4)
  }
}
