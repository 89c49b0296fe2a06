import XCTest

@testable import Engine

/// The merge table on its own: it grows past any starting capacity, finds
/// every pair it holds, holds no other, and a repeated pair keeps its last
/// rank, as Hugging Face's tokenizers do.
final class BPEMergesTests: XCTestCase {
  func testEveryAppendedPairIsFoundAfterGrowing() {
    var merges = BPEMerges()
    var generator = SystemRandomNumberGenerator()
    var expected: [UInt64: (rank: Int32, id: Int32)] = [:]
    for rank in 0..<20_000 {
      let left = Int.random(in: 0..<3_000, using: &generator)
      let right = Int.random(in: 0..<3_000, using: &generator)
      merges.append(left: left, right: right, merged: 100_000 + rank)
      expected[BPEMerges.pairKey(left, right)] = (Int32(rank), Int32(100_000 + rank))
    }
    XCTAssertEqual(merges.count, expected.count)
    for (key, merge) in expected {
      let found = merges.merge(of: Int(key >> 32), Int(key & 0xFFFF_FFFF))
      XCTAssertEqual(found.rank, merge.rank)
      XCTAssertEqual(found.id, merge.id)
    }
    // Ids from 3,000 up were never a pair's half.
    for id in 3_000..<3_100 {
      XCTAssertEqual(merges.merge(of: id, 0).id, -1)
      XCTAssertEqual(merges.merge(of: 0, id).rank, .max)
    }
  }

  func testARepeatedPairKeepsItsLastRank() {
    var merges = BPEMerges(capacity: 4)
    merges.append(left: 1, right: 2, merged: 10)
    merges.append(left: 2, right: 1, merged: 11)
    merges.append(left: 1, right: 2, merged: 12)
    XCTAssertEqual(merges.count, 2)
    XCTAssertEqual(merges.merge(of: 1, 2).rank, 2)
    XCTAssertEqual(merges.merge(of: 1, 2).id, 12)
    XCTAssertEqual(merges.merge(of: 2, 1).rank, 1)
    // The lower rank merges first: (2, 1), leaving (1, 11), which has no merge.
    XCTAssertEqual(merges.apply([1, 2, 1]), [1, 11])
  }
}
