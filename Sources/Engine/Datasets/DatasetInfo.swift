import Foundation

/// What a dataset was collected from and how: two datasets can be resumed
/// into or merged only if these agree.
public struct DatasetInfo: Sendable, Equatable {
  /// Format of the database file.
  public static let formatVersion = 1

  /// The model's folder name (for people) and a hash of its config and weights (for checks).
  public var model: String
  public var modelFingerprint: String
  /// Window size in tokens (the model's context).
  public var windowSize: Int
  public var kinds: Set<ComponentKind>
  /// "name hook d_sae" for each SAE whose latents are collected.
  public var saes: [String]
  public var topExamples: Int
  public var randomExamples: Int
  public var corpus: String
  public var corpusBytes: Int

  public init(
    model: String, modelFingerprint: String, windowSize: Int, kinds: Set<ComponentKind>, saes: [String],
    topExamples: Int,
    randomExamples: Int, corpus: String, corpusBytes: Int
  ) {
    self.model = model
    self.modelFingerprint = modelFingerprint
    self.windowSize = windowSize
    self.kinds = kinds
    self.saes = saes
    self.topExamples = topExamples
    self.randomExamples = randomExamples
    self.corpus = corpus
    self.corpusBytes = corpusBytes
  }

  var kindList: String { ComponentKind.allCases.filter(kinds.contains).map(\.plural).joined(separator: ",") }

  /// Key-value pairs for the `meta` table.
  var pairs: [(String, String)] {
    [
      ("format", "\(Self.formatVersion)"), ("model", model), ("model_fingerprint", modelFingerprint),
      ("window_size", "\(windowSize)"), ("kinds", kindList), ("saes", saes.joined(separator: "; ")),
      ("top_examples", "\(topExamples)"), ("random_examples", "\(randomExamples)"), ("corpus", corpus),
      ("corpus_bytes", "\(corpusBytes)"),
    ]
  }

  init?(pairs: [String: String]) {
    guard let model = pairs["model"], let fp = pairs["model_fingerprint"],
      let w = pairs["window_size"].flatMap(Int.init),
      let kinds = pairs["kinds"], let top = pairs["top_examples"].flatMap(Int.init),
      let random = pairs["random_examples"].flatMap(Int.init), let corpus = pairs["corpus"],
      let bytes = pairs["corpus_bytes"].flatMap(Int.init)
    else { return nil }
    let saes = pairs["saes"].map { $0.isEmpty ? [] : $0.components(separatedBy: "; ") } ?? []
    self.init(
      model: model, modelFingerprint: fp, windowSize: w,
      kinds: Set(kinds.split(separator: ",").compactMap { ComponentKind(plural: String($0)) }), saes: saes,
      topExamples: top,
      randomExamples: random, corpus: corpus, corpusBytes: bytes)
  }

  /// Why `other` cannot join this dataset, or nil if it can.
  public func mismatch(_ other: DatasetInfo) -> String? {
    if modelFingerprint != other.modelFingerprint { return "collected with another model (\(model) vs \(other.model))" }
    if windowSize != other.windowSize { return "window size \(windowSize) vs \(other.windowSize)" }
    if kinds != other.kinds { return "component kinds \(kindList) vs \(other.kindList)" }
    if saes != other.saes { return "SAEs [\(saes.joined(separator: ", "))] vs [\(other.saes.joined(separator: ", "))]" }
    if topExamples != other.topExamples || randomExamples != other.randomExamples {
      return
        "examples kept \(topExamples) top + \(randomExamples) random vs \(other.topExamples) + \(other.randomExamples)"
    }
    if corpus != other.corpus || corpusBytes != other.corpusBytes {
      return "corpus \(corpus) (\(corpusBytes) bytes) vs \(other.corpus) (\(other.corpusBytes) bytes)"
    }
    return nil
  }
}

extension TransformerModel {
  /// A hash of the config and a sample of every weight matrix: tells two
  /// models apart without reading all of their weights.
  public var fingerprint: String {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    func add(_ x: UInt64) { h = (h ^ x) &* 0x100_0000_01b3 }
    let c = config
    for v in [c.layers, c.heads, c.dModel, c.dMLP, c.context, c.vocabSize] { add(UInt64(v)) }
    func sample(_ t: Tensor) {
      let n = t.count
      let step = max(1, n / 4096)
      let p = t.pointer
      for i in stride(from: 0, to: n, by: step) { add(UInt64(p[i].bitPattern)) }
    }
    sample(weights.wte)
    weights.wpe.map(sample)
    for b in weights.blocks {
      for t in [b.attnWeight, b.attnProjWeight, b.fcWeight, b.fcProjWeight] + [b.upWeight].compactMap({ $0 }) {
        sample(t)
      }
    }
    return String(h, radix: 16)
  }
}

extension SparseAutoencoder {
  /// How a dataset records which SAE its latents come from.
  var datasetLabel: String { "\(name) \(hook.name) \(dSAE)" }
}
