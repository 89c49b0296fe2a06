import Foundation

/// A decoder-only transformer loaded from a Hugging Face folder or a GGUF
/// file: hyperparameters, weights (memory-mapped where the dtype allows) and
/// the tokenizer.
public final class TransformerModel: @unchecked Sendable {
  /// The folder or file it was loaded from.
  public let folder: URL
  public let config: ModelConfig
  public let weights: ModelWeights
  public let tokenizer: any Tokenizer
  /// What keeps the mapped weight files open.
  let storage: AnyObject?

  /// Loads `config.json`, the safetensors weights and the tokenizer of `folder`.
  public init(folder: URL) throws {
    BLASThreads.configured
    self.folder = folder
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDir), isDir.boolValue else {
      throw ModelError.missingFile(folder.path)
    }
    let config = try ModelConfig(url: folder.appendingPathComponent("config.json"))
    // The tokenizer is parsed on another core while the weights load and
    // their pages are mapped.
    let tokenizerLoaded = StopSignal()
    let (tokenizer, (checkpoint, weights)) = try alongside({
      defer { tokenizerLoaded.raise() }
      return try Self.folderTokenizer(folder)
    }) {
      let checkpoint = try Checkpoint(folder: folder)
      let weights = try ModelWeights(source: checkpoint, config: config)
      MappedWeightPrefetch.populate(weights, until: tokenizerLoaded)
      return (checkpoint, weights)
    }
    self.config = config
    self.tokenizer = tokenizer
    self.weights = weights
    storage = checkpoint
  }

  /// A model from weights in memory (tests and hand-built models).
  public init(config: ModelConfig, weights: ModelWeights, tokenizer: any Tokenizer, source: URL? = nil) {
    BLASThreads.configured
    self.folder = source ?? URL(fileURLWithPath: "/")
    self.tokenizer = tokenizer
    self.config = config
    self.weights = weights
    self.storage = nil
  }

  /// GPT-2's vocab.json + merges.txt where the folder has them, else tokenizer.json.
  static func folderTokenizer(_ folder: URL) throws -> any Tokenizer {
    let fm = FileManager.default
    if fm.fileExists(atPath: folder.appendingPathComponent("vocab.json").path),
      fm.fileExists(atPath: folder.appendingPathComponent("merges.txt").path)
    {
      return try GPT2Tokenizer(folder: folder)
    }
    return try HFTokenizer(folder: folder)
  }
}
