/// Edit distance between two strings: insertions, deletions, substitutions
/// and transpositions of neighbours ("pritn" is 1 from "print").
public func levenshtein(_ a: String, _ b: String) -> Int {
  let a = Array(a.unicodeScalars)
  let b = Array(b.unicodeScalars)
  if a.isEmpty { return b.count }
  if b.isEmpty { return a.count }
  var before = [Int](repeating: 0, count: b.count + 1)
  var previous = Array(0...b.count)
  var row = [Int](repeating: 0, count: b.count + 1)
  for i in 1...a.count {
    row[0] = i
    for j in 1...b.count {
      let cost = a[i - 1] == b[j - 1] ? 0 : 1
      row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + cost)
      if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
        row[j] = min(row[j], before[j - 2] + 1)
      }
    }
    (before, previous, row) = (previous, row, before)
  }
  return previous[b.count]
}

/// The candidate closest to `name`, if it is close enough to be a likely typo
/// (distance at most a third of the name's length, rounded, at least 1); ties go to the
/// alphabetically first.
public func suggest(_ name: String, among candidates: [String]) -> String? {
  let limit = max(1, (name.count + 1) / 3)
  var best: (distance: Int, name: String)? = nil
  let lowered = name.lowercased()
  for c in candidates where c != name {
    let d = c.lowercased() == lowered ? 0 : levenshtein(name, c)
    guard d <= limit else { continue }
    if best == nil || d < best!.distance || (d == best!.distance && c < best!.name) {
      best = (d, c)
    }
  }
  return best?.name
}

/// " (did you mean 'x'?)" or "".
func didYouMean(_ name: String, among candidates: [String], prefix: String = "") -> String {
  guard let s = suggest(name, among: candidates) else { return "" }
  return " (did you mean '\(prefix)\(s)'?)"
}
