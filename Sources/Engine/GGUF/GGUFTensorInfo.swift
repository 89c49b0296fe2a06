/// Where one tensor lives inside a GGUF file and what it holds.
public struct GGUFTensorInfo: Sendable, Equatable {
  public let name: String
  /// The dimensions as GGUF stores them: `ne[0]` first, the fastest-varying one.
  public let dims: [Int]
  public let type: GGUFTensorType
  /// Byte offset from the start of the data section.
  public let offset: Int

  /// The shape in row-major order (`dims` reversed), as `tensor(_:)` returns it.
  public var shape: [Int] { dims.reversed() }
  public var elementCount: Int { dims.reduce(1, *) }
  /// Bytes the tensor's blocks occupy.
  public var byteCount: Int { elementCount / type.layout.blockSize * type.layout.typeSize }
}
