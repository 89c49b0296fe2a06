/// Builders for the interventions researchers use: each returns an
/// `Intervention` the forward pass applies at the selection's hook.
public enum Interventions {
  /// Sets the selection to zero.
  public static func zero(_ s: HookSelection, label: String) -> Intervention {
    Intervention(hook: s.hook, label: label, rows: .local(s.positions)) { value, _ in
      let p = value.mutablePointer()
      try s.forEachRun(value.shape) { offset, n in (p + offset).update(repeating: 0, count: n) }
    }
  }

  /// Sets every selected run to `mean` (one run's worth of values).
  public static func constant(_ s: HookSelection, run mean: [Float], label: String) -> Intervention {
    Intervention(hook: s.hook, label: label, rows: .local(s.positions)) { value, _ in
      guard try s.runLength(value.shape) == mean.count else {
        throw InterventionError.shapeMismatch(
          "\(label): the mean has \(mean.count) values but \(s.hook.name) needs \(try s.runLength(value.shape))")
      }
      let p = value.mutablePointer()
      try mean.withUnsafeBufferPointer { m in
        try s.forEachRun(value.shape) { offset, n in (p + offset).update(from: m.baseAddress!, count: n) }
      }
    }
  }

  /// Copies the selection from `source`, the same hook's value in another run
  /// (patching, resample ablation). The prompts must have the same length.
  public static func copy(_ s: HookSelection, from source: Tensor, label: String) -> Intervention {
    Intervention(hook: s.hook, label: label, rows: .local(s.positions)) { value, _ in
      guard source.shape == value.shape else {
        throw InterventionError.shapeMismatch(
          "\(label): the source run's \(s.hook.name) has shape \(source.shape) but this run's has \(value.shape); patch between prompts of the same length"
        )
      }
      let p = value.mutablePointer(), q = source.pointer
      try s.forEachRun(value.shape) { offset, n in (p + offset).update(from: q + offset, count: n) }
    }
  }

  /// Adds `scale · vector` to every selected run (steering).
  public static func add(_ s: HookSelection, vector: [Float], scale: Float, label: String) -> Intervention {
    Intervention(hook: s.hook, label: label, rows: .local(s.positions)) { value, _ in
      guard try s.runLength(value.shape) == vector.count else {
        throw InterventionError.shapeMismatch(
          "\(label): the vector has \(vector.count) values but \(s.hook.name) needs \(try s.runLength(value.shape))")
      }
      let p = value.mutablePointer()
      try s.forEachRun(value.shape) { offset, n in for i in 0..<n { p[offset + i] += scale * vector[i] } }
    }
  }

  /// Sets one element, addressed by a full index (negative entries count from the end).
  public static func set(_ hook: HookPoint, index: [Int], to x: Float, label: String) -> Intervention {
    let position = index.count > hook.positionAxis ? [index[hook.positionAxis]] : nil
    return Intervention(hook: hook, label: label, rows: .local(position)) { value, _ in
      guard index.count == value.rank else {
        throw InterventionError.shapeMismatch(
          "\(label): \(hook.name) has \(value.rank) dimensions \(value.shape) but the index has \(index.count)")
      }
      var flat = 0
      for (i, n) in zip(index, value.shape) {
        let j = i < 0 ? n + i : i
        guard j >= 0 && j < n else { throw InterventionError.indexOutOfRange(i, hook: hook.name, count: n) }
        flat = flat * n + j
      }
      value[flat: flat] = x
    }
  }

  /// The mean run of the selection over every selected position of every value
  /// (mean ablation over a set of prompts; positions need not line up).
  public static func meanRun(of values: [Tensor], _ s: HookSelection) throws -> [Float] {
    var sum: [Double] = []
    var count = 0
    for v in values {
      let n = try s.runLength(v.shape)
      if sum.isEmpty { sum = [Double](repeating: 0, count: n) }
      guard sum.count == n else {
        throw InterventionError.shapeMismatch("mean: the prompts give \(s.hook.name) different sizes")
      }
      let p = v.pointer
      try s.forEachRun(v.shape) { offset, n in
        for i in 0..<n { sum[i] += Double(p[offset + i]) }
        count += 1
      }
    }
    guard count > 0 else { throw InterventionError.shapeMismatch("mean: no values to average") }
    return sum.map { Float($0 / Double(count)) }
  }
}
