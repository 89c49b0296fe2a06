import Foundation

/// Gemma Scope's native format: one `params.npz` per SAE, in a folder path
/// that names what it is: `gemma-scope-2b-pt-res/layer_12/width_16k/average_l0_82/params.npz`.
///
/// Arrays: W_enc [d_in, d_sae], W_dec [d_sae, d_in], b_enc [d_sae],
/// b_dec [d_in], threshold [d_sae]. JumpReLU: z = pre · (pre > threshold)
/// with pre = x W_enc + b_enc (b_dec is not subtracted from the input);
/// decode z W_dec + b_dec.
extension SparseAutoencoder {
  /// Loads `npz`, at `hook` if given, else at the hook its path names.
  static func gemmaScope(npz: URL, hook: HookPoint?) throws -> SparseAutoencoder {
    let path = npz.path
    guard let hook = hook ?? gemmaScopeHook(path: path) else {
      throw ModelError.badSAE(
        path,
        "its path names no hook (Gemma Scope's do: …-res/layer_12/…); give one as --sae PATH@blocks.12.hook_resid_post"
      )
    }
    func load() throws -> SparseAutoencoder {
      let archive = try NumpyArchive(url: npz)
      let wEnc = try archive.array("W_enc")
      guard wEnc.shape.count == 2 else {
        throw NumpyError.badArray("W_enc", "shape \(wEnc.shape) is not [d_in, d_sae]")
      }
      let dIn = wEnc.shape[0], dSAE = wEnc.shape[1]
      func array(_ name: String, _ shape: [Int]) throws -> Tensor {
        let a = try archive.array(name)
        guard a.shape == shape else {
          throw NumpyError.badArray(name, "shape \(a.shape) disagrees with W_enc \(wEnc.shape): expected \(shape)")
        }
        return a.tensor
      }
      return SparseAutoencoder(
        name: gemmaScopeName(path: path), folder: npz, hook: hook, architecture: .jumpReLU, applyBDecToInput: false,
        wEnc: wEnc.tensor, bEnc: try array("b_enc", [dSAE]), wDec: try array("W_dec", [dSAE, dIn]),
        bDec: try array("b_dec", [dIn]), threshold: try array("threshold", [dSAE]))
    }
    do {
      return try load()
    } catch let e as NumpyError {
      throw ModelError.badSAE(path, e.description)
    }
  }

  /// The hook a Gemma Scope path names: `layer_N` under a release folder
  /// ending in `-res`, `-mlp` or `-att` (optionally `-canonical`), as
  /// `blocks.N.hook_resid_post`, `blocks.N.hook_mlp_out` or `blocks.N.attn.hook_z`.
  static func gemmaScopeHook(path: String) -> HookPoint? {
    let parts = path.split(separator: "/").map(String.init)
    guard let at = parts.lastIndex(where: { layerNumber($0) != nil }), let layer = layerNumber(parts[at]) else {
      return nil
    }
    for release in parts[..<at].reversed() {
      let words = release.lowercased().split(separator: "-")
      if words.contains("res") { return .block(layer, .residPost) }
      if words.contains("mlp") { return .block(layer, .mlpOut) }
      if words.contains("att") { return .block(layer, .z) }
    }
    return nil
  }

  /// A readable, unique name from the folders from `layer_N` on:
  /// `layer_12_width_16k_average_l0_82`; else the folder's (or a file's own) name.
  static func gemmaScopeName(path: String) -> String {
    var parts = path.split(separator: "/").map(String.init)
    if parts.last == "params.npz" { parts.removeLast() }
    if let at = parts.lastIndex(where: { layerNumber($0) != nil }) {
      return componentName(parts[at...].joined(separator: "_"))
    }
    let last = parts.last ?? "sae"
    return componentName(last.hasSuffix(".npz") ? String(last.dropLast(4)) : last)
  }

  private static func layerNumber(_ folder: String) -> Int? {
    guard folder.hasPrefix("layer_"), let n = Int(folder.dropFirst("layer_".count)), n >= 0 else { return nil }
    return n
  }
}
