import Lang

/// Aligned text tables for a terminal: a header, a rule, one line per row;
/// numbers right-aligned with 3 decimals (integers without), long cells cut.
struct TableRenderer {
  var style: Style
  var maxCellWidth = 60

  func render(_ table: Table) -> String {
    let header = table.columns
    var cells: [[(text: String, right: Bool)]] = []
    cells.reserveCapacity(table.rows.count)
    for row in table.rows {
      cells.append(row.map(cell))
    }
    var widths = header.map { displayWidth($0) }
    for row in cells {
      for (i, c) in row.enumerated() where i < widths.count {
        widths[i] = max(widths[i], displayWidth(c.text))
      }
    }
    var out = ""
    var line = ""
    for (i, h) in header.enumerated() {
      // Right-align a header over a numeric column.
      let right =
        !cells.isEmpty && cells.allSatisfy { i < $0.count && ($0[i].right || $0[i].text.isEmpty) }
      line +=
        (i > 0 ? "  " : "")
        + style.bold(pad(h, widths[i], right: right, last: i == header.count - 1))
    }
    out += line + "\n"
    out +=
      style.dim(widths.map { String(repeating: "─", count: $0) }.joined(separator: "  ")) + "\n"
    for row in cells {
      line = ""
      for (i, c) in row.enumerated() where i < widths.count {
        line +=
          (i > 0 ? "  " : "") + pad(c.text, widths[i], right: c.right, last: i == row.count - 1)
      }
      while line.hasSuffix(" ") { line.removeLast() }
      out += line + "\n"
    }
    return out
  }

  private func cell(_ v: Value) -> (text: String, right: Bool) {
    switch v {
    case .number(let d): return (formatNumber(d, decimals: 3), true)
    case .string(let s): return (cut(escapeControl(s)), false)
    case .null: return ("", false)
    case .bool(let b): return (b ? "true" : "false", false)
    default: return (cut(v.repr), false)
    }
  }

  private func cut(_ s: String) -> String {
    displayWidth(s) <= maxCellWidth ? s : String(s.prefix(maxCellWidth - 1)) + "…"
  }

  private func pad(_ s: String, _ width: Int, right: Bool, last: Bool) -> String {
    let n = width - displayWidth(s)
    if n <= 0 || (s.isEmpty && last) { return s }
    if right { return String(repeating: " ", count: n) + s }
    return last ? s : s + String(repeating: " ", count: n)
  }
}

/// Columns a string takes on a terminal (one per character; good enough for
/// the Latin, Greek and box-drawing text tdb prints).
func displayWidth(_ s: String) -> Int { s.count }

/// Newlines and tabs inside a cell or line shown as `\n` and `\t`.
func escapeControl(_ s: String) -> String { Escapes.visibleWhitespace.apply(s) }
