import Builtins
import Foundation
import Lang

/// The outcome of evaluating a script for the API.
enum EvalOutcome: Sendable {
  /// The value as JSON text, and what the script printed.
  case value(json: String, output: String)
  /// A script error: message and 1-based line and column (0 when unknown).
  case scriptError(message: String, line: Int, column: Int)
  /// Stopped by `--timeout`.
  case timedOut(seconds: Double, line: Int, column: Int)
  /// Stopped because the client closed its connection.
  case cancelled
}

/// Runs every script on one thread with a large stack, one at a time: the
/// model and its caches are not thread-safe, and model work would only
/// compete for the same cores anyway. Each client session has its own
/// interpreter (variables, `def`s, `$_`); the model is shared.
final class EvalWorker: @unchecked Sendable {
  private let model: LazyModelSession
  private let allowWrite: Bool
  private let timeout: Double
  private let condition = NSCondition()
  private var jobs: [() -> Void] = []
  /// Named sessions (the X-TDB-Session header), least recently used first.
  private var sessions: [(id: String, interpreter: Interpreter)] = []
  static let maxSessions = 32
  /// Counts jobs, so that a timer only interrupts the job it was started for.
  private var jobNumber = 0
  private let jobLock = NSLock()
  private var runningJob = 0

  init(model: LazyModelSession, allowWrite: Bool, timeout: Double) {
    self.model = model
    self.allowWrite = allowWrite
    self.timeout = timeout
    // The thread keeps the worker alive: it serves until the process ends.
    let thread = Thread { self.loop() }
    thread.stackSize = 1 << 29
    thread.name = "tdb-eval"
    thread.start()
  }

  private func loop() {
    while true {
      condition.lock()
      while jobs.isEmpty { condition.wait() }
      let job = jobs.removeFirst()
      condition.unlock()
      job()
    }
  }

  /// Runs `body` on the worker thread and returns its result.
  func perform<T: Sendable>(_ body: @escaping () -> T) async -> T {
    await withCheckedContinuation { continuation in
      condition.lock()
      jobs.append { continuation.resume(returning: body()) }
      condition.signal()
      condition.unlock()
    }
  }

  /// Evaluates `script` in the named session (nil: a fresh environment);
  /// cancelling `ticket` skips it or stops it.
  func evaluate(_ script: String, session: String?, ticket: EvalTicket = EvalTicket()) async -> EvalOutcome {
    await perform { self.evaluateNow(script, session: session, ticket: ticket) }
  }

  /// An interpreter for a session; over HTTP, commands that write files are
  /// replaced by a refusal, and datasets open read-only, unless `--allow-write` was given.
  private func interpreter(for session: String?) -> Interpreter {
    if let session, let i = sessions.firstIndex(where: { $0.id == session }) {
      let entry = sessions.remove(at: i)
      sessions.append(entry)
      return entry.interpreter
    }
    let interpreter = SessionSetup.interpreter(model: model, readOnlyDatasets: !allowWrite)
    if !allowWrite {
      for command in interpreter.registry.all where command.spec.writesFiles {
        let name = command.spec.name
        interpreter.registry.register(command.spec) { _, _ in
          throw EvalError("'\(name)' writes files, which tdb serve refuses unless started with --allow-write")
        }
      }
    }
    if let session {
      if sessions.count >= Self.maxSessions { sessions.removeFirst() }
      sessions.append((session, interpreter))
    }
    return interpreter
  }

  private func evaluateNow(_ script: String, session: String?, ticket: EvalTicket) -> EvalOutcome {
    let interpreter = interpreter(for: session)
    var output = ""
    interpreter.write = { output += $0 }
    defer { interpreter.write = { _ in } }
    jobLock.lock()
    jobNumber += 1
    let job = jobNumber
    runningJob = job
    jobLock.unlock()
    Interrupt.requested = false
    let stop = { [self] in
      jobLock.lock()
      if runningJob == job { Interrupt.requested = true }
      jobLock.unlock()
    }
    if timeout > 0 { DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: stop) }
    defer {
      _ = ticket.whileRunning(nil)
      jobLock.lock()
      runningJob = 0
      jobLock.unlock()
      Interrupt.requested = false
    }
    guard ticket.whileRunning(stop) else { return .cancelled }
    do {
      let value = try interpreter.evaluate(script, file: "script")
      return .value(json: value.json(), output: output)
    } catch let e as LangError {
      let line = e.location.line, column = e.location.column
      if case .interrupted = e {
        return ticket.cancelled ? .cancelled : .timedOut(seconds: timeout, line: line, column: column)
      }
      return .scriptError(message: e.message, line: line, column: column)
    } catch {
      return .scriptError(message: (error as? EvalError)?.message ?? String(describing: error), line: 0, column: 0)
    }
  }
}
