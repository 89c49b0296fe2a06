import Foundation

/// A GPT-2-family model loaded from a Hugging Face folder: hyperparameters,
/// memory-mapped weights and (once loaded) the tokenizer.
public final class GPT2Model: @unchecked Sendable {
  public let folder: URL
  public let config: ModelConfig
  public let weights: ModelWeights
  /// The byte-level BPE tokenizer from the folder's vocab.json and merges.txt.
  public let tokenizer: any Tokenizer
  let checkpoint: Checkpoint

  /// Loads `config.json` and the safetensors weights of `folder`.
  public init(folder: URL) throws {
    self.folder = folder
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDir), isDir.boolValue else {
      throw ModelError.missingFile(folder.path)
    }
    config = try ModelConfig(url: folder.appendingPathComponent("config.json"))
    checkpoint = try Checkpoint(folder: folder)
    weights = try ModelWeights(checkpoint: checkpoint, config: config)
    tokenizer = try GPT2Tokenizer(folder: folder)
  }

  /// A model from weights in memory (tests and hand-built models).
  public init(config: ModelConfig, weights: ModelWeights, tokenizer: any Tokenizer) {
    self.folder = URL(fileURLWithPath: "/")
    self.tokenizer = tokenizer
    self.config = config
    self.weights = weights
    self.checkpoint = try! Checkpoint.empty()
  }
}
