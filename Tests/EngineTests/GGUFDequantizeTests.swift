import CKernels
import Foundation
import XCTest

@testable import Engine

/// Every type tdb dequantizes, bit for bit against gguf-py (which mirrors llama.cpp).
final class GGUFDequantizeTests: XCTestCase, KernelTesting {
  let file = try! GGUFFile(url: ggufFixtures.appendingPathComponent("types.gguf"))
  let expected = try! SafeTensorsFile(url: ggufFixtures.appendingPathComponent("types-expected.safetensors"))

  func assertBitExact(_ name: String, line: UInt = #line) throws {
    let got = try file.tensor(name)
    let want = try expected.tensor(name)
    XCTAssertEqual(got.shape, want.shape, name, line: line)
    let g = got.scalars.map(\.bitPattern), w = want.scalars.map(\.bitPattern)
    XCTAssertEqual(g.count, w.count, name, line: line)
    let wrong = zip(g, w).enumerated().filter { $0.element.0 != $0.element.1 }
    XCTAssertTrue(
      wrong.isEmpty,
      "\(name): \(wrong.count) of \(w.count) differ, first at \(wrong.first.map { $0.offset } ?? -1): "
        + "\(wrong.first.map { "\(Float(bitPattern: $0.element.0)) vs \(Float(bitPattern: $0.element.1))" } ?? "")",
      line: line)
  }

  func testFloatTypes() throws {
    for name in ["f32", "f16", "bf16"] { try assertBitExact(name) }
  }

  func testLegacyQuants() throws {
    for name in ["q8_0", "q4_0", "q4_1", "q5_0", "q5_1"] { try assertBitExact(name) }
  }

  func testKQuants() throws {
    for name in ["q2_k", "q3_k", "q4_k", "q5_k", "q6_k"] { try assertBitExact(name) }
  }

  func testTensorInfosAndRowMajorShapes() throws {
    XCTAssertEqual(file.version, 3)
    XCTAssertEqual(file.alignment, 32)
    XCTAssertEqual(file.dataStart % 32, 0)
    let f32 = try XCTUnwrap(file.tensors["f32"])
    XCTAssertEqual(f32.dims, [4, 3, 2])
    XCTAssertEqual(f32.shape, [2, 3, 4])
    XCTAssertEqual(f32.type, .f32)
    let q4 = try XCTUnwrap(file.tensors["q4_k"])
    XCTAssertEqual(q4.dims, [768, 2])
    XCTAssertEqual(q4.type, .q4_K)
    XCTAssertEqual(q4.byteCount, 6 * 144)
    XCTAssertEqual(file.tensorInfos.map(\.name).first, "f32")
    XCTAssertEqual(file.names.count, 13)
    XCTAssertEqual(GGUFTensorType.q4_K.name, "Q4_K")
    XCTAssertEqual(GGUFTensorType.iq2_xxs.name, "IQ2_XXS")
  }

  func testF32IsBorrowedFromTheMapping() throws {
    var t = try file.tensor("f32")
    XCTAssertFalse(t.buffer.isOwned)
    t[flat: 0] = 99
    XCTAssertNotEqual(try file.tensor("f32")[flat: 0], 99)
    XCTAssertTrue(try file.tensor("q4_0").buffer.isOwned)
  }

  func testShapeIsChecked() throws {
    XCTAssertEqual(try file.tensor("q4_0", shape: [3, 64]).shape, [3, 64])
    expectGGUFError(try file.tensor("q4_0", shape: [64, 3]), contains: ["types.gguf", "q4_0", "[3, 64]", "[64, 3]"])
  }

  /// The engine's fp16 widening agrees with Swift's Float16 on all 65,536 halves.
  func testHalfToFloatIsExact() {
    for h in 0...UInt16.max {
      let want = Float(Float16(bitPattern: h)), got = halfToFloat(h)
      if want.isNaN {
        XCTAssertTrue(got.isNaN, "\(h)")
      } else if got.bitPattern != want.bitPattern {
        XCTFail("half \(h): \(got) vs \(want)")
        return
      }
    }
  }

  /// Each kernel set on its own (the engine uses one per process): every
  /// type bit for bit, the 65,536 halves, and an unknown type refused.
  func testEveryKernelSetIsBitExact() throws {
    let halves = (0...UInt16.max).flatMap { [UInt8($0 & 0xff), UInt8($0 >> 8)] }
    for set in sets {
      for info in file.tensorInfos where info.type != .f32 {
        let want = try expected.tensor(info.name).scalars.map(\.bitPattern)
        var got = [Float](repeating: .nan, count: want.count)
        let raw = UnsafeRawPointer(file.mapping.bytes + file.dataStart + info.offset)
        XCTAssertEqual(set.dequantize(Int32(info.type.rawValue), raw, &got, want.count / info.type.layout.blockSize), 1)
        XCTAssertEqual(got.map(\.bitPattern), want, "\(name(set)) \(info.name)")
      }
      var widened = [Float](repeating: 0, count: 65_536)
      XCTAssertEqual(set.dequantize(Int32(GGUFTensorType.f16.rawValue), halves, &widened, 65_536), 1)
      for h in 0...UInt16.max {
        let want = halfToFloat(h), got = widened[Int(h)]
        XCTAssertEqual(got.bitPattern, want.bitPattern, "\(name(set)) half \(h)")
      }
      XCTAssertEqual(set.dequantize(Int32(GGUFTensorType.iq2_xxs.rawValue), halves, &widened, 1), 0)
    }
  }

  func testVersion2ReadsTheSame() throws {
    var b = try GGUFBytes(fixture: "types.gguf")
    b.write(UInt32(2), at: 4)
    let v2 = try GGUFFile(url: try b.save("v2.gguf"))
    XCTAssertEqual(v2.version, 2)
    XCTAssertEqual(try v2.tensor("q5_k").scalars, try file.tensor("q5_k").scalars)
  }
}
