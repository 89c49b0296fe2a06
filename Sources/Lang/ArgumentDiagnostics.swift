/// Errors a command body throws name the argument they are about
/// (`L99H3: the model has 6 layers`, `position 99 is outside the prompt`) but
/// not where it is written; the caret goes under the argument whose text the
/// message quotes, so a long call shows which part was wrong.
extension CommandCall {
  /// The location of the argument `message` is about, or nil: one it names
  /// (`LAYER: ...`, `--pos: ...`), else one whose source text it contains as
  /// a whole word — quoted ('bogus') before unquoted, then the longest.
  func argument(mentionedIn message: String) -> SourceLocation? {
    for (i, location) in positionalLocations.enumerated() {
      if let name = spec?.parameter(at: i)?.name.uppercased(), message.contains("\(name):") { return location }
    }
    for (name, location) in flagLocations where message.contains("--\(name)") {
      return location
    }
    var best: (location: SourceLocation, rank: (Int, Int))?
    for location in positionalLocations + flagLocations.values {
      guard let text = Self.sourceText(at: location), !text.isEmpty, Self.containsWord(text, in: message) else {
        continue
      }
      let quoted = message.contains("'\(text)'") || message.contains("\"\(text)\"")
      let rank = (quoted ? 1 : 0, text.count)
      if best == nil || rank > best!.rank { best = (location, rank) }
    }
    return best?.location
  }

  /// The argument written at `location`: a string literal's contents, or the
  /// run of characters up to a space or closing bracket. Parenthesised
  /// expressions, lists and closures give nil (messages do not quote them).
  static func sourceText(at location: SourceLocation) -> String? {
    guard let line = location.file?.line(location.line) else { return nil }
    let scalars = Array(line.unicodeScalars)
    var i = location.column - 1
    guard i >= 0, i < scalars.count else { return nil }
    var out = String.UnicodeScalarView()
    if scalars[i] == "\"" || scalars[i] == "'" {
      let quote = scalars[i]
      i += 1
      while i < scalars.count, scalars[i] != quote {
        if scalars[i] == "\\" { return nil }  // escapes: the message shows the decoded text
        out.append(scalars[i])
        i += 1
      }
      return String(out)
    }
    if "([{".unicodeScalars.contains(scalars[i]) { return nil }
    while i < scalars.count, !" \t)]};,|".unicodeScalars.contains(scalars[i]) {
      out.append(scalars[i])
      i += 1
    }
    return String(out)
  }

  /// Whether `word` occurs in `text` with no letter, digit, `_` or `.` on either side.
  static func containsWord(_ word: String, in text: String) -> Bool {
    func isWordCharacter(_ c: Character?) -> Bool {
      guard let c else { return false }
      return c.isLetter || c.isNumber || c == "_" || c == "."
    }
    var searchStart = text.startIndex
    while let r = text.range(of: word, range: searchStart..<text.endIndex) {
      let before = r.lowerBound == text.startIndex ? nil : text[text.index(before: r.lowerBound)]
      let after = r.upperBound == text.endIndex ? nil : text[r.upperBound]
      // A word that itself starts or ends with such a character needs no boundary there.
      let startOK = !isWordCharacter(word.first) || !isWordCharacter(before)
      let endOK = !isWordCharacter(word.last) || !isWordCharacter(after)
      if startOK && endOK { return true }
      searchStart = text.index(after: r.lowerBound)
    }
    return false
  }
}
