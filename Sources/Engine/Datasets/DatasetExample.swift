import Foundation

/// A stretch of one corpus window around a token, with the component's
/// activation at every token: what TDB shows as a dataset example.
public struct DatasetExample: Sendable, Equatable {
  /// The activation at `position` (the window's maximum for a top example).
  public var activation: Float
  /// The corpus window it comes from.
  public var window: Int
  /// The token the example centres on, as a position in the window.
  public var position: Int
  /// Window position of `tokens[0]`.
  public var start: Int
  public var tokens: [Int32]
  /// The component's activation at each of `tokens`.
  public var acts: [Float]
  /// Heads only: the write from the query at `position` to each of `tokens` as a key.
  public var keys: [Float]?
  /// Heads only: the key position of the strongest write from `position`.
  public var keyPosition: Int?
  /// Random examples: the hash that ranks them (smaller is kept).
  public var sampleKey: UInt64

  public init(
    activation: Float, window: Int, position: Int, start: Int, tokens: [Int32], acts: [Float], keys: [Float]? = nil,
    keyPosition: Int? = nil, sampleKey: UInt64 = 0
  ) {
    self.activation = activation
    self.window = window
    self.position = position
    self.start = start
    self.tokens = tokens
    self.acts = acts
    self.keys = keys
    self.keyPosition = keyPosition
    self.sampleKey = sampleKey
  }

  /// Index of the centre token in `tokens`.
  public var centre: Int { position - start }
  /// The centre token's id.
  public var token: Int { Int(tokens[centre]) }

  /// Top-example order: higher activation first, then earlier window and
  /// position. A total order, so the top N of a union is the top N of the
  /// parts' top Ns — which makes shard merges exact.
  @inline(__always)
  static func ranksAbove(_ a: Float, _ aw: Int, _ ap: Int, _ b: DatasetExample) -> Bool {
    if a != b.activation { return a > b.activation }
    if aw != b.window { return aw < b.window }
    return ap < b.position
  }

  /// Random-sample order: smaller hash first, then earlier window.
  @inline(__always)
  static func samplesAbove(_ key: UInt64, _ w: Int, _ b: DatasetExample) -> Bool {
    key != b.sampleKey ? key < b.sampleKey : w < b.window
  }
}

/// The best `capacity` examples under an order, best first. A sorted array:
/// the capacities used (tens) make insertion cheap, and after the first few
/// windows almost every candidate is rejected by one comparison with `last`.
struct BoundedExamples: Sendable, Equatable {
  var items: [DatasetExample] = []

  /// Whether a candidate with this top-order key would be kept.
  @inline(__always)
  func acceptsTop(_ activation: Float, window: Int, position: Int, capacity: Int) -> Bool {
    guard capacity > 0 else { return false }
    guard items.count == capacity, let last = items.last else { return true }
    return DatasetExample.ranksAbove(activation, window, position, last)
  }

  mutating func insertTop(_ e: DatasetExample, capacity: Int) {
    var i = items.count
    while i > 0 && DatasetExample.ranksAbove(e.activation, e.window, e.position, items[i - 1]) { i -= 1 }
    items.insert(e, at: i)
    if items.count > capacity { items.removeLast() }
  }

  /// Whether a candidate with this sample key would be kept.
  @inline(__always)
  func acceptsSample(_ key: UInt64, window: Int, capacity: Int) -> Bool {
    guard capacity > 0 else { return false }
    guard items.count == capacity, let last = items.last else { return true }
    return DatasetExample.samplesAbove(key, window, last)
  }

  mutating func insertSample(_ e: DatasetExample, capacity: Int) {
    var i = items.count
    while i > 0 && DatasetExample.samplesAbove(e.sampleKey, e.window, items[i - 1]) { i -= 1 }
    items.insert(e, at: i)
    if items.count > capacity { items.removeLast() }
  }
}

/// FNV-1a of a component's name: a sample seed that does not depend on the
/// order components are listed in.
func nameHash(_ s: String) -> UInt64 {
  var h: UInt64 = 0xcbf2_9ce4_8422_2325
  for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
  return h
}
