/// A change to one hook value during the forward pass: ablate, patch, steer,
/// set. Builtins build these; the engine only applies them in order.
public struct Intervention: @unchecked Sendable {
  /// Where it applies.
  public let hook: HookPoint
  /// How the user would write it (`ablate L1H2 --pos -1`), for display.
  public let label: String
  /// Rewrites the hook value in place; `tokens` is the prompt length.
  public let apply: (_ value: inout Tensor, _ tokens: Int) throws -> Void

  public init(hook: HookPoint, label: String, apply: @escaping (_ value: inout Tensor, _ tokens: Int) throws -> Void) {
    self.hook = hook
    self.label = label
    self.apply = apply
  }
}

/// Which hook values a forward pass keeps.
public enum CacheRequest: Sendable {
  case none
  case all
  case points(Set<HookPoint>)
}

/// Reads, caches and rewrites hook values as the forward pass reaches them.
/// Hooks nobody asked for are never materialised: `wants` is checked first.
struct HookRunner {
  let interventions: [HookPoint: [Intervention]]
  let request: CacheRequest
  let splicedAt: Set<HookPoint>
  var cache: [HookPoint: Tensor] = [:]

  init(interventions: [Intervention], request: CacheRequest, splicedAt: Set<HookPoint>) {
    self.interventions = Dictionary(grouping: interventions, by: \.hook)
    self.request = request
    self.splicedAt = splicedAt
  }

  func wants(_ point: HookPoint) -> Bool {
    if interventions[point] != nil { return true }
    switch request {
    case .none: return false
    case .all: return true
    case .points(let set): return set.contains(point)
    }
  }

  /// Applies the interventions at `point` to `value`, then caches it if asked.
  mutating func visit(_ point: HookPoint, _ value: inout Tensor, tokens: Int) throws {
    if let list = interventions[point] {
      let shape = value.shape
      for intervention in list {
        try intervention.apply(&value, tokens)
        guard value.shape == shape else {
          throw ModelError.badIntervention(
            "'\(intervention.label)' changed \(point.name) from shape \(shape) to \(value.shape)")
        }
      }
    }
    switch request {
    case .none: break
    case .all: cache[point] = value
    case .points(let set): if set.contains(point) { cache[point] = value }
    }
  }
}
