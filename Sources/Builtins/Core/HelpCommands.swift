import Lang

func registerHelpCommands(into registry: CommandRegistry) {
  registry.register(
    CommandSpec(
      name: "help", group: "help",
      summary: "List the commands, or describe one",
      parameters: [ParameterSpec("command", .word, optional: true, "a command name")],
      flags: [.switch("markdown", "the whole language and command reference in Markdown")],
      examples: ["help", "help sort", "help --markdown"])
  ) { [unowned registry] call, _ in
    if call.isSet("markdown") { return .string(registry.markdownReference()) }
    guard let name: String = try call.optionalArg(0) else { return .string(registry.helpIndex()) }
    guard let text = registry.help(for: name) else {
      var m = "unknown command '\(name)'"
      if let s = suggest(name, among: registry.names) { m += " (did you mean '\(s)'?)" }
      throw EvalError(m)
    }
    return .string(text)
  }

  registry.register(
    CommandSpec(
      name: "apropos", group: "help",
      summary: "Find commands whose name or description mentions a word",
      parameters: [ParameterSpec("word", .word, "what to look for")],
      examples: ["apropos column", "apropos json"])
  ) { [unowned registry] call, _ in
    let word: String = try call.arg(0)
    let found = registry.apropos(word)
    if found.isEmpty { return .string("nothing mentions '\(word)'\n") }
    let width = (found.map { $0.spec.name.count }.max() ?? 0) + 2
    return .string(
      found.map { c in
        c.spec.name + String(repeating: " ", count: width - c.spec.name.count) + c.spec.summary
          + "\n"
      }.joined())
  }
}
