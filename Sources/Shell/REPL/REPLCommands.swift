import Lang

/// Registers the commands only the REPL has: `exit` and `quit`, which ask the
/// REPL (through `request`) to end once the current input has run.
func registerREPLCommands(into registry: CommandRegistry, request: @escaping () -> Void) {
  for (name, summary) in [
    ("exit", "Leave the REPL once the current input has run (Ctrl-D does too)"),
    ("quit", "Leave the REPL (same as exit)"),
  ] {
    registry.register(
      CommandSpec(name: name, group: "shell", summary: summary, examples: [name])
    ) { _, _ in
      request()
      return .null
    }
  }
}
