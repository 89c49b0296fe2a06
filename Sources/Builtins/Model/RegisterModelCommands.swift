import Engine
import Lang

/// Registers every model command and installs the word resolver, so that
/// `L1H2` and `blocks.3.hook_resid_pre` evaluate to values.
public func registerModelCommands(into registry: CommandRegistry, interpreter: Interpreter, session: ModelSession) {
  registerRunCommands(registry, session)
  registerInterventionCommands(registry, session)
  registerLookCommands(registry, session)
  registerSweepCommands(registry, session)
  interpreter.wordResolver = { word in try session.resolveWord(word) }
  interpreter.wordSuggestions = { _ in session.completionWords }
}
