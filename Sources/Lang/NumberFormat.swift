import Foundation

/// A number as tdb prints it: integers without a decimal point; at least 1 in
/// size, up to 6 decimals without trailing zeros (`3.141593`, `12345.5`);
/// smaller, 6 significant digits (`0.333333`, `0.000123457`, `1.5e-7`);
/// `nan`, `inf`, `-inf`.
public func formatNumber(_ d: Double) -> String {
  if d.isNaN { return "nan" }
  if d.isInfinite { return d < 0 ? "-inf" : "inf" }
  if d == d.rounded(), abs(d) < 1e16 {
    return d == 0 ? "0" : String(Int64(d))
  }
  if abs(d) >= 1, abs(d) < 1e15 {
    var s = String(format: "%.6f", d)
    while s.hasSuffix("0") { s.removeLast() }
    if s.hasSuffix(".") { s.removeLast() }
    return s == "-0" ? "0" : s
  }
  var s = String(format: "%.6g", d)
  // %g writes exponents as e-07 / e+06: make them e-7 / e6.
  if let e = s.firstIndex(of: "e") {
    let mantissa = s[..<e]
    var exponent = s[s.index(after: e)...]
    var sign = ""
    if exponent.first == "-" || exponent.first == "+" {
      if exponent.first == "-" { sign = "-" }
      exponent = exponent.dropFirst()
    }
    while exponent.count > 1, exponent.first == "0" { exponent = exponent.dropFirst() }
    s = "\(mantissa)e\(sign)\(exponent)"
  }
  return s
}

/// A number with exactly `decimals` digits after the point unless it is an
/// integer (tables on a terminal use 3).
public func formatNumber(_ d: Double, decimals: Int) -> String {
  if d.isNaN || d.isInfinite || (d == d.rounded() && abs(d) < 1e16) { return formatNumber(d) }
  if abs(d) >= 1e15 || (abs(d) < pow(10, Double(-decimals)) / 2) { return formatNumber(d) }
  return String(format: "%.\(decimals)f", d)
}
