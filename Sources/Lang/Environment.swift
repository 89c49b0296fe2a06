/// One lexical scope: variables and a link to the enclosing scope.
///
/// Small scopes search a short array (most scopes hold one to three names);
/// scopes that grow past a few names add a dictionary index.
final class Environment {
  let parent: Environment?
  private var names: [String] = []
  private var values: [Value] = []
  private var index: [String: Int]? = nil

  init(parent: Environment?) {
    self.parent = parent
  }

  private func slot(_ name: String) -> Int? {
    if let index { return index[name] }
    for i in names.indices where names[i] == name { return i }
    return nil
  }

  /// Binds `name` in this scope (a second `let` of the same name replaces it).
  func define(_ name: String, _ value: Value) {
    if let i = slot(name) {
      values[i] = value
      return
    }
    names.append(name)
    values.append(value)
    if index != nil {
      index![name] = names.count - 1
    } else if names.count > 8 {
      var d: [String: Int] = [:]
      for (i, n) in names.enumerated() { d[n] = i }
      index = d
    }
  }

  /// The value of the innermost binding of `name`.
  func lookup(_ name: String) -> Value? {
    var env: Environment? = self
    while let e = env {
      if let i = e.slot(name) { return e.values[i] }
      env = e.parent
    }
    return nil
  }

  /// Rebinds the innermost binding of `name`; false if there is none.
  func assign(_ name: String, _ value: Value) -> Bool {
    var env: Environment? = self
    while let e = env {
      if let i = e.slot(name) {
        e.values[i] = value
        return true
      }
      env = e.parent
    }
    return false
  }

  /// Applies `body` to `name` in this scope only; false if it is not bound here.
  func modifyLocal(_ name: String, _ body: (inout Value) throws -> Void) throws -> Bool {
    guard let i = slot(name) else { return false }
    try body(&values[i])
    return true
  }

  /// Every name visible from this scope, innermost first, without duplicates.
  var visibleNames: [String] {
    var seen = Set<String>()
    var out: [String] = []
    var env: Environment? = self
    while let e = env {
      for n in e.names where !seen.contains(n) {
        seen.insert(n)
        out.append(n)
      }
      env = e.parent
    }
    return out
  }
}
