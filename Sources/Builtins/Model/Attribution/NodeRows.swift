import Engine
import Lang

/// Node tables as language tables, and their rows read back as nodes (so a
/// row pipes into `ablate` and `trace`).

/// The columns naming a node; every node table starts with them.
let nodeIdentityColumns = ["node", "kind", "layer", "pos", "token", "key", "key_token"]
/// TDB's four metrics, in column order.
let nodeMetricColumns = ["activation", "write", "direct", "total"]

extension ModelSession {
  /// A node as a value the language passes on: its component, or for a
  /// token embedding the hook point it lives in (resid_pre of block 0).
  func nodeValue(_ n: Node) -> Value {
    if let c = n.component { return .host(ComponentValue(c)) }
    return .host(HookPointValue(.block(0, .residPre)))
  }

  func identityCells(_ n: Node, tokens: [Int]) -> [Value] {
    [
      nodeValue(n), Value(n.kind.rawValue), n.layer.map { Value($0) } ?? .null, Value(n.position),
      Value(tokenText(tokens[n.position])),
      n.key.map { Value($0) } ?? .null, n.key.map { Value(tokenText(tokens[$0])) } ?? .null,
    ]
  }

  /// The rows TDB shows of one prompt's node table.
  func nodeTable(_ a: NodeAttribution, top k: Int) -> Table {
    Table(
      columns: nodeIdentityColumns + nodeMetricColumns,
      rows: a.selected(top: k).map { n in
        identityCells(n.node, tokens: a.tokens) + [
          cell(n.scores.activation), cell(n.scores.write), cell(n.scores.direct), cell(n.scores.total),
        ]
      })
  }

  /// Two prompts' node tables side by side (TDB's two-prompt mode): each
  /// metric for A, for B and A - B; the rows are the extremes of the
  /// differences, ordered by |total_diff|.
  func pairedNodeTable(_ a: NodeAttribution, _ b: NodeAttribution, top k: Int) -> Table {
    let pairs = pairNodes(a, b)
    func diff(_ x: Float?, _ y: Float?) -> Float? { x.flatMap { x in y.map { x - $0 } } }
    let metrics: [(NodeScores) -> Float?] = [{ $0.activation }, { $0.write }, { $0.direct }, { $0.total }]
    let diffs = metrics.map { m in pairs.map { diff(m($0.a), m($0.b)) } }
    let rows = selectRows(
      groups: pairs.map { $0.node.kind.group }, columns: diffs.map { SelectionColumn($0, signed: true) },
      order: diffs[3].map { $0 ?? .nan }, k: k)
    var columns = nodeIdentityColumns + ["token_b"]
    for m in nodeMetricColumns { columns += [m + "_a", m + "_b", m + "_diff"] }
    return Table(
      columns: columns,
      rows: rows.map { i in
        let p = pairs[i]
        var cells = identityCells(p.node, tokens: a.tokens) + [Value(tokenText(b.tokens[p.node.position]))]
        for (j, m) in metrics.enumerated() { cells += [cell(m(p.a)), cell(m(p.b)), cell(diffs[j][i])] }
        return cells
      })
  }

  /// Node attribution on a run (its interventions and splices), every loaded
  /// SAE's latents included, stopping on Ctrl-C.
  func attributeNodes(_ run: RunValue, metric: AttributionMetric, kinds: Set<NodeKind>) throws -> NodeAttribution {
    var options = run.forwardOptions
    options.shouldStop = { Interrupt.requested }
    do {
      return try model.attributeNodes(
        run.tokens, options: options, metric: metric, kinds: kinds, saes: saeNames.map { saes[$0]! })
    } catch ModelError.interrupted {
      throw LangError.interrupted(.unknown)
    }
  }
}

func cell(_ x: Float?) -> Value { x.map { Value(Double($0)) } ?? .null }

/// `--kind`: neurons, heads, latents, embeddings (singular or plural), or all.
func nodeKinds(_ word: String) throws -> Set<NodeKind> {
  if word == "all" { return Set(NodeKind.allCases) }
  let singular = word.hasSuffix("s") ? String(word.dropLast()) : word
  guard let kind = NodeKind(rawValue: singular) else {
    throw EvalError("--kind: expected neurons, heads, latents, embeddings or all, got '\(word)'")
  }
  return [kind]
}

/// A node named by a row of attribute, trace or attrpatch: its `node` (a
/// component or hook point), `pos` and, for a head pair, `key`.
struct NodeRow {
  let target: ModelSession.Target
  let position: Int?
  let key: Int?
}

extension ModelSession {
  /// The rows of a record, a table or a list of records, as nodes.
  func nodeRows(_ v: Value, what: String) throws -> [NodeRow] {
    guard let table = Table(tabular: v) else {
      throw EvalError(
        "\(what): expected rows of attribute, trace or attrpatch (a record or a table), got \(v.typeName)")
    }
    guard table.columns.contains("node") else {
      throw EvalError("\(what): the rows have no 'node' column (columns: \(table.columns.joined(separator: ", ")))")
    }
    guard !table.rows.isEmpty else { throw EvalError("\(what): no rows") }
    return try table.records.map { r in
      func int(_ name: String) throws -> Int? {
        guard let v = r[name], !v.isNull else { return nil }
        guard let i = v.int else { throw EvalError("\(what): '\(name)' must be an integer, got \(v.typeName)") }
        return i
      }
      return NodeRow(target: try target(r["node"]!, what: what), position: try int("pos"), key: try int("key"))
    }
  }

  /// A hook zeroing each row's node at its position: a head pair's attention
  /// weight pattern[h, q, k], a neuron's or latent's activation, a hook
  /// value's row (an embedding: resid_pre of block 0).
  func ablation(of rows: [NodeRow]) throws -> HookValue {
    var interventions: [Intervention] = []
    var saes: [SparseAutoencoder] = []
    var labels: [String] = []
    for row in rows {
      let positions = row.position.map { [$0] }
      var label: String
      switch row.target {
      case .component(.head(let l, let h)) where row.key != nil:
        guard let q = row.position, let k = row.key else { throw EvalError("ablate: a head pair needs pos and key") }
        label = "ablate L\(l)H\(h) --pos \(q) --key \(k)"
        interventions.append(Interventions.set(.block(l, .pattern), index: [h, q, k], to: 0, label: label))
      case .component(let c):
        let (sel, needed, name) = try selection(self, .host(ComponentValue(c)), positions: positions)
        label = "ablate \(name)"
        if let p = row.position { label += " --pos \(p)" }
        interventions.append(Interventions.zero(sel, label: label))
        for sae in needed where !saes.contains(where: { $0 === sae }) { saes.append(sae) }
      case .hook(let p):
        let (sel, needed, name) = try selection(self, .host(HookPointValue(p)), positions: positions)
        label = "ablate \(name)"
        if let p = row.position { label += " --pos \(p)" }
        interventions.append(Interventions.zero(sel, label: label))
        for sae in needed where !saes.contains(where: { $0 === sae }) { saes.append(sae) }
      }
      labels.append(label)
    }
    return HookValue(label: labels.joined(separator: ", "), interventions: interventions, saes: saes)
  }
}
