import Foundation
import XCTest

@testable import Engine

/// Metadata of every GGUF type, written by gguf-py's GGUFWriter, read back.
final class GGUFMetadataTests: XCTestCase {
  let file = try! GGUFFile(url: ggufFixtures.appendingPathComponent("metadata.gguf"))

  func testEveryScalarType() {
    let m = file.metadata
    XCTAssertEqual(m["general.architecture"], .string("test"))
    XCTAssertEqual(m["t.u8"], .uint8(200))
    XCTAssertEqual(m["t.i8"], .int8(-100))
    XCTAssertEqual(m["t.u16"], .uint16(60000))
    XCTAssertEqual(m["t.i16"], .int16(-30000))
    XCTAssertEqual(m["t.u32"], .uint32(4_000_000_000))
    XCTAssertEqual(m["t.i32"], .int32(-2_000_000_000))
    XCTAssertEqual(m["t.f32"], .float32(0.1))
    XCTAssertEqual(m["t.true"], .bool(true))
    XCTAssertEqual(m["t.false"], .bool(false))
    XCTAssertEqual(m["t.string"], .string("héllo\nwörld ✓"))
    XCTAssertEqual(m["t.empty"], .string(""))
    XCTAssertEqual(m["t.u64"], .uint64(18_000_000_000_000_000_000))
    XCTAssertEqual(m["t.i64"], .int64(-9_000_000_000_000_000_000))
    XCTAssertEqual(m["t.f64"], .float64(2.718281828459045))
    XCTAssertEqual(m["general.alignment"], .uint32(64))
  }

  func testArrays() {
    let m = file.metadata
    XCTAssertEqual(m["t.strings"]?.strings, ["a", "", "Ġthe", "<|im_end|>"])
    XCTAssertEqual(m["t.ints"], .array([.int32(1), .int32(-2), .int32(3)]))
    XCTAssertEqual(m["t.floats"]?.floats, [0.5, -1.25, 3.0e-8])
    XCTAssertEqual(m["t.bools"], .array([.bool(true), .bool(false)]))
    XCTAssertEqual(
      m["t.nested"],
      .array([.array([.int32(1), .int32(2)]), .array([.int32(3)]), .array([.int32(4), .int32(5), .int32(6)])]))
    XCTAssertEqual(m["t.nested"]?.array?.compactMap(\.ints), [[1, 2], [3], [4, 5, 6]])
    XCTAssertEqual(m["t.nested_strings"]?.array?.compactMap(\.strings), [["x", "y"], ["z"]])
    XCTAssertEqual(m["t.u8s"], .array([.uint8(1), .uint8(2), .uint8(255)]))
    XCTAssertEqual(m["t.u64s"], .array([.uint64(1), .uint64(1 << 63)]))
    XCTAssertEqual(m["t.f64s"], .array([.float64(0.1), .float64(-2.5)]))
  }

  func testAccessors() {
    let m = file.metadata
    XCTAssertEqual(m["t.u32"]?.int, 4_000_000_000)
    XCTAssertEqual(m["t.i8"]?.int, -100)
    XCTAssertNil(m["t.u64"]?.int, "a u64 beyond Int.max has no int")
    XCTAssertEqual(m["t.i64"]?.int, -9_000_000_000_000_000_000)
    XCTAssertEqual(m["t.f32"]?.float, 0.1)
    XCTAssertEqual(m["t.f32"]?.double, Double(Float(0.1)))
    XCTAssertEqual(m["t.f64"]?.float, Float(2.718281828459045))
    XCTAssertEqual(m["t.true"]?.bool, true)
    XCTAssertEqual(m["t.string"]?.string, "héllo\nwörld ✓")
    XCTAssertNil(m["t.string"]?.int)
    XCTAssertNil(m["t.u8"]?.string)
    XCTAssertNil(m["t.ints"]?.strings)
    XCTAssertNil(m["t.strings"]?.ints)
    XCTAssertEqual(m["t.ints"]?.ints, [1, -2, 3])
    XCTAssertNil(m["t.u64s"]?.ints, "2^63 does not fit an Int")
    XCTAssertEqual(m["t.f64s"]?.floats, [0.1, -2.5])
    XCTAssertEqual(m["t.nested"]?.typeName, "array<array<i32>>")
  }

  func testKeysKeepTheirOrderAndAlignmentIsHonoured() throws {
    XCTAssertEqual(file.metadataKeys.first, "general.architecture")
    XCTAssertEqual(file.metadataKeys.last, "general.alignment")
    XCTAssertEqual(file.metadataKeys.count, file.metadata.count)
    XCTAssertEqual(file.alignment, 64)
    XCTAssertEqual(file.dataStart % 64, 0)
    XCTAssertEqual(try file.tensor("x").shape, [2, 3])
    XCTAssertEqual(try file.tensor("x").scalars, [0, 1, 2, 3, 4, 5])
  }

  func testDescribe() {
    let text = file.describe(maxElements: 2)
    let lines = text.split(separator: "\n").map(String.init)
    XCTAssertEqual(lines.count, 1 + file.metadata.count + 1)
    XCTAssertTrue(lines[0].hasPrefix("GGUF v3 '") && lines[0].hasSuffix("metadata.gguf': 1 tensors, 25 metadata keys"))
    XCTAssertTrue(lines.contains("  t.string: string = \"héllo\\nwörld ✓\""), text)
    XCTAssertTrue(lines.contains("  t.strings: array<string> = [\"a\", \"\", … (4 in all)]"), text)
    XCTAssertTrue(lines.contains("  t.nested: array<array<i32>> = [[1, 2], [3], … (3 in all)]"), text)
    XCTAssertTrue(lines.contains("  t.u64: u64 = 18000000000000000000"), text)
    XCTAssertTrue(lines.contains("  x: F32 [2, 3]"), text)
    XCTAssertEqual("\(GGUFValue.array([.bool(true)]))", "[true]")
  }
}
