/// Everything that can be wrong with a checkpoint on disk; each message is one
/// line naming the file (and the tensor) and what to do.
public enum SafeTensorsError: Error, CustomStringConvertible, Equatable {
  case notFound(file: String)
  case unreadable(file: String, reason: String)
  case truncated(file: String, detail: String)
  case badHeader(file: String, detail: String)
  case unsupportedDType(file: String, tensor: String, dtype: String)
  case missingTensor(file: String, tensor: String)
  case wrongShape(file: String, tensor: String, expected: [Int], found: [Int])
  case badIndex(file: String, detail: String)

  public var description: String {
    switch self {
    case .notFound(let file):
      "no such file '\(file)'; check the path"
    case .unreadable(let file, let reason):
      "cannot read '\(file)': \(reason)"
    case .truncated(let file, let detail):
      "'\(file)' is truncated (\(detail)); download or convert it again"
    case .badHeader(let file, let detail):
      "'\(file)' is not a valid safetensors file: \(detail)"
    case .unsupportedDType(let file, let tensor, let dtype):
      "'\(file)': tensor '\(tensor)' has dtype \(dtype); tdb reads F32, F16, BF16, I32 and I64"
    case .missingTensor(let file, let tensor):
      "'\(file)' has no tensor '\(tensor)'; the file is incomplete or written for another architecture or format"
    case .wrongShape(let file, let tensor, let expected, let found):
      "'\(file)': tensor '\(tensor)' has shape \(found) but config.json implies \(expected)"
    case .badIndex(let file, let detail):
      "'\(file)' is not a valid safetensors index: \(detail)"
    }
  }
}
