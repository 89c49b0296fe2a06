import Foundation

/// Finds models: the embedded demo model when no `--model` (or `TDB_MODEL`)
/// is given, the built-in names (`tdb-demo`, `smollm2`, `gemma3-270m`), folders and `.gguf`
/// files. Built-ins are looked for next to an installed `tdb`
/// (`../share/tdb/models/...`), in any parent folder of the executable (a
/// build inside the repository), and in the source tree this binary was built from.
public enum ModelLocator {
  public static let demoName = "tdb-demo"

  /// The models known by name, and where under `models/` each one lives
  /// (put there by the README's set-up step where it is not in the repository).
  public static let builtIns: [(name: String, path: String)] = [
    (demoName, "tdb-demo"),
    ("smollm2", "smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf"),
    ("gemma3-270m", "gemma3-270m/gemma-3-270m-q4_k_m.gguf"),
  ]

  public static func defaultModelFolder(executable: String = CommandLine.arguments.first ?? "") -> URL? {
    builtIn(demoName, executable: executable)
  }

  /// Where a built-in model is, if it is there.
  public static func builtIn(_ name: String, executable: String = CommandLine.arguments.first ?? "") -> URL? {
    guard let path = builtIns.first(where: { $0.name == name })?.path else { return nil }
    var candidates: [URL] = []
    let exe = URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent()
    candidates.append(exe.appendingPathComponent("../share/tdb/models/\(path)"))
    var dir = exe
    for _ in 0..<8 {
      candidates.append(dir.appendingPathComponent("models/\(path)"))
      dir = dir.deletingLastPathComponent()
    }
    // Sources/Engine/Model/ModelLocator.swift -> repository root.
    let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().deletingLastPathComponent()
    candidates.append(source.appendingPathComponent("models/\(path)"))
    return candidates.first { isModel($0) }?.standardizedFileURL
  }

  /// A folder with a config.json, or a .gguf file.
  static func isModel(_ url: URL) -> Bool {
    let fm = FileManager.default
    if url.pathExtension.lowercased() == "gguf" { return fm.fileExists(atPath: url.path) }
    return fm.fileExists(atPath: url.appendingPathComponent("config.json").path)
  }

  /// What `--model SPEC` names: a built-in name, a Hugging Face folder or a
  /// GGUF file. Throws a one-line message saying what is wrong and what to do.
  public static func resolve(_ spec: String) throws -> URL {
    let fm = FileManager.default
    var isDir: ObjCBool = false
    if fm.fileExists(atPath: spec, isDirectory: &isDir) {
      let url = URL(fileURLWithPath: spec)
      if !isDir.boolValue {
        guard url.pathExtension.lowercased() == "gguf" else {
          throw LocatorError(
            "--model '\(spec)' is a file but not a .gguf file; give a GGUF file or a Hugging Face folder")
        }
        return url
      }
      guard isModel(url) else {
        throw LocatorError(
          "--model '\(spec)' has no config.json; it expects a Hugging Face folder (config.json, model.safetensors, tokenizer)"
        )
      }
      return url
    }
    if let known = builtIns.first(where: { $0.name == spec }) {
      guard let url = builtIn(spec) else {
        throw LocatorError(
          "the built-in model '\(spec)' is not installed (models/\(known.path)); run the README's set-up step (scripts/setup.sh)"
        )
      }
      return url
    }
    throw LocatorError(
      "--model: no such folder or file '\(spec)' (built-in names: \(builtIns.map(\.name).joined(separator: ", ")))")
  }

  /// The SAE folders shipped beside a model (`<model>/sae/*/cfg.json`), sorted.
  public static func bundledSAEFolders(model: URL) -> [URL] {
    let sae = model.appendingPathComponent("sae")
    let names = (try? FileManager.default.contentsOfDirectory(atPath: sae.path)) ?? []
    return names.sorted().map { sae.appendingPathComponent($0) }
      .filter { FileManager.default.fileExists(atPath: $0.appendingPathComponent("cfg.json").path) }
  }
}

/// A model that cannot be found, in one line.
public struct LocatorError: Error, CustomStringConvertible {
  public let description: String
  init(_ description: String) { self.description = description }
}
