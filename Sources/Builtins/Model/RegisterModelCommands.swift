import Engine
import Foundation
import Lang

/// Loads the model on first use, so that `tdb` starts instantly and scripts
/// that never touch the model never pay for it.
public final class LazyModelSession {
  private let load: () throws -> ModelSession
  private var loaded: ModelSession?

  public init(_ load: @escaping () throws -> ModelSession) { self.load = load }

  /// The session, loading it now if needed. A load error is a one-line `EvalError`.
  public func get() throws -> ModelSession {
    if let loaded { return loaded }
    do {
      let s = try load()
      loaded = s
      return s
    } catch let e as EvalError {
      throw e
    } catch {
      throw EvalError("cannot load the model: \(error)")
    }
  }

  /// The session if it has been loaded.
  public var ifLoaded: ModelSession? { loaded }
}

/// Registers every model command and installs the word resolver, so that
/// `L1H2` and `blocks.3.hook_resid_pre` evaluate to values. With
/// `readOnlyDatasets`, datasets open only for reading.
public func registerModelCommands(
  into registry: CommandRegistry, interpreter: Interpreter, session: LazyModelSession, readOnlyDatasets: Bool = false
) {
  registerRunCommands(registry, session)
  registerInterventionCommands(registry, session)
  registerLookCommands(registry, session)
  registerSweepCommands(registry, session)
  registerAttributionCommands(registry, session)
  registerExplainCommands(registry, session, readOnlyDatasets: readOnlyDatasets)
  interpreter.wordResolver = { word in
    // Unknown words may name a component, hook point or SAE; that needs the model.
    try session.get().resolveWord(word)
  }
  interpreter.wordSuggestions = { _ in session.ifLoaded?.completionWords ?? [] }
}
