/// A change to one hook value during the forward pass: ablate, patch, steer,
/// set. Builtins build these; the engine only applies them in order.
public struct Intervention: @unchecked Sendable {
  /// Where it applies.
  public let hook: HookPoint
  /// How the user would write it (`ablate L1H2 --pos -1`), for display.
  public let label: String
  /// Which token positions it reads and writes.
  public let rows: RowScope
  /// Rewrites the hook value in place; `tokens` is the prompt length.
  public let apply: (_ value: inout Tensor, _ tokens: Int) throws -> Void

  public init(
    hook: HookPoint, label: String, rows: RowScope = .mixed,
    apply: @escaping (_ value: inout Tensor, _ tokens: Int) throws -> Void
  ) {
    self.hook = hook
    self.label = label
    self.rows = rows
    self.apply = apply
  }

  /// The first position this intervention can change in a prompt of `T`
  /// tokens: 0 when it may touch every row, nil when it mixes rows (so a run
  /// with it cannot reuse another run's computation at all).
  public func firstPosition(tokens T: Int) -> Int? {
    switch rows {
    case .mixed: return nil
    case .local(nil): return 0
    case .local(let positions?):
      let resolved = positions.map { $0 < 0 ? T + $0 : $0 }
      // Out-of-range positions are reported by the intervention itself.
      guard let first = resolved.min(), first >= 0, resolved.allSatisfy({ $0 < T }) else { return 0 }
      return first
    }
  }
}

/// How an intervention depends on token positions.
public enum RowScope: Sendable, Equatable {
  /// Each position's new value depends only on that position's old value, and
  /// only these positions change (negative from the end; nil: any position).
  case local([Int]?)
  /// Anything else: it may read one position to write another, or keep what it reads.
  case mixed
}

/// Which hook values a forward pass keeps.
public enum CacheRequest: Sendable {
  case none
  case all
  case points(Set<HookPoint>)

  /// Whether the request takes in `point`.
  func includes(_ point: HookPoint) -> Bool {
    switch self {
    case .none: false
    case .all: true
    case .points(let set): set.contains(point)
    }
  }
}

/// Reads, caches and rewrites hook values as the forward pass reaches them.
/// Hooks nobody asked for are never materialised: `wants` is checked first.
struct HookRunner {
  let interventions: [HookPoint: [Intervention]]
  let request: CacheRequest
  let splicedAt: Set<HookPoint>
  /// First position computed (a pass resumed from a checkpoint computes only
  /// positions `start...`); hook values hold only those positions.
  let start: Int
  var cache: [HookPoint: Tensor] = [:]

  init(interventions: [Intervention], request: CacheRequest, splicedAt: Set<HookPoint>, start: Int = 0) {
    self.interventions = Dictionary(grouping: interventions, by: \.hook)
    self.request = request
    self.splicedAt = splicedAt
    self.start = start
  }

  func wants(_ point: HookPoint) -> Bool {
    interventions[point] != nil || request.includes(point)
  }

  /// Applies the interventions at `point` to `value`, then caches it if asked.
  /// Interventions always see a value of the whole prompt's shape: when only
  /// positions `start...` are computed, the earlier rows are zero and are
  /// dropped again afterwards (such passes only carry row-local interventions).
  mutating func visit(_ point: HookPoint, _ value: inout Tensor, tokens: Int) throws {
    if let list = interventions[point] {
      var whole = start == 0 ? value : value.placed(atPosition: start, of: tokens, axis: point.positionAxis)
      let shape = whole.shape
      for intervention in list {
        try intervention.apply(&whole, tokens)
        guard whole.shape == shape else {
          throw ModelError.badIntervention(
            "'\(intervention.label)' changed \(point.name) from shape \(shape) to \(whole.shape)")
        }
      }
      value = start == 0 ? whole : unpadded(whole, at: point, tokens: tokens)
    }
    if request.includes(point) { cache[point] = value }
  }

  /// Positions `start..<T` of a value of all T positions.
  private func unpadded(_ whole: Tensor, at point: HookPoint, tokens T: Int) -> Tensor {
    var shape = whole.shape
    let axis = point.positionAxis
    let n = T - start
    shape[axis] = n
    var part = Tensor(zeros: shape)
    copyRows(
      from: whole.pointer, T, to: part.mutablePointer(), n, shape: shape, axis: axis, fromOffset: start, toOffset: 0)
    return part
  }
}

extension Tensor {
  /// This value of positions `start...` (as many as it has along `axis`,
  /// the position axis), placed in a zero value of all `T` positions.
  func placed(atPosition start: Int, of T: Int, axis: Int) -> Tensor {
    var shape = self.shape
    let n = shape[axis]
    shape[axis] = T
    var whole = Tensor(zeros: shape)
    copyRows(from: pointer, n, to: whole.mutablePointer(), T, shape: shape, axis: axis, fromOffset: 0, toOffset: start)
    return whole
  }
}

/// Copies position rows between values that have `fromRows` and `toRows`
/// positions along `axis` (0, or 1 under a leading head axis): from row
/// `fromOffset` to row `toOffset`, as many as both have left.
private func copyRows(
  from src: UnsafePointer<Float>, _ fromRows: Int, to dst: UnsafeMutablePointer<Float>, _ toRows: Int,
  shape: [Int], axis: Int, fromOffset: Int, toOffset: Int
) {
  let row = shape[(axis + 1)...].reduce(1, *)
  let outer = shape[..<axis].reduce(1, *)
  let n = min(fromRows - fromOffset, toRows - toOffset)
  for o in 0..<outer {
    (dst + (o * toRows + toOffset) * row).update(from: src + (o * fromRows + fromOffset) * row, count: n * row)
  }
}
