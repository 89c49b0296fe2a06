import Engine
import Foundation
import Lang

/// A tensor in the language: shape-aware printing, slicing `t[3, :, 0:5]`,
/// elementwise arithmetic and a few reductions as members.
final class TensorValue: HostValue, RichDisplay {
  let tensor: Tensor
  /// Optional axis names for display ("pos", "head", "d_head").
  let axes: [String]?

  init(_ tensor: Tensor, axes: [String]? = nil) {
    self.tensor = tensor
    self.axes = axes
  }

  var typeName: String { "tensor" }

  func plain() -> Value {
    let shape = tensor.shape
    if shape.isEmpty { return Value(tensor[flat: 0]) }
    return tensor.withUnsafeBufferPointer { p in
      func nest(_ dim: Int, _ offset: Int) -> Value {
        let stride = shape[(dim + 1)...].reduce(1, *)
        if dim == shape.count - 1 { return .list((0..<shape[dim]).map { Value(Double(p[offset + $0])) }) }
        return .list((0..<shape[dim]).map { nest(dim + 1, offset + $0 * stride) })
      }
      return nest(0, 0)
    }
  }

  var statistics: (min: Float, max: Float, mean: Float, norm: Float) {
    tensor.withUnsafeBufferPointer { p in
      guard !p.isEmpty else { return (0, 0, 0, 0) }
      var lo = Float.infinity, hi = -Float.infinity, sum: Double = 0, sq: Double = 0
      for x in p where x.isFinite {
        lo = min(lo, x)
        hi = max(hi, x)
        sum += Double(x)
        sq += Double(x) * Double(x)
      }
      return (lo, hi, Float(sum / Double(p.count)), Float(sq.squareRoot()))
    }
  }

  func summary() -> String {
    if tensor.rank == 0 { return formatNumber(Double(tensor[flat: 0])) }
    let s = statistics
    let dims = tensor.shape.map(String.init).joined(separator: ", ")
    return "tensor[\(dims)] min \(fmt(s.min)) max \(fmt(s.max)) mean \(fmt(s.mean)) norm \(fmt(s.norm))"
  }

  private func fmt(_ x: Float) -> String { String(format: "%.4g", Double(x)) }

  /// Small tensors in full (rows of numbers), larger ones as the summary plus a corner.
  func display(width: Int, color: Bool) -> String {
    var lines = [summary()]
    let shape = tensor.shape
    if shape.count == 1 || shape.count == 2 {
      let rows = shape.count == 1 ? 1 : shape[0]
      let cols = shape.last!
      let shownRows = min(rows, 12), shownCols = min(cols, max(1, (width - 8) / 10))
      for r in 0..<shownRows {
        var line = shape.count == 2 ? String(format: "%5d ", r) : "      "
        for c in 0..<shownCols { line += String(format: "%10.4f", Double(tensor[flat: r * cols + c])) }
        if shownCols < cols { line += "  … (\(cols - shownCols) more)" }
        lines.append(line)
      }
      if shownRows < rows { lines.append("      … (\(rows - shownRows) more rows)") }
    }
    return lines.joined(separator: "\n")
  }

  var memberNames: [String] { ["shape", "rank", "sum", "mean", "min", "max", "norm", "argmax", "argmin", "list"] }

  func member(_ name: String) throws -> Value {
    switch name {
    case "shape": return .list(tensor.shape.map { Value($0) })
    case "rank": return Value(tensor.rank)
    case "sum": return Value(Double(tensor.withUnsafeBufferPointer { $0.reduce(0, +) }))
    case "mean": return Value(statistics.mean)
    case "min": return Value(statistics.min)
    case "max": return Value(statistics.max)
    case "norm": return Value(statistics.norm)
    case "argmax", "argmin":
      let best = tensor.withUnsafeBufferPointer { p -> Int in
        var b = 0
        for i in 0..<p.count where name == "argmax" ? p[i] > p[b] : p[i] < p[b] { b = i }
        return b
      }
      // A flat index turned into a full index.
      var idx: [Value] = []
      var rest = best
      for s in tensor.strides { idx.append(Value(rest / s)); rest %= s }
      return tensor.rank == 1 ? idx[0] : .list(idx)
    case "list": return plain()
    default: throw EvalError("a tensor has no member '\(name)' (members: \(memberNames.joined(separator: ", ")))")
    }
  }

  func elements() throws -> [Value] {
    guard tensor.rank >= 1 else { throw EvalError("cannot iterate over a scalar tensor") }
    return (0..<tensor.shape[0]).map { wrap(tensor.row($0)) }
  }

  func index(_ subscripts: [Subscript]) throws -> Value {
    let shape = tensor.shape
    guard subscripts.count <= shape.count else {
      throw EvalError("too many indices: the tensor has \(shape.count) dimensions \(shape)")
    }
    var picks: [[Int]] = []
    var keep: [Bool] = []
    for (d, n) in shape.enumerated() {
      let s = d < subscripts.count ? subscripts[d] : .all
      switch s {
      case .all:
        picks.append(Array(0..<n))
        keep.append(true)
      case .index(let i):
        let j = i < 0 ? n + i : i
        guard j >= 0 && j < n else { throw EvalError("index \(i) is out of range for dimension \(d) of size \(n)") }
        picks.append([j])
        keep.append(false)
      case .slice(let start, let end, let step):
        picks.append(try sliceIndices(n, start, end, step))
        keep.append(true)
      case .key(let k):
        throw EvalError("a tensor is indexed by numbers, not '\(k)'")
      }
    }
    let newShape = zip(picks, keep).filter { $0.1 }.map { $0.0.count }
    var out = Tensor(zeros: newShape)
    let strides = tensor.strides
    let dst = out.mutablePointer()
    var k = 0
    tensor.withUnsafeBufferPointer { src in
      func walk(_ d: Int, _ offset: Int) {
        if d == shape.count {
          dst[k] = src[offset]
          k += 1
          return
        }
        for i in picks[d] { walk(d + 1, offset + i * strides[d]) }
      }
      walk(0, 0)
    }
    return wrap(out)
  }

  func binary(_ op: BinaryOperator, _ other: Value, selfOnLeft: Bool) throws -> Value? {
    let f: (Float, Float) -> Float
    switch op {
    case .add: f = (+)
    case .subtract: f = (-)
    case .multiply: f = (*)
    case .divide: f = (/)
    default: return nil
    }
    var out = tensor
    let p = out.mutablePointer()
    if let x = other.number {
      let y = Float(x)
      for i in 0..<out.count { p[i] = selfOnLeft ? f(p[i], y) : f(y, p[i]) }
      return wrap(out)
    }
    if case .host(let h) = other, let t = h as? TensorValue {
      guard t.tensor.shape == tensor.shape else {
        throw EvalError("tensors of shapes \(tensor.shape) and \(t.tensor.shape) cannot be combined elementwise")
      }
      let q = t.tensor.pointer
      for i in 0..<out.count { p[i] = selfOnLeft ? f(p[i], q[i]) : f(q[i], p[i]) }
      return wrap(out)
    }
    return nil
  }

  func isEqual(to other: any HostValue) -> Bool {
    (other as? TensorValue)?.tensor == tensor
  }
}

/// A tensor as a value; a zero-dimensional one is a number.
func wrap(_ t: Tensor) -> Value {
  t.rank == 0 ? Value(Double(t[flat: 0])) : .host(TensorValue(t))
}

/// The positions `start:end:step` selects in a dimension of size n (Python rules).
func sliceIndices(_ n: Int, _ start: Int?, _ end: Int?, _ step: Int?) throws -> [Int] {
  let step = step ?? 1
  guard step != 0 else { throw EvalError("a slice step cannot be zero") }
  func clamp(_ i: Int?, _ dflt: Int) -> Int {
    guard var i else { return dflt }
    if i < 0 { i += n }
    return step > 0 ? min(max(i, 0), n) : min(max(i, -1), n - 1)
  }
  let lo = clamp(start, step > 0 ? 0 : n - 1), hi = clamp(end, step > 0 ? n : -1)
  return Array(stride(from: lo, to: hi, by: step))
}

/// A tensor from a value: a tensor, a number list, or nested number lists.
func tensorArgument(_ v: Value, what: String) throws -> Tensor {
  if case .host(let h) = v, let t = h as? TensorValue { return t.tensor }
  var shape: [Int] = []
  var flat: [Float] = []
  func visit(_ v: Value, depth: Int) throws {
    switch v {
    case .number(let d):
      guard depth == shape.count else { throw EvalError("\(what): ragged nested list") }
      flat.append(Float(d))
    case .list(let items):
      if depth == shape.count {
        shape.append(items.count)
      } else if shape[depth] != items.count {
        throw EvalError("\(what): ragged nested list")
      }
      for i in items { try visit(i, depth: depth + 1) }
    default: throw EvalError("\(what): expected a tensor or a list of numbers, got \(v.typeName)")
    }
  }
  try visit(v, depth: 0)
  return Tensor(shape: shape, scalars: flat)
}
