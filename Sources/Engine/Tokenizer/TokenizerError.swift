import Foundation

/// Why a tokenizer could not be loaded: GPT-2's vocab.json and merges.txt, a
/// Hugging Face tokenizer.json, or GGUF tokenizer metadata.
public enum TokenizerError: Error, CustomStringConvertible {
  /// The file does not exist.
  case missingFile(URL)
  /// The file exists but could not be read.
  case unreadableFile(URL, String)
  /// vocab.json is not a JSON object of token strings to ids, or lacks a needed token.
  case malformedVocab(URL, String)
  /// A merges.txt line is not two vocabulary tokens separated by one space.
  case malformedMerges(URL, line: Int, String)
  /// tokenizer.json is not JSON or lacks a needed field.
  case malformedTokenizerJSON(URL, String)
  /// tokenizer.json names a component (model, normalizer, ...) this loader does not implement.
  case unsupportedComponent(URL, kind: String, type: String)
  /// GGUF `tokenizer.ggml.*` metadata that cannot make a tokenizer.
  case malformedGGUFVocab(String)

  public var description: String {
    switch self {
    case .missingFile(let url):
      return "tokenizer: \(url.path) not found; point to a Hugging Face GPT-2 folder with vocab.json and merges.txt"
    case .unreadableFile(let url, let reason):
      return "tokenizer: cannot read \(url.path) (\(reason)); check the file's permissions"
    case .malformedVocab(let url, let reason):
      return
        "tokenizer: \(url.path) is not a GPT-2 vocab.json (\(reason)); re-download it from the model's Hugging Face folder"
    case .malformedMerges(let url, let line, let reason):
      return
        "tokenizer: \(url.path) line \(line): \(reason); re-download merges.txt from the model's Hugging Face folder"
    case .malformedTokenizerJSON(let url, let reason):
      return "tokenizer: \(url.path) is not a Hugging Face tokenizer.json (\(reason))"
    case .unsupportedComponent(let url, let kind, let type):
      return "tokenizer: \(url.path): unsupported \(kind) type '\(type)'"
    case .malformedGGUFVocab(let reason):
      return "tokenizer: GGUF tokenizer metadata: \(reason)"
    }
  }
}
