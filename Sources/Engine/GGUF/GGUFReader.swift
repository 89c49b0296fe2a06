/// A bounds-checked little-endian reader over a GGUF file's bytes. Every read
/// that would pass the end throws `truncated`, saying what was being read.
struct GGUFReader {
  let base: UnsafeRawPointer
  let size: Int
  let file: String
  var position = 0

  var remaining: Int { size - position }

  mutating func bytes(_ count: Int, _ what: @autoclosure () -> String) throws -> UnsafeRawPointer {
    guard count >= 0, count <= remaining else {
      throw GGUFError.truncated(
        file: file, detail: "\(what()) needs \(count) bytes at offset \(position) but the file has \(size)")
    }
    defer { position += count }
    return base + position
  }

  mutating func scalar<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
    T(littleEndian: try bytes(MemoryLayout<T>.size, what()).loadUnaligned(as: T.self))
  }

  mutating func u32(_ what: @autoclosure () -> String) throws -> UInt32 { try scalar(UInt32.self, what()) }
  mutating func u64(_ what: @autoclosure () -> String) throws -> UInt64 { try scalar(UInt64.self, what()) }

  /// A u64 length then that many bytes of UTF-8 (invalid sequences become U+FFFD).
  mutating func string(_ what: @autoclosure () -> String) throws -> String {
    let n = try u64("the length of \(what())")
    guard n <= UInt64(remaining) else {
      throw GGUFError.truncated(
        file: file, detail: "\(what()) says \(n) bytes at offset \(position) but only \(remaining) remain")
    }
    let p = try bytes(Int(n), what())
    return String(decoding: UnsafeRawBufferPointer(start: p, count: Int(n)), as: UTF8.self)
  }

  /// Checks a count read from the file against the bytes left, given the fewest
  /// bytes one item can take, before anything is allocated for it.
  func check(count: UInt64, minimumBytes: Int, _ what: @autoclosure () -> String) throws -> Int {
    guard count <= UInt64(remaining / max(minimumBytes, 1)) else {
      throw GGUFError.implausibleCount(file: file, what: what(), count: count, fileSize: size)
    }
    return Int(count)
  }

  /// One metadata value of type `type` (`gguf_type`); `key` names it in errors.
  mutating func value(type: UInt32, key: String, depth: Int = 0) throws -> GGUFValue {
    switch type {
    case 0: return .uint8(try scalar(UInt8.self, "the value of '\(key)'"))
    case 1: return .int8(try scalar(Int8.self, "the value of '\(key)'"))
    case 2: return .uint16(try scalar(UInt16.self, "the value of '\(key)'"))
    case 3: return .int16(try scalar(Int16.self, "the value of '\(key)'"))
    case 4: return .uint32(try u32("the value of '\(key)'"))
    case 5: return .int32(try scalar(Int32.self, "the value of '\(key)'"))
    case 6: return .float32(Float(bitPattern: try u32("the value of '\(key)'")))
    case 7:
      // Like llama.cpp, any non-zero byte is true.
      return .bool(try scalar(UInt8.self, "the value of '\(key)'") != 0)
    case 8: return .string(try string("the value of '\(key)'"))
    case 9:
      guard depth < 8 else {
        throw GGUFError.badMetadata(file: file, key: key, detail: "nests arrays more than 8 deep")
      }
      let elementType = try u32("the element type of '\(key)'")
      guard let minimum = Self.minimumBytes(type: elementType) else {
        throw GGUFError.badMetadata(file: file, key: key, detail: "is an array of unknown type \(elementType)")
      }
      let count = try check(
        count: try u64("the length of '\(key)'"), minimumBytes: minimum, "elements in the array '\(key)'")
      var values: [GGUFValue] = []
      values.reserveCapacity(count)
      for _ in 0..<count { values.append(try value(type: elementType, key: key, depth: depth + 1)) }
      return .array(values)
    case 10: return .uint64(try u64("the value of '\(key)'"))
    case 11: return .int64(try scalar(Int64.self, "the value of '\(key)'"))
    case 12: return .float64(Double(bitPattern: try u64("the value of '\(key)'")))
    default:
      throw GGUFError.badMetadata(file: file, key: key, detail: "has unknown value type \(type)")
    }
  }

  /// The fewest bytes a value of `type` takes, or nil for an unknown type.
  static func minimumBytes(type: UInt32) -> Int? {
    switch type {
    case 0, 1, 7: 1
    case 2, 3: 2
    case 4, 5, 6: 4
    case 8, 10, 11, 12: 8
    case 9: 12
    default: nil
    }
  }
}
