/// A unit of the model TDB reasons about: an attention head, an MLP neuron, or
/// a latent of a loaded SAE. Written `L1H2`, `L3N77`, `<sae>.F123`.
public enum Component: Hashable, Sendable, CustomStringConvertible {
  case head(layer: Int, head: Int)
  case neuron(layer: Int, index: Int)
  case latent(sae: String, index: Int)

  public var description: String {
    switch self {
    case .head(let l, let h): "L\(l)H\(h)"
    case .neuron(let l, let n): "L\(l)N\(n)"
    case .latent(let s, let f): "\(s).F\(f)"
    }
  }

  /// Parses `L1H2`, `L3N77` or `name.F12` (the SAE name is not checked here).
  public init?(name: String) {
    if let dotF = name.range(of: ".F", options: .backwards), let f = Int(name[dotF.upperBound...]), f >= 0,
      dotF.lowerBound > name.startIndex
    {
      self = .latent(sae: String(name[..<dotF.lowerBound]), index: f)
      return
    }
    guard name.first == "L" else { return nil }
    let body = name.dropFirst()
    guard let split = body.firstIndex(where: { $0 == "H" || $0 == "N" }), let l = Int(body[..<split]), l >= 0,
      let i = Int(body[body.index(after: split)...]), i >= 0
    else { return nil }
    self = body[split] == "H" ? .head(layer: l, head: i) : .neuron(layer: l, index: i)
  }

  /// The hook point whose slice is this component's activation: a head's
  /// `hook_z`, a neuron's `mlp.hook_post`, a latent's `hook_sae_acts_post`.
  public func hook(saes: [String: SparseAutoencoder]) throws -> HookPoint {
    switch self {
    case .head(let l, _): return .block(l, .z)
    case .neuron(let l, _): return .block(l, .mlpPost)
    case .latent(let s, _):
      guard let sae = saes[s] else { throw ComponentError.unknownSAE(s, known: saes.keys.sorted()) }
      return HookPoint(sae.hook.site, layer: sae.hook.layer, sae: .actsPost)
    }
  }

  /// Throws unless the component exists in `model` (and its SAEs).
  public func validate(in config: ModelConfig, saes: [String: SparseAutoencoder]) throws {
    switch self {
    case .head(let l, let h):
      guard l < config.layers else { throw ComponentError.noLayer(description, layers: config.layers) }
      guard h < config.heads else { throw ComponentError.noIndex(description, what: "heads", count: config.heads) }
    case .neuron(let l, let n):
      guard l < config.layers else { throw ComponentError.noLayer(description, layers: config.layers) }
      guard n < config.dMLP else {
        throw ComponentError.noIndex(description, what: "neurons per layer", count: config.dMLP)
      }
    case .latent(let s, let f):
      guard let sae = saes[s] else { throw ComponentError.unknownSAE(s, known: saes.keys.sorted()) }
      guard f < sae.dSAE else { throw ComponentError.noIndex(description, what: "latents", count: sae.dSAE) }
    }
  }

  /// Index into the last (neuron, latent) or head dimension of the hook value.
  public var index: Int {
    switch self {
    case .head(_, let h): h
    case .neuron(_, let n): n
    case .latent(_, let f): f
    }
  }
}

public enum ComponentError: Error, CustomStringConvertible, Equatable {
  case noLayer(String, layers: Int)
  case noIndex(String, what: String, count: Int)
  case unknownSAE(String, known: [String])

  public var description: String {
    switch self {
    case .noLayer(let name, let layers): "\(name): the model has \(layers) layers (0...\(layers - 1))"
    case .noIndex(let name, let what, let count): "\(name): the model has \(count) \(what) (0...\(count - 1))"
    case .unknownSAE(let name, let known):
      "no SAE named '\(name)' is loaded"
        + (known.isEmpty ? "; load one with --sae PATH" : " (loaded: \(known.joined(separator: ", ")))")
    }
  }
}
