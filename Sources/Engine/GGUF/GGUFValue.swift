/// One metadata value of a GGUF file, of any of its thirteen types; arrays
/// hold values of one element type and may nest.
public enum GGUFValue: Equatable, Sendable, CustomStringConvertible {
  case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
  case uint64(UInt64), int64(Int64), float32(Float), float64(Double), bool(Bool), string(String)
  case array([GGUFValue])

  /// Any integer value that fits an `Int`.
  public var int: Int? {
    switch self {
    case .uint8(let v): Int(v)
    case .int8(let v): Int(v)
    case .uint16(let v): Int(v)
    case .int16(let v): Int(v)
    case .uint32(let v): Int(v)
    case .int32(let v): Int(v)
    case .uint64(let v): Int(exactly: v)
    case .int64(let v): Int(v)
    default: nil
    }
  }

  /// A float32 value, or a float64 rounded to Float.
  public var float: Float? {
    switch self {
    case .float32(let v): v
    case .float64(let v): Float(v)
    default: nil
    }
  }

  /// A float64 value, or a float32 widened exactly.
  public var double: Double? {
    switch self {
    case .float32(let v): Double(v)
    case .float64(let v): v
    default: nil
    }
  }

  public var bool: Bool? {
    if case .bool(let v) = self { return v }
    return nil
  }

  public var string: String? {
    if case .string(let v) = self { return v }
    return nil
  }

  public var array: [GGUFValue]? {
    if case .array(let v) = self { return v }
    return nil
  }

  /// An array of strings (nil if any element is not a string).
  public var strings: [String]? { elements(\.string) }
  /// An array of integers (nil if any element is not an integer that fits an `Int`).
  public var ints: [Int]? { elements(\.int) }
  /// An array of floats (nil if any element is not a float32 or float64).
  public var floats: [Float]? { elements(\.float) }

  private func elements<T>(_ get: (GGUFValue) -> T?) -> [T]? {
    guard case .array(let values) = self else { return nil }
    var out: [T] = []
    out.reserveCapacity(values.count)
    for v in values {
      guard let x = get(v) else { return nil }
      out.append(x)
    }
    return out
  }

  /// The GGUF name of the value's type (`u32`, `string`, `array<string>` ...).
  public var typeName: String {
    switch self {
    case .uint8: "u8"
    case .int8: "i8"
    case .uint16: "u16"
    case .int16: "i16"
    case .uint32: "u32"
    case .int32: "i32"
    case .uint64: "u64"
    case .int64: "i64"
    case .float32: "f32"
    case .float64: "f64"
    case .bool: "bool"
    case .string: "string"
    case .array(let values): "array<\(values.first?.typeName ?? "")>"
    }
  }

  public var description: String { describe(maxElements: 8) }

  /// The value as one line; arrays show their first `maxElements` elements and their length.
  public func describe(maxElements: Int) -> String {
    switch self {
    case .uint8(let v): "\(v)"
    case .int8(let v): "\(v)"
    case .uint16(let v): "\(v)"
    case .int16(let v): "\(v)"
    case .uint32(let v): "\(v)"
    case .int32(let v): "\(v)"
    case .uint64(let v): "\(v)"
    case .int64(let v): "\(v)"
    case .float32(let v): "\(v)"
    case .float64(let v): "\(v)"
    case .bool(let v): "\(v)"
    case .string(let v): Self.quoted(v, limit: 200)
    case .array(let values):
      "["
        + values.prefix(maxElements).map { $0.describe(maxElements: maxElements) }.joined(separator: ", ")
        + (values.count > maxElements ? ", … (\(values.count) in all)]" : "]")
    }
  }

  /// A string in double quotes on one line, control characters escaped, cut after `limit` characters.
  static func quoted(_ s: String, limit: Int) -> String {
    var out = "\""
    for (i, c) in s.enumerated() {
      if i == limit {
        out += "… (\(s.count) characters)"
        break
      }
      switch c {
      case "\n": out += "\\n"
      case "\t": out += "\\t"
      case "\r": out += "\\r"
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      default: out.append(c)
      }
    }
    return out + "\""
  }
}
