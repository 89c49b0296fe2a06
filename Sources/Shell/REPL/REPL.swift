import Engine
import Foundation
import Lang

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The interactive loop: read an entry (one line, or several while a bracket,
/// brace, parenthesis or string is open), run it, show its results, repeat.
///
/// Results are numbered as the interpreter numbers them (`$1`, `$2` ...; `$_`
/// is the last) and shown `$3 = 42`, or `$3 =` above a table or other
/// multi-line display. Text results (`help`, `to csv`) print as they are.
/// Into a pipe, results are data only: no labels, no prompt on standard output.
final class REPL {
  static let prompt = "tdb> "
  static let continuationPrompt = "...> "

  let session: Session
  let history: History
  /// Where the prompt, the editing and the banner go: standard output on a
  /// terminal, standard error when standard output is a pipe or file.
  let editorOutput: UnsafeMutablePointer<FILE>
  private var exitRequested = false

  init(session: Session, history: History, editorOutput: UnsafeMutablePointer<FILE>) {
    self.session = session
    self.history = history
    self.editorOutput = editorOutput
  }

  /// Runs until Ctrl-D on an empty line, `exit` or `quit`.
  func run() -> ExitStatus {
    registerREPLCommands(into: session.registry) { [unowned self] in self.exitRequested = true }
    InterruptPresses.toExit.store(3, ordering: .relaxed)
    history.load()
    let completer = Completer(interpreter: session.interpreter) { [session] load in
      // Loading the demo model takes a fraction of a second, so a word that
      // names part of a model may load it; other words only use it if loaded.
      if load { _ = try? session.model.get() }
      return session.interpreter.wordSuggestions?("") ?? []
    }
    LineEditor.start(name: "tdb", output: editorOutput, complete: completer.complete)
    for entry in history.entries { LineEditor.addHistory(entry) }
    editorWrite(banner + "\n")

    while !exitRequested {
      switch readEntry() {
      case .end:
        editorWrite("\n")
        return .ok
      case .cancelled:
        continue
      case .entry(let text):
        evaluate(text)
      }
    }
    return .ok
  }

  /// One line: the version, the model (not loaded: tdb starts instantly), how to get help.
  var banner: String {
    let model =
      session.modelFolder.map { URL(fileURLWithPath: $0).lastPathComponent }
      ?? ModelLocator.defaultModelFolder()?.lastPathComponent
    let modelPart = model.map { "model \($0) (loads on first use)" } ?? "no model found (--model DIR)"
    return "tdb \(tdbVersion) · \(modelPart) · help for commands, Tab completes, Ctrl-D quits"
  }

  enum Entry {
    case entry(String)
    /// Ctrl-C dropped what was typed.
    case cancelled
    /// Ctrl-D on an empty prompt.
    case end
  }

  /// Reads lines until they form a complete entry.
  func readEntry() -> Entry {
    var lines: [String] = []
    while true {
      Terminal.flush()
      switch LineEditor.read(prompt: lines.isEmpty ? REPL.prompt : REPL.continuationPrompt) {
      case .interrupted:
        editorWrite("^C\n")
        return .cancelled
      case .endOfInput:
        if lines.isEmpty { return .end }
        // Ctrl-D inside an unfinished entry: run it, so its error says what is missing.
        editorWrite("\n")
        return .entry(lines.joined(separator: "\n"))
      case .line(let line):
        lines.append(line)
        let text = lines.joined(separator: "\n")
        if !session.interpreter.isIncomplete(text) { return .entry(text) }
      }
    }
  }

  /// Runs one entry and shows its results; errors print and the session goes on.
  func evaluate(_ text: String) {
    guard !text.allSatisfy(\.isWhitespace) else { return }
    if history.add(text) { LineEditor.addHistory(text) }
    if ProcessInfo.processInfo.environment["COLUMNS"] == nil {
      session.renderer.width = Terminal.width  // the window may have been resized
    }
    InterruptPresses.reset()
    defer {
      InterruptPresses.reset()
      Terminal.flush()
    }
    do {
      let program = try session.interpreter.parse(SourceFile(name: "<repl>", text: text))
      try session.interpreter.run(program) { value in self.show(value) }
    } catch LangError.interrupted {
      // The terminal has echoed ^C where the output stood.
      Terminal.err("\ninterrupted\n")
    } catch {
      _ = session.report(error)
    }
  }

  /// A top-level result, labelled with its number on a terminal.
  func show(_ value: Value) {
    let text = session.renderer.render(value)
    let isText: Bool
    if case .string = value { isText = true } else { isText = false }
    guard session.renderer.format == .table, !isText else {
      Terminal.out(text)
      return
    }
    let label = Style(enabled: session.renderer.color).dim("$\(session.interpreter.results.count) =")
    let isOneLine = !text.dropLast().contains("\n")  // render ends every result with a newline
    Terminal.out(label + (isOneLine ? " " : "\n") + text)
  }

  private func editorWrite(_ text: String) {
    fputs(text, editorOutput)
    fflush(editorOutput)
  }
}
