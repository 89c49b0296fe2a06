import ArgumentParser
import Builtins
import Foundation
import Lang
import Server

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Runs `body` on a thread with a large stack, so deep recursion in user code
/// hits the interpreter's depth limit rather than the end of the stack.
func runOnLargeStack(_ body: @escaping () -> ExitStatus) -> ExitStatus {
  final class Box: @unchecked Sendable { var status = ExitStatus.ok }
  let box = Box()
  let done = DispatchSemaphore(value: 0)
  let thread = Thread {
    box.status = body()
    done.signal()
  }
  thread.stackSize = 1 << 30
  thread.start()
  done.wait()
  return box.status
}

func usageError(_ message: String) -> ExitStatus {
  Terminal.err("tdb: error: \(message)\n")
  return .usage
}

/// Parses the command line, picks the source (`-c`, a file, standard input)
/// and runs it.
func runShell(_ arguments: [String]) -> ExitStatus {
  if arguments.first == "serve" {
    return ExitStatus(rawValue: runServe(Array(arguments.dropFirst()))) ?? .runtime
  }
  // --help and --version before the script (the script's own arguments are
  // captured for passthrough, which would swallow them).
  let valued: Set<String> = ["-c", "--model", "--sae", "--format", "--color"]
  var i = 0
  while i < arguments.count, arguments[i].hasPrefix("-"), arguments[i] != "-" {
    switch arguments[i] {
    case "--help", "-h":
      Terminal.out(ShellOptions.helpMessage() + "\n")
      return .ok
    case "--version":
      Terminal.out("tdb \(tdbVersion)\n")
      return .ok
    case "--":
      i = arguments.count
    default:
      i += valued.contains(arguments[i]) ? 2 : 1
    }
  }

  let options: ShellOptions
  do {
    options = try ShellOptions.parse(arguments)
  } catch {
    if ShellOptions.exitCode(for: error) == .success { ShellOptions.exit(withError: error) }
    return usageError(ShellOptions.message(for: error))
  }

  // Folders named on the command line are checked now (a usage error, 64);
  // their contents are read when the model is first used.
  if let message = SessionSetup.checkFolders(model: options.model, saes: options.sae) {
    return usageError(message)
  }

  var rest = options.script
  let source: SourceFile
  if let command = options.command {
    if let first = rest.first, first.hasPrefix("-"), first != "-" {
      if first == "--" {
        rest.removeFirst()
      } else {
        return usageError("unknown option '\(first)' (script arguments after -c go after --)")
      }
    }
    source = SourceFile(name: "-c", text: command)
  } else if let first = rest.first, first != "-" {
    if first.hasPrefix("-") { return usageError("unknown option '\(first)'") }
    rest.removeFirst()
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: first, isDirectory: &isDirectory),
      !isDirectory.boolValue
    else { return usageError("no such file '\(first)'") }
    guard let data = FileManager.default.contents(atPath: first) else {
      return usageError("cannot read '\(first)'")
    }
    guard let text = String(data: data, encoding: .utf8) else {
      Terminal.err("tdb: error: '\(first)' is not UTF-8 text\n")
      return .syntax
    }
    source = SourceFile(name: first, text: text)
  } else {
    if rest.first == "-" {
      rest.removeFirst()
    } else if Terminal.stdinIsTerminal, Terminal.stdoutIsTerminal || Terminal.stderrIsTerminal {
      // Interactive. With standard output piped, editing happens on standard
      // error and results flow into the pipe as data.
      let session = Session(options: sessionOptions(options))
      session.interpreter.scriptArguments = rest
      let repl = REPL(
        session: session, history: History(url: History.defaultURL()),
        editorOutput: Terminal.stdoutIsTerminal ? stdout : stderr)
      return repl.run()
    }
    let data = FileHandle.standardInput.readDataToEndOfFile()
    guard let text = String(data: data, encoding: .utf8) else {
      Terminal.err("tdb: error: standard input is not UTF-8 text\n")
      return .syntax
    }
    source = SourceFile(name: "-", text: text)
  }

  let session = Session(options: sessionOptions(options))
  return session.runScript(source, arguments: rest)
}

/// Session settings from the command line and where standard output goes.
func sessionOptions(_ options: ShellOptions) -> SessionOptions {
  let isTerminal = Terminal.stdoutIsTerminal
  var sessionOptions = SessionOptions()
  sessionOptions.modelPath = options.model
  sessionOptions.saePaths = options.sae
  sessionOptions.format = options.format ?? (isTerminal ? .table : .tsv)
  switch options.color {
  case .always: sessionOptions.color = true
  case .never: sessionOptions.color = false
  case .auto:
    sessionOptions.color = isTerminal && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
  }
  sessionOptions.width = Terminal.width
  return sessionOptions
}

/// glibc's `mallopt` (declared in malloc.h, which no Swift module exports).
@_silgen_name("mallopt") func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32

// Keep freed activation buffers in the heap: the forward pass allocates the
// same sizes layer after layer, and returning each to the kernel (then
// faulting fresh zeroed pages back in) costs more than the computation on
// small models. 32 MiB is glibc's largest mmap threshold.
_ = glibcMallopt(-3 /* M_MMAP_THRESHOLD */, 32 << 20)
_ = glibcMallopt(-1 /* M_TRIM_THRESHOLD */, 256 << 20)
installInterruptHandler()
let status = runOnLargeStack { runShell(Array(CommandLine.arguments.dropFirst())) }
Terminal.flush()
exit(status.rawValue)
