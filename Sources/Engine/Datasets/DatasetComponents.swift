import Foundation

/// The three kinds of component a dataset can cover.
public enum ComponentKind: String, CaseIterable, Sendable {
  case neuron, head, latent

  /// The plural a user types: `--kind neurons`, `top heads`.
  public var plural: String { rawValue + "s" }

  public init?(plural: String) {
    guard let k = ComponentKind.allCases.first(where: { $0.plural == plural || $0.rawValue == plural }) else {
      return nil
    }
    self = k
  }
}

extension Component {
  public var kind: ComponentKind {
    switch self {
    case .head: .head
    case .neuron: .neuron
    case .latent: .latent
    }
  }
  /// The block a head or neuron is in (nil for latents).
  public var layer: Int? {
    switch self {
    case .head(let l, _), .neuron(let l, _): l
    case .latent: nil
    }
  }
  /// The head, neuron or latent number.
  public var unitIndex: Int { index }
}

/// Where a contiguous run of a dataset's components gets its activations.
enum ActivationSource {
  case neurons(layer: Int)
  case heads(layer: Int)
  case latents(SparseAutoencoder)
}

/// Every component a collection covers, in a fixed order (neurons by layer,
/// heads by layer, then each SAE's latents), and the sources that produce them.
struct DatasetComponents {
  let components: [Component]
  let names: [String]
  /// (source, first component index, count), in component order.
  let sources: [(source: ActivationSource, base: Int, count: Int)]

  init(config c: ModelConfig, kinds: Set<ComponentKind>, saes: [SparseAutoencoder]) {
    var components: [Component] = []
    var sources: [(ActivationSource, Int, Int)] = []
    if kinds.contains(.neuron) {
      for l in 0..<c.layers {
        sources.append((.neurons(layer: l), components.count, c.dMLP))
        components += (0..<c.dMLP).map { .neuron(layer: l, index: $0) }
      }
    }
    if kinds.contains(.head) {
      for l in 0..<c.layers {
        sources.append((.heads(layer: l), components.count, c.heads))
        components += (0..<c.heads).map { .head(layer: l, head: $0) }
      }
    }
    if kinds.contains(.latent) {
      for sae in saes {
        sources.append((.latents(sae), components.count, sae.dSAE))
        components += (0..<sae.dSAE).map { .latent(sae: sae.name, index: $0) }
      }
    }
    self.components = components
    self.names = components.map(\.description)
    self.sources = sources.map { (source: $0.0, base: $0.1, count: $0.2) }
  }

  var count: Int { components.count }
}
