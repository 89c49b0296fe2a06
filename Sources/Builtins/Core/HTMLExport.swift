import Foundation
import Lang

/// Values as one self-contained HTML file (`to html`, `save FILE.html`):
/// inline CSS, SVG pictures and a few lines of inline script to sort tables;
/// no request to any other file or host. Heatmaps and attention patterns
/// become SVG heatmaps with labels on both axes, component pages TDB's neuron
/// viewer with tokens coloured by activation, tables sortable tables.
public enum HTMLExport {
  /// The whole document for `value`.
  public static func document(_ value: Value, title: String? = nil) -> String {
    let heading = title ?? defaultTitle(value)
    return """
      <!doctype html>
      <html lang="en"><head><meta charset="utf-8"><title>\(escape(heading))</title>
      <style>\(style)</style></head>
      <body><h1>\(escape(heading))</h1>
      \(body(value))
      <script>\(sortScript)</script>
      </body></html>

      """
  }

  static func defaultTitle(_ value: Value) -> String {
    switch value {
    case .host(let h as HeatmapValue): return h.title
    case .host(let h as ComponentPageValue): return "\(h.page.component): \(h.page.explanation)"
    case .host(let h): return h.typeName
    case .table: return "table"
    default: return "tdb"
    }
  }

  /// The HTML for a value, without the document around it.
  public static func body(_ value: Value) -> String {
    switch value {
    case .host(let h as HeatmapValue):
      return heatmap(
        rowLabels: h.rowLabels, columnLabels: h.columnLabels, values: h.values, signed: h.signed,
        rowName: h.rowName, columnName: h.columnName)
    case .host(let h as ComponentPageValue):
      return componentPage(h.plain())
    case .host(let h):
      return body(h.plain())
    case .table(let t):
      return table(t)
    case .list(let items):
      if let t = Table(tabular: value) { return table(t) }
      return "<ul>" + items.map { "<li>" + body($0) + "</li>" }.joined() + "</ul>"
    case .record(let r):
      return "<table class=\"record\">"
        + zip(r.keys, r.values).map { "<tr><th>\(escape($0))</th><td>\(body($1))</td></tr>" }.joined() + "</table>"
    case .string(let s): return "<pre>\(escape(s))</pre>"
    case .null: return ""
    default: return "<pre>\(escape(value.cellText))</pre>"
    }
  }

  // MARK: - Pieces

  static func table(_ t: Table) -> String {
    // Signed numeric columns are shaded blue (positive) or red (negative) by magnitude.
    var scales: [Double?] = []
    for c in t.columns.indices {
      let numbers = t.rows.compactMap { row -> Double? in
        if case .number(let d) = row[c], d.isFinite { return d }
        return nil
      }
      let isIndex = ["pos", "key", "layer", "rank", "id", "position", "query", "head"].contains(t.columns[c])
      scales.append(numbers.isEmpty || isIndex ? nil : max(numbers.map(abs).max() ?? 1, 1e-12))
    }
    var out = "<table class=\"data sortable\"><thead><tr>"
    out += t.columns.map { "<th>\(escape($0))</th>" }.joined() + "</tr></thead><tbody>"
    for row in t.rows {
      out += "<tr>"
      for (c, v) in row.enumerated() {
        if case .number(let d) = v {
          let bg = scales[c].map { " style=\"background:\(shade(d / $0))\"" } ?? ""
          out +=
            "<td class=\"num\" data-v=\"\(d.isFinite ? formatNumber(d) : "")\"\(bg)>\(escape(formatNumber(d)))</td>"
        } else {
          out += "<td>\(escape(cellText(v)))</td>"
        }
      }
      out += "</tr>"
    }
    return out + "</tbody></table>"
  }

  static func cellText(_ v: Value) -> String {
    if case .host(let h) = v { return h.summary() }
    return v.cellText
  }

  /// An SVG heatmap: rows top to bottom, columns left to right, NaN cells empty.
  static func heatmap(
    rowLabels: [String], columnLabels: [String], values: [[Float]], signed: Bool, rowName: String,
    columnName: String
  ) -> String {
    let rows = values.count, cols = values.first?.count ?? 0
    let cell = max(8, min(28, 700 / max(1, max(rows, cols))))
    let left = 12 + 7 * min(24, (rowLabels.map { $0.count }.max() ?? 1) + 4)
    let topPad = 12 + 5 * min(24, (columnLabels.map { $0.count }.max() ?? 1) + 1)
    let finite = values.flatMap { $0 }.filter { $0.isFinite }
    let scale = Double(signed ? max(finite.map(abs).max() ?? 1, 1e-9) : max(finite.max() ?? 1, 1e-9))
    var svg =
      "<svg class=\"heatmap\" width=\"\(left + cols * cell + 10)\" height=\"\(topPad + rows * cell + 10)\">"
    for (i, label) in rowLabels.enumerated() {
      svg +=
        "<text x=\"\(left - 4)\" y=\"\(topPad + i * cell + cell * 7 / 10)\" text-anchor=\"end\">\(escape("\(i) " + visible(label)))</text>"
    }
    for (j, label) in columnLabels.enumerated() {
      svg +=
        "<text transform=\"translate(\(left + j * cell + cell * 7 / 10),\(topPad - 4)) rotate(-60)\">\(escape(visible(label)))</text>"
    }
    for (i, row) in values.enumerated() {
      for (j, v) in row.enumerated() where v.isFinite {
        let tip =
          "\(rowName) \(i) \(visible(rowLabels[safe: i] ?? "")), \(columnName) \(j) \(visible(columnLabels[safe: j] ?? "")): \(formatNumber(Double(v)))"
        svg +=
          "<rect x=\"\(left + j * cell)\" y=\"\(topPad + i * cell)\" width=\"\(cell - 1)\" height=\"\(cell - 1)\" fill=\"\(shade(Double(v) / scale))\"><title>\(escape(tip))</title></rect>"
      }
    }
    return svg
      + "</svg><p class=\"muted\">scale: \(signed ? "±" : "0…")\(formatNumber(scale)); hover a cell for its value</p>"
  }

  /// TDB's neuron viewer from a component page's record.
  static func componentPage(_ page: Value) -> String {
    guard let r = page.record else { return body(page) }
    func num(_ k: String) -> String { r[k].map { cellText($0) } ?? "" }
    var out =
      "<p><b>\(escape(num("explanation")))</b> <span class=\"muted\">score \(escape(num("score"))) (\(escape(num("method"))))</span></p>"
    out += "<table class=\"record\">"
    for k in ["component", "kind", "dataset", "tokens", "mean", "variance", "frequency", "min", "max"] {
      out += "<tr><th>\(k)</th><td>\(escape(num(k)))</td></tr>"
    }
    out += "</table>"
    if case .list(let bins)? = r["histogram"] {
      let counts = bins.map { $0.record?["count"]?.number ?? 0 }
      let peak = max(counts.max() ?? 1, 1)
      out += "<h2>histogram</h2><svg width=\"400\" height=\"80\">"
      for (i, c) in counts.enumerated() {
        let h = 80 * c / peak
        out +=
          "<rect x=\"\(i * 20)\" y=\"\(formatNumber(80 - h))\" width=\"19\" height=\"\(formatNumber(h))\" fill=\"#0b63c9\"><title>\(formatNumber(c))</title></rect>"
      }
      out += "</svg>"
    }
    for (key, title) in [("promotes", "promoted tokens"), ("suppresses", "suppressed tokens")] {
      if case .list(let tokens)? = r[key] {
        out +=
          "<h2>\(title)</h2><p>"
          + tokens.prefix(12).map {
            "<span class=\"chip\">\(escape(visible($0.record?["token"]?.string ?? "")))</span>"
          }.joined(separator: " ") + "</p>"
      }
    }
    let maxActivation = r["max"]?.number ?? 1
    for (key, title) in [("top", "top examples"), ("random", "random examples")] {
      guard case .list(let examples)? = r[key] else { continue }
      out += "<h2>\(title)</h2>"
      for e in examples {
        guard let er = e.record, case .list(let tokens)? = er["tokens"], case .list(let acts)? = er["acts"] else {
          continue
        }
        out += "<div class=\"example\">"
        for (t, a) in zip(tokens, acts) {
          let x = a.number ?? 0
          out +=
            "<span class=\"tok\" style=\"background:\(shade(x / max(abs(maxActivation), 1e-9)))\" title=\"\(escape(formatNumber(x)))\">\(escape(visible(t.string ?? "")))</span>"
        }
        out += "</div>"
      }
    }
    return out
  }

  // MARK: - Helpers

  /// White to blue for positive x, white to red for negative, |x| <= 1.
  static func shade(_ x: Double) -> String {
    let a = min(1, abs(x.isFinite ? x : 0))
    let (r, g, b) =
      x >= 0 ? (255 * (1 - a), 255 * (1 - 0.6 * a), 255.0) : (255.0, 255 * (1 - 0.7 * a), 255 * (1 - 0.7 * a))
    return "rgb(\(Int(r)),\(Int(g)),\(Int(b)))"
  }

  static func visible(_ s: String) -> String { s.replacingOccurrences(of: "\n", with: "↵") }

  public static func escape(_ s: String) -> String {
    var out = ""
    for c in s {
      switch c {
      case "&": out += "&amp;"
      case "<": out += "&lt;"
      case ">": out += "&gt;"
      case "\"": out += "&quot;"
      case "'": out += "&#39;"
      default: out.append(c)
      }
    }
    return out
  }

  static let style = """
    body{font:14px/1.4 system-ui,sans-serif;color:#1b1f24;margin:1.5em}h1{font-size:1.2em}h2{font-size:1em;margin:1.2em 0 .4em}\
    table{border-collapse:collapse;font-size:.9em}th,td{padding:.2em .6em;border-bottom:1px solid #d8dee4;text-align:left;white-space:nowrap}\
    table.sortable th{cursor:pointer;background:#f4f6f8}td.num{text-align:right;font-family:ui-monospace,monospace}\
    svg text{font:11px ui-monospace,monospace}.muted{color:#6a737d}.chip{border:1px solid #d8dee4;border-radius:1em;padding:.1em .5em;font-family:ui-monospace,monospace;white-space:pre}\
    .example{font-family:ui-monospace,monospace;white-space:pre-wrap;margin:.2em 0;border-bottom:1px dotted #d8dee4}.tok{white-space:pre}
    """

  static let sortScript = """
    document.querySelectorAll("table.sortable th").forEach(function(th,i){th.addEventListener("click",function(){\
    var t=th.closest("table"),b=t.tBodies[0],d=th.dataset.d=th.dataset.d==="1"?"0":"1";\
    var rows=Array.prototype.slice.call(b.rows);rows.sort(function(x,y){var a=x.cells[i],c=y.cells[i];\
    var p=a.dataset.v!==undefined&&c.dataset.v!==undefined?parseFloat(a.dataset.v)-parseFloat(c.dataset.v):a.textContent.localeCompare(c.textContent);\
    return d==="1"?-p:p;});rows.forEach(function(r){b.appendChild(r);});});});
    """
}

extension Array {
  fileprivate subscript(safe i: Int) -> Element? { indices.contains(i) ? self[i] : nil }
}
