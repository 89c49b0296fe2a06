import Lang

/// How results are written: aligned text for people, or a data format.
enum OutputFormat: String, CaseIterable {
  /// Aligned tables, `key: value` records (the default on a terminal).
  case table
  case json, ndjson, csv, tsv
}

/// Turns values into text for standard output.
///
/// On a terminal (or with `--format table`): strings raw, tables and lists of
/// records as aligned tables, records as `key: value` lines, short lists on
/// one line, host values as their rich display or summary. Into a pipe or
/// file the default is TSV (strings still raw, scalars as text, other lists
/// one element per line); `--format json|ndjson|csv` chooses another.
struct Renderer {
  var format: OutputFormat
  var color: Bool
  var width: Int

  private var style: Style { Style(enabled: color) }

  /// A top-level result, ending with a newline.
  func render(_ value: Value) -> String {
    let text: String
    switch format {
    case .table: text = pretty(value)
    case .json: text = value.json() + "\n"
    case .ndjson: text = value.ndjson()
    case .csv: text = plain(value, .csv)
    case .tsv: text = plain(value, .tsv)
    }
    return text.isEmpty || text.hasSuffix("\n") ? text : text + "\n"
  }

  /// A value as `print` shows it among others on a line: strings raw, scalars
  /// as text, lists and records on one line, tables in full.
  func display(_ value: Value) -> String {
    switch value {
    case .string(let s): return s
    case .table:
      return renderTrimmed(value)
    case .list where value.isTabular:
      return renderTrimmed(value)
    case .host(let h):
      if format == .table, let rich = h as? RichDisplay {
        return rich.display(width: width, color: color)
      }
      return h.summary()
    default: return value.description
    }
  }

  private func renderTrimmed(_ value: Value) -> String {
    var text = render(value)
    if text.hasSuffix("\n") { text.removeLast() }
    return text
  }

  private func plain(_ value: Value, _ format: DataFormat) -> String {
    switch value {
    case .string(let s): return s
    case .host(let h): return plain(h.plain(), format)
    case .record(let r) where r.values.contains(where: { $0.list != nil || $0.record != nil || $0.isTabular }):
      // A document (a component's page, a comparison) is not one row: it goes
      // into a pipe as JSON unless --format asks otherwise.
      return value.json()
    default: return value.serialized(as: format)
    }
  }

  private func pretty(_ value: Value) -> String {
    switch value {
    case .string(let s):
      return s
    case .record(let r):
      return record(r)
    case .list(let items):
      if let t = Table(tabular: value) { return TableRenderer(style: style).render(t) }
      let oneLine = value.repr
      if displayWidth(oneLine) <= width || items.isEmpty { return oneLine }
      return items.map { item in
        if case .string(let s) = item { return escapeControl(s) }
        return item.repr
      }.joined(separator: "\n")
    case .table(let t):
      if t.columns.isEmpty { return "(empty table)" }
      return TableRenderer(style: style).render(t)
    case .host(let h):
      if let rich = h as? RichDisplay { return rich.display(width: width, color: color) }
      return h.summary()
    default:
      return value.description
    }
  }

  private func record(_ r: Record) -> String {
    if r.isEmpty { return "{}" }
    let keyWidth = r.keys.map(displayWidth).max() ?? 0
    var out = ""
    for (k, v) in r {
      let shown: String
      switch v {
      case .string(let s): shown = escapeControl(s)
      case .number(let d): shown = formatNumber(d)
      case .host(let h): shown = h.summary()
      default: shown = v.repr
      }
      out +=
        style.bold(k + ":") + String(repeating: " ", count: keyWidth - displayWidth(k) + 1)
        + shown + "\n"
    }
    return out
  }
}
