import Foundation
import XCTest

@testable import Engine

/// Reading and validating safetensors files, including every kind of damage.
final class SafeTensorsTests: XCTestCase {
  /// Writes a safetensors file from (name, dtype, shape, raw bytes) entries.
  func write(
    _ entries: [(String, String, [Int], [UInt8])], to url: URL, header override: String? = nil, truncateBy: Int = 0
  ) throws {
    var offset = 0
    var parts: [String] = []
    var data: [UInt8] = []
    for (name, dtype, shape, bytes) in entries {
      parts.append(
        "\"\(name)\":{\"dtype\":\"\(dtype)\",\"shape\":\(shape),\"data_offsets\":[\(offset),\(offset + bytes.count)]}")
      offset += bytes.count
      data += bytes
    }
    var header = Array((override ?? "{" + parts.joined(separator: ",") + "}").utf8)
    while header.count % 8 != 0 { header.append(0x20) }
    var file = withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) } + header + data
    file.removeLast(min(truncateBy, file.count))
    try Data(file).write(to: url)
  }

  func bytes<T>(_ values: [T]) -> [UInt8] { values.withUnsafeBytes { Array($0) } }

  func testReadsEveryDType() throws {
    let url = scratchDirectory().appendingPathComponent("t.safetensors")
    let f16: [UInt16] = [Float16(1.5).bitPattern, Float16(-2).bitPattern]
    let bf16: [UInt16] = [UInt16(Float(3.25).bitPattern >> 16), UInt16(Float(-0.5).bitPattern >> 16)]
    try write(
      [
        ("a", "F32", [2], bytes([Float(1), 2])), ("b", "F16", [2], bytes(f16)), ("c", "BF16", [1, 2], bytes(bf16)),
        ("d", "I32", [2], bytes([Int32(7), -3])), ("e", "I64", [2], bytes([Int64(1) << 40, 5])),
      ], to: url)
    let f = try SafeTensorsFile(url: url)
    XCTAssertEqual(f.names, ["a", "b", "c", "d", "e"])
    XCTAssertEqual(try f.tensor("a").scalars, [1, 2])
    XCTAssertEqual(try f.tensor("b").scalars, [1.5, -2])
    XCTAssertEqual(try f.tensor("c").shape, [1, 2])
    XCTAssertEqual(try f.tensor("c").scalars, [3.25, -0.5])
    XCTAssertEqual(try f.integers("d"), [7, -3])
    XCTAssertEqual(try f.integers("e"), [1 << 40, 5])
  }

  /// Buffers some checkpoints carry beside the weights (Pythia: a BOOL causal mask per layer).
  func testReadsBooleanByteAndDoubleTensors() throws {
    let url = scratchDirectory().appendingPathComponent("t.safetensors")
    try write(
      [
        ("mask", "BOOL", [2, 2], [1, 0, 1, 1]), ("u", "U8", [2], [0, 255]), ("i", "I8", [2], bytes([Int8(-3), 4])),
        ("d", "F64", [2], bytes([1.5, -1e9])), ("w", "F32", [1], bytes([Float(2)])),
      ], to: url)
    let f = try SafeTensorsFile(url: url)
    XCTAssertEqual(try f.tensor("mask").scalars, [1, 0, 1, 1])
    XCTAssertEqual(try f.tensor("u").scalars, [0, 255])
    XCTAssertEqual(try f.integers("i"), [-3, 4])
    XCTAssertEqual(try f.tensor("d").scalars, [1.5, -1e9])
    XCTAssertEqual(try f.tensor("w").scalars, [2])
  }

  func testF32IsBorrowedFromTheMappingAndCopiedOnWrite() throws {
    let url = scratchDirectory().appendingPathComponent("t.safetensors")
    try write([("a", "F32", [3], bytes([Float(1), 2, 3]))], to: url)
    let f = try SafeTensorsFile(url: url)
    var t = try f.tensor("a")
    XCTAssertFalse(t.buffer.isOwned)
    t[flat: 0] = 9
    XCTAssertTrue(t.buffer.isOwned)
    XCTAssertEqual(try f.tensor("a").scalars, [1, 2, 3])
  }

  func expectError(_ url: URL, contains parts: [String], file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertThrowsError(try SafeTensorsFile(url: url), file: file, line: line) { error in
      let text = "\(error)"
      XCTAssertFalse(text.contains("\n"), "one line: \(text)", file: file, line: line)
      for p in parts { XCTAssertTrue(text.contains(p), "'\(text)' should mention '\(p)'", file: file, line: line) }
    }
  }

  func testMissingFile() {
    expectError(
      URL(fileURLWithPath: "/nonexistent/model.safetensors"),
      contains: ["no such file", "/nonexistent/model.safetensors"])
  }

  func testShorterThanTheLengthField() throws {
    let url = scratchDirectory().appendingPathComponent("short.safetensors")
    try Data([1, 2, 3]).write(to: url)
    expectError(url, contains: ["short.safetensors", "truncated"])
  }

  func testHeaderLongerThanTheFile() throws {
    let url = scratchDirectory().appendingPathComponent("h.safetensors")
    try write([("a", "F32", [2], bytes([Float(1), 2]))], to: url, truncateBy: 40)
    expectError(url, contains: ["h.safetensors", "truncated"])
  }

  func testTruncatedData() throws {
    let url = scratchDirectory().appendingPathComponent("d.safetensors")
    try write(
      [("a", "F32", [2], bytes([Float(1), 2])), ("w", "F32", [4], bytes([Float](repeating: 1, count: 4)))], to: url,
      truncateBy: 4)
    expectError(url, contains: ["d.safetensors", "truncated", "'w'"])
  }

  func testHeaderNotJSON() throws {
    let url = scratchDirectory().appendingPathComponent("j.safetensors")
    try write([], to: url, header: "{not json")
    expectError(url, contains: ["j.safetensors", "not a valid safetensors file"])
  }

  func testUnknownDType() throws {
    let url = scratchDirectory().appendingPathComponent("u.safetensors")
    try write([("q", "F8_E4M3", [2], [0, 0])], to: url)
    expectError(url, contains: ["'q'", "F8_E4M3"])
  }

  func testOffsetsThatDoNotMatchTheShape() throws {
    let url = scratchDirectory().appendingPathComponent("s.safetensors")
    try write([("m", "F32", [3], bytes([Float(1), 2]))], to: url)
    expectError(url, contains: ["'m'", "needs 12 bytes"])
  }

  func testOverlappingTensors() throws {
    let url = scratchDirectory().appendingPathComponent("o.safetensors")
    let header =
      #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
    try write([("pad", "F32", [3], bytes([Float(0), 0, 0]))], to: url, header: header)
    expectError(url, contains: ["overlap", "'a'", "'b'"])
  }

  func testMissingAndMisShapedTensorInAModelFolder() throws {
    let dir = scratchDirectory()
    try FileManager.default.copyItem(
      at: demoFolder.appendingPathComponent("config.json"), to: dir.appendingPathComponent("config.json"))
    try write(
      [("wte.weight", "F32", [2, 2], bytes([Float](repeating: 0, count: 4)))],
      to: dir.appendingPathComponent("model.safetensors"))
    XCTAssertThrowsError(try TransformerModel(folder: dir)) { error in
      XCTAssertTrue(
        "\(error)".contains("'wte.weight' has shape [2, 2] but config.json implies [50257, 256]"), "\(error)")
    }
    try write(
      [("transformer.wpe.weight", "F32", [1], bytes([Float(0)]))], to: dir.appendingPathComponent("model.safetensors"))
    XCTAssertThrowsError(try TransformerModel(folder: dir)) { error in
      XCTAssertTrue("\(error)".contains("has no tensor 'transformer.wte.weight'"), "\(error)")
    }
  }

  /// The demo model split into two shards behind an index loads and runs the same.
  func testShardedCheckpoint() throws {
    let dir = scratchDirectory()
    for f in ["config.json", "vocab.json", "merges.txt"] {
      try FileManager.default.copyItem(at: demoFolder.appendingPathComponent(f), to: dir.appendingPathComponent(f))
    }
    let source = try SafeTensorsFile(url: demoFolder.appendingPathComponent("model.safetensors"))
    let names = source.names
    var map: [String: String] = [:]
    for (shard, part) in [
      names.filter { $0.contains("h.0.") || $0.contains("wte") },
      names.filter { !($0.contains("h.0.") || $0.contains("wte")) },
    ].enumerated() {
      let file = "model-0000\(shard + 1)-of-00002.safetensors"
      let entries = try part.map { n -> (String, String, [Int], [UInt8]) in
        let t = try source.tensor(n)
        return (n, "F32", t.shape, bytes(t.scalars))
      }
      try write(entries, to: dir.appendingPathComponent(file))
      for n in part { map[n] = file }
    }
    let index = try JSONSerialization.data(withJSONObject: ["metadata": [:], "weight_map": map])
    try index.write(to: dir.appendingPathComponent("model.safetensors.index.json"))
    let sharded = try TransformerModel(folder: dir)
    let tokens = [2215, 5335, 290, 1757]
    assertClose(try sharded.forward(tokens).logits, try demoModel.forward(tokens).logits, tolerance: 1e-6, "sharded")
  }
}

final class HalfPrecisionTests: XCTestCase {
  /// Every one of the 65536 half-precision bit patterns converts as Float16 does.
  func testHalfToFloatMatchesFloat16ForEveryPattern() {
    for bits in 0...UInt16.max {
      let expected = Float(Float16(bitPattern: bits))
      let got = halfToFloat(bits)
      if expected.isNaN {
        XCTAssertTrue(got.isNaN, "\(bits)")
      } else {
        XCTAssertEqual(got.bitPattern, expected.bitPattern, "\(bits)")
      }
    }
  }
}
