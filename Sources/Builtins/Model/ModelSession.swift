import Engine
import Foundation
import Lang

/// The loaded model and SAEs that every model command works on.
public final class ModelSession {
  public let model: TransformerModel
  /// SAEs by name (their folder name), in load order.
  public private(set) var saes: [String: SparseAutoencoder] = [:]
  public private(set) var saeNames: [String] = []

  public init(model: TransformerModel, saes: [SparseAutoencoder] = []) {
    self.model = model
    for s in saes { add(s) }
  }

  /// Loads the model (a folder, a .gguf file or a built-in name) and the SAEs
  /// of `--sae` arguments (`SAESource`: SAELens, sparsify or Gemma Scope,
  /// `PATH@HOOK`); with no model, the embedded demo model and its bundled SAEs.
  public static func load(modelFolder: String?, saeFolders: [String], bundledSAEs: Bool = true) throws -> ModelSession {
    let folder: URL
    var bundled: [URL] = []
    if let modelFolder {
      folder = try ModelLocator.resolve(modelFolder)
    } else {
      guard let demo = ModelLocator.defaultModelFolder() else {
        throw EvalError("the embedded demo model (models/tdb-demo) was not found; pass --model DIR or set TDB_MODEL")
      }
      folder = demo
    }
    let model = try TransformerModel.load(folder)
    if bundledSAEs { bundled = ModelLocator.bundledSAEFolders(model: folder) }
    let session = ModelSession(model: model)
    let saes = try bundled.map { try SparseAutoencoder(folder: $0) } + saeFolders.flatMap { try SAESource($0).load() }
    for sae in saes {
      try model.validate(sae.hook)
      // Checked now, not at the first run that splices it.
      guard let width = sae.hook.saeInputWidth(config: model.config) else {
        throw ModelError.badSAE(sae.folder.path, "an SAE cannot read \(sae.hook.name) (its rows are not positions)")
      }
      guard sae.dIn == width else {
        throw ModelError.badSAE(
          sae.folder.path, "d_in \(sae.dIn) does not match \(sae.hook.name) of this model (width \(width))")
      }
      session.add(sae)
    }
    return session
  }

  func add(_ sae: SparseAutoencoder) {
    if saes[sae.name] == nil { saeNames.append(sae.name) }
    saes[sae.name] = sae
  }

  var config: ModelConfig { model.config }
  var tokenizer: any Tokenizer { model.tokenizer }

  /// A forward pass that stops on Ctrl-C.
  func forward(_ tokens: [Int], _ options: ForwardOptions) throws -> ForwardResult {
    var o = options
    o.shouldStop = { Interrupt.requested }
    do {
      return try model.forward(tokens, options: o)
    } catch ModelError.interrupted {
      throw LangError.interrupted(.unknown)
    }
  }

  func sae(named name: String) throws -> SparseAutoencoder {
    if let s = saes[name] { return s }
    // Also by hook: "blocks.8.hook_resid_pre" finds the SAE loaded at that hook.
    let atHook = saeNames.compactMap { saes[$0] }.filter { $0.hook.name == name }
    if atHook.count == 1 { return atHook[0] }
    throw ComponentError.unknownSAE(name, known: saeNames)
  }

  /// Text of one token, with a clear marker for ids outside the vocabulary.
  func tokenText(_ id: Int) -> String { tokenizer.tokenText(id) ?? "<\(id)>" }

  /// A value naming one token: a string that is exactly one token, or an id.
  func tokenID(_ v: Value, what: String) throws -> Int {
    if let id = v.int {
      guard id >= 0 && id < config.vocabSize else { throw ModelError.tokenOutOfRange(id, vocab: config.vocabSize) }
      return id
    }
    guard let s = v.string else { throw EvalError("\(what): expected a token (a string or an id), got \(v.typeName)") }
    if let id = tokenizer.singleTokenID(s) { return id }
    let ids = tokenizer.encode(s, addSpecialTokens: false)
    let shown = ids.map { "'\(tokenText($0))' (\($0))" }.joined(separator: " + ")
    throw EvalError("\(what): \"\(s)\" is \(ids.count) tokens, not one: \(shown)")
  }

  /// Token ids of a prompt: a string, a list of ids, or a run's tokens.
  func promptTokens(_ v: Value) throws -> [Int] {
    switch v {
    case .string(let s):
      let ids = tokenizer.encode(s)
      guard !ids.isEmpty else { throw ModelError.emptyPrompt }
      return ids
    case .list(let items):
      return try items.map { try tokenID($0, what: "prompt") }
    case .host(let h as RunValue):
      return h.tokens
    default:
      throw EvalError("expected a prompt (a string or a list of token ids), got \(v.typeName)")
    }
  }
}
