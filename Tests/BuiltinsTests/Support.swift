import Builtins
import Engine
import Foundation
import Lang
import XCTest

let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
  .deletingLastPathComponent()
let demoFolder = repoRoot.appendingPathComponent("models/tdb-demo")

/// The demo model with its SAEs, loaded once for all tests.
let sharedSession: ModelSession = try! ModelSession.load(modelFolder: demoFolder.path, saeFolders: [])

/// A fresh interpreter with every command, on `session` (the shared demo model unless given).
func makeInterpreter(session: @autoclosure @escaping () -> ModelSession = sharedSession) -> (
  Interpreter, CommandRegistry
) {
  let registry = CommandRegistry()
  registerCoreCommands(into: registry)
  let interp = Interpreter(registry: registry)
  interp.write = { _ in }
  registerModelCommands(into: registry, interpreter: interp, session: LazyModelSession { session() })
  return (interp, registry)
}

/// A session on one of the tiny random models of Tests/Fixtures/tiny-models
/// (with the tokenizer they share).
func tinyModelSession(_ name: String) -> ModelSession {
  let tiny = repoRoot.appendingPathComponent("Tests/Fixtures/tiny-models")
  let folder = tiny.appendingPathComponent(name)
  let config = try! ModelConfig(url: folder.appendingPathComponent("config.json"))
  let weights = try! ModelWeights(source: try! Checkpoint(folder: folder), config: config)
  let tokenizer = try! HFTokenizer(folder: tiny.appendingPathComponent("tokenizer"))
  return ModelSession(model: TransformerModel(config: config, weights: weights, tokenizer: tokenizer))
}

/// Evaluates tdb source and returns the last value.
@discardableResult
func eval(_ source: String, _ interp: Interpreter? = nil) throws -> Value {
  try (interp ?? makeInterpreter().0).evaluate(source, file: "test")
}

func number(_ source: String, file: StaticString = #filePath, line: UInt = #line) throws -> Double {
  let v = try eval(source)
  guard let d = v.number else {
    XCTFail("expected a number from \(source), got \(v.typeName)", file: file, line: line)
    return .nan
  }
  return d
}

func errorMessage(_ source: String) -> String? {
  do {
    _ = try eval(source)
    return nil
  } catch let e as LangError {
    return e.message
  } catch {
    return "\(error)"
  }
}
