/// GPT-2's reversible byte <-> character table.
///
/// BPE vocabularies are text, so GPT-2 gives every byte a printable stand-in
/// character: printable Latin-1 bytes stand for themselves and the rest
/// (controls, space, U+00AD) are shifted to U+0100 and up in byte order.
/// vocab.json and merges.txt are written in these stand-ins, so the loader
/// translates them back to raw bytes once and encoding then works on bytes.
enum ByteEncoder {
  /// The stand-in scalar value of each byte, indexed by byte.
  static let scalarOfByte: [UInt32] = {
    var table = [UInt32](repeating: 0, count: 256)
    var shifted: UInt32 = 0
    for byte in 0..<256 {
      if isSelfMapped(byte) {
        table[byte] = UInt32(byte)
      } else {
        table[byte] = 256 + shifted
        shifted += 1
      }
    }
    return table
  }()

  /// The byte of each stand-in scalar value, or -1; stand-ins are below U+0144.
  static let byteOfScalar: [Int16] = {
    var table = [Int16](repeating: -1, count: 324)
    for (byte, scalar) in scalarOfByte.enumerated() { table[Int(scalar)] = Int16(byte) }
    return table
  }()

  private static func isSelfMapped(_ byte: Int) -> Bool {
    (33...126).contains(byte) || (161...172).contains(byte) || (174...255).contains(byte)
  }

  /// The stand-in text of raw bytes, as vocab.json spells tokens.
  static func mappedText(of bytes: some Sequence<UInt8>) -> String {
    var text = ""
    for byte in bytes { text.unicodeScalars.append(Unicode.Scalar(scalarOfByte[Int(byte)])!) }
    return text
  }

  /// Appends the raw bytes of a token spelled in stand-ins (given as UTF-8)
  /// to `bytes`, translated in place at its end.
  static func appendRawBytes(ofMapped utf8: UnsafeBufferPointer<UInt8>, to bytes: inout [UInt8]) {
    let start = bytes.count
    bytes.append(contentsOf: repeatElement(0, count: utf8.count))
    let count = bytes.withUnsafeMutableBufferPointer { rawBytes(ofMapped: utf8, to: $0.baseAddress! + start) }
    bytes.removeLast(utf8.count - count)
  }

  /// Writes the raw bytes of a token spelled in stand-ins (given as UTF-8) to
  /// `out`, which has room for `utf8.count` bytes, and returns how many.
  ///
  /// A token with any character outside the table (an added token that was
  /// never byte-mapped) keeps its own UTF-8 bytes, as HF's ByteLevel decoder does.
  static func rawBytes(ofMapped utf8: UnsafeBufferPointer<UInt8>, to out: UnsafeMutablePointer<UInt8>) -> Int {
    byteOfScalar.withUnsafeBufferPointer { byteOfScalar in
      var i = 0
      var count = 0
      while i < utf8.count {
        let lead = utf8[i]
        var value: Int
        if lead < 0x80 {
          value = Int(lead)
          i += 1
        } else if lead >= 0xC2, lead <= 0xDF, i + 1 < utf8.count, utf8[i + 1] & 0xC0 == 0x80 {
          // Stand-ins are below U+0800, so two-byte sequences are all we can map.
          value = Int(lead & 0x1F) << 6 | Int(utf8[i + 1] & 0x3F)
          i += 2
        } else {
          value = -1
        }
        guard value >= 0, value < byteOfScalar.count, byteOfScalar[value] >= 0 else {
          if let base = utf8.baseAddress { out.update(from: base, count: utf8.count) }
          return utf8.count
        }
        out[count] = UInt8(byteOfScalar[value])
        count += 1
      }
      return count
    }
  }
}
