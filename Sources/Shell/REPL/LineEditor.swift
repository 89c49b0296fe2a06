import CEditLine

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// What one read from the line editor gave.
enum LineRead: Equatable {
  case line(String)
  /// Ctrl-C: the line being typed was dropped.
  case interrupted
  /// Ctrl-D on an empty line.
  case endOfInput
}

/// The word being completed and the text of the line before it.
struct CompletionRequest {
  var word: String
  var before: String
}

/// libedit's line editor through its readline-compatible API: emacs keys,
/// Ctrl-R reverse history search, Tab completion, ~/.editrc. libedit keeps one
/// global editor behind that API, so this is a namespace over global state.
///
/// Ctrl-C at the prompt is a key, not a signal: the terminal's ISIG is turned
/// off while a line is edited and ^C is bound to a function that ends the
/// read. So the SIGINT handler only ever sees Ctrl-C during evaluation, when
/// the terminal is back in its normal mode.
enum LineEditor {
  /// Gives completions for a request; set by `start`.
  nonisolated(unsafe) private static var complete: (CompletionRequest) -> [String] = { _ in [] }
  /// Set by the ^C key function, read when `readline` returns.
  nonisolated(unsafe) private static var interrupted = false

  /// Characters that end the word Tab completes. `$`, `.` and `-` are kept in
  /// words so that `$x`, `blocks.3.hook_resid_pre` and `--top` complete whole.
  private static let wordBreaks = strdup(" \t\n\"'`@<>=;|&{}()[],:+*/%!")

  /// Sets the editor up: its name (for `~/.editrc` sections), where the
  /// prompt and editing go, and the completion source.
  static func start(
    name: String, output: UnsafeMutablePointer<FILE>,
    complete: @escaping (CompletionRequest) -> [String]
  ) {
    Self.complete = complete
    installLocale()
    rl_readline_name = UnsafePointer(strdup(name))
    rl_outstream = output
    _ = rl_initialize()
    rl_basic_word_break_characters = UnsafePointer(wordBreaks)
    rl_attempted_completion_function = attemptCompletion
    _ = rl_add_defun("tdb-interrupt", interruptKey, 3)  // 3 is ^C
    // readline() resets the terminal modes and key bindings from the tty on
    // every call (tty_init), so they are redone after that, just before input.
    rl_pre_input_hook = {
      _ = rl_parse_and_bind("setty -d -isig")
      _ = rl_parse_and_bind("bind ^C tdb-interrupt")
      return 0
    }
  }

  /// Reads one line with `prompt`, with editing and history.
  static func read(prompt: String) -> LineRead {
    interrupted = false
    guard let raw = readline(prompt) else {
      return interrupted ? .interrupted : .endOfInput
    }
    defer { free(raw) }
    return .line(String(cString: raw))
  }

  /// Adds an entry to the in-memory history (Up arrow, Ctrl-R).
  static func addHistory(_ entry: String) {
    _ = add_history(entry)
  }

  /// libedit reads multibyte input through the C locale; Swift programs start
  /// in the "C" locale, where anything beyond ASCII would be mangled.
  private static func installLocale() {
    if setlocale(LC_CTYPE, "") != nil, let codeset = nl_langinfo(nl_item(CODESET)),
      String(cString: codeset).uppercased().replacingOccurrences(of: "-", with: "") == "UTF8"
    {
      return
    }
    _ = setlocale(LC_CTYPE, "C.UTF-8")
  }

  /// ^C while editing: drop the line and make `readline` return.
  private static let interruptKey: @convention(c) (Int32, Int32) -> Int32 = { _, _ in
    LineEditor.interrupted = true
    rl_done = 1
    return 0
  }

  /// readline's completion hook: `text` is the word before the cursor, which
  /// starts at character `start` of the line. Returns a malloc'd,
  /// NULL-terminated array: the text to put in place of the word (the common
  /// prefix of the matches), then the matches; or NULL for none.
  private static let attemptCompletion:
    @convention(c) (UnsafePointer<CChar>?, Int32, Int32) -> UnsafeMutablePointer<
      UnsafeMutablePointer<CChar>?
    >? = { text, start, _ in
      rl_attempted_completion_over = 1  // never fall back to file names
      let word = text.map { String(cString: $0) } ?? ""
      let line = rl_line_buffer.map { String(cString: $0) } ?? ""
      let before = String(String.UnicodeScalarView(line.unicodeScalars.prefix(Int(start))))
      let matches = LineEditor.complete(CompletionRequest(word: word, before: before))
      guard !matches.isEmpty else { return nil }
      // A finished word gets a space after it; a hook point prefix such as
      // `blocks.3.` is not finished.
      rl_completion_append_character =
        matches.count == 1 && !matches[0].hasSuffix(".") ? 32 : 0
      // libedit tells a single match by [match, match, NULL] (it reads the
      // third slot), so even one match comes after the common prefix.
      let entries = [commonPrefix(matches)] + matches
      // libedit frees the array and its strings with free(), so both come from malloc.
      let raw = malloc((entries.count + 1) * MemoryLayout<UnsafeMutablePointer<CChar>?>.stride)!
      let result = raw.bindMemory(to: UnsafeMutablePointer<CChar>?.self, capacity: entries.count + 1)
      for (i, e) in entries.enumerated() { result[i] = strdup(e) }
      result[entries.count] = nil
      return result
    }
}

/// The longest common prefix of some strings (by character).
func commonPrefix(_ strings: [String]) -> String {
  guard var prefix = strings.first else { return "" }
  for s in strings.dropFirst() {
    while !s.hasPrefix(prefix) { prefix.removeLast() }
  }
  return prefix
}
