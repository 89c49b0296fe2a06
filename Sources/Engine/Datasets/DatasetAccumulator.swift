import Foundation

/// Streaming statistics and examples for every component of a dataset, in
/// memory that does not grow with the corpus: exact sums, a fixed-bin
/// histogram, min/max, a firing count, the top examples and a random sample.
///
/// Every part combines exactly and in any order (integer sums, bin counts,
/// examples under total orders), so shards merge into exactly what one
/// process would have collected. Storage is raw memory so that threads can
/// update disjoint components at once.
final class DatasetAccumulator: @unchecked Sendable {
  /// Each window's sum and sum of squares are added as integers in units
  /// of 2^-24: exact, so the total does not depend on the order of windows.
  static let quantum: Double = 16_777_216
  /// Larger magnitudes are clamped before quantising (they would overflow Int64).
  static let clamp: Float = 1e6
  /// Tokens kept before and after an example's centre.
  static let before = 24, after = 8
  /// A head example may reach further back, to show the key it attends to.
  static let headReach = 63

  let count: Int
  let names: [String]
  let topCapacity: Int, randomCapacity: Int

  let tokens: UnsafeMutablePointer<Int>
  let firing: UnsafeMutablePointer<Int>
  let sum: UnsafeMutablePointer<Int128>
  let sumSquares: UnsafeMutablePointer<Int128>
  let minimum: UnsafeMutablePointer<Float>
  let maximum: UnsafeMutablePointer<Float>
  /// count × ActivationBins.count
  let histogram: UnsafeMutablePointer<Int>
  let top: UnsafeMutablePointer<BoundedExamples>
  let random: UnsafeMutablePointer<BoundedExamples>
  /// Examples changed since the last save.
  let dirty: UnsafeMutablePointer<Bool>
  /// Windows of the examples the database holds (to write only what changed).
  let savedTop: UnsafeMutablePointer<Set<Int>>
  let savedRandom: UnsafeMutablePointer<Set<Int>>
  let seeds: [UInt64]

  init(names: [String], topCapacity: Int, randomCapacity: Int) {
    count = names.count
    self.names = names
    self.topCapacity = topCapacity
    self.randomCapacity = randomCapacity
    let n = max(count, 1)
    tokens = .allocate(capacity: n)
    tokens.initialize(repeating: 0, count: n)
    firing = .allocate(capacity: n)
    firing.initialize(repeating: 0, count: n)
    sum = .allocate(capacity: n)
    sum.initialize(repeating: 0, count: n)
    sumSquares = .allocate(capacity: n)
    sumSquares.initialize(repeating: 0, count: n)
    minimum = .allocate(capacity: n)
    minimum.initialize(repeating: .infinity, count: n)
    maximum = .allocate(capacity: n)
    maximum.initialize(repeating: -.infinity, count: n)
    histogram = .allocate(capacity: n * ActivationBins.count)
    histogram.initialize(repeating: 0, count: n * ActivationBins.count)
    top = .allocate(capacity: n)
    top.initialize(repeating: BoundedExamples(), count: n)
    random = .allocate(capacity: n)
    random.initialize(repeating: BoundedExamples(), count: n)
    dirty = .allocate(capacity: n)
    dirty.initialize(repeating: false, count: n)
    savedTop = .allocate(capacity: n)
    savedTop.initialize(repeating: [], count: n)
    savedRandom = .allocate(capacity: n)
    savedRandom.initialize(repeating: [], count: n)
    seeds = names.map(nameHash)
  }

  deinit {
    let n = max(count, 1)
    for p in [tokens, firing] { p.deinitialize(count: n); p.deallocate() }
    sum.deinitialize(count: n); sum.deallocate()
    sumSquares.deinitialize(count: n); sumSquares.deallocate()
    minimum.deallocate()
    maximum.deallocate()
    histogram.deallocate()
    top.deinitialize(count: n); top.deallocate()
    random.deinitialize(count: n); random.deallocate()
    dirty.deallocate()
    savedTop.deinitialize(count: n); savedTop.deallocate()
    savedRandom.deinitialize(count: n); savedRandom.deallocate()
  }

  /// For heads: the writes from the two queries an example can centre on
  /// (the window's strongest and the sampled one; see `sampleKey`) to every
  /// key, and per query the key of the strongest write. Only those rows are
  /// kept: a layer's full [H, T, T] is large for long contexts.
  struct HeadWrites {
    let topQuery: Int
    let topRow: UnsafePointer<Float>  // [T]
    let randomQuery: Int
    let randomRow: UnsafePointer<Float>  // [T]
    let argmaxKey: UnsafePointer<Int32>  // [T]

    func row(_ q: Int) -> UnsafePointer<Float> { q == topQuery ? topRow : randomRow }
  }

  /// The random sample's key of a component (by its name's seed) for a
  /// window: the sample keeps the smallest.
  @inline(__always)
  static func sampleKey(seed: UInt64, window: Int) -> UInt64 { mix64(seed ^ mix64(UInt64(window))) }

  /// The token a sampled example of the window centres on.
  @inline(__always)
  static func samplePosition(key: UInt64, T: Int) -> Int { Int(mix64(key) % UInt64(T)) }

  /// Adds one window's activations `v[0..<T]` of component `j`.
  /// `windowTokens` are the window's token ids.
  @inline(__always)
  func observe(
    _ j: Int, _ v: UnsafePointer<Float>, T: Int, window: Int, windowTokens: UnsafePointer<Int32>,
    head: HeadWrites? = nil
  ) {
    let hist = histogram + j * ActivationBins.count
    // Sums over the window in Double (a fixed order, so the same in any
    // process), then made exact integers: adding those is order-free.
    var s = 0.0, ss = 0.0
    var fires = 0
    var mn = minimum[j], mx = maximum[j]
    var best: Float = -.infinity, bestAt = 0
    for t in 0..<T {
      let x = v[t]
      hist[ActivationBins.index(x)] += 1
      if x == x {
        let c = Double(min(max(x, -Self.clamp), Self.clamp))
        s += c
        ss += c * c
        if x > 0 { fires += 1 }
      }
      if x > best {
        best = x
        bestAt = t
      }
      if x < mn { mn = x }
      if x > mx { mx = x }
    }
    let quantum = Self.quantum
    tokens[j] += T
    firing[j] += fires
    sum[j] += Int128((s * quantum).rounded())
    sumSquares[j] += Int128((ss * quantum).rounded())
    minimum[j] = mn
    maximum[j] = mx
    if best > -.infinity, top[j].acceptsTop(best, window: window, position: bestAt, capacity: topCapacity) {
      top[j].insertTop(
        example(v, T: T, centre: bestAt, window: window, windowTokens: windowTokens, head: head), capacity: topCapacity)
      dirty[j] = true
    }
    let key = Self.sampleKey(seed: seeds[j], window: window)
    if random[j].acceptsSample(key, window: window, capacity: randomCapacity) {
      var e = example(
        v, T: T, centre: Self.samplePosition(key: key, T: T), window: window, windowTokens: windowTokens, head: head)
      e.sampleKey = key
      random[j].insertSample(e, capacity: randomCapacity)
      dirty[j] = true
    }
  }

  private func example(
    _ v: UnsafePointer<Float>, T: Int, centre c: Int, window: Int, windowTokens: UnsafePointer<Int32>, head: HeadWrites?
  ) -> DatasetExample {
    var start = max(0, c - Self.before)
    let end = min(T, c + Self.after + 1)
    var keys: [Float]? = nil
    var keyPosition: Int? = nil
    if let head {
      let k = Int(head.argmaxKey[c])
      keyPosition = k
      start = max(0, c - Self.headReach, min(start, k - 2))
      let row = head.row(c)
      keys = (start..<end).map { $0 <= c ? row[$0] : 0 }
    }
    return DatasetExample(
      activation: v[c], window: window, position: c, start: start,
      tokens: Array(UnsafeBufferPointer(start: windowTokens + start, count: end - start)),
      acts: Array(UnsafeBufferPointer(start: v + start, count: end - start)), keys: keys, keyPosition: keyPosition)
  }

  /// Adds everything `other` holds for the same components (shard merge).
  func absorb(_ other: DatasetAccumulator) {
    precondition(other.names == names, "absorbing a dataset of other components")
    for j in 0..<count { absorb(j, from: other, at: j) }
  }

  /// Adds component `i` of `other` into component `j` of this accumulator.
  func absorb(_ j: Int, from other: DatasetAccumulator, at i: Int) {
    tokens[j] += other.tokens[i]
    firing[j] += other.firing[i]
    sum[j] += other.sum[i]
    sumSquares[j] += other.sumSquares[i]
    minimum[j] = min(minimum[j], other.minimum[i])
    maximum[j] = max(maximum[j], other.maximum[i])
    let a = histogram + j * ActivationBins.count, b = other.histogram + i * ActivationBins.count
    for k in 0..<ActivationBins.count { a[k] += b[k] }
    for e in other.top[i].items
    where top[j].acceptsTop(e.activation, window: e.window, position: e.position, capacity: topCapacity) {
      top[j].insertTop(e, capacity: topCapacity)
    }
    for e in other.random[i].items
    where random[j].acceptsSample(e.sampleKey, window: e.window, capacity: randomCapacity) {
      random[j].insertSample(e, capacity: randomCapacity)
    }
    dirty[j] = true
  }

  /// Marks the examples held now as the ones the database holds.
  func markSaved() {
    for j in 0..<count {
      savedTop[j] = Set(top[j].items.map(\.window))
      savedRandom[j] = Set(random[j].items.map(\.window))
      dirty[j] = false
    }
  }

  /// The histogram of component `j`.
  func histogram(_ j: Int) -> ActivationHistogram {
    let h = histogram + j * ActivationBins.count
    return ActivationHistogram(
      counts: Array(UnsafeBufferPointer(start: h, count: ActivationBins.count)), min: minimum[j], max: maximum[j])
  }

  /// The summary statistics of component `j`, derived from the exact sums.
  func summary(_ j: Int) -> ComponentSummary {
    let n = tokens[j]
    let mean = n > 0 ? Double(sum[j]) / Self.quantum / Double(n) : .nan
    let meanSquare = n > 0 ? Double(sumSquares[j]) / Self.quantum / Double(n) : .nan
    return ComponentSummary(
      tokens: n, mean: mean, variance: max(0, meanSquare - mean * mean),
      frequency: n > 0 ? Double(firing[j]) / Double(n) : .nan,
      min: n > 0 ? Double(minimum[j]) : .nan, max: n > 0 ? Double(maximum[j]) : .nan)
  }
}

/// What a dataset says about one component's activations.
public struct ComponentSummary: Sendable, Equatable {
  /// Tokens seen (for heads: query tokens).
  public var tokens: Int
  public var mean: Double
  public var variance: Double
  /// Fraction of tokens with a positive activation.
  public var frequency: Double
  public var min: Double
  public var max: Double
}
