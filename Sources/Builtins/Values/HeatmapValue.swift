import Foundation
import Lang

/// A matrix with row and column labels: a colour heatmap on a terminal, a long
/// table (row, column, labels, value) into a pipe.
final class HeatmapValue: HostValue, RichDisplay {
  let title: String
  let rowName: String, columnName: String
  let rowLabels: [String], columnLabels: [String]
  let values: [[Float]]  // [row][column]; NaN = not applicable (masked)
  /// Symmetric colour scale around zero (effects), else 0...max (attention).
  let signed: Bool

  init(
    title: String, rowName: String, columnName: String, rowLabels: [String], columnLabels: [String], values: [[Float]],
    signed: Bool
  ) {
    self.title = title
    self.rowName = rowName
    self.columnName = columnName
    self.rowLabels = rowLabels
    self.columnLabels = columnLabels
    self.values = values
    self.signed = signed
  }

  var typeName: String { "heatmap" }

  var table: Table {
    var rows: [[Value]] = []
    for (i, row) in values.enumerated() {
      for (j, v) in row.enumerated() where !v.isNaN {
        rows.append([Value(i), Value(rowLabels[i]), Value(j), Value(columnLabels[j]), Value(Double(v))])
      }
    }
    return Table(columns: [rowName, "\(rowName)_label", columnName, "\(columnName)_label", "value"], rows: rows)
  }

  func plain() -> Value { .table(table) }
  func summary() -> String { "\(title) (\(values.count)×\(values.first?.count ?? 0))" }
  func elements() throws -> [Value] { table.records.map { .record($0) } }

  func display(width: Int, color: Bool) -> String {
    let labelWidth = min(20, (rowLabels.enumerated().map { "\($0) \($1)".count }.max() ?? 4) + 1)
    let cell = 3
    let maxCols = max(1, (width - labelWidth - 1) / cell)
    let cols = min(columnLabels.count, maxCols)
    let finite = values.flatMap { $0 }.filter { $0.isFinite }
    let scale = signed ? max(finite.map(abs).max() ?? 1, 1e-9) : max(finite.max() ?? 1, 1e-9)
    var lines = [
      "\(title)   scale: " + (signed ? "±\(String(format: "%.3g", scale))" : "0…\(String(format: "%.3g", scale))")
    ]
    func label(_ s: String, _ w: Int) -> String {
      let shown = s.replacingOccurrences(of: "\n", with: "\\n")
      let cut = shown.count > w - 1 ? String(shown.prefix(w - 2)) + "…" : shown
      return cut.padding(toLength: w, withPad: " ", startingAt: 0)
    }
    // Column headers: indices (labels are listed with the rows of a square map).
    var header = String(repeating: " ", count: labelWidth)
    for j in 0..<cols { header += String(format: "%3d", j % 1000) }
    lines.append(header)
    let shades = [" ", "░", "▒", "▓", "█"]
    for (i, row) in values.enumerated() {
      var line = label("\(i) \(rowLabels[i])", labelWidth)
      for j in 0..<cols {
        let v = row[j]
        if v.isNaN {
          line += "   "
          continue
        }
        let x = Double(v / scale)
        if color {
          // 24-bit background: white -> blue (positive), white -> red (negative).
          let a = min(1, abs(x))
          let (r, g, b): (Double, Double, Double) =
            x >= 0 ? (255 * (1 - a), 255 * (1 - 0.6 * a), 255) : (255, 255 * (1 - 0.7 * a), 255 * (1 - 0.7 * a))
          line += "\u{1B}[48;2;\(Int(r));\(Int(g));\(Int(b))m   \u{1B}[0m"
        } else {
          let k = min(4, Int((abs(x) * 4).rounded()))
          let mark = signed && x < 0 && k > 0 ? "-" : shades[k]
          line += " " + mark + mark
        }
      }
      lines.append(line)
    }
    if cols < columnLabels.count {
      lines.append("(\(columnLabels.count - cols) more columns not shown; pipe it for the full table)")
    }
    if rowLabels != columnLabels {
      lines.append(
        "\(columnName): " + columnLabels.prefix(cols).enumerated().map { "\($0)=\($1)" }.joined(separator: " "))
    }
    return lines.joined(separator: "\n")
  }
}
