#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif
import Lang
import Synchronization

/// Ctrl-C presses during the current evaluation, and how many end the process.
enum InterruptPresses {
  static let count = Atomic<Int>(0)
  /// A script exits on the second press. The REPL holds a session worth
  /// keeping, so it warns on the second and exits on the third: a way out of
  /// a command that never checks the flag.
  static let toExit = Atomic<Int>(2)

  /// Starts counting afresh (the REPL, before each evaluation).
  static func reset() {
    count.store(0, ordering: .relaxed)
    Interrupt.requested = false
  }
}

/// Ctrl-C sets `Interrupt.requested`; the interpreter stops at the next
/// statement, loop iteration or call, and the engine between layers. Pressing
/// it again before that exits at once (see `InterruptPresses`).
func installInterruptHandler() {
  Interrupt.requested = false  // initialise the flag outside the handler
  signal(SIGINT) { _ in
    let presses = InterruptPresses.count.add(1, ordering: .relaxed).newValue
    Interrupt.requested = true
    let toExit = InterruptPresses.toExit.load(ordering: .relaxed)
    if presses >= toExit { _exit(130) }
    if presses == toExit - 1 && presses > 1 {
      let message: StaticString = "\ntdb: still stopping; Ctrl-C once more quits tdb\n"
      _ = write(STDERR_FILENO, message.utf8Start, message.utf8CodeUnitCount)
    }
  }
}
