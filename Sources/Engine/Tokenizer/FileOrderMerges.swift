import Foundation

/// The BPE merges a SentencePiece vocabulary implies when its tokens are
/// listed in merge order, as Gemma's GGUF files list them.
///
/// Gemma's scores do not follow its merge order, and its files carry no
/// merges; Hugging Face transformers rebuilds them from the vocabulary
/// (`generate_merges` with each token's position as its priority): every
/// split of a token into two tokens is a merge, ranked by the merged token's
/// position (earlier first), then by the longer left part first. tdb does the
/// same, so its ids are the ones transformers gives for the same file.
enum FileOrderMerges {
  /// Gemma files store tokens of two or more spaces as spaces, where the
  /// tokenizer looks them up as "▁▁": the spelling transformers gives them.
  static func respell(_ tokens: [String]) -> [String] {
    tokens.map { token in
      let scalars = token.unicodeScalars
      // Python's str.isspace, which transformers' test uses, also counts U+001C...U+001F.
      let isSpace = { (s: Unicode.Scalar) in s.properties.isWhitespace || (0x1C...0x1F).contains(s.value) }
      guard scalars.contains(" "), scalars.allSatisfy(isSpace) else { return token }
      return String(repeating: "\u{2581}", count: scalars.count)
    }
  }

  /// The merges of `tokens` (already respelled; a repeated token keeps its
  /// last id, as a dictionary built in order does), best first.
  static func merges(tokens: [String], vocab: TokenTable) -> BPEMerges {
    struct Candidate {
      var position: Int
      var leftLength: Int
      var left: Int
      var right: Int
      var merged: Int
    }
    var candidates: [Candidate] = []
    var seen = Set<Int>()
    for token in tokens {
      let bytes = Array(token.utf8)
      guard let merged = bytes.withUnsafeBufferPointer({ vocab.id(of: $0) }), seen.insert(merged).inserted else {
        continue
      }
      var boundaries: [Int] = []
      var offset = 0
      for scalar in token.unicodeScalars {
        offset += UTF8.width(scalar)
        if offset < bytes.count { boundaries.append(offset) }
      }
      bytes.withUnsafeBufferPointer { all in
        for (index, cut) in boundaries.enumerated() {
          guard let left = vocab.id(of: UnsafeBufferPointer(rebasing: all[..<cut])),
            let right = vocab.id(of: UnsafeBufferPointer(rebasing: all[cut...]))
          else { continue }
          candidates.append(
            Candidate(position: merged, leftLength: index + 1, left: left, right: right, merged: merged))
        }
      }
    }
    candidates.sort { ($0.position, -$0.leftLength) < ($1.position, -$1.leftLength) }
    var merges = BPEMerges(capacity: candidates.count)
    for c in candidates { merges.append(left: c.left, right: c.right, merged: c.merged) }
    return merges
  }
}
