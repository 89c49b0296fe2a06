import Engine
import Lang

/// attrpatch differentiates a metric written as a language function
/// (`{ |x| logitdiff x " Mary" " John" }`) by calling it once on a probe: a
/// stand-in run on which `logitdiff` and `logits` return linear combinations
/// of logits instead of numbers. Arithmetic keeps them linear (+ and - between
/// them and numbers, * and / by numbers); anything else fails, and attrpatch
/// reports that the metric must be linear in the logits.
final class MetricProbe: HostValue {
  var typeName: String { "metric probe" }
  func plain() -> Value { Value("<metric probe>") }
  func summary() -> String { "a stand-in run that turns logitdiff and logits into linear metrics (attrpatch)" }

  func logitDifference(position: Int, target: Int, distractor: Int) -> Value {
    .host(LinearMetricValue(.logitDifference(position: position, target: target, distractor: distractor)))
  }

  var memberNames: [String] { ["logits"] }
  func member(_ name: String) throws -> Value {
    guard name == "logits" else {
      throw EvalError("attrpatch's metric can read only logitdiff and logits of its run, not .\(name)")
    }
    return .host(LogitsProbe(position: nil))
  }
}

/// `logits x` on a probe: indexed by token id (or [position, id] for every
/// position), it gives one logit as a linear metric.
final class LogitsProbe: HostValue {
  /// nil: the logits at every position ([pos, vocab]).
  let position: Int?
  init(position: Int?) { self.position = position }

  var typeName: String { "logits probe" }
  func plain() -> Value { Value("<logits probe>") }
  func summary() -> String { "the logits of a metric probe (index them by token id)" }

  func index(_ subscripts: [Subscript]) throws -> Value {
    let usage = position == nil ? "[position, token id]" : "[token id]"
    func logit(_ p: Int, _ id: Int) -> Value {
      .host(LinearMetricValue(LogitCombination(terms: [.init(position: p, token: id, coefficient: 1)])))
    }
    if let p = position, subscripts.count == 1, case .index(let id) = subscripts[0] { return logit(p, id) }
    if position == nil, subscripts.count == 2, case .index(let p) = subscripts[0], case .index(let id) = subscripts[1] {
      return logit(p, id)
    }
    throw EvalError("attrpatch's metric can index these logits only as \(usage), to stay linear in the logits")
  }
}

/// A metric linear in the logits, as the probe's arithmetic builds it.
final class LinearMetricValue: HostValue {
  let combination: LogitCombination
  init(_ c: LogitCombination) { combination = c }

  var typeName: String { "linear metric" }
  func plain() -> Value {
    .record(
      Record([
        (
          "terms",
          .list(
            combination.terms.map {
              .record(
                Record([
                  ("pos", Value($0.position)), ("token", Value($0.token)), ("coefficient", Value($0.coefficient)),
                ]))
            })
        ),
        ("constant", Value(combination.constant)),
      ]))
  }
  func summary() -> String {
    let terms = combination.terms.map { "\($0.coefficient) · logits[\($0.position), \($0.token)]" }
    return (terms + (combination.constant == 0 ? [] : ["\(combination.constant)"])).joined(separator: " + ")
  }

  func binary(_ op: BinaryOperator, _ other: Value, selfOnLeft: Bool) throws -> Value? {
    let me = combination
    if let x = other.number {
      switch op {
      case .add: return .host(LinearMetricValue(me + LogitCombination(constant: x)))
      case .subtract:
        return .host(
          LinearMetricValue(
            selfOnLeft ? me + LogitCombination(constant: -x) : me.scaled(by: -1) + LogitCombination(constant: x)))
      case .multiply: return .host(LinearMetricValue(me.scaled(by: x)))
      case .divide where selfOnLeft && x != 0: return .host(LinearMetricValue(me.scaled(by: 1 / x)))
      default: return nil
      }
    }
    if let o = other.host(as: LinearMetricValue.self) {
      let (l, r) = selfOnLeft ? (me, o.combination) : (o.combination, me)
      switch op {
      case .add: return .host(LinearMetricValue(l + r))
      case .subtract: return .host(LinearMetricValue(l + r.scaled(by: -1)))
      default: return nil
      }
    }
    return nil
  }
}
