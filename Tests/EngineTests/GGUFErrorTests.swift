import Foundation
import XCTest

@testable import Engine

/// Every kind of damage to a GGUF file, made by truncating or patching the good
/// fixtures, fails at open (or at `tensor`) with one line naming the file and the tensor.
final class GGUFErrorTests: XCTestCase {
  func open(_ b: GGUFBytes, _ name: String = "bad.gguf") throws -> URL { try b.save(name) }

  func testMissingFile() {
    expectGGUFError(
      try GGUFFile(path: "/nonexistent/model.gguf"), contains: ["no such file", "/nonexistent/model.gguf"])
  }

  func testWrongMagic() throws {
    var b = try GGUFBytes(fixture: "types.gguf")
    b.bytes.replaceSubrange(0..<4, with: Array("PK\u{3}\u{4}".utf8))
    expectGGUFError(
      try GGUFFile(url: try b.save("model.zip")), contains: ["model.zip", "not a GGUF file", "\"PK\\x03\\x04\""])
    let st = try GGUFBytes(fixture: "types-expected.safetensors")
    expectGGUFError(try GGUFFile(url: try st.save("x.safetensors")), contains: ["x.safetensors", "not a GGUF file"])
    expectGGUFError(try GGUFFile(url: try GGUFBytes(bytes: []).save("empty.gguf")), contains: ["empty.gguf", "empty"])
  }

  func testUnsupportedVersion() throws {
    var b = try GGUFBytes(fixture: "types.gguf")
    b.write(UInt32(1), at: 4)
    expectGGUFError(try GGUFFile(url: try b.save()), contains: ["bad.gguf", "version 1", "versions 2 and 3"])
    b.write(UInt32(3).byteSwapped, at: 4)
    expectGGUFError(try GGUFFile(url: try b.save()), contains: ["bad.gguf", "version \(UInt32(3).byteSwapped)"])
  }

  func testTruncatedHeader() throws {
    var b = try GGUFBytes(fixture: "types.gguf")
    b.bytes.removeLast(b.bytes.count - 10)
    expectGGUFError(try GGUFFile(url: try b.save()), contains: ["bad.gguf", "truncated", "tensor count"])
    b.bytes.removeLast(8)
    expectGGUFError(try GGUFFile(url: try b.save()), contains: ["bad.gguf", "truncated"])
  }

  func testTruncatedMetadata() throws {
    var b = try GGUFBytes(fixture: "metadata.gguf")
    b.bytes.removeLast(b.bytes.count - (b.end(ofString: "t.nested") + 20))
    expectGGUFError(try GGUFFile(url: try b.save()), contains: ["bad.gguf", "truncated", "t.nested"])
    b.bytes.removeLast(b.bytes.count - (b.end(ofString: "t.strings") - 3))
    expectGGUFError(try GGUFFile(url: try b.save()), contains: ["bad.gguf", "truncated", "metadata key"])
  }

  func testTruncatedTensorInfos() throws {
    var b = try GGUFBytes(fixture: "types.gguf")
    b.bytes.removeLast(b.bytes.count - (b.tensorInfo("q5_1").dims + 4))
    expectGGUFError(try GGUFFile(url: try b.save()), contains: ["bad.gguf", "truncated", "q5_1"])
  }

  func testTruncatedData() throws {
    var b = try GGUFBytes(fixture: "types.gguf")
    b.bytes.removeLast(100)
    expectGGUFError(try GGUFFile(url: try b.save()), contains: ["bad.gguf", "truncated", "q6_k"])
  }

  func testUnknownTensorType() throws {
    var b = try GGUFBytes(fixture: "types.gguf")
    b.write(UInt32(99), at: b.tensorInfo("q4_0").type)
    expectGGUFError(try GGUFFile(url: try b.save()), contains: ["bad.gguf", "q4_0", "unknown ggml type 99"])
  }

  func testUnsupportedTensorTypeFailsWhenRead() throws {
    var b = try GGUFBytes(fixture: "types.gguf")
    b.write(GGUFTensorType.iq4_xs.rawValue, at: b.tensorInfo("q6_k").type)  // smaller blocks: still fits
    let f = try GGUFFile(url: try b.save())
    XCTAssertEqual(f.tensors["q6_k"]?.type, .iq4_xs)
    expectGGUFError(try f.tensor("q6_k"), contains: ["bad.gguf", "q6_k", "IQ4_XS", "cannot dequantize"])
  }

  func testRowsNotAMultipleOfTheBlockSize() throws {
    var b = try GGUFBytes(fixture: "types.gguf")
    b.write(UInt64(48), at: b.tensorInfo("q4_0").dims)
    expectGGUFError(
      try GGUFFile(url: try b.save()), contains: ["bad.gguf", "q4_0", "48", "not a multiple of Q4_0's block of 32"])
  }

  func testTooManyDimensions() throws {
    var b = try GGUFBytes(fixture: "types.gguf")
    b.write(UInt32(9), at: b.tensorInfo("q4_0").rank)
    expectGGUFError(try GGUFFile(url: try b.save()), contains: ["bad.gguf", "q4_0", "9 dimensions"])
  }

  func testShapeLargerThanItsBytes() throws {
    var b = try GGUFBytes(fixture: "types.gguf")
    b.write(UInt64(6), at: b.tensorInfo("q4_0").dims + 8)  // 6 rows where 3 are stored: runs into q4_1
    expectGGUFError(try GGUFFile(url: try b.save()), contains: ["bad.gguf", "q4_0", "q4_1", "overlap"])
    b.write(UInt64(1 << 40), at: b.tensorInfo("q4_0").dims + 8)
    expectGGUFError(try GGUFFile(url: try b.save()), contains: ["bad.gguf", "q4_0", "truncated"])
  }

  func testOverlappingOffsets() throws {
    var b = try GGUFBytes(fixture: "types.gguf")
    let q40 = b.read(UInt64.self, at: b.tensorInfo("q4_0").offset)
    b.write(q40, at: b.tensorInfo("q4_1").offset)
    expectGGUFError(try GGUFFile(url: try b.save()), contains: ["bad.gguf", "q4_0", "q4_1", "overlap"])
  }

  func testMisalignedOffset() throws {
    var b = try GGUFBytes(fixture: "types.gguf")
    let p = b.tensorInfo("q4_1").offset
    b.write(b.read(UInt64.self, at: p) + 2, at: p)
    expectGGUFError(
      try GGUFFile(url: try b.save()), contains: ["bad.gguf", "q4_1", "not a multiple of the alignment 32"])
  }

  func testMissingTensor() throws {
    let f = try GGUFFile(url: ggufFixtures.appendingPathComponent("types.gguf"))
    expectGGUFError(try f.tensor("blk.0.attn_q.weight"), contains: ["types.gguf", "no tensor 'blk.0.attn_q.weight'"])
  }

  func testAbsurdCounts() throws {
    let good = try GGUFBytes(fixture: "metadata.gguf")
    var b = good
    b.write(UInt64(1) << 60, at: 8)
    expectGGUFError(try GGUFFile(url: try b.save()), contains: ["bad.gguf", "claims 1152921504606846976 tensors"])
    b = good
    b.write(UInt64(1) << 60, at: 16)
    expectGGUFError(try GGUFFile(url: try b.save()), contains: ["bad.gguf", "metadata keys"])
    b = good
    b.write(UInt64.max, at: b.end(ofString: "t.strings") + 8)  // after the value type and element type
    expectGGUFError(try GGUFFile(url: try b.save()), contains: ["bad.gguf", "elements in the array 't.strings'"])
    b = good
    b.write(UInt64(1) << 62, at: b.end(ofString: "t.string") + 4)  // the string's length
    expectGGUFError(try GGUFFile(url: try b.save()), contains: ["bad.gguf", "truncated", "'t.string'"])
  }

  func testBadMetadata() throws {
    let good = try GGUFBytes(fixture: "metadata.gguf")
    var b = good
    b.write(UInt32(13), at: b.end(ofString: "t.u8"))
    expectGGUFError(try GGUFFile(url: try b.save()), contains: ["bad.gguf", "'t.u8'", "unknown value type 13"])
    b = good
    b.write(UInt32(48), at: b.end(ofString: "general.alignment") + 4)
    expectGGUFError(try GGUFFile(url: try b.save()), contains: ["bad.gguf", "general.alignment is 48", "power of two"])
    b = good
    b.bytes.replaceSubrange(b.end(ofString: "t.u8") - 4..<b.end(ofString: "t.u8"), with: Array("t.i8".utf8))
    expectGGUFError(try GGUFFile(url: try b.save()), contains: ["bad.gguf", "two metadata keys named 't.i8'"])
  }
}
