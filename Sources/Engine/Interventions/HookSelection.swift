/// A part of one hook value: some positions (all by default) and optionally one
/// head, neuron or latent. Selections address memory as contiguous runs, so
/// every intervention (zero, mean, patch, steer) is a loop over runs.
public struct HookSelection: Sendable, CustomStringConvertible {
  public var hook: HookPoint
  /// Token positions; negative counts from the end (-1 is the last token). nil: all.
  public var positions: [Int]?
  /// Head (for [T, H, D] and [H, T, T] values) or last-axis index (neuron, latent). nil: whole rows.
  public var index: Int?

  public init(hook: HookPoint, positions: [Int]? = nil, index: Int? = nil) {
    self.hook = hook
    self.positions = positions
    self.index = index
  }

  public var description: String {
    var s = hook.name
    if let index { s += "[\(index)]" }
    if let positions { s += " at \(positions.map(String.init).joined(separator: ","))" }
    return s
  }

  /// True when the value is laid out [H, T, T] (head first, then query position).
  var headFirst: Bool { hook.positionAxis == 1 }

  /// Positions made absolute for a prompt of `T` tokens.
  public func resolvedPositions(_ T: Int) throws -> [Int] {
    guard let positions else { return Array(0..<T) }
    return try positions.map { p in
      let q = p < 0 ? T + p : p
      guard q >= 0 && q < T else { throw InterventionError.positionOutOfRange(p, tokens: T) }
      return q
    }
  }

  /// Length of one run (what a mean or steering vector must hold) for a value of `shape`.
  public func runLength(_ shape: [Int]) throws -> Int {
    if headFirst { return shape[2] }
    let row = shape.dropFirst().reduce(1, *)
    guard let index else { return row }
    if shape.count == 3 {
      guard index < shape[1] else { throw InterventionError.indexOutOfRange(index, hook: hook.name, count: shape[1]) }
      return shape[2]
    }
    guard index < shape[1] else { throw InterventionError.indexOutOfRange(index, hook: hook.name, count: shape[1]) }
    return 1
  }

  /// Calls `body(offset, length)` for every contiguous run selected in a value of `shape`.
  public func forEachRun(_ shape: [Int], _ body: (Int, Int) throws -> Void) throws {
    if headFirst {
      let H = shape[0], T = shape[1]
      let heads: [Int]
      if let index {
        guard index < H else { throw InterventionError.indexOutOfRange(index, hook: hook.name, count: H) }
        heads = [index]
      } else {
        heads = Array(0..<H)
      }
      for h in heads { for t in try resolvedPositions(T) { try body(h * T * T + t * T, T) } }
      return
    }
    let T = shape[0]
    let row = shape.dropFirst().reduce(1, *)
    let length = try runLength(shape)
    let within = index.map { $0 * (shape.count == 3 ? shape[2] : 1) } ?? 0
    for t in try resolvedPositions(T) { try body(t * row + within, length) }
  }
}

public enum InterventionError: Error, CustomStringConvertible, Equatable {
  case positionOutOfRange(Int, tokens: Int)
  case indexOutOfRange(Int, hook: String, count: Int)
  case shapeMismatch(String)

  public var description: String {
    switch self {
    case .positionOutOfRange(let p, let T):
      "position \(p) is outside the prompt (\(T) tokens: 0...\(T - 1), or -\(T)...-1 from the end)"
    case .indexOutOfRange(let i, let hook, let n): "index \(i) is outside \(hook) (0...\(n - 1))"
    case .shapeMismatch(let why): why
    }
  }
}
