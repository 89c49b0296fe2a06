// Backward through an SAE spliced at a hook (forward: spliceSAE in Forward.swift):
//   u = normalise(input)                          per-token, see SparseAutoencoder.Normalization
//   acts[N, S] = act((u - b_dec?) · W_enc[d, S] + b_enc)    ReLU / TopK / JumpReLU
//   recons[N, d] = denormalise(acts · W_dec[S, d] + b_dec)
//   output = recons (+ error)
// As in SAELens, the error term is a constant: SAELens computes it under
// no_grad, so the gradient reaches the hook's input only through the latents,
// and the gradient reported at hook_sae_error is d metric / d error with
// nothing flowing back from it. The activation passes the gradient only where
// it was active: ReLU > 0, the kept TopK latents, JumpReLU above threshold.

extension BackwardPass {
  mutating func saeBackward(_ splice: SAESplice, at p: HookPoint, _ gOut: Tensor?) throws -> Tensor? {
    let sae = splice.sae, d = sae.dIn, S = sae.dSAE
    func site(_ s: HookPoint.SAESite) -> HookPoint { HookPoint(p.site, layer: p.layer, sae: s) }

    let gOutput = try visit(site(.output), gOut)
    _ = try visit(site(.error), splice.keepError ? gOutput : nil)
    let gRecons = try visit(site(.recons), gOutput)

    // The normalisation's per-token state, recomputed from the recorded input.
    var state: SparseAutoencoder.Normalised? = nil
    func normalised() -> SparseAutoencoder.Normalised {
      if let state { return state }
      state = sae.normalise(tape.value(site(.input)))
      return state!
    }

    // Undo the denormalisation: recons = r0 / f (constant_norm_rescale) or
    // r0 · s + m (layer_norm), with f, s, m functions of the input.
    var gR0: Tensor? = nil
    var gFactor: [Float]? = nil, gShift: [Float]? = nil
    if let gRecons {
      let N = gRecons.count / d
      switch sae.normalization {
      case .none:
        gR0 = gRecons
      case .constantNormRescale, .layerNorm:
        let st = normalised(), recons = tape.beforeValue(site(.recons))
        var out = Tensor(zeros: [N, d])
        var gf = [Float](repeating: 0, count: N), gm = [Float](repeating: 0, count: N)
        let o = out.mutablePointer(), g = gRecons.pointer, r = recons.pointer
        for t in 0..<N {
          let f = st.factor[t]
          for i in 0..<d {
            let j = t * d + i
            if sae.normalization == .constantNormRescale {
              o[j] = g[j] / f
              gf[t] -= g[j] * r[j] / f  // d(r0 / f)/df = -recons / f
            } else {
              o[j] = g[j] * f
              gf[t] += g[j] * (r[j] - st.shift[t]) / f  // d(r0 · s)/ds = r0
              gm[t] += g[j]
            }
          }
        }
        gR0 = out
        gFactor = gf
        if sae.normalization == .layerNorm { gShift = gm }
      }
    }

    var gActs = gR0.map { g in
      let N = g.count / d
      var out = Tensor(zeros: [N, S])
      linearBackward(out.mutablePointer(), g.pointer, sae.wDec, T: N, C: S, OC: d, accumulate: false)
      return out
    }
    gActs = try visit(site(.actsPost), gActs)

    var gU: Tensor? = nil
    if let gActs {
      let N = gActs.count / S
      var gPre = gActs
      let acts = tape.beforeValue(site(.actsPost))
      let gp = gPre.mutablePointer(), a = acts.pointer
      for j in 0..<(N * S) where a[j] == 0 { gp[j] = 0 }
      var out = Tensor(zeros: [N, d])
      linearBackward(out.mutablePointer(), gPre.pointer, sae.wEnc, T: N, C: d, OC: S, accumulate: false)
      gU = out
    }

    // Through the normalisation of the input x.
    var gInput: Tensor? = nil
    switch sae.normalization {
    case .none:
      gInput = gU
    case .constantNormRescale, .layerNorm:
      guard gU != nil || gFactor != nil else { break }
      let st = normalised(), x = tape.value(site(.input))
      let N = x.count / d
      var out = Tensor(zeros: [N, d])
      let o = out.mutablePointer(), xp = x.pointer, up = st.input.pointer
      for t in 0..<N {
        let gu = gU.map { $0.pointer + t * d }
        let f = st.factor[t]
        if sae.normalization == .constantNormRescale {
          // u = x · f, f = √d / ‖x‖, df/dx = -f · x / ‖x‖².
          var norm2: Float = 0, gf = gFactor?[t] ?? 0
          for i in 0..<d { norm2 += xp[t * d + i] * xp[t * d + i] }
          if let gu { for i in 0..<d { gf += gu[i] * xp[t * d + i] } }
          let k = gf * f / max(norm2, 1e-24)
          for i in 0..<d { o[t * d + i] = (gu?[i] ?? 0) * f - k * xp[t * d + i] }
        } else {
          // u = (x - m) / s, s = √(var + 1e-5); dm/dx = 1/d, ds/dx = u/d.
          var mean: Float = 0, dot: Float = 0
          if let gu {
            for i in 0..<d {
              mean += gu[i]
              dot += gu[i] * up[t * d + i]
            }
          }
          mean /= Float(d)
          dot /= Float(d)
          let gs = gFactor?[t] ?? 0, gm = gShift?[t] ?? 0
          for i in 0..<d {
            let u = up[t * d + i]
            o[t * d + i] = ((gu?[i] ?? 0) - mean - u * dot) / f + (gm + gs * u) / Float(d)
          }
        }
      }
      gInput = out
    }
    return try visit(site(.input), gInput)
  }
}
