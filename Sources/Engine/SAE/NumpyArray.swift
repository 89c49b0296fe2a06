import Foundation

/// A damaged or unsupported `.npy`/`.npz`, in one line (the caller names the file).
public enum NumpyError: Error, CustomStringConvertible {
  case notZip(String)
  case missingArray(String, have: [String])
  case badArray(String, String)

  public var description: String {
    switch self {
    case .notZip(let why): "not a .npz (zip) archive: \(why)"
    case .missingArray(let name, let have):
      "no array '\(name)' in it (it has: \(have.isEmpty ? "none" : have.joined(separator: ", ")))"
    case .badArray(let name, let why): "\(name).npy: \(why)"
    }
  }
}

/// One array of a `.npy` file, widened to fp32.
///
/// Layout: `\x93NUMPY`, version (1.0: 2-byte header length; 2.0 and 3.0:
/// 4-byte), a Python dict literal
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (512, 256), }` padded
/// with spaces, then the raw data. numpy writes only little-endian floats for
/// the SAEs we read; bfloat16 is not a numpy dtype, so it is refused.
struct NumpyArray {
  let tensor: Tensor
  var shape: [Int] { tensor.shape }

  /// Parses the bytes of `name.npy`; every failure is a `NumpyError.badArray`.
  init(npy data: Data, name: String) throws {
    func bad(_ why: String) -> NumpyError { .badArray(name, why) }
    let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // \x93NUMPY
    guard data.count >= 10, Array(data.prefix(6)) == magic else { throw bad("bad magic (not a .npy array)") }
    let bytes = data.startIndex == 0 ? data : Data(data)  // indexed from 0 below
    let major = bytes[6]
    let headerStart: Int, headerLength: Int
    switch major {
    case 1:
      headerStart = 10
      headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
    case 2, 3:
      guard bytes.count >= 12 else { throw bad("truncated header") }
      headerStart = 12
      headerLength = (0..<4).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
    default:
      throw bad("format version \(major).\(bytes[7]) is not one numpy writes (1, 2 or 3)")
    }
    guard headerStart + headerLength <= bytes.count else { throw bad("truncated header") }
    guard let text = String(data: bytes[headerStart..<headerStart + headerLength], encoding: .utf8),
      let header = NumpyHeader(text)
    else { throw bad("header is not a dict literal with descr, fortran_order and shape") }

    let elementSize: Int
    switch header.descr {
    case "<f4": elementSize = 4
    case "<f2": elementSize = 2
    case "<f8": elementSize = 8
    default:
      throw bad("dtype '\(header.descr)' is not supported (little-endian float32, float16, float64 are)")
    }
    guard header.shape.allSatisfy({ $0 >= 0 }) else { throw bad("negative size in shape \(header.shape)") }
    // A damaged shape must not overflow the byte count it is checked against.
    var count = 1
    for d in header.shape {
      let (product, overflow) = count.multipliedReportingOverflow(by: d)
      guard !overflow, product < Int.max / 8 else { throw bad("shape \(header.shape) is too large") }
      count = product
    }
    let dataStart = headerStart + headerLength
    let have = bytes.count - dataStart
    guard have == count * elementSize else {
      throw bad(
        have < count * elementSize
          ? "truncated: shape \(header.shape) needs \(count * elementSize) bytes of data, the file has \(have)"
          : "\(have - count * elementSize) bytes after the data of shape \(header.shape)")
    }

    // Widen into row-major fp32; a Fortran-ordered array is read in reversed
    // index order so the result is row-major either way.
    var t = Tensor(zeros: header.shape)
    let dst = t.mutablePointer()
    bytes.withUnsafeBytes { raw in
      let src = raw.baseAddress! + dataStart
      func element(_ i: Int) -> Float {
        switch elementSize {
        case 4:
          return Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
        case 2: return halfToFloat(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
        default:
          return Float(
            Double(bitPattern: UInt64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
        }
      }
      if !header.fortranOrder || header.shape.count < 2 {
        for i in 0..<count { dst[i] = element(i) }
      } else {
        for (i, source) in FortranOffsets(shape: header.shape).enumerated() { dst[i] = element(source) }
      }
    }
    tensor = t
  }
}

/// For each row-major index of `shape`, in order, the offset of that element
/// in column-major (Fortran) storage.
private struct FortranOffsets: Sequence, IteratorProtocol {
  let shape: [Int]
  let strides: [Int]  // column-major: 1, s0, s0·s1, ...
  var index: [Int]
  var remaining: Int

  init(shape: [Int]) {
    self.shape = shape
    var s = [Int](repeating: 1, count: shape.count)
    for d in 1..<shape.count { s[d] = s[d - 1] * shape[d - 1] }
    strides = s
    index = [Int](repeating: 0, count: shape.count)
    remaining = shape.reduce(1, *)
  }

  mutating func next() -> Int? {
    guard remaining > 0 else { return nil }
    remaining -= 1
    var offset = 0
    for d in 0..<shape.count { offset += index[d] * strides[d] }
    // Advance the row-major counter: the last dimension fastest.
    var d = shape.count - 1
    while d >= 0 {
      index[d] += 1
      if index[d] < shape[d] { break }
      index[d] = 0
      d -= 1
    }
    return offset
  }
}

/// The three fields of a `.npy` header, read from its Python dict literal.
struct NumpyHeader {
  var descr = ""
  var fortranOrder = false
  var shape: [Int] = []

  /// Nil unless `text` is a dict literal holding a string `descr`, a boolean
  /// `fortran_order` and a tuple of integers `shape`.
  init?(_ text: String) {
    var p = LiteralScanner(Array(text.unicodeScalars))
    guard p.take("{") else { return nil }
    var seen = Set<String>()
    while !p.take("}") {
      guard let key = p.string(), p.take(":") else { return nil }
      switch key {
      case "descr":
        guard let d = p.string() else { return nil }  // a list here is a structured dtype
        descr = d
      case "fortran_order":
        guard let b = p.boolean() else { return nil }
        fortranOrder = b
      case "shape":
        guard let s = p.integerTuple() else { return nil }
        shape = s
      default:
        return nil
      }
      seen.insert(key)
      if !p.take(",") {
        guard p.take("}") else { return nil }
        break
      }
    }
    guard seen == ["descr", "fortran_order", "shape"] else { return nil }
  }
}

/// Just enough of Python's literal syntax for a `.npy` header.
private struct LiteralScanner {
  let s: [Unicode.Scalar]
  var i = 0
  init(_ s: [Unicode.Scalar]) { self.s = s }

  mutating func skipSpace() {
    while i < s.count, s[i].properties.isWhitespace { i += 1 }
  }

  mutating func take(_ c: Unicode.Scalar) -> Bool {
    skipSpace()
    guard i < s.count, s[i] == c else { return false }
    i += 1
    return true
  }

  mutating func string() -> String? {
    skipSpace()
    guard i < s.count, s[i] == "'" || s[i] == "\"" else { return nil }
    let quote = s[i]
    var out = String.UnicodeScalarView()
    i += 1
    while i < s.count, s[i] != quote {
      out.append(s[i])
      i += 1
    }
    guard i < s.count else { return nil }
    i += 1
    return String(out)
  }

  mutating func word() -> String {
    skipSpace()
    var out = String.UnicodeScalarView()
    while i < s.count, s[i].properties.isAlphabetic || ("0"..."9").contains(s[i]) {
      out.append(s[i])
      i += 1
    }
    return String(out)
  }

  mutating func boolean() -> Bool? {
    switch word() {
    case "True": true
    case "False": false
    default: nil
    }
  }

  /// `()`, `(5,)`, `(2, 3)`; a trailing `L` (Python 2's long) is allowed.
  mutating func integerTuple() -> [Int]? {
    guard take("(") else { return nil }
    var out: [Int] = []
    while !take(")") {
      var w = word()
      if w.hasSuffix("L") { w.removeLast() }
      guard let n = Int(w) else { return nil }
      out.append(n)
      if !take(",") {
        guard take(")") else { return nil }
        break
      }
    }
    return out
  }
}
