import Foundation
import XCTest

/// The real REPL through a pseudo-terminal: `tdb` runs in a detached tmux
/// session, keys go in with `send-keys`, the screen comes back with
/// `capture-pane`. Every wait polls the screen with a timeout.
final class REPLTests: XCTestCase {
  var stateHome: URL!

  override func setUpWithError() throws {
    guard TmuxREPL.tmux != nil else {
      throw XCTSkip("tmux is not installed (apt-get install tmux): the REPL test needs a pseudo-terminal")
    }
    guard TDBProcess.binary != nil else { throw XCTSkip("the tdb binary is not built") }
    stateHome = FileManager.default.temporaryDirectory
      .appendingPathComponent("tdb-repl-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: stateHome, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws {
    if let stateHome { try? FileManager.default.removeItem(at: stateHome) }
  }

  func start() throws -> TmuxREPL {
    let repl = TmuxREPL(binary: TDBProcess.binary!, stateHome: stateHome)
    addTeardownBlock { repl.stop() }
    try repl.waitFor("the banner and a prompt") { $0.contains("tdb 0.") && $0.hasSuffix("tdb>") }
    return repl
  }

  func testResultsContinuationLinesErrorsAndCompletion() throws {
    let repl = try start()
    repl.type("1 + 2", "Enter")
    try repl.waitFor("a numbered result") { $0.contains("$1 = 3") }

    // An open bracket continues on the next line.
    repl.type("[1,", "Enter")
    try repl.waitFor("a continuation prompt") { $0.hasSuffix("...>") }
    repl.type("2]", "Enter")
    try repl.waitFor("the list") { $0.contains("$2 = [1, 2]") }

    // An error prints with a caret and the session goes on.
    repl.type("nosuchthing 1", "Enter")
    try repl.waitFor("the error") { $0.contains("unknown command 'nosuchthing'") && $0.hasSuffix("tdb>") }
    repl.type("6 * 7", "Enter")
    try repl.waitFor("a result after the error") { $0.contains("$3 = 42") }
    repl.type("$1 + $_", "Enter")
    try repl.waitFor("$1 and $_ to be earlier results") { $0.contains("$4 = 45") }

    // Tab completes a command name, then a flag of that command.
    repl.type("predi", "Tab")
    try repl.waitFor("the command completed") { $0.hasSuffix("tdb> predict") }
    repl.type("\"The cow said\" --t", "Tab")
    try repl.waitFor("the flag completed") { $0.hasSuffix("tdb> predict \"The cow said\" --top") }
    repl.type("3", "Enter")
    try repl.waitFor("the prediction table") { $0.contains("rank") && $0.hasSuffix("tdb>") }

    // A hook point of the model (which the completion loads).
    repl.type("print blocks.3.hook_resid_pr", "Tab")
    try repl.waitFor("the hook point completed") {
      $0.hasSuffix("tdb> print blocks.3.hook_resid_pre")
    }
    repl.type("Enter")
    try repl.waitFor("the hook point printed") {
      $0.hasSuffix("tdb> print blocks.3.hook_resid_pre\nblocks.3.hook_resid_pre\ntdb>")
    }
  }

  func testHistoryPersistsAcrossSessions() throws {
    let first = try start()
    first.type("let remembered = 41", "Enter")
    first.type("40 + 2", "Enter")
    try first.waitFor("the result") { $0.contains("$1 = 42") }
    first.type("C-d")
    try first.waitFor("tdb to exit with 0 on Ctrl-D") { $0.contains("[tdb exited: 0]") }
    first.stop()

    let file = stateHome.appendingPathComponent("state/tdb/history")
    let saved = try String(contentsOf: file, encoding: .utf8)
    XCTAssertEqual(saved, "let remembered = 41\n40 + 2\n")

    let second = try start()
    second.type("Up")
    try second.waitFor("the last line of the previous session") { $0.hasSuffix("tdb> 40 + 2") }
    second.type("Up")
    try second.waitFor("the line before it") { $0.hasSuffix("tdb> let remembered = 41") }
    second.type("Enter", "remembered + 1", "Enter")
    try second.waitFor("the recalled line to have run") { $0.contains("$1 = 42") }
  }

  func testCtrlCAtThePromptAndDuringALongRun() throws {
    let repl = try start()
    // At the prompt: the line is dropped and a new prompt shows.
    repl.type("partial line", "C-c")
    try repl.waitFor("a fresh prompt") { $0.hasSuffix("tdb> partial line^C\ntdb>") }
    repl.type("1 + 1", "Enter")
    try repl.waitFor("a result from a clean line") { $0.contains("$1 = 2") }

    // During a long computation: back to the prompt quickly.
    repl.type(
      "for i in 0..100000 { if i == 2 { print \"looping\" }; run \"When Mary and John went to the store\" }",
      "Enter")
    try repl.waitFor("the loop to be running", timeout: 20) { $0.hasSuffix("looping") }
    let pressed = Date()
    repl.type("C-c")
    try repl.waitFor("the prompt after the interruption") {
      $0.contains("interrupted") && $0.hasSuffix("tdb>")
    }
    let elapsed = Date().timeIntervalSince(pressed)
    // The engine checks between layers; half a second is the aim, the
    // margin is for a busy test machine and the polling.
    XCTAssertLessThan(elapsed, 1.5, "Ctrl-C took \(elapsed) s to stop the loop")

    repl.type("2 * 3", "Enter")
    try repl.waitFor("the session to go on") { $0.contains("$2 = 6") }
    repl.type("quit", "Enter")
    try repl.waitFor("quit to end the session") { $0.contains("[tdb exited: 0]") }
  }
}

/// A `tdb` REPL in a detached tmux session on a private server (`-L`), with a
/// fixed size, its own `XDG_STATE_HOME` and `HOME`, and `TDB_MODEL` unset.
final class TmuxREPL {
  /// The tmux executable on PATH, if any.
  static let tmux: URL? = {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    return path.split(separator: ":").map { URL(fileURLWithPath: String($0)).appendingPathComponent("tmux") }
      .first { FileManager.default.isExecutableFile(atPath: $0.path) }
  }()

  let socket = "tdb-test-\(getpid())-\(UUID().uuidString.prefix(8))"
  private var stopped = false

  init(binary: URL, stateHome: URL) {
    let state = stateHome.appendingPathComponent("state").path
    // After tdb ends, the shell prints its exit status and keeps the pane open.
    let command =
      "env -u TDB_MODEL HOME='\(stateHome.path)' XDG_STATE_HOME='\(state)' "
      + "'\(binary.path)'; echo \"[tdb exited: $?]\"; sleep 600"
    tmux(["-f", "/dev/null", "new-session", "-d", "-s", "repl", "-x", "120", "-y", "40", command])
  }

  /// Sends keys: tmux key names (`Enter`, `Tab`, `C-c`, `Up`) as keys, other text literally.
  func type(_ keys: String...) {
    let names: Set<String> = ["Enter", "Tab", "Up", "Down", "C-c", "C-d", "C-r", "C-u"]
    for k in keys {
      let args = names.contains(k) ? ["send-keys", "-t", "repl", k] : ["send-keys", "-t", "repl", "-l", k]
      tmux(args)
    }
  }

  /// The whole pane, scrollback included, wrapped lines joined, trailing blank lines dropped.
  func screen() -> String {
    let text = tmux(["capture-pane", "-p", "-J", "-S", "-", "-t", "repl"], output: true)
    return text.split(separator: "\n", omittingEmptySubsequences: false)
      .map { line in String(line.reversed().drop(while: { $0 == " " }).reversed()) }
      .joined(separator: "\n").trimmingCharacters(in: .newlines)
  }

  /// Polls the screen until `condition` holds; fails with the screen after `timeout` seconds.
  @discardableResult
  func waitFor(
    _ what: String, timeout: TimeInterval = 10, file: StaticString = #filePath, line: UInt = #line,
    _ condition: (String) -> Bool
  ) throws -> String {
    let deadline = Date().addingTimeInterval(timeout)
    var text = screen()
    while !condition(text) {
      if Date() > deadline {
        XCTFail("timed out waiting for \(what); the screen:\n\(text)", file: file, line: line)
        throw Timeout()
      }
      usleep(30_000)
      text = screen()
    }
    return text
  }

  struct Timeout: Error {}

  /// Ends the tmux server (and tdb with it) and removes its socket.
  func stop() {
    guard !stopped else { return }
    stopped = true
    tmux(["kill-server"])
    let directory = ProcessInfo.processInfo.environment["TMUX_TMPDIR"] ?? "/tmp"
    try? FileManager.default.removeItem(atPath: "\(directory)/tmux-\(getuid())/\(socket)")
  }

  /// Runs a tmux command, returning its output when asked for. It spawns tmux
  /// itself rather than through Foundation's `Process`: the server that
  /// `new-session` forks would inherit the socket `Process` watches to see its
  /// child end, and hold it open for as long as the server lives.
  @discardableResult
  private func tmux(_ arguments: [String], output: Bool = false) -> String {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    var pipeFDs: [Int32] = [-1, -1]
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    if output, pipe(&pipeFDs) == 0 {
      posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 1)
    } else {
      posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    }
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)

    let path = TmuxREPL.tmux!.path
    let argv = ([path, "-L", socket] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, path, &actions, nil, argv, environ) == 0
    var data = Data()
    if pipeFDs[1] >= 0 {
      close(pipeFDs[1])
      var buffer = [UInt8](repeating: 0, count: 65536)
      while spawned {
        let n = read(pipeFDs[0], &buffer, buffer.count)
        if n <= 0 { break }
        data.append(contentsOf: buffer[0..<n])
      }
      close(pipeFDs[0])
    }
    if spawned {
      var status: Int32 = 0
      waitpid(pid, &status, 0)
    }
    return String(decoding: data, as: UTF8.self)
  }
}
