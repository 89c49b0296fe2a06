import Foundation

/// Scoring an explanation as Bills et al. (2023) do: a simulator predicts the
/// component's activation at every token of held-out examples from the
/// explanation alone, and the score is the correlation between predicted and
/// real activations over all those tokens at once ("all at once" scoring).
public enum ExplanationScore {
  /// Pearson correlation of two equal-length series; nil when either is
  /// constant (a simulator that predicts the same everywhere explains nothing).
  public static func correlation(_ x: [Double], _ y: [Double]) -> Double? {
    precondition(x.count == y.count, "correlation of series of different lengths")
    let n = Double(x.count)
    guard x.count > 1 else { return nil }
    let mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
    var sxy = 0.0, sxx = 0.0, syy = 0.0
    for i in 0..<x.count {
      let a = x[i] - mx, b = y[i] - my
      sxy += a * b
      sxx += a * a
      syy += b * b
    }
    guard sxx > 0, syy > 0 else { return nil }
    return sxy / (sxx * syy).squareRoot()
  }

  /// The score of simulated activations against real ones, example by
  /// example (all tokens pooled); 0 when the correlation is undefined.
  public static func score(simulated: [[Double]], real: [[Float]]) -> Double {
    var x: [Double] = [], y: [Double] = []
    for (s, r) in zip(simulated, real) {
      let n = min(s.count, r.count)
      x += s.prefix(n)
      y += r.prefix(n).map(Double.init)
    }
    return correlation(x, y) ?? 0
  }

  /// Splits a component's examples: the explainer sees the even-ranked top
  /// examples; the score is computed on the odd-ranked top examples and the
  /// random sample, which the explainer never saw.
  public static func split(top: [DatasetExample], random: [DatasetExample]) -> (
    train: [DatasetExample], heldOut: [DatasetExample]
  ) {
    let train = top.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
    let test = top.enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
    return (train, test + random)
  }
}
