import Synchronization

/// The Ctrl-C flag. The shell's SIGINT handler sets it; the interpreter checks
/// it between statements, in loops and at calls, and throws
/// `LangError.interrupted`. Long-running commands should check it too.
public enum Interrupt {
  private static let flag = Atomic<Bool>(false)

  /// Set by the signal handler, cleared by whoever handles the interruption.
  public static var requested: Bool {
    get { flag.load(ordering: .relaxed) }
    set { flag.store(newValue, ordering: .relaxed) }
  }
}
