/// Errors setting up a backward pass; one line each.
public enum BackwardError: Error, CustomStringConvertible, Equatable {
  case positionOutOfRange(Int, tokens: Int)
  case tokenOutOfRange(Int, vocab: Int)
  case lossNeedsTwoTokens
  case seedShape(hook: String, expected: [Int], found: [Int])
  case notSpliced(String, hook: String)
  case unsupportedSplice(String)
  case gradientShapeChanged(label: String, hook: String, from: [Int], to: [Int])
  case softcappedLogits

  public var description: String {
    switch self {
    case .positionOutOfRange(let p, let n): "position \(p) is outside the prompt (\(n) tokens: 0..<\(n) or -\(n)...-1)"
    case .tokenOutOfRange(let id, let vocab): "token id \(id) is outside the vocabulary (0..<\(vocab))"
    case .lossNeedsTwoTokens: "the loss needs a prompt of at least 2 tokens"
    case .seedShape(let h, let e, let f): "the seed for \(h) has shape \(f) but the hook value has shape \(e)"
    case .notSpliced(let site, let h): "\(site) needs an SAE spliced at \(h), and none is"
    case .unsupportedSplice(let h):
      "gradients through an SAE spliced at \(h) are not supported (only hooks whose rows are positions)"
    case .gradientShapeChanged(let label, let h, let from, let to):
      "'\(label)' changed the gradient at \(h) from shape \(from) to \(to)"
    case .softcappedLogits:
      "this model soft-caps its logits, so no metric is linear in them (attrpatch needs one); use grad or attribute"
    }
  }
}
