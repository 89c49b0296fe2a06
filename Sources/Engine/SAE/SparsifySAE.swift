import Foundation

/// EleutherAI sparsify's format: a checkpoint folder with one subfolder per
/// hookpoint (`layers.3`, `layers.3.mlp`), each holding `cfg.json` (`k`,
/// `num_latents` or `expansion_factor`, `activation`, ...) and
/// `sae.safetensors` (`encoder.weight` [d_sae, d_in] as nn.Linear stores it,
/// `encoder.bias` [d_sae], `W_dec` [d_sae, d_in], `b_dec` [d_in]).
///
/// encode (sparsify's `SparseCoder.encode`): pre = (x - b_dec) encoder.weightᵀ
/// + encoder.bias, ReLU, keep the top k; decode z W_dec + b_dec. That is
/// tdb's TopK with b_dec applied to the input.
extension SparseAutoencoder {
  /// Loads the sparsify folder `folder`, at `hook` if given, else at the hook its name names.
  static func sparsify(folder: URL, hook: HookPoint?) throws -> SparseAutoencoder {
    let hookpoint = folder.lastPathComponent
    guard let hook = hook ?? sparsifyHook(hookpoint) else {
      throw ModelError.badSAE(
        folder.path,
        "the folder name '\(hookpoint)' is not a hookpoint tdb maps (layers.N, layers.N.mlp); give one as --sae PATH@blocks.N.hook_resid_post"
      )
    }
    let cfgPath = folder.appendingPathComponent("cfg.json").path
    guard let data = FileManager.default.contents(atPath: cfgPath),
      let cfg = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    else { throw ModelError.badSAE(cfgPath, "cfg.json is missing or not a JSON object") }
    let activation = (cfg["activation"] as? String) ?? "topk"
    guard activation == "topk" else {
      throw ModelError.badSAE(cfgPath, "activation '\(activation)' is not supported (topk is)")
    }
    guard let k = (cfg["k"] as? NSNumber)?.intValue, k > 0 else {
      throw ModelError.badSAE(cfgPath, "cfg.json has no k (the number of active latents, a positive integer)")
    }
    if (cfg["transcode"] as? Bool) == true {
      throw ModelError.badSAE(
        cfgPath, "a transcoder (transcode: true) reads one hook and writes another; not supported")
    }
    if (cfg["skip_connection"] as? Bool) == true {
      throw ModelError.badSAE(cfgPath, "skip connections (W_skip) are not supported")
    }

    let weights = try SafeTensorsFile(url: folder.appendingPathComponent("sae.safetensors"))
    let path = weights.url.path
    guard let encoder = weights.entries["encoder.weight"] else {
      throw ModelError.badSAE(path, "no tensor 'encoder.weight' (it has: \(weights.names.joined(separator: ", ")))")
    }
    guard encoder.shape.count == 2 else {
      throw ModelError.badSAE(path, "encoder.weight is \(encoder.shape), not [d_sae, d_in]")
    }
    let dSAE = encoder.shape[0], dIn = encoder.shape[1]
    if let d = (cfg["d_in"] as? NSNumber)?.intValue, d != dIn {
      throw ModelError.badSAE(path, "encoder.weight is \(encoder.shape) but cfg.json says d_in \(d)")
    }
    if let n = (cfg["num_latents"] as? NSNumber)?.intValue, n > 0, n != dSAE {
      throw ModelError.badSAE(path, "encoder.weight is \(encoder.shape) but cfg.json says num_latents \(n)")
    }
    func tensor(_ key: String, _ shape: [Int]) throws -> Tensor {
      guard let e = weights.entries[key] else { throw ModelError.badSAE(path, "no tensor '\(key)'") }
      guard e.shape == shape else {
        throw ModelError.badSAE(
          path, "\(key) is \(e.shape), which disagrees with encoder.weight \(encoder.shape): expected \(shape)")
      }
      return try weights.tensor(key)
    }
    if weights.entries["W_skip"] != nil { throw ModelError.badSAE(path, "skip connections (W_skip) are not supported") }
    let encoderWeight = try tensor("encoder.weight", [dSAE, dIn])
    let wEnc = encoderWeight.withUnsafeBufferPointer { w in
      Tensor(shape: [dIn, dSAE], scalars: transposed(w.baseAddress!, rows: dSAE, columns: dIn))
    }
    return SparseAutoencoder(
      name: componentName(hookpoint), folder: folder, hook: hook, architecture: .topK(min(k, dSAE)),
      applyBDecToInput: true, wEnc: wEnc, bEnc: try tensor("encoder.bias", [dSAE]),
      wDec: try tensor("W_dec", [dSAE, dIn]), bDec: try tensor("b_dec", [dIn]))
  }

  /// The tdb hook of a sparsify hookpoint: the output of decoder layer N
  /// (`layers.N`, also `gpt_neox.layers.N`, `model.layers.N`, `h.N`) is
  /// `blocks.N.hook_resid_post`; its MLP's (`layers.N.mlp`) `blocks.N.hook_mlp_out`.
  static func sparsifyHook(_ hookpoint: String) -> HookPoint? {
    var parts = hookpoint.split(separator: ".").map(String.init)
    for prefix in ["gpt_neox", "model", "transformer"] where parts.first == prefix { parts.removeFirst() }
    guard parts.count >= 2, parts[0] == "layers" || parts[0] == "h", let layer = Int(parts[1]), layer >= 0 else {
      return nil
    }
    switch parts.dropFirst(2) {
    case []: return .block(layer, .residPost)
    case ["mlp"]: return .block(layer, .mlpOut)
    default: return nil
    }
  }
}
