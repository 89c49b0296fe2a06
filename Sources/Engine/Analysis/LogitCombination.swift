/// A metric linear in the logits: Σ coefficient · logits[position, token] +
/// constant (a logit, a logit difference, sums and scalings of them). Its
/// gradient is exact from one backward pass, which is what attribution
/// patching needs.
public struct LogitCombination: Sendable, Equatable {
  public struct Term: Sendable, Equatable {
    /// Negative counts from the end.
    public var position: Int
    public var token: Int
    public var coefficient: Double
    public init(position: Int, token: Int, coefficient: Double) {
      self.position = position
      self.token = token
      self.coefficient = coefficient
    }
  }

  public var terms: [Term]
  public var constant: Double

  public init(terms: [Term] = [], constant: Double = 0) {
    self.terms = terms
    self.constant = constant
  }

  /// logits[position, target] - logits[position, distractor].
  public static func logitDifference(position: Int, target: Int, distractor: Int) -> LogitCombination {
    LogitCombination(terms: [
      Term(position: position, token: target, coefficient: 1),
      Term(position: position, token: distractor, coefficient: -1),
    ])
  }

  public static func + (a: LogitCombination, b: LogitCombination) -> LogitCombination {
    LogitCombination(terms: a.terms + b.terms, constant: a.constant + b.constant)
  }

  /// Every coefficient and the constant multiplied by `k`.
  public func scaled(by k: Double) -> LogitCombination {
    LogitCombination(
      terms: terms.map { Term(position: $0.position, token: $0.token, coefficient: $0.coefficient * k) },
      constant: constant * k)
  }

  /// Whether any term is left (a metric of no logits is a constant).
  public var isConstant: Bool { terms.allSatisfy { $0.coefficient == 0 } }

  /// The value on logits [T, V].
  public func value(logits: Tensor) throws -> Double {
    let T = logits.shape[0], V = logits.shape[1]
    var sum = constant
    for term in terms {
      let p = term.position < 0 ? T + term.position : term.position
      guard p >= 0 && p < T else { throw BackwardError.positionOutOfRange(term.position, tokens: T) }
      guard term.token >= 0 && term.token < V else { throw BackwardError.tokenOutOfRange(term.token, vocab: V) }
      sum += term.coefficient * Double(logits[p, term.token])
    }
    return sum
  }

  /// The backward pass's metric for a prompt of `T` tokens: logits[t] =
  /// ln_final.hook_normalized[t] · W_U (no bias), so the combination is
  /// Σ_t seed[t] · ln_final.hook_normalized[t] with seed[t] = Σ c · W_U[token]
  /// over the terms at t. (The constant does not change the gradient.)
  public func metric(model: TransformerModel, tokens T: Int) throws -> Metric {
    let C = model.config.dModel, V = model.config.vocabSize
    guard model.config.finalSoftcap == nil else { throw BackwardError.softcappedLogits }
    var seed = Tensor(zeros: [T, C])
    let s = seed.mutablePointer(), u = model.weights.lmHead.pointer
    for term in terms {
      let p = term.position < 0 ? T + term.position : term.position
      guard p >= 0 && p < T else { throw BackwardError.positionOutOfRange(term.position, tokens: T) }
      guard term.token >= 0 && term.token < V else { throw BackwardError.tokenOutOfRange(term.token, vocab: V) }
      let k = Float(term.coefficient)
      for i in 0..<C { s[p * C + i] += k * u[term.token * C + i] }
    }
    return .hookValue(HookPoint(.lnFinalNormalized), seed: seed)
  }
}
