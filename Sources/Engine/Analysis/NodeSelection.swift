/// Choosing the rows of a node table worth showing, and pairing two prompts'
/// tables (TDB's two-prompt mode).

/// One column of numbers to pick extremes from; nil entries are skipped.
public struct SelectionColumn {
  public var values: [Float?]
  /// Signed columns contribute their k smallest entries as well as their k largest.
  public var signed: Bool
  public init(_ values: [Float?], signed: Bool) {
    self.values = values
    self.signed = signed
  }
}

/// Row indices to show: within each group (node kind: activations of heads,
/// neurons and latents are not comparable), the k largest entries of every
/// column and the k smallest of every signed column, unioned, ordered by
/// |order| descending (ties by index).
public func selectRows(groups: [Int], columns: [SelectionColumn], order: [Float?], k: Int) -> [Int] {
  var picked = Set<Int>()
  var members: [Int: [Int]] = [:]
  for (i, g) in groups.enumerated() { members[g, default: []].append(i) }
  for (_, rows) in members {
    for column in columns {
      let values = rows.map { column.values[$0] ?? .nan }
      values.withUnsafeBufferPointer { buffer in
        for s in topK(buffer, k) { picked.insert(rows[s.id]) }
        if column.signed { for s in topK(buffer, k, lowest: true) { picked.insert(rows[s.id]) } }
      }
    }
  }
  return picked.sorted { a, b in
    let x = abs(order[a] ?? 0), y = abs(order[b] ?? 0)
    return x != y ? x > y : a < b
  }
}

extension NodeAttribution {
  /// The rows TDB shows: per kind, the k largest activations and write
  /// magnitudes and the k largest and k smallest direct and total effects,
  /// ordered by |total| descending. (The smallest activations are only
  /// near-zero attention weights and GELU's floor, so they are left out.)
  public func selected(top k: Int) -> [AttributedNode] {
    let kinds = NodeKind.allCases
    let groups = nodes.map { kinds.firstIndex(of: $0.node.kind)! }
    let rows = selectRows(
      groups: groups,
      columns: [
        SelectionColumn(nodes.map { $0.scores.activation }, signed: false),
        SelectionColumn(nodes.map { $0.scores.write }, signed: false),
        SelectionColumn(nodes.map { $0.scores.direct }, signed: true),
        SelectionColumn(nodes.map { $0.scores.total }, signed: true),
      ],
      order: nodes.map { $0.scores.total }, k: k)
    return rows.map { nodes[$0] }
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
  for (i, n) in b.nodes.enumerated() { inB[n.node] = i }
  var out: [PairedNode] = []
  out.reserveCapacity(max(a.nodes.count, b.nodes.count))
  var seen = [Bool](repeating: false, count: b.nodes.count)
  for n in a.nodes {
    if let j = inB[n.node] {
      seen[j] = true
      out.append(PairedNode(node: n.node, a: n.scores, b: b.nodes[j].scores))
    } else {
      out.append(PairedNode(node: n.node, a: n.scores, b: .zero))
    }
  }
  for (j, n) in b.nodes.enumerated() where !seen[j] { out.append(PairedNode(node: n.node, a: .zero, b: n.scores)) }
  return out
}
