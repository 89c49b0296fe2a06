import Foundation

/// Element types a safetensors file may hold that tdb reads.
public enum SafeTensorsDType: String, Sendable {
  case f32 = "F32", f16 = "F16", bf16 = "BF16", i32 = "I32", i64 = "I64"
  /// Seldom weights, but a file must open with them: Pythia's checkpoints
  /// carry each layer's causal mask as a BOOL buffer.
  case bool = "BOOL", u8 = "U8", i8 = "I8", f64 = "F64"

  var byteSize: Int {
    switch self {
    case .f32, .i32: 4
    case .f16, .bf16: 2
    case .i64, .f64: 8
    case .bool, .u8, .i8: 1
    }
  }
}

/// Where one tensor lives inside a safetensors file.
public struct SafeTensorsEntry: Sendable {
  public let name: String
  public let dtype: SafeTensorsDType
  public let shape: [Int]
  /// Byte range relative to the start of the data section.
  let begin: Int, end: Int
}

/// A memory-mapped `.safetensors` file with a validated header.
///
/// Layout: 8-byte little-endian header length N, N bytes of JSON
/// (`{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}`),
/// then the data section. Every entry is checked before any tensor is read, so a
/// damaged file fails at open with one line naming the file and the tensor.
public final class SafeTensorsFile: @unchecked Sendable {
  public let url: URL
  public let entries: [String: SafeTensorsEntry]
  public let metadata: [String: String]
  let mapping: MappedFile
  let dataStart: Int

  public init(url: URL) throws {
    self.url = url
    let file = url.path
    mapping = try MappedFile(path: file)
    let size = mapping.size
    guard size >= 8 else {
      throw SafeTensorsError.truncated(file: file, detail: "\(size) bytes, shorter than the 8-byte header length")
    }
    let headerLength = Int(UInt64(littleEndian: mapping.bytes.loadUnaligned(as: UInt64.self)))
    guard headerLength > 0, headerLength <= size - 8 else {
      throw SafeTensorsError.truncated(
        file: file, detail: "header says \(headerLength) bytes of JSON but the file has \(size - 8) after the length")
    }
    dataStart = 8 + headerLength
    let headerData = Data(bytes: mapping.bytes + 8, count: headerLength)
    guard let json = try? JSONSerialization.jsonObject(with: headerData), let header = json as? [String: Any] else {
      throw SafeTensorsError.badHeader(file: file, detail: "the header is not a JSON object")
    }
    var entries: [String: SafeTensorsEntry] = [:]
    var metadata: [String: String] = [:]
    let dataSize = size - dataStart
    for (name, value) in header {
      if name == "__metadata__" {
        for (k, v) in value as? [String: Any] ?? [:] { metadata[k] = "\(v)" }
        continue
      }
      guard let info = value as? [String: Any] else {
        throw SafeTensorsError.badHeader(file: file, detail: "entry '\(name)' is not an object")
      }
      guard let dtypeName = info["dtype"] as? String else {
        throw SafeTensorsError.badHeader(file: file, detail: "tensor '\(name)' has no dtype")
      }
      guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
        throw SafeTensorsError.unsupportedDType(file: file, tensor: name, dtype: dtypeName)
      }
      guard let shapeAny = info["shape"] as? [Any], let shape = Self.integers(shapeAny), shape.allSatisfy({ $0 >= 0 })
      else {
        throw SafeTensorsError.badHeader(file: file, detail: "tensor '\(name)' has no valid shape")
      }
      guard let offsetsAny = info["data_offsets"] as? [Any], let offsets = Self.integers(offsetsAny),
        offsets.count == 2,
        offsets[0] >= 0, offsets[1] >= offsets[0]
      else {
        throw SafeTensorsError.badHeader(file: file, detail: "tensor '\(name)' has no valid data_offsets")
      }
      let expected = shape.reduce(1, *) * dtype.byteSize
      guard offsets[1] - offsets[0] == expected else {
        throw SafeTensorsError.badHeader(
          file: file,
          detail:
            "tensor '\(name)' of shape \(shape) \(dtypeName) needs \(expected) bytes but its offsets span \(offsets[1] - offsets[0])"
        )
      }
      guard offsets[1] <= dataSize else {
        throw SafeTensorsError.truncated(
          file: file,
          detail: "tensor '\(name)' ends at byte \(offsets[1]) of the data but the file holds only \(dataSize)")
      }
      entries[name] = SafeTensorsEntry(name: name, dtype: dtype, shape: shape, begin: offsets[0], end: offsets[1])
    }
    // Tensors must not share bytes: sort by start and compare neighbours.
    let sorted = entries.values.filter { $0.end > $0.begin }.sorted { $0.begin < $1.begin }
    for (a, b) in zip(sorted, sorted.dropFirst()) where b.begin < a.end {
      throw SafeTensorsError.badHeader(file: file, detail: "tensors '\(a.name)' and '\(b.name)' overlap")
    }
    self.entries = entries
    self.metadata = metadata
  }

  private static func integers(_ values: [Any]) -> [Int]? {
    var out: [Int] = []
    for v in values {
      guard let n = v as? NSNumber, n.doubleValue == n.doubleValue.rounded(), abs(n.doubleValue) < 1e15 else {
        return nil
      }
      out.append(n.intValue)
    }
    return out
  }

  /// Names of all tensors in the file.
  public var names: [String] { entries.keys.sorted() }

  /// The tensor as fp32. F32 data that is 4-byte aligned is borrowed from the
  /// mapping without a copy; F16 and BF16 are widened into new memory.
  public func tensor(_ name: String) throws -> Tensor {
    guard let e = entries[name] else { throw SafeTensorsError.missingTensor(file: url.path, tensor: name) }
    let raw = mapping.bytes + dataStart + e.begin
    let n = e.shape.reduce(1, *)
    switch e.dtype {
    case .f32:
      if Int(bitPattern: raw) % MemoryLayout<Float>.alignment == 0 {
        return Tensor(shape: e.shape, borrowing: raw.assumingMemoryBound(to: Float.self), owner: mapping)
      }
      var t = Tensor(zeros: e.shape)
      let dst = t.mutablePointer()
      memcpy(dst, raw, n * 4)
      return t
    case .f16, .bf16:
      var t = Tensor(uninitialized: e.shape)
      dequantize(e.dtype == .f16 ? .f16 : .bf16, raw, t.mutablePointer(), count: n)
      return t
    case .i32:
      var t = Tensor(zeros: e.shape)
      let dst = t.mutablePointer()
      for i in 0..<n { dst[i] = Float(raw.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)) }
      return t
    case .i64:
      var t = Tensor(zeros: e.shape)
      let dst = t.mutablePointer()
      for i in 0..<n { dst[i] = Float(raw.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)) }
      return t
    case .f64:
      var t = Tensor(zeros: e.shape)
      let dst = t.mutablePointer()
      for i in 0..<n { dst[i] = Float(raw.loadUnaligned(fromByteOffset: 8 * i, as: Double.self)) }
      return t
    case .bool, .u8, .i8:
      var t = Tensor(zeros: e.shape)
      let dst = t.mutablePointer(), signed = e.dtype == .i8
      for i in 0..<n {
        let byte = raw.load(fromByteOffset: i, as: UInt8.self)
        dst[i] = signed ? Float(Int8(bitPattern: byte)) : Float(byte)
      }
      return t
    }
  }

  /// An integer tensor's values (I32 or I64) exactly, without going through fp32.
  public func integers(_ name: String) throws -> [Int] {
    guard let e = entries[name] else { throw SafeTensorsError.missingTensor(file: url.path, tensor: name) }
    let raw = mapping.bytes + dataStart + e.begin
    let n = e.shape.reduce(1, *)
    switch e.dtype {
    case .i32: return (0..<n).map { Int(raw.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self)) }
    case .i64: return (0..<n).map { Int(raw.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self)) }
    default: return try tensor(name).scalars.map { Int($0) }
    }
  }
}

/// A read-only memory mapping of a whole file, unmapped when released.
final class MappedFile: @unchecked Sendable {
  let bytes: UnsafeMutableRawPointer
  let size: Int

  init(path: String) throws {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else {
      if errno == ENOENT { throw SafeTensorsError.notFound(file: path) }
      throw SafeTensorsError.unreadable(file: path, reason: String(cString: strerror(errno)))
    }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0 else {
      throw SafeTensorsError.unreadable(file: path, reason: String(cString: strerror(errno)))
    }
    if (st.st_mode & S_IFMT) == S_IFDIR { throw SafeTensorsError.unreadable(file: path, reason: "it is a directory") }
    size = Int(st.st_size)
    if size == 0 {
      bytes = UnsafeMutableRawPointer.allocate(byteCount: 8, alignment: 8)
      return
    }
    guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
      throw SafeTensorsError.unreadable(file: path, reason: String(cString: strerror(errno)))
    }
    bytes = p
  }

  deinit {
    if size == 0 { bytes.deallocate() } else { munmap(bytes, size) }
  }
}

/// IEEE half to float without the runtime's per-element library call (the
/// generic x86-64 target has no F16C): shift the exponent and mantissa into
/// place and rescale by 2^112, which also handles subnormals; Inf/NaN keep
/// an all-ones exponent.
@inline(__always)
func halfToFloat(_ h: UInt16) -> Float {
  let magnitude = UInt32(h & 0x7fff) << 13
  var f = Float(bitPattern: magnitude) * Float(bitPattern: 0x7780_0000)  // 2^112
  if h & 0x7c00 == 0x7c00 { f = Float(bitPattern: magnitude | 0x7f80_0000) }
  return (h & 0x8000) != 0 ? -f : f
}
