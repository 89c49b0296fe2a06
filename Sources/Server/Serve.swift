import ArgumentParser
import Builtins
import Foundation
import Hummingbird
import Lang

#if canImport(Glibc)
  import Glibc
#endif

/// `tdb serve`'s command line.
struct ServeOptions: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "tdb serve",
    abstract: "Serve the investigation page and the HTTP API (POST /api/eval, GET /api/model).",
    discussion: """
      Prints the URL to open (with the token) and logs requests to standard error. Every /api request \
      needs the token: Authorization: Bearer TOKEN, ?token=TOKEN, or the cookie set when the page is \
      opened with ?token=. Commands that write files (save, collect, merge, annotate) are refused unless \
      --allow-write. Exit status: 0 on SIGTERM, 130 on Ctrl-C, 64 bad command line, 70 cannot listen.
      """)

  @Option(help: ArgumentHelp("Listen on port N (0 picks a free one).", valueName: "N"))
  var port: Int = 8765

  @Option(
    help: ArgumentHelp(
      "Listen on H (default 127.0.0.1; anything else is reachable from other machines).", valueName: "H"))
  var host: String = "127.0.0.1"

  @Option(help: ArgumentHelp("The API token (default: random at each start).", valueName: "T"))
  var token: String?

  @Option(help: ArgumentHelp("The activation dataset for component pages (sets TDB_DB).", valueName: "FILE"))
  var db: String?

  @Flag(help: "Allow commands that write files (save, collect, merge, annotate).")
  var allowWrite = false

  @Option(help: ArgumentHelp("Stop a script after S seconds (0: never).", valueName: "S"))
  var timeout: Double = 60

  @Option(help: ArgumentHelp("Load the model from DIR (a Hugging Face GPT-2 folder).", valueName: "DIR"))
  var model: String?

  @Option(
    help: ArgumentHelp(
      "Load sparse autoencoders from PATH (repeatable): a SAELens or sparsify folder, a folder of them, or Gemma Scope's params.npz; PATH@HOOK splices at HOOK (blocks.12.hook_resid_post) when the files do not say.",
      valueName: "PATH"))
  var sae: [String] = []
}

/// A random token: 24 bytes from the system generator, as hex.
func randomToken() -> String {
  var g = SystemRandomNumberGenerator()
  return (0..<24).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &g)) }.joined()
}

/// Runs `tdb serve ARGS`; returns the exit status.
public func runServe(_ arguments: [String]) -> Int32 {
  let options: ServeOptions
  do {
    options = try ServeOptions.parse(arguments)
  } catch {
    if ServeOptions.exitCode(for: error) == .success {
      print(ServeOptions.fullMessage(for: error))
      return 0
    }
    FileHandle.standardError.write(Data("tdb serve: error: \(ServeOptions.message(for: error))\n".utf8))
    return 64
  }
  if let message = SessionSetup.checkFolders(model: options.model, saes: options.sae) {
    FileHandle.standardError.write(Data("tdb serve: error: \(message)\n".utf8))
    return 64
  }
  guard (0...65535).contains(options.port) else {
    FileHandle.standardError.write(Data("tdb serve: error: --port: expected 0 to 65535\n".utf8))
    return 64
  }
  if let db = options.db {
    guard FileManager.default.fileExists(atPath: db) else {
      FileHandle.standardError.write(Data("tdb serve: error: --db: no such file '\(db)'\n".utf8))
      return 64
    }
    setenv("TDB_DB", db, 1)
  }
  var configuration = ServerConfiguration(token: options.token ?? randomToken())
  configuration.host = options.host
  configuration.port = options.port
  configuration.modelFolder = options.model
  configuration.saeFolders = options.sae
  configuration.allowWrite = options.allowWrite
  configuration.timeout = options.timeout
  let server = APIServer(configuration)
  return server.runUntilSignal()
}

final class ExitCode: @unchecked Sendable {
  var status: Int32 = 70
}

extension APIServer {
  /// Serves until SIGINT (exit 130) or SIGTERM (exit 0), or until the
  /// server cannot listen (exit 70). Blocks the calling thread.
  func runUntilSignal() -> Int32 {
    let exit = ExitCode()
    let done = DispatchSemaphore(value: 0)
    let token = configuration.token
    let host = configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host
    let app = application { port in
      print("http://\(host):\(port)/?token=\(token)")
      fflush(stdout)
    }
    var sources: [DispatchSourceSignal] = []
    for (sig, status) in [(SIGINT, Int32(130)), (SIGTERM, Int32(0))] {
      signal(sig, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
      source.setEventHandler {
        // Stop a running script too; the process ends with the status at once.
        Interrupt.requested = true
        FileHandle.standardError.write(Data("tdb serve: stopping\n".utf8))
        exit.status = status
        done.signal()
      }
      source.resume()
      sources.append(source)
    }
    Task {
      do {
        try await app.runService(gracefulShutdownSignals: [])
      } catch {
        FileHandle.standardError.write(Data("tdb serve: error: \(error)\n".utf8))
      }
      exit.status = 70
      done.signal()
    }
    done.wait()
    _ = sources
    return exit.status
  }
}
