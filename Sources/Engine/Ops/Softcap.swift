import CKernels

/// Gemma 2's soft-cap, x -> cap·tanh(x/cap), over `count` values in place.
func softcap(_ x: UnsafeMutablePointer<Float>, count: Int, cap: Float) {
  tdb_softcap(x, x, cap, count)
}

/// One value soft-capped exactly as the vector kernel caps a whole row.
public func softcapped(_ v: Float, cap: Float) -> Float {
  var out: Float = 0
  withUnsafePointer(to: v) { tdb_softcap(&out, $0, cap, 1) }
  return out
}
