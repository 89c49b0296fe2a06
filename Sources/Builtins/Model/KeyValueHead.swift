import Engine
import Lang

/// A key/value head of a grouped-query attention layer, written `L10KV1`
/// (layer 10, key/value head 1): what the query heads of its group share.
/// Ablating or patching it changes its keys and values (`attn.hook_k` and
/// `attn.hook_v` at that head) together, for every query head that reads them.
struct KeyValueHead: CustomStringConvertible {
  let layer: Int
  let head: Int

  /// Parses `L10KV1`; nil for anything else.
  init?(name: String) {
    guard name.first == "L", let kv = name.range(of: "KV"),
      let layer = Int(name[name.index(after: name.startIndex)..<kv.lowerBound]), layer >= 0,
      let head = Int(name[kv.upperBound...]), head >= 0
    else { return nil }
    self.layer = layer
    self.head = head
  }

  var description: String { "L\(layer)KV\(head)" }

  /// Throws unless the layer and head exist in `config`.
  func validate(in config: ModelConfig) throws {
    guard layer < config.layers else { throw ComponentError.noLayer(description, layers: config.layers) }
    guard head < config.kvHeads else {
      throw ComponentError.noIndex(description, what: "key/value heads per layer", count: config.kvHeads)
    }
  }

  /// Its keys and its values at `positions`.
  func selections(positions: [Int]?) -> [HookSelection] {
    [HookPoint.Site.k, .v].map { HookSelection(hook: .block(layer, $0), positions: positions, index: head) }
  }
}

/// A key/value head as a value (`L10KV1` at the prompt).
final class KeyValueHeadValue: HostValue {
  let head: KeyValueHead
  init(_ head: KeyValueHead) { self.head = head }
  var typeName: String { "key/value head" }
  func plain() -> Value { Value(head.description) }
  func summary() -> String { head.description }
  func isEqual(to other: any HostValue) -> Bool { (other as? KeyValueHeadValue)?.head.description == head.description }

  var memberNames: [String] { ["layer", "head"] }
  func member(_ name: String) throws -> Value {
    switch name {
    case "layer": return Value(head.layer)
    case "head": return Value(head.head)
    default: throw EvalError("\(head) has no member '\(name)'")
    }
  }
}

/// The hook selections a WHAT argument of ablate or patch names: one for a
/// component or hook point, two (keys and values) for a key/value head.
func selections(_ s: ModelSession, _ v: Value, positions: [Int]?) throws -> (
  [HookSelection], [SparseAutoencoder], String
) {
  if case .host(let value as KeyValueHeadValue) = v {
    return (value.head.selections(positions: positions), [], value.head.description)
  }
  if let name = v.string, HookPoint(name: name) == nil, let kv = KeyValueHead(name: name) {
    try kv.validate(in: s.config)
    return (kv.selections(positions: positions), [], kv.description)
  }
  let (sel, saes, name) = try selection(s, v, positions: positions)
  return ([sel], saes, name)
}
