/// Everything that can be wrong with a GGUF file; each message is one line
/// naming the file (and the tensor or key) and what to do.
public enum GGUFError: Error, CustomStringConvertible, Equatable {
  case notFound(file: String)
  case unreadable(file: String, reason: String)
  case notGGUF(file: String, magic: String)
  case unsupportedVersion(file: String, version: UInt32)
  case truncated(file: String, detail: String)
  case implausibleCount(file: String, what: String, count: UInt64, fileSize: Int)
  case badMetadata(file: String, key: String, detail: String)
  case badAlignment(file: String, alignment: Int)
  case duplicate(file: String, kind: String, name: String)
  case badTensorInfo(file: String, tensor: String, detail: String)
  case unknownTensorType(file: String, tensor: String, type: UInt32)
  case unsupportedTensorType(file: String, tensor: String, type: String)
  case misaligned(file: String, tensor: String, offset: Int, alignment: Int)
  case overlapping(file: String, tensor: String, other: String)
  case truncatedData(file: String, tensor: String, end: Int, fileSize: Int)
  case missingTensor(file: String, tensor: String)
  case wrongShape(file: String, tensor: String, expected: [Int], found: [Int])

  public var description: String {
    switch self {
    case .notFound(let file):
      "no such file '\(file)'; check the path"
    case .unreadable(let file, let reason):
      "cannot read '\(file)': \(reason)"
    case .notGGUF(let file, let magic):
      "'\(file)' is not a GGUF file (it starts with \(magic), not \"GGUF\"); give tdb a .gguf model"
    case .unsupportedVersion(let file, let version):
      "'\(file)' is GGUF version \(version); tdb reads versions 2 and 3, convert it again with a current llama.cpp"
    case .truncated(let file, let detail):
      "'\(file)' is truncated (\(detail)); download or convert it again"
    case .implausibleCount(let file, let what, let count, let fileSize):
      "'\(file)' claims \(count) \(what), more than its \(fileSize) bytes can hold; it is truncated or damaged, download it again"
    case .badMetadata(let file, let key, let detail):
      "'\(file)': metadata key '\(key)' \(detail); the file is damaged, download or convert it again"
    case .badAlignment(let file, let alignment):
      "'\(file)': general.alignment is \(alignment) but must be a power of two; convert the model again"
    case .duplicate(let file, let kind, let name):
      "'\(file)' has two \(kind)s named '\(name)'; convert the model again"
    case .badTensorInfo(let file, let tensor, let detail):
      "'\(file)': tensor '\(tensor)' \(detail); convert the model again"
    case .unknownTensorType(let file, let tensor, let type):
      "'\(file)': tensor '\(tensor)' has unknown ggml type \(type); convert the model again with a current llama.cpp"
    case .unsupportedTensorType(let file, let tensor, let type):
      "'\(file)': tensor '\(tensor)' is \(type), which tdb cannot dequantize;"
        + " use F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 or Q2_K..Q6_K"
    case .misaligned(let file, let tensor, let offset, let alignment):
      "'\(file)': tensor '\(tensor)' starts at data offset \(offset), not a multiple of the alignment \(alignment);"
        + " the file is damaged, convert it again"
    case .overlapping(let file, let tensor, let other):
      "'\(file)': tensors '\(other)' and '\(tensor)' overlap; the file is damaged, convert it again"
    case .truncatedData(let file, let tensor, let end, let fileSize):
      "'\(file)' is truncated: tensor '\(tensor)' ends at byte \(end) but the file has \(fileSize); download it again"
    case .missingTensor(let file, let tensor):
      "'\(file)' has no tensor '\(tensor)'; list its tensors with describe() or check the model family"
    case .wrongShape(let file, let tensor, let expected, let found):
      "'\(file)': tensor '\(tensor)' has shape \(found) but the model config implies \(expected)"
    }
  }
}
