import Engine
import Lang

/// An intervention as a value (`let knock = ablate L1H2 --pos -1`): what it
/// changes, and the SAEs it needs spliced in (latent interventions).
final class HookValue: HostValue {
  let label: String
  let interventions: [Intervention]
  let saes: [SparseAutoencoder]

  init(label: String, interventions: [Intervention], saes: [SparseAutoencoder] = []) {
    self.label = label
    self.interventions = interventions
    self.saes = saes
  }

  var typeName: String { "hook" }
  func plain() -> Value {
    .record(Record([("hook", Value(label)), ("at", .list(interventions.map { Value($0.hook.name) }))]))
  }
  func summary() -> String { "hook: \(label)" }
}

/// A component name (`L1H2`, `L3N77`, `sae.F12`) as a value.
final class ComponentValue: HostValue {
  let component: Component
  init(_ c: Component) { component = c }
  var typeName: String { "component" }
  func plain() -> Value { Value(component.description) }
  func summary() -> String { component.description }
  func isEqual(to other: any HostValue) -> Bool { (other as? ComponentValue)?.component == component }

  var memberNames: [String] { ["layer", "head", "neuron", "latent", "sae"] }
  func member(_ name: String) throws -> Value {
    switch (component, name) {
    case (.head(let l, _), "layer"), (.neuron(let l, _), "layer"): return Value(l)
    case (.head(_, let h), "head"): return Value(h)
    case (.neuron(_, let n), "neuron"): return Value(n)
    case (.latent(_, let f), "latent"): return Value(f)
    case (.latent(let s, _), "sae"): return Value(s)
    default: throw EvalError("\(component) has no member '\(name)'")
    }
  }
}

/// A hook point name (`blocks.3.hook_resid_pre`) as a value.
final class HookPointValue: HostValue {
  let point: HookPoint
  init(_ p: HookPoint) { point = p }
  var typeName: String { "hookpoint" }
  func plain() -> Value { Value(point.name) }
  func summary() -> String { point.name }
  func isEqual(to other: any HostValue) -> Bool { (other as? HookPointValue)?.point == point }
  var memberNames: [String] { ["layer", "name"] }
  func member(_ name: String) throws -> Value {
    switch name {
    case "layer": return point.layer.map { Value($0) } ?? .null
    case "name": return Value(point.name)
    default: throw EvalError("a hook point has no member '\(name)'")
    }
  }
}

/// A loaded SAE named by a bare word (`blocks_3_hook_resid_pre`); its latents
/// are members: `blocks_3_hook_resid_pre.F12`.
final class SAEValue: HostValue {
  let sae: SparseAutoencoder
  init(_ sae: SparseAutoencoder) { self.sae = sae }
  var typeName: String { "sae" }
  func plain() -> Value { Value(sae.name) }
  func summary() -> String { "sae \(sae.name) at \(sae.hook.name) (\(sae.dSAE) latents)" }
  func isEqual(to other: any HostValue) -> Bool { (other as? SAEValue)?.sae === sae }
  var memberNames: [String] { ["F0", "name", "hook", "width"] }
  func member(_ name: String) throws -> Value {
    switch name {
    case "name": return Value(sae.name)
    case "hook": return .host(HookPointValue(sae.hook))
    case "width": return Value(sae.dSAE)
    default:
      guard name.first == "F", let f = Int(name.dropFirst()), f >= 0 else {
        throw EvalError("an SAE has no member '\(name)'; its latents are F0...F\(sae.dSAE - 1)")
      }
      guard f < sae.dSAE else { throw ComponentError.noIndex("\(sae.name).F\(f)", what: "latents", count: sae.dSAE) }
      return .host(ComponentValue(.latent(sae: sae.name, index: f)))
    }
  }
}
