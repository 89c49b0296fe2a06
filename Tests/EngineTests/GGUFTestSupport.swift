import Foundation
import XCTest

@testable import Engine

/// The GGUF fixtures written by scripts/make-gguf-fixtures.py.
let ggufFixtures = repoRoot.appendingPathComponent("Tests/Fixtures/gguf")

/// A GGUF file's bytes, to damage and write back in a test.
struct GGUFBytes {
  var bytes: [UInt8]

  init(bytes: [UInt8]) { self.bytes = bytes }

  init(fixture name: String) throws {
    bytes = Array(try Data(contentsOf: ggufFixtures.appendingPathComponent(name)))
  }

  /// Where the GGUF string `s` (u64 length, then its bytes) ends; it must occur once.
  func end(ofString s: String, file: StaticString = #filePath, line: UInt = #line) -> Int {
    let needle = withUnsafeBytes(of: UInt64(s.utf8.count).littleEndian) { Array($0) } + Array(s.utf8)
    var hits: [Int] = []
    for i in 0...(bytes.count - needle.count)
    where bytes[i] == needle[0] && Array(bytes[i..<i + needle.count]) == needle {
      hits.append(i + needle.count)
    }
    XCTAssertEqual(hits.count, 1, "'\(s)' should occur once", file: file, line: line)
    return hits.first ?? 0
  }

  /// Positions of the fields of tensor `name`'s info.
  func tensorInfo(_ name: String) -> (rank: Int, dims: Int, type: Int, offset: Int) {
    let p = end(ofString: name)
    let rank = Int(read(UInt32.self, at: p))
    return (p, p + 4, p + 4 + 8 * rank, p + 8 + 8 * rank)
  }

  func read<T: FixedWidthInteger>(_: T.Type, at p: Int) -> T {
    var v: T = 0
    withUnsafeMutableBytes(of: &v) { for i in 0..<MemoryLayout<T>.size { $0[i] = bytes[p + i] } }
    return T(littleEndian: v)
  }

  mutating func write<T: FixedWidthInteger>(_ v: T, at p: Int) {
    withUnsafeBytes(of: v.littleEndian) { for i in 0..<MemoryLayout<T>.size { bytes[p + i] = $0[i] } }
  }

  /// Writes the bytes to a scratch file called `name` and returns its URL.
  func save(_ name: String = "bad.gguf") throws -> URL {
    let url = scratchDirectory().appendingPathComponent(name)
    try Data(bytes).write(to: url)
    return url
  }
}

/// Asserts that `body` throws a GGUFError whose one-line message mentions every part.
func expectGGUFError<T>(
  _ body: @autoclosure () throws -> T, contains parts: [String], file: StaticString = #filePath, line: UInt = #line
) {
  XCTAssertThrowsError(try body(), file: file, line: line) { error in
    XCTAssertTrue(error is GGUFError, "\(type(of: error)): \(error)", file: file, line: line)
    let text = "\(error)"
    XCTAssertFalse(text.contains("\n"), "one line: \(text)", file: file, line: line)
    for p in parts { XCTAssertTrue(text.contains(p), "'\(text)' should mention '\(p)'", file: file, line: line) }
  }
}
