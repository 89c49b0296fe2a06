import Foundation

/// A memory-mapped GGUF file (versions 2 and 3, little-endian) with a
/// validated header.
///
/// Layout: "GGUF", u32 version, u64 tensor count, u64 key/value count, the
/// key/values (string key, u32 type, value), the tensor infos (string name,
/// u32 n_dims, n_dims × u64 ne with ne[0] the fastest-varying dimension, u32
/// ggml type, u64 offset into the data section), then the data section at the
/// next multiple of `general.alignment` (default 32). Every count is checked
/// against the file's size before anything is allocated, and every tensor
/// before any is read, so a damaged file fails at open with one line naming
/// the file and the tensor.
public final class GGUFFile: @unchecked Sendable {
  public let url: URL
  public let version: UInt32
  public let metadata: [String: GGUFValue]
  /// Metadata keys in the order the file stores them.
  public let metadataKeys: [String]
  /// Tensor infos in the order the file stores them.
  public let tensorInfos: [GGUFTensorInfo]
  public let tensors: [String: GGUFTensorInfo]
  public let alignment: Int
  /// Absolute byte offset of the data section.
  public let dataStart: Int
  let mapping: MappedFile

  public convenience init(path: String) throws { try self.init(url: URL(fileURLWithPath: path)) }

  public init(url: URL) throws {
    self.url = url
    let file = url.path
    do {
      mapping = try MappedFile(path: file)
    } catch SafeTensorsError.notFound {
      throw GGUFError.notFound(file: file)
    } catch SafeTensorsError.unreadable(_, let reason) {
      throw GGUFError.unreadable(file: file, reason: reason)
    }
    let size = mapping.size
    var r = GGUFReader(base: UnsafeRawPointer(mapping.bytes), size: size, file: file)

    let magic = Array(UnsafeRawBufferPointer(start: mapping.bytes, count: min(4, size)))
    guard magic == Array("GGUF".utf8) else {
      if size > 0 && size < 4 && magic == Array("GGUF".utf8.prefix(size)) {
        throw GGUFError.truncated(file: file, detail: "\(size) bytes, shorter than the 4-byte magic")
      }
      throw GGUFError.notGGUF(file: file, magic: Self.show(magic))
    }
    r.position = 4
    version = try r.u32("the version")
    guard version == 2 || version == 3 else { throw GGUFError.unsupportedVersion(file: file, version: version) }
    let tensorCount = try r.check(
      count: try r.u64("the tensor count"), minimumBytes: 24, "tensors")
    let kvCount = try r.check(
      count: try r.u64("the metadata count"), minimumBytes: 13, "metadata keys")

    var metadata: [String: GGUFValue] = [:]
    var keys: [String] = []
    keys.reserveCapacity(kvCount)
    for i in 0..<kvCount {
      let key = try r.string("metadata key \(i + 1) of \(kvCount)")
      let type = try r.u32("the type of '\(key)'")
      let value = try r.value(type: type, key: key)
      guard metadata.updateValue(value, forKey: key) == nil else {
        throw GGUFError.duplicate(file: file, kind: "metadata key", name: key)
      }
      keys.append(key)
    }
    var alignment = 32
    if let a = metadata["general.alignment"] {
      guard let n = a.int, n > 0, n & (n - 1) == 0 else {
        throw GGUFError.badAlignment(file: file, alignment: a.int ?? -1)
      }
      alignment = n
    }

    var infos: [GGUFTensorInfo] = []
    infos.reserveCapacity(tensorCount)
    var byName: [String: GGUFTensorInfo] = [:]
    for i in 0..<tensorCount {
      let name = try r.string("the name of tensor \(i + 1) of \(tensorCount)")
      let info = try Self.tensorInfo(&r, name: name)
      guard byName.updateValue(info, forKey: name) == nil else {
        throw GGUFError.duplicate(file: file, kind: "tensor", name: name)
      }
      infos.append(info)
    }
    dataStart = (r.position + alignment - 1) / alignment * alignment

    for t in infos {
      guard t.offset % alignment == 0 else {
        throw GGUFError.misaligned(file: file, tensor: t.name, offset: t.offset, alignment: alignment)
      }
      let (end, overflow) = (dataStart + t.offset).addingReportingOverflow(t.byteCount)
      guard !overflow, end <= size else {
        throw GGUFError.truncatedData(
          file: file, tensor: t.name, end: overflow ? Int.max : end, fileSize: size)
      }
    }
    // Tensors must not share bytes: sort by start and compare neighbours.
    let sorted = infos.filter { $0.byteCount > 0 }.sorted { $0.offset < $1.offset }
    for (a, b) in zip(sorted, sorted.dropFirst()) where b.offset < a.offset + a.byteCount {
      throw GGUFError.overlapping(file: file, tensor: b.name, other: a.name)
    }
    self.metadata = metadata
    self.metadataKeys = keys
    self.tensorInfos = infos
    self.tensors = byName
    self.alignment = alignment
  }

  /// Reads one tensor info after its name and checks its dimensions and type.
  private static func tensorInfo(_ r: inout GGUFReader, name: String) throws -> GGUFTensorInfo {
    let file = r.file
    let nDims = try r.u32("the rank of tensor '\(name)'")
    guard nDims <= 4 else {
      throw GGUFError.badTensorInfo(file: file, tensor: name, detail: "has \(nDims) dimensions; ggml allows at most 4")
    }
    var dims: [Int] = []
    var count = 1
    for _ in 0..<nDims {
      let ne = try r.u64("the dimensions of tensor '\(name)'")
      let (product, overflow) = count.multipliedReportingOverflow(by: Int(truncatingIfNeeded: ne))
      // 2^50 elements is far beyond any model; the bound keeps byte sizes from overflowing.
      guard ne <= 1 << 50, !overflow, product <= 1 << 50 else {
        throw GGUFError.badTensorInfo(file: file, tensor: name, detail: "has implausible dimension \(ne)")
      }
      dims.append(Int(ne))
      count = product
    }
    let rawType = try r.u32("the type of tensor '\(name)'")
    guard let type = GGUFTensorType(rawValue: rawType) else {
      throw GGUFError.unknownTensorType(file: file, tensor: name, type: rawType)
    }
    let offset = try r.u64("the offset of tensor '\(name)'")
    guard offset <= UInt64(Int.max / 2) else {
      throw GGUFError.badTensorInfo(file: file, tensor: name, detail: "has implausible offset \(offset)")
    }
    let block = type.layout.blockSize
    if block > 1 && (dims.first ?? 1) % block != 0 {
      throw GGUFError.badTensorInfo(
        file: file, tensor: name,
        detail:
          "has rows of \(dims.first ?? 1) elements (ne[0]), not a multiple of \(type.name)'s block of \(block),"
          + " so its byte size disagrees with its shape \(Array(dims.reversed()))")
    }
    return GGUFTensorInfo(name: name, dims: dims, type: type, offset: Int(offset))
  }

  /// Bytes as printable text for the not-a-GGUF message: `"PK\x03\x04"`.
  private static func show(_ bytes: [UInt8]) -> String {
    if bytes.isEmpty { return "nothing (the file is empty)" }
    var s = "\""
    for b in bytes {
      if b >= 0x20 && b < 0x7f && b != 0x22 && b != 0x5c {
        s.append(Character(UnicodeScalar(b)))
      } else {
        s += "\\x" + String(b, radix: 16, uppercase: true).leftPadded(to: 2)
      }
    }
    return s + "\""
  }

  /// Names of all tensors, sorted.
  public var names: [String] { tensors.keys.sorted() }

  /// The tensor as fp32 in row-major shape (GGUF's dims reversed). F32 data is
  /// borrowed from the mapping without a copy; every other type is
  /// dequantized into new memory exactly as llama.cpp's `dequantize_row_*` do.
  public func tensor(_ name: String) throws -> Tensor {
    guard let info = tensors[name] else { throw GGUFError.missingTensor(file: url.path, tensor: name) }
    guard info.type.isDequantizable else {
      throw GGUFError.unsupportedTensorType(file: url.path, tensor: name, type: info.type.name)
    }
    let raw = UnsafeRawPointer(mapping.bytes + dataStart + info.offset)
    if info.type == .f32 && Int(bitPattern: raw) % MemoryLayout<Float>.alignment == 0 {
      return Tensor(
        shape: info.shape, borrowing: UnsafeMutablePointer(mutating: raw.assumingMemoryBound(to: Float.self)),
        owner: mapping)
    }
    var t = Tensor(uninitialized: info.shape)
    dequantize(info.type, raw, t.mutablePointer(), count: info.elementCount)
    return t
  }

  /// The tensor as fp32, checked to have row-major shape `shape`.
  public func tensor(_ name: String, shape: [Int]) throws -> Tensor {
    guard let info = tensors[name] else { throw GGUFError.missingTensor(file: url.path, tensor: name) }
    guard info.shape == shape else {
      throw GGUFError.wrongShape(file: url.path, tensor: name, expected: shape, found: info.shape)
    }
    return try tensor(name)
  }

  /// A summary to print: version, every metadata key with its type and value
  /// (arrays cut to `maxElements`), then every tensor with its type and shape.
  public func describe(maxElements: Int = 8) -> String {
    var lines = ["GGUF v\(version) '\(url.path)': \(tensorInfos.count) tensors, \(metadata.count) metadata keys"]
    for key in metadataKeys {
      let v = metadata[key]!
      lines.append("  \(key): \(v.typeName) = \(v.describe(maxElements: maxElements))")
    }
    for t in tensorInfos { lines.append("  \(t.name): \(t.type.name) \(t.shape)") }
    return lines.joined(separator: "\n")
  }
}

extension String {
  fileprivate func leftPadded(to width: Int) -> String {
    count >= width ? self : String(repeating: "0", count: width - count) + self
  }
}
