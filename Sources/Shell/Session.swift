import Builtins
import Foundation
import Lang

/// Settings a session starts with (from the command line).
struct SessionOptions {
  var modelPath: String? = nil
  var saePaths: [String] = []
  var format: OutputFormat = .table
  var color = false
  var width = 80
}

/// Exit statuses of the `tdb` process.
enum ExitStatus: Int32 {
  case ok = 0
  case usage = 64
  case syntax = 65
  case runtime = 70
  case interrupted = 130
}

/// One tdb session: the command registry, the interpreter, and how results
/// are shown. Script mode, `-c` and the REPL all run through it.
final class Session {
  let registry: CommandRegistry
  let interpreter: Interpreter
  var renderer: Renderer
  /// The model, loaded on first use.
  let model: LazyModelSession
  /// The model folder from --model or TDB_MODEL; nil means the embedded demo.
  let modelFolder: String?

  init(options: SessionOptions) {
    renderer = Renderer(format: options.format, color: options.color, width: options.width)
    // The model loads on first use: --model, else TDB_MODEL, else the embedded demo.
    modelFolder = options.modelPath ?? ProcessInfo.processInfo.environment["TDB_MODEL"]
    model = SessionSetup.model(folder: options.modelPath, saeFolders: options.saePaths)
    interpreter = SessionSetup.interpreter(model: model)
    registry = interpreter.registry
    interpreter.write = { Terminal.out($0) }
    interpreter.display = { [unowned self] in self.renderer.display($0) }
  }

  /// Parses and runs source, printing each top-level result that is not null;
  /// errors (`LangError`) propagate to the caller.
  func run(_ file: SourceFile) throws {
    let program = try interpreter.parse(file)
    try interpreter.run(program) { value in
      Terminal.out(self.renderer.render(value))
      Terminal.flush()
    }
    Terminal.flush()
  }

  /// Runs a whole script with its arguments (`$args`); reports an error on
  /// standard error. Returns the exit status.
  func runScript(_ file: SourceFile, arguments: [String]) -> ExitStatus {
    interpreter.scriptArguments = arguments
    do {
      try run(file)
      return .ok
    } catch {
      return report(error)
    }
  }

  /// Prints a diagnostic for `error` and gives its exit status.
  func report(_ error: any Error) -> ExitStatus {
    switch error {
    case let e as LangError:
      Terminal.err(e.diagnostic)
      switch e {
      case .syntax: return .syntax
      case .runtime: return .runtime
      case .interrupted: return .interrupted
      }
    default:
      Terminal.err("tdb: error: \(error)\n")
      return .runtime
    }
  }
}
