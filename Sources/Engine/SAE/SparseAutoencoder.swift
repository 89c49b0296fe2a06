import CKernels
import Foundation

/// A sparse autoencoder, loaded from SAELens' layout (`cfg.json` +
/// `sae_weights.safetensors`, here), Gemma Scope's `params.npz`
/// (`GemmaScopeSAE.swift`) or an EleutherAI sparsify folder (`SparsifySAE.swift`).
///
/// encode: pre = (x - b_dec·[apply_b_dec_to_input]) W_enc + b_enc, then the
/// architecture's activation (ReLU, TopK, JumpReLU); decode: z W_dec + b_dec.
public final class SparseAutoencoder: @unchecked Sendable {
  public enum Architecture: Equatable, Sendable {
    case standard  // ReLU
    case topK(Int)
    case jumpReLU  // needs `threshold` [d_sae]
  }

  public enum Normalization: String, Sendable {
    case none
    /// x · √d_in / ‖x‖ per token; the reconstruction is scaled back.
    case constantNormRescale = "constant_norm_rescale"
    /// x standardised per token; the reconstruction gets the mean and std back.
    case layerNorm = "layer_norm"
  }

  /// Short name used in component names (`<name>.F12`): the folder name.
  public let name: String
  /// Where it was loaded from: its folder, or the file itself (a `params.npz`).
  public let folder: URL
  /// The hook point it reads and, when spliced, replaces.
  public let hook: HookPoint
  public let architecture: Architecture
  public let normalization: Normalization
  public let applyBDecToInput: Bool
  public let dIn: Int, dSAE: Int
  public let wEnc: Tensor  // [d_in, d_sae]
  public let bEnc: Tensor  // [d_sae]
  public let wDec: Tensor  // [d_sae, d_in]
  public let bDec: Tensor  // [d_in]
  public let threshold: Tensor?  // [d_sae], JumpReLU only

  /// An SAE from weights already read and checked: W_enc [d_in, d_sae],
  /// b_enc [d_sae], W_dec [d_sae, d_in], b_dec [d_in], threshold [d_sae] for
  /// JumpReLU. The other formats' loaders end here.
  init(
    name: String, folder: URL, hook: HookPoint, architecture: Architecture, applyBDecToInput: Bool,
    wEnc: Tensor, bEnc: Tensor, wDec: Tensor, bDec: Tensor, threshold: Tensor? = nil
  ) {
    precondition(wEnc.rank == 2 && wDec.shape == [wEnc.shape[1], wEnc.shape[0]], "the loader checks shapes")
    self.name = name
    self.folder = folder
    self.hook = hook
    self.architecture = architecture
    self.normalization = .none
    self.applyBDecToInput = applyBDecToInput
    dIn = wEnc.shape[0]
    dSAE = wEnc.shape[1]
    self.wEnc = wEnc
    self.bEnc = bEnc
    self.wDec = wDec
    self.bDec = bDec
    self.threshold = threshold
  }

  public init(folder: URL, name: String? = nil) throws {
    self.folder = folder
    self.name = name ?? folder.lastPathComponent
    let cfgPath = folder.appendingPathComponent("cfg.json").path
    guard let data = FileManager.default.contents(atPath: cfgPath) else {
      throw ModelError.badSAE(
        folder.path, "no cfg.json there; --sae expects a SAELens folder (cfg.json + sae_weights.safetensors)")
    }
    guard let cfg = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
      throw ModelError.badSAE(cfgPath, "cfg.json is not a JSON object")
    }
    guard let hookName = cfg["hook_name"] as? String, let hook = HookPoint(name: hookName), hook.sae == nil else {
      throw ModelError.badSAE(
        cfgPath, "hook_name \(cfg["hook_name"].map { "'\($0)'" } ?? "is missing") is not a hook point tdb knows")
    }
    if let head = cfg["hook_head_index"], !(head is NSNull) {
      throw ModelError.badSAE(cfgPath, "SAEs on a single head (hook_head_index) are not supported")
    }
    self.hook = hook
    guard let dIn = (cfg["d_in"] as? NSNumber)?.intValue, let dSAE = (cfg["d_sae"] as? NSNumber)?.intValue else {
      throw ModelError.badSAE(cfgPath, "cfg.json needs d_in and d_sae")
    }
    self.dIn = dIn
    self.dSAE = dSAE
    let arch = (cfg["architecture"] as? String) ?? "standard"
    let activation = (cfg["activation_fn"] as? String) ?? (cfg["activation_fn_str"] as? String) ?? "relu"
    let kwargs = cfg["activation_fn_kwargs"] as? [String: Any] ?? [:]
    switch (arch, activation) {
    case ("topk", _), (_, "topk"):
      guard let k = (kwargs["k"] as? NSNumber)?.intValue ?? (cfg["k"] as? NSNumber)?.intValue, k > 0 else {
        throw ModelError.badSAE(cfgPath, "a topk SAE needs activation_fn_kwargs.k")
      }
      architecture = .topK(min(k, dSAE))
    case ("jumprelu", _):
      architecture = .jumpReLU
    case ("standard", "relu"), ("relu", _):
      architecture = .standard
    default:
      throw ModelError.badSAE(
        cfgPath,
        "architecture '\(arch)' with activation '\(activation)' is not supported (standard/relu, topk, jumprelu are)")
    }
    applyBDecToInput = (cfg["apply_b_dec_to_input"] as? Bool) ?? false
    let norm = (cfg["normalize_activations"] as? String) ?? "none"
    if let n = Normalization(rawValue: norm) {
      normalization = n
    } else if norm == "expected_average_only_in" {
      throw ModelError.badSAE(
        cfgPath,
        "normalize_activations 'expected_average_only_in' needs a dataset scaling factor that cfg.json does not give; fold it into the weights (SAELens fold_activation_norm_scaling_factor) and set it to 'none'"
      )
    } else {
      throw ModelError.badSAE(cfgPath, "normalize_activations '\(norm)' is not supported")
    }
    let weights = try SafeTensorsFile(url: folder.appendingPathComponent("sae_weights.safetensors"))
    let path = weights.url.path
    func t(_ key: String, _ shape: [Int]) throws -> Tensor {
      guard let e = weights.entries[key] else { throw SafeTensorsError.missingTensor(file: path, tensor: key) }
      guard e.shape == shape else {
        throw SafeTensorsError.wrongShape(file: path, tensor: key, expected: shape, found: e.shape)
      }
      return try weights.tensor(key)
    }
    wEnc = try t("W_enc", [dIn, dSAE])
    bEnc = try t("b_enc", [dSAE])
    wDec = try t("W_dec", [dSAE, dIn])
    bDec = try t("b_dec", [dIn])
    threshold = architecture == .jumpReLU ? try t("threshold", [dSAE]) : nil
  }

  /// Per-token normalisation state, applied on the way in and undone on the way out.
  struct Normalised {
    var input: Tensor
    var shift: [Float]
    var factor: [Float]
  }

  func normalise(_ x: Tensor) -> Normalised {
    let T = x.shape[0]
    switch normalization {
    case .none:
      return Normalised(input: x, shift: [], factor: [])
    case .constantNormRescale:
      var out = x
      var factor = [Float](repeating: 1, count: T)
      let p = out.mutablePointer()
      for t in 0..<T {
        var ss: Float = 0
        for i in 0..<dIn { ss += p[t * dIn + i] * p[t * dIn + i] }
        factor[t] = Float(dIn).squareRoot() / max(ss.squareRoot(), 1e-12)
        for i in 0..<dIn { p[t * dIn + i] *= factor[t] }
      }
      return Normalised(input: out, shift: [], factor: factor)
    case .layerNorm:
      var out = x
      var mean = [Float](repeating: 0, count: T), std = [Float](repeating: 1, count: T)
      let p = out.mutablePointer()
      for t in 0..<T {
        var m: Float = 0
        for i in 0..<dIn { m += p[t * dIn + i] }
        m /= Float(dIn)
        var v: Float = 0
        for i in 0..<dIn { v += (p[t * dIn + i] - m) * (p[t * dIn + i] - m) }
        let s = (v / Float(dIn) + 1e-5).squareRoot()
        mean[t] = m
        std[t] = s
        for i in 0..<dIn { p[t * dIn + i] = (p[t * dIn + i] - m) / s }
      }
      return Normalised(input: out, shift: mean, factor: std)
    }
  }

  func denormalise(_ recon: inout Tensor, _ state: Normalised) {
    let T = recon.shape[0]
    switch normalization {
    case .none: return
    case .constantNormRescale:
      let p = recon.mutablePointer()
      for t in 0..<T { for i in 0..<dIn { p[t * dIn + i] /= state.factor[t] } }
    case .layerNorm:
      let p = recon.mutablePointer()
      for t in 0..<T { for i in 0..<dIn { p[t * dIn + i] = p[t * dIn + i] * state.factor[t] + state.shift[t] } }
    }
  }

  /// Pre-activations [T, d_sae] of normalised input x [T, d_in].
  func preActivations(_ x: Tensor) -> Tensor {
    let T = x.shape[0]
    var input = x
    if applyBDecToInput {
      let p = input.mutablePointer()
      bDec.withUnsafeBufferPointer { b in for t in 0..<T { for i in 0..<dIn { p[t * dIn + i] -= b[i] } } }
    }
    var pre = Tensor(zeros: [T, dSAE])
    matmulForward(pre.mutablePointer(), input.pointer, wEnc, bEnc.pointer, T: T, C: dIn, OC: dSAE)
    return pre
  }

  /// Latent activations [T, d_sae] of x [T, d_in] (normalisation applied).
  public func encode(_ x: Tensor) -> Tensor {
    activate(preActivations(normalise(x).input))
  }

  func activate(_ pre: Tensor) -> Tensor {
    var z = pre
    let T = pre.shape[0]
    let p = z.mutablePointer()
    switch architecture {
    case .standard:
      parallelChunks(T * dSAE, minimumChunk: 65_536) { r in tdb_relu(p + r.lowerBound, r.count) }
    case .jumpReLU:
      let th = threshold!.pointer, width = dSAE
      parallelChunks(T, minimumChunk: max(1, 65_536 / width)) { rows in
        for t in rows { tdb_jump_relu(p + t * width, th, width) }
      }
    case .topK(let k):
      // The k largest per token, ties to the lower index (as a stable sort
      // would pick them), by one pass with a heap of the k best so far.
      var heapV = [Float](repeating: 0, count: k), heapI = [Int](repeating: 0, count: k)
      for t in 0..<T {
        let row = p + t * dSAE
        let n = selectTopK(row, count: dSAE, k: k, &heapV, &heapI)
        for m in 0..<n { heapV[m] = max(heapV[m], 0) }
        for j in 0..<dSAE { row[j] = 0 }
        for m in 0..<n { row[heapI[m]] = heapV[m] }
      }
    }
    return z
  }

  /// The `k` largest of `row[0..<count]` (ties: lower index) into `values`
  /// and `indices`, in heap order; returns how many (min(k, count)).
  private func selectTopK(
    _ row: UnsafePointer<Float>, count: Int, k: Int, _ values: inout [Float], _ indices: inout [Int]
  ) -> Int {
    // A min-heap whose root is the worst kept entry: smaller value, or equal value and higher index.
    func worse(_ a: Int, _ b: Int) -> Bool {
      values[a] < values[b] || (values[a] == values[b] && indices[a] > indices[b])
    }
    func siftDown(_ n: Int) {
      var i = 0
      while true {
        let l = 2 * i + 1, r = l + 1
        var m = i
        if l < n && worse(l, m) { m = l }
        if r < n && worse(r, m) { m = r }
        if m == i { return }
        values.swapAt(i, m)
        indices.swapAt(i, m)
        i = m
      }
    }
    var n = 0
    for j in 0..<count {
      let v = row[j]
      if n < k {
        values[n] = v
        indices[n] = j
        var i = n
        n += 1
        while i > 0 && worse(i, (i - 1) / 2) {
          values.swapAt(i, (i - 1) / 2)
          indices.swapAt(i, (i - 1) / 2)
          i = (i - 1) / 2
        }
      } else if v > values[0] {
        // Later indices only win on a strictly larger value.
        values[0] = v
        indices[0] = j
        siftDown(n)
      }
    }
    return n
  }

  /// Reconstruction [T, d_in] from latents [T, d_sae] (in the normalised space).
  public func decode(_ z: Tensor) -> Tensor {
    let T = z.shape[0]
    var out = Tensor(zeros: [T, dIn])
    matmulForward(out.mutablePointer(), z.pointer, wDec, bDec.pointer, T: T, C: dSAE, OC: dIn)
    return out
  }

  /// Latents and the reconstruction in the input's own scale.
  public func encodeDecode(_ x: Tensor) -> (latents: Tensor, reconstruction: Tensor) {
    let state = normalise(x)
    let z = activate(preActivations(state.input))
    var recon = decode(z)
    denormalise(&recon, state)
    return (z, recon)
  }
}

/// An SAE spliced into the forward pass at its hook. Without the error term the
/// model sees the reconstruction; with it the forward pass is unchanged.
public struct SAESplice: Sendable {
  public let sae: SparseAutoencoder
  public let keepError: Bool
  public init(_ sae: SparseAutoencoder, keepError: Bool) {
    self.sae = sae
    self.keepError = keepError
  }
}
