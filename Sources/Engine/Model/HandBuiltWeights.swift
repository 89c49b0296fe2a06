/// A memberwise initialiser for weights built in memory (tests of small
/// hand-made models, synthetic checks): otherwise only the checkpoint loader
/// makes them. (`BlockWeights` has its synthesised memberwise initialiser.)
extension ModelWeights {
  /// Weights from tensors of the shapes `ModelWeights` documents; `lmHead`
  /// defaults to `wte` (tied, as in GPT-2).
  public init(
    wte: Tensor, wpe: Tensor?, blocks: [BlockWeights], lnfWeight: Tensor, lnfBias: Tensor, lmHead: Tensor? = nil
  ) {
    self.wte = wte
    self.wpe = wpe
    self.blocks = blocks
    self.lnfWeight = lnfWeight
    self.lnfBias = lnfBias
    self.lmHead = lmHead ?? wte
  }
}
