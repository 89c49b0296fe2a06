import Foundation

/// Why a GPT-2 tokenizer could not be loaded from vocab.json and merges.txt.
public enum TokenizerError: Error, CustomStringConvertible {
  /// The file does not exist.
  case missingFile(URL)
  /// The file exists but could not be read.
  case unreadableFile(URL, String)
  /// vocab.json is not a JSON object of token strings to ids, or lacks a needed token.
  case malformedVocab(URL, String)
  /// A merges.txt line is not two vocabulary tokens separated by one space.
  case malformedMerges(URL, line: Int, String)

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
    }
  }
}
