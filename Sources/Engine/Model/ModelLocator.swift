import Foundation

/// Finds the embedded demo model when no `--model` (or `TDB_MODEL`) is given:
/// next to an installed `tdb` (`../share/tdb/models/tdb-demo`), in any parent
/// folder of the executable (a build inside the repository), or in the source
/// tree this binary was built from.
public enum ModelLocator {
  public static let demoName = "tdb-demo"

  public static func defaultModelFolder(executable: String = CommandLine.arguments.first ?? "") -> URL? {
    var candidates: [URL] = []
    let exe = URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent()
    candidates.append(exe.appendingPathComponent("../share/tdb/models/\(demoName)"))
    var dir = exe
    for _ in 0..<8 {
      candidates.append(dir.appendingPathComponent("models/\(demoName)"))
      dir = dir.deletingLastPathComponent()
    }
    // Sources/Engine/Model/ModelLocator.swift -> repository root.
    let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().deletingLastPathComponent()
    candidates.append(source.appendingPathComponent("models/\(demoName)"))
    return candidates.first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("config.json").path) }?
      .standardizedFileURL
  }

  /// The SAE folders shipped beside a model (`<model>/sae/*/cfg.json`), sorted.
  public static func bundledSAEFolders(model: URL) -> [URL] {
    let sae = model.appendingPathComponent("sae")
    let names = (try? FileManager.default.contentsOfDirectory(atPath: sae.path)) ?? []
    return names.sorted().map { sae.appendingPathComponent($0) }
      .filter { FileManager.default.fileExists(atPath: $0.appendingPathComponent("cfg.json").path) }
  }
}
