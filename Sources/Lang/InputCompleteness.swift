extension Interpreter {
  /// Whether `text` stops in the middle of something, so that a REPL should
  /// read another line rather than run it: an open bracket, brace, parenthesis,
  /// string or `$(`, a `\` at the very end, a `|` or `let x =` waiting for
  /// what follows. Text that parses, or whose error more input could not fix,
  /// is complete: running it reports the error.
  public func isIncomplete(_ text: String) -> Bool {
    // Lexically: only an error caused by the input running out asks for more.
    var scanner = Scanner(file: SourceFile(name: "", text: text))
    let tokens = scanner.scanAll()
    if scanner.failedAtEndOfInput { return true }
    if tokens.contains(where: { $0.kind == .error }) { return false }

    // Syntactically: parse as if Enter had been pressed once more. If the
    // parser still fails at the very end, a newline is not enough for the
    // grammar (`[1,`, `a |`, `for x in xs {`), so more lines can help; a
    // failure earlier (`1 +` then a newline, `print (a +)`) is final.
    let file = SourceFile(name: "", text: text + "\n")
    var endScanner = Scanner(file: file)
    guard let end = endScanner.scanAll().last?.location else { return false }
    do {
      _ = try parse(file)
      return false
    } catch LangError.syntax(_, let location) {
      return location.line == end.line && location.column == end.column
    } catch {
      return false
    }
  }
}
