import Engine
import Foundation
import Lang

/// TDB's neuron viewer as a value: on a terminal, the component's page
/// (explanation and score, statistics, histogram, output tokens, and
/// examples with every token coloured by activation); into a pipe, a record.
final class ComponentPageValue: HostValue, RichDisplay {
  let page: ComponentPage
  let tokenText: (Int) -> String

  init(_ page: ComponentPage, tokenText: @escaping (Int) -> String) {
    self.page = page
    self.tokenText = tokenText
  }

  var typeName: String { "explanation" }
  func summary() -> String { "\(page.component): \(page.explanation) (score \(format(page.score)))" }

  // MARK: - Data

  private func scored(_ list: [ScoredToken]) -> Value {
    .list(
      list.map {
        .record(Record([("token", Value(tokenText($0.id))), ("id", Value($0.id)), ("score", Value($0.score))]))
      })
  }

  private func example(_ e: DatasetExample) -> Value {
    var fields: [(String, Value)] = [
      ("activation", Value(e.activation)), ("window", Value(e.window)), ("position", Value(e.position)),
      ("token", Value(tokenText(e.token))), ("text", Value(e.tokens.map { tokenText(Int($0)) }.joined())),
      ("tokens", .list(e.tokens.map { Value(tokenText(Int($0))) })), ("acts", .list(e.acts.map { Value($0) })),
    ]
    if let k = e.keyPosition {
      fields.append(("key_position", Value(k)))
      if let keys = e.keys { fields.append(("keys", .list(keys.map { Value($0) }))) }
    }
    return .record(Record(fields))
  }

  func plain() -> Value {
    let s = page.record.summary
    let h = page.record.histogram
    let bins = h.linearBins(20)
    let histogram: [Value] = bins.counts.indices.map { i in
      .record(
        Record([("from", Value(bins.edges[i])), ("to", Value(bins.edges[i + 1])), ("count", Value(bins.counts[i]))]))
    }
    let quantiles = Record(ActivationStore.quantileLevels.map { ("\($0)", Value(h.quantile($0))) })
    return .record(
      Record([
        ("component", Value(page.component.description)), ("kind", Value(page.component.kind.rawValue)),
        ("dataset", Value(page.dataset)), ("dataset_tokens", Value(page.datasetTokens)),
        ("explanation", Value(page.explanation)), ("score", Value(page.score)), ("method", Value(page.method)),
        ("held_out_examples", Value(page.heldOutExamples)), ("held_out_tokens", Value(page.heldOutTokens)),
        ("tokens", Value(s.tokens)), ("mean", Value(s.mean)), ("variance", Value(s.variance)),
        ("frequency", Value(s.frequency)), ("min", Value(s.min)), ("max", Value(s.max)),
        ("quantiles", .record(quantiles)), ("histogram", .list(histogram)),
        ("output_method", Value(page.output.method)),
        ("promotes", scored(page.output.promoted)), ("suppresses", scored(page.output.suppressed)),
        (
          "driven_by",
          .list(
            page.drivers.map {
              .record(
                Record([
                  ("token", Value(tokenText($0.token))), ("id", Value($0.token)), ("examples", Value($0.count)),
                  ("mean_activation", Value($0.mean)),
                ]))
            })
        ),
        ("top", .list(page.record.top.map(example))), ("random", .list(page.record.random.map(example))),
      ]))
  }

  var memberNames: [String] { plain().record?.keys ?? [] }
  func member(_ name: String) throws -> Value {
    guard let r = plain().record, let v = r[name] else {
      throw EvalError("an explanation has no member '\(name)' (members: \(memberNames.joined(separator: ", ")))")
    }
    return v
  }

  // MARK: - Terminal page

  func display(width: Int, color: Bool) -> String {
    let p = page, s = p.record.summary
    let bold = { (t: String) in color ? "\u{1B}[1m\(t)\u{1B}[0m" : t }
    let dim = { (t: String) in color ? "\u{1B}[2m\(t)\u{1B}[0m" : t }
    var lines: [String] = []
    let what: String
    switch p.component {
    case .neuron(let l, let n): what = "neuron \(n) of layer \(l)'s MLP"
    case .head(let l, let h): what = "attention head \(h) of layer \(l)"
    case .latent(let sae, let f): what = "latent \(f) of SAE \(sae)"
    }
    lines.append(
      bold(p.component.description) + "  " + what + dim("  ·  \(p.dataset), \(grouped(p.datasetTokens)) tokens"))
    lines.append(bold("explanation: ") + p.explanation)
    lines.append(
      bold("score: ") + format(p.score)
        + dim(
          "  (correlation of activations simulated from the explanation with real ones on \(p.heldOutExamples) held-out examples, \(p.heldOutTokens) tokens; \(p.method))"
        ))
    var stats =
      "mean \(format(s.mean))  sd \(format(s.variance.squareRoot()))  min \(format(s.min))  max \(format(s.max))"
    if p.component.kind != .head { stats += "  fires on \(percentText(s.frequency)) of tokens" }
    lines.append(bold("activation: ") + stats + dim("  (\(grouped(s.tokens)) tokens)"))
    let q = p.record.histogram
    lines.append(
      bold("quantiles: ")
        + [0.5, 0.9, 0.99, 0.999].map { "\(trimPercent($0)) \(format(q.quantile($0)))" }.joined(separator: "  "))
    lines.append(bold("histogram:"))
    lines += histogramLines(width: width, color: color)
    let label = p.component.kind == .head ? "copies (OV)" : "promotes"
    lines.append(bold("\(label): ") + tokenScores(p.output.promoted, width: width - label.count - 2))
    let label2 = p.component.kind == .head ? "suppresses (OV)" : "suppresses"
    lines.append(bold("\(label2): ") + tokenScores(p.output.suppressed, width: width - label2.count - 2))
    lines.append(
      bold("driven by: ")
        + p.drivers.map { "\(quoteToken(tokenText($0.token)))×\($0.count)" + dim(" \(format($0.mean))") }.joined(
          separator: "  "))
    let isHead = p.component.kind == .head
    let peak = Float(s.max.isFinite ? s.max : 1)
    lines.append(
      bold("top examples:") + dim(isHead ? "  (query underlined; keys coloured by the attention write from it)" : ""))
    for e in p.record.top { lines.append(exampleLine(e, peak: peak, width: width, color: color, isHead: isHead)) }
    if !p.record.random.isEmpty {
      lines.append(bold("random examples:"))
      for e in p.record.random { lines.append(exampleLine(e, peak: peak, width: width, color: color, isHead: isHead)) }
    }
    return lines.joined(separator: "\n")
  }

  private func histogramLines(width: Int, color: Bool) -> [String] {
    let h = page.record.histogram
    let (edges, counts) = h.linearBins(12)
    let most = max(1, counts.max() ?? 1)
    let barWidth = max(10, min(50, width - 34))
    return counts.indices.map { i in
      // Counts span orders of magnitude: bars on a log scale, so the rare top bins still show.
      let f = counts[i] == 0 ? 0 : log(1 + Double(counts[i])) / log(1 + Double(most))
      let n = Int((f * Double(barWidth)).rounded())
      let range = "\(format(edges[i])) … \(format(edges[i + 1]))"
      return "  " + range.padding(toLength: 20, withPad: " ", startingAt: 0) + String(repeating: "█", count: n)
        + " \(grouped(counts[i]))"
    }
  }

  private func tokenScores(_ list: [ScoredToken], width: Int) -> String {
    var out = ""
    for t in list {
      let item = "\(quoteToken(tokenText(t.id))) \(format(Double(t.score)))"
      if out.count + item.count + 2 > width { break }
      out += (out.isEmpty ? "" : "  ") + item
    }
    return out
  }

  /// One example on one line: its activation, then its tokens, each on a
  /// background whose strength is the activation (TDB's heatmap); without
  /// colour, strongly active tokens are wrapped in «».
  private func exampleLine(_ e: DatasetExample, peak: Float, width: Int, color: Bool, isHead: Bool) -> String {
    let prefix = format(Double(e.activation)).padding(toLength: 8, withPad: " ", startingAt: 0)
    let values = isHead ? (e.keys ?? e.acts) : e.acts
    let scale = isHead ? max(values.max() ?? 1, 1e-9) : max(peak, 1e-9)
    let texts = e.tokens.map {
      tokenText(Int($0)).replacingOccurrences(of: "\n", with: "↵").replacingOccurrences(of: "\t", with: "⇥")
    }
    let c = e.centre
    // Widen around the centre while the text fits.
    var lo = c, hi = c
    var used = displayLength(texts[c]) + 4
    let budget = max(20, width - prefix.count - 2)
    while true {
      var grew = false
      if hi + 1 < texts.count, used + displayLength(texts[hi + 1]) + 2 <= budget {
        hi += 1
        used += displayLength(texts[hi]) + 2
        grew = true
      }
      if lo > 0, used + displayLength(texts[lo - 1]) + 2 <= budget {
        lo -= 1
        used += displayLength(texts[lo]) + 2
        grew = true
      }
      if !grew { break }
    }
    var line = prefix + (lo > 0 ? "…" : "")
    for i in lo...hi {
      let x = Double(values[i] / scale)
      let mark = i == c
      if color {
        var style = ""
        if x > 0.02 {
          let a = min(1, x)
          // White to green, with dark text so that tokens stay readable.
          style +=
            "\u{1B}[48;2;\(Int(255 * (1 - 0.75 * a)));\(Int(255 - 60 * a));\(Int(255 * (1 - 0.75 * a)))m\u{1B}[38;2;0;0;0m"
        } else if x < -0.02 {
          let a = min(1, -x)
          style += "\u{1B}[48;2;255;\(Int(255 * (1 - 0.5 * a)));\(Int(255 * (1 - 0.5 * a)))m\u{1B}[38;2;0;0;0m"
        }
        if mark { style += "\u{1B}[4m" }
        line += style.isEmpty ? texts[i] : style + texts[i] + "\u{1B}[0m"
      } else if mark {
        line += "[[" + texts[i] + "]]"
      } else if x >= 0.5 {
        line += "«" + texts[i] + "»"
      } else {
        line += texts[i]
      }
    }
    if hi < texts.count - 1 { line += "…" }
    return line
  }
}

func displayLength(_ s: String) -> Int { s.count }

/// Numbers to 3 significant digits, as the page shows them.
func format(_ d: Double) -> String {
  guard d.isFinite else { return d.isNaN ? "–" : (d > 0 ? "∞" : "-∞") }
  if d == 0 { return "0" }
  let a = abs(d)
  if a >= 1000 || a < 0.001 { return String(format: "%.2e", d) }
  var s = String(format: a >= 100 ? "%.0f" : a >= 10 ? "%.1f" : a >= 1 ? "%.2f" : "%.3f", d)
  if s.contains(".") {
    while s.hasSuffix("0") { s.removeLast() }
    if s.hasSuffix(".") { s.removeLast() }
  }
  return s
}

func percentText(_ f: Double) -> String {
  guard f.isFinite else { return "–" }
  let p = f * 100
  return p >= 10 ? String(format: "%.0f%%", p) : p >= 1 ? String(format: "%.1f%%", p) : String(format: "%.2f%%", p)
}

/// 0.999 -> "99.9%"
func trimPercent(_ q: Double) -> String {
  var s = String(format: "%.2f", q * 100)
  while s.hasSuffix("0") { s.removeLast() }
  if s.hasSuffix(".") { s.removeLast() }
  return s + "%"
}
