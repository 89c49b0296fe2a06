import ArgumentParser

/// The version `tdb --version` prints.
let tdbVersion = "0.1.0"

/// When to colour output.
enum ColorChoice: String, ExpressibleByArgument, CaseIterable {
  case auto, always, never
}

extension OutputFormat: ExpressibleByArgument {}

/// The command line. Options must come before the script: everything from
/// the script's path on is the script's own arguments (`$args`).
struct ShellOptions: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "tdb",
    abstract: "Transformer Debugger for the terminal: a small language for looking inside language models.",
    usage: """
      tdb [OPTIONS] -c COMMANDS [-- ARGS...]
      tdb [OPTIONS] SCRIPT.tdbs [ARGS...]
      tdb [OPTIONS] -       (a script from standard input)
      tdb [OPTIONS]         (interactive, or a script piped into standard input)
      tdb serve [--port N] [--token T] ...   (the browser page and HTTP API; tdb serve --help)
      """,
    discussion: """
      Exit status: 0 success, 64 bad command line, 65 syntax error, 70 runtime error,
      130 interrupted. Results go to standard output, diagnostics to standard error.
      """,
    version: "tdb \(tdbVersion)")

  @Option(
    name: .customShort("c"), parsing: .unconditional,
    help: ArgumentHelp("Run COMMANDS and exit.", valueName: "COMMANDS"))
  var command: String?

  @Option(
    help: ArgumentHelp(
      "Load the model MODEL: a Hugging Face folder, a .gguf file, or a built-in name (tdb-demo, smollm2, gemma3-270m).",
      valueName: "MODEL"))
  var model: String?

  @Option(
    help: ArgumentHelp(
      "Load sparse autoencoders from PATH (repeatable): a SAELens or sparsify folder, a folder of them, or Gemma Scope's params.npz; PATH@HOOK splices at HOOK (blocks.12.hook_resid_post) when the files do not say.",
      valueName: "PATH"))
  var sae: [String] = []

  @Option(
    help: ArgumentHelp(
      "How results are written: table, json, ndjson, csv, tsv (default: table on a terminal, tsv otherwise).",
      valueName: "F"))
  var format: OutputFormat?

  @Option(
    help: ArgumentHelp(
      "Colour: auto, always, never (NO_COLOR also turns it off).", valueName: "WHEN"))
  var color: ColorChoice = .auto

  @Argument(
    parsing: .captureForPassthrough,
    help: ArgumentHelp(
      "A script and its arguments, or - for standard input.", valueName: "SCRIPT ARGS"))
  var script: [String] = []
}
