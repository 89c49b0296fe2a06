/// Help text, apropos and the Markdown reference, all made from command specs.
extension CommandRegistry {
  /// `help`: every command by group, with its summary.
  public func helpIndex() -> String {
    var out = "Commands (help NAME shows one in detail, apropos WORD searches):\n"
    let width = (all.map { $0.spec.name.count }.max() ?? 0) + 2
    for (group, commands) in groups {
      out += "\n\(group)\n"
      for c in commands {
        out += "  " + c.spec.name.padding(width) + c.spec.summary + "\n"
      }
    }
    return out
  }

  /// `help NAME`: usage, summary, input, parameters, flags, examples.
  public func help(for name: String) -> String? {
    guard let c = lookup(name) else { return nil }
    let s = c.spec
    var out = "\(s.usage)\n\n  \(s.summary)\n"
    if let details = s.details { out += "\n" + details.indented(2) + "\n" }
    if let input = s.input { out += "\nInput: \(input)\n" }
    if !s.parameters.isEmpty {
      out += "\nParameters:\n"
      let width = (s.parameters.map { parameterLabel($0).count }.max() ?? 0) + 2
      for p in s.parameters {
        var line = "  " + parameterLabel(p).padding(width) + p.summary
        line += " (\(p.kind.article)\(p.optional ? ", optional" : ""))"
        out += line + "\n"
      }
    }
    if !s.flags.isEmpty {
      out += "\nFlags:\n"
      let width = (s.flags.map { flagLabel($0).count }.max() ?? 0) + 2
      for f in s.flags {
        var line = "  " + flagLabel(f).padding(width) + f.summary
        if let d = f.defaultValue { line += " (default \(d))" }
        out += line + "\n"
      }
    }
    if !s.examples.isEmpty {
      out += "\nExamples:\n"
      for e in s.examples { out += "  \(e)\n" }
    }
    return out
  }

  private func parameterLabel(_ p: ParameterSpec) -> String {
    p.name.uppercased() + (p.variadic ? "..." : "")
  }

  private func flagLabel(_ f: FlagSpec) -> String {
    f.kind == nil ? "--\(f.name)" : "--\(f.name) \(f.valueName)"
  }

  /// Commands whose name, summary, details, parameters, flags or examples
  /// mention `word` (case-insensitive), best matches (in the name) first.
  public func apropos(_ word: String) -> [Command] {
    let w = word.lowercased()
    var inName: [Command] = []
    var elsewhere: [Command] = []
    for c in all {
      let s = c.spec
      if s.name.lowercased().contains(w) {
        inName.append(c)
        continue
      }
      var text = [s.summary, s.details ?? "", s.input ?? "", s.group]
      text += s.parameters.flatMap { [$0.name, $0.summary] }
      text += s.flags.flatMap { [$0.name, $0.summary] }
      text += s.examples
      if text.contains(where: { $0.lowercased().contains(w) }) { elsewhere.append(c) }
    }
    return inName + elsewhere
  }

  /// The language and every command in Markdown, for the README.
  public func markdownReference() -> String {
    var out = "# tdb reference\n\n"
    out += languageReference + "\n\n## Commands\n"
    for (group, commands) in groups where group != "user" {
      out += "\n### \(group)\n"
      for c in commands {
        let s = c.spec
        out += "\n#### `\(s.name)`\n\n`\(s.usage)`\n\n\(s.summary).\n"
        if let details = s.details { out += "\n\(details)\n" }
        if let input = s.input { out += "\nInput: \(input).\n" }
        if !s.parameters.isEmpty {
          out += "\n| parameter | accepts | description |\n| --- | --- | --- |\n"
          for p in s.parameters {
            let kind = p.kind.article + (p.optional ? ", optional" : "")
            out += "| `\(parameterLabel(p))` | \(kind) | \(markdownCell(p.summary)) |\n"
          }
        }
        if !s.flags.isEmpty {
          out += "\n| flag | description | default |\n| --- | --- | --- |\n"
          for f in s.flags {
            out +=
              "| `\(flagLabel(f))` | \(markdownCell(f.summary)) | \(f.defaultValue.map { "`\($0)`" } ?? "") |\n"
          }
        }
        if !s.examples.isEmpty {
          out += "\n```\n" + s.examples.joined(separator: "\n") + "\n```\n"
        }
      }
    }
    return out
  }

  private func markdownCell(_ s: String) -> String {
    s.replacingPipes()
  }
}

extension String {
  func padding(_ width: Int) -> String {
    count >= width ? self + " " : self + String(repeating: " ", count: width - count)
  }

  func indented(_ n: Int) -> String {
    let pad = String(repeating: " ", count: n)
    return split(separator: "\n", omittingEmptySubsequences: false)
      .map { $0.isEmpty ? "" : pad + $0 }.joined(separator: "\n")
  }

  func replacingPipes() -> String {
    var out = ""
    for c in self {
      if c == "|" { out += "\\|" } else { out.append(c) }
    }
    return out
  }
}
