import Engine
import Foundation
import Lang

/// How a tdb front end (the shell, `tdb serve`) sets up the model and its
/// interpreters: one lazily loaded model shared by every interpreter.
public enum SessionSetup {
  /// The model of `--model` (else `TDB_MODEL`, else the embedded demo) with
  /// the SAEs of `--sae`, loaded on first use.
  public static func model(folder: String?, saeFolders: [String]) -> LazyModelSession {
    let folder = folder ?? ProcessInfo.processInfo.environment["TDB_MODEL"]
    return LazyModelSession { try ModelSession.load(modelFolder: folder, saeFolders: saeFolders) }
  }

  /// An interpreter with every core and model command registered on its own registry.
  public static func interpreter(model: LazyModelSession, readOnlyDatasets: Bool = false) -> Interpreter {
    let registry = CommandRegistry()
    registerCoreCommands(into: registry)
    let interpreter = Interpreter(registry: registry)
    registerModelCommands(into: registry, interpreter: interpreter, session: model, readOnlyDatasets: readOnlyDatasets)
    return interpreter
  }

  /// The usage error for a `--model` that names no model (folder, .gguf file
  /// or built-in name) or `--sae` paths that cannot be SAEs, or nil if they look right (their contents are read on first use).
  public static func checkFolders(model: String?, saes: [String]) -> String? {
    if let model {
      do { _ = try ModelLocator.resolve(model) } catch { return "\(error)" }
    }
    for sae in saes {
      do {
        if let problem = try SAESource(sae).problem() { return problem }
      } catch {
        return "\(error)"
      }
    }
    return nil
  }
}
