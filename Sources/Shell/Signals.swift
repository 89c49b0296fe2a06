#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif
import Lang

/// Ctrl-C sets `Interrupt.requested`; the interpreter stops at the next
/// statement, loop iteration or call. A second Ctrl-C before that exits at once.
func installInterruptHandler() {
  Interrupt.requested = false  // initialise the flag outside the handler
  signal(SIGINT) { _ in
    if Interrupt.requested { _exit(130) }
    Interrupt.requested = true
  }
}
