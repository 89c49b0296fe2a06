/// Choosing the rows of a node table worth showing, and pairing two prompts'
/// tables (TDB's two-prompt mode).

/// One column of numbers to pick extremes from; nil entries are skipped.
public struct SelectionColumn {
  /// NaN where the column has no value.
  public var values: [Float]
  /// Signed columns contribute their k smallest entries as well as their k largest.
  public var signed: Bool
  public init(_ values: [Float?], signed: Bool) {
    self.values = values.map { $0 ?? .nan }
    self.signed = signed
  }
  public init(values: [Float], signed: Bool) {
    self.values = values
    self.signed = signed
  }
}

/// Row indices to show: within each group (node kind: activations of heads,
/// neurons and latents are not comparable), the k largest entries of every
/// column and the k smallest of every signed column, unioned, ordered by
/// |order| descending (ties by index).
public func selectRows(groups: [Int], columns: [SelectionColumn], order: [Float], k: Int) -> [Int] {
  let n = groups.count
  guard n > 0 else { return [] }
  // Each group's rows, contiguous (a counting sort keeps this cheap for ~10⁵ nodes).
  let groupCount = groups.max()! + 1
  var starts = [Int](repeating: 0, count: groupCount + 1)
  for g in groups { starts[g + 1] += 1 }
  for g in 0..<groupCount { starts[g + 1] += starts[g] }
  var members = [Int](repeating: 0, count: n)
  var next = starts
  for (i, g) in groups.enumerated() {
    members[next[g]] = i
    next[g] += 1
  }
  var picked = [Bool](repeating: false, count: n)
  var values = [Float](repeating: 0, count: n)
  for column in columns {
    for g in 0..<groupCount where starts[g] < starts[g + 1] {
      let rows = members[starts[g]..<starts[g + 1]]
      for (j, i) in rows.enumerated() { values[j] = column.values[i] }
      values.withUnsafeBufferPointer { all in
        let buffer = UnsafeBufferPointer(rebasing: all[0..<rows.count])
        for s in topK(buffer, k) { picked[rows[rows.startIndex + s.id]] = true }
        if column.signed { for s in topK(buffer, k, lowest: true) { picked[rows[rows.startIndex + s.id]] = true } }
      }
    }
  }
  return picked.indices.filter { picked[$0] }.sorted { a, b in
    let x = abs(order[a].isNaN ? 0 : order[a]), y = abs(order[b].isNaN ? 0 : order[b])
    return x != y ? x > y : a < b
  }
}

extension NodeAttribution {
  /// The rows TDB shows: per kind, the k largest activations and write
  /// magnitudes and the k largest and k smallest direct and total effects,
  /// ordered by |total| descending. (The smallest activations are only
  /// near-zero attention weights and GELU's floor, so they are left out.)
  public func selected(top k: Int) -> [AttributedNode] {
    let total = scores.map { $0.total }
    let rows = selectRows(
      groups: nodes.map { $0.kind.group },
      columns: [
        SelectionColumn(values: scores.map { $0.activation }, signed: false),
        SelectionColumn(values: scores.map { $0.write ?? .nan }, signed: false),
        SelectionColumn(values: scores.map { $0.direct ?? .nan }, signed: true),
        SelectionColumn(values: total, signed: true),
      ],
      order: total, k: k)
    return rows.map { AttributedNode(node: nodes[$0], scores: scores[$0]) }
  }
}

extension NodeKind {
  /// Its position among the kinds, for grouping.
  public var group: Int {
    switch self {
    case .embedding: 0
    case .head: 1
    case .neuron: 2
    case .latent: 3
    }
  }
}

/// A node in two prompts of the same length (a latent active in only one of
/// them scores zero in the other).
public struct PairedNode: Sendable {
  public let node: Node
  public let a: NodeScores
  public let b: NodeScores
}

/// Pairs two node tables of the same prompt length node by node.
public func pairNodes(_ a: NodeAttribution, _ b: NodeAttribution) -> [PairedNode] {
  var inB: [Node: Int] = [:]
  inB.reserveCapacity(b.nodes.count)
  for (i, n) in b.nodes.enumerated() { inB[n] = i }
  var out: [PairedNode] = []
  out.reserveCapacity(max(a.nodes.count, b.nodes.count))
  var seen = [Bool](repeating: false, count: b.nodes.count)
  for (i, n) in a.nodes.enumerated() {
    if let j = inB[n] {
      seen[j] = true
      out.append(PairedNode(node: n, a: a.scores[i], b: b.scores[j]))
    } else {
      out.append(PairedNode(node: n, a: a.scores[i], b: .zero))
    }
  }
  for (j, n) in b.nodes.enumerated() where !seen[j] { out.append(PairedNode(node: n, a: .zero, b: b.scores[j])) }
  return out
}
