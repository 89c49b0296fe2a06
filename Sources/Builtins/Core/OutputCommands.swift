import Lang

func registerOutputCommands(into registry: CommandRegistry) {
  registry.register(
    CommandSpec(
      name: "print", group: "output",
      summary: "Write values to standard output, separated by spaces, then a newline",
      parameters: [ParameterSpec("values", .any, optional: true, variadic: true, "what to print")],
      examples: ["print \"hello\" 42", "for x in 0..3 { print \"x = $x\" }", "[1, 2] | print"],
      input: "a value, printed before the arguments",
      details: "Strings print as they are; tables, records and lists as on the terminal. "
        + "Returns null, so nothing else is shown.")
  ) { call, interpreter in
    var values = call.positional
    if let input = call.input { values.insert(input, at: 0) }
    var text = values.map { interpreter.display($0) }.joined(separator: " ")
    if !text.hasSuffix("\n") || values.isEmpty { text += "\n" }
    interpreter.write(text)
    return .null
  }
}
