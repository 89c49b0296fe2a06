import Foundation

/// What one `--sae` names: a path, and after an `@` the hook to splice at
/// (`--sae .../params.npz@blocks.12.hook_resid_post`), for formats whose
/// files do not say. The path's format decides the loader:
///
/// - a `.npz` file, or a folder holding `params.npz`: Gemma Scope;
/// - a folder with `cfg.json` + `sae.safetensors`: EleutherAI sparsify;
/// - a folder with `cfg.json` (+ `sae_weights.safetensors`): SAELens;
/// - a folder of such folders (a SAELens repo, a sparsify checkpoint): each of them.
public struct SAESource: Sendable {
  public let path: String
  public let hook: HookPoint?

  enum Format { case saeLens, sparsify, gemmaScope(URL) }

  /// Splits `argument` at its last `@` unless the whole of it exists on disk.
  public init(_ argument: String) throws {
    guard !FileManager.default.fileExists(atPath: argument), let at = argument.lastIndex(of: "@") else {
      path = argument
      hook = nil
      return
    }
    let name = String(argument[argument.index(after: at)...])
    guard let hook = HookPoint(name: name), hook.sae == nil else {
      throw SAESourceError("--sae: '\(name)' after @ is not a hook point (e.g. blocks.3.hook_resid_post)")
    }
    path = String(argument[..<at])
    self.hook = hook
  }

  /// The format of the SAE at `url`, or nil if it holds none.
  static func format(_ url: URL) -> Format? {
    let fm = FileManager.default
    var isDirectory: ObjCBool = false
    guard fm.fileExists(atPath: url.path, isDirectory: &isDirectory) else { return nil }
    if !isDirectory.boolValue { return url.pathExtension == "npz" ? .gemmaScope(url) : nil }
    let npz = url.appendingPathComponent("params.npz")
    if fm.fileExists(atPath: npz.path) { return .gemmaScope(npz) }
    func has(_ name: String) -> Bool { fm.fileExists(atPath: url.appendingPathComponent(name).path) }
    guard has("cfg.json") else { return nil }
    return has("sae.safetensors") && !has("sae_weights.safetensors") ? .sparsify : .saeLens
  }

  /// The SAE folders inside a folder that is not one, sorted by name
  /// (numbers in order: layers.2 before layers.10). Folders only: loose
  /// .npz files beside them are left alone.
  static func members(_ url: URL) -> [URL] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
    return names.sorted { $0.compare($1, options: .numeric) == .orderedAscending }
      .map { url.appendingPathComponent($0) }
      .filter { member in
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: member.path, isDirectory: &isDirectory) && isDirectory.boolValue
          && format(member) != nil
      }
  }

  /// The usage error for a path that holds no SAE, or nil (the files are read by `load`).
  public func problem() -> String? {
    let url = URL(fileURLWithPath: path)
    if Self.format(url) != nil { return nil }
    if !FileManager.default.fileExists(atPath: path) { return "--sae: no such folder or file '\(path)'" }
    if !Self.members(url).isEmpty {
      return hook == nil ? nil : "--sae '\(path)@…': a hook can be given for one SAE, not a folder of them"
    }
    return
      "--sae '\(path)' has no cfg.json or params.npz, nor SAE folders inside; it expects a SAELens folder (cfg.json + sae_weights.safetensors), a sparsify folder (cfg.json + sae.safetensors) or Gemma Scope's params.npz"
  }

  /// Every SAE the path holds.
  public func load() throws -> [SparseAutoencoder] {
    if let message = problem() { throw SAESourceError(message) }
    let url = URL(fileURLWithPath: path)
    return try (Self.format(url) != nil ? [url] : Self.members(url)).map(Self.loadOne(hook: hook))
  }

  private static func loadOne(hook: HookPoint?) -> (URL) throws -> SparseAutoencoder {
    { url in
      switch format(url) {
      case .gemmaScope(let npz):
        return try SparseAutoencoder.gemmaScope(npz: npz, hook: hook)
      case .sparsify:
        return try SparseAutoencoder.sparsify(folder: url, hook: hook)
      case .saeLens, nil:
        if hook != nil {
          throw ModelError.badSAE(url.path, "a SAELens folder names its hook in cfg.json (hook_name); drop the @HOOK")
        }
        return try SparseAutoencoder(folder: url)
      }
    }
  }
}

extension SparseAutoencoder {
  /// `text` as a name the language reads as one word in `<name>.F12`:
  /// letters, digits and underscores (`layers.3` -> `layers_3`).
  static func componentName(_ text: String) -> String {
    let scalars = text.unicodeScalars.map { c -> Character in
      c == "_" || c.properties.isAlphabetic || ("0"..."9").contains(c) ? Character(c) : "_"
    }
    let name = String(scalars)
    return name.first.map { $0.isNumber } == true ? "sae_" + name : name
  }
}

/// A `--sae` argument that names no SAE, in one line.
public struct SAESourceError: Error, CustomStringConvertible {
  public let description: String
  init(_ description: String) { self.description = description }
}
