/// Backslash escapes for the places tdb writes a string that must be read
/// back or shown on one line: JSON, tdb literals, table cells, history lines.
public struct Escapes: Sendable {
  /// Characters with a short escape: `"\n"` -> `\n`.
  let named: [Unicode.Scalar: String]
  /// How any other control character is written; nil leaves it as it is.
  let control: (@Sendable (Unicode.Scalar) -> String)?

  /// JSON: `\" \\ \n \r \t \b \f`, other control characters as `\u00XX`.
  public static let json = Escapes(
    named: ["\"": "\\\"", "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\u{08}": "\\b", "\u{0C}": "\\f"],
    control: { c in
      let hex = String(c.value, radix: 16)
      return "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
    })

  /// A tdb string literal: `\" \\ \n \t \r \$`, other control characters (and DEL) as `\u{XX}`.
  public static let tdb = Escapes(
    named: ["\"": "\\\"", "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "$": "\\$", "\u{7F}": "\\u{7f}"],
    control: { c in "\\u{\(String(c.value, radix: 16))}" })

  /// Line breaks and tabs made visible, for one line of a table; nothing else changes.
  public static let visibleWhitespace = Escapes(named: ["\n": "\\n", "\t": "\\t", "\r": "\\r"], control: nil)

  /// Line breaks escaped so a text fits one line of a file, and backslashes so it reads back.
  public static let oneLine = Escapes(named: ["\\": "\\\\", "\n": "\\n", "\r": "\\r"], control: nil)

  /// `s` with these escapes.
  public func apply(_ s: String) -> String {
    guard s.unicodeScalars.contains(where: { named[$0] != nil || (control != nil && $0.value < 0x20) }) else {
      return s
    }
    var out = ""
    for c in s.unicodeScalars {
      if let e = named[c] {
        out += e
      } else if let control, c.value < 0x20 {
        out += control(c)
      } else {
        out.unicodeScalars.append(c)
      }
    }
    return out
  }
}
