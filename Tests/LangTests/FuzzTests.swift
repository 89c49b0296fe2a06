import XCTest

@testable import Lang

/// Random input must never crash the scanner, parser or interpreter: errors are fine.
final class FuzzTests: XCTestCase {
  /// xorshift64*: a fixed-seed generator so failures reproduce.
  struct Rng {
    var state: UInt64
    mutating func next() -> UInt64 {
      state ^= state >> 12
      state ^= state << 25
      state ^= state >> 27
      return state &* 2_685_821_657_736_338_717
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
  }

  static let soup = [
    "let", "def", "if", "else", "for", "in", "while", "break", "continue", "return", "true",
    "false", "null", "and", "or", "not", "x", "y", "f", "xs", "echo", "print", "keep", "run",
    "grid", "L1H2", "blocks.3.hook_resid_pre", "r.a", "$x", "$_", "$1", "$args", "0", "1", "2",
    "-1", "1.5", "1e3", "\"s\"", "\"a $x b\"", "\"$(x + 1)\"", "'raw'", "+", "-", "*", "/", "%",
    "==", "!=", "<", "<=", ">", ">=", "=", "+=", "!", "&&", "||", "|", "..", ".", ",", ":", ";",
    "(", ")", "[", "]", "{", "}", "{ |x|", "--top", "--desc", "\n", " ", "#c\n", "\\\n",
  ]

  func run(_ text: String, _ h: Harness) {
    do {
      _ = try h.interpreter.evaluate(text, file: "fuzz")
    } catch is LangError {
    } catch {
      XCTFail("\(text): unexpected error \(error)")
    }
  }

  func testRandomBytes() {
    var rng = Rng(state: 0x9E37_79B9_7F4A_7C15)
    let h = Harness()
    for _ in 0..<2000 {
      let n = rng.below(60)
      var bytes: [UInt8] = []
      for _ in 0..<n {
        // Mostly printable ASCII, some arbitrary bytes.
        bytes.append(rng.below(8) == 0 ? UInt8(rng.below(256)) : UInt8(32 + rng.below(95)))
      }
      run(String(decoding: bytes, as: UTF8.self), h)
    }
  }

  func testTokenSoup() {
    var rng = Rng(state: 42)
    let h = Harness()
    h.interpreter.maxCallDepth = 200
    for _ in 0..<4000 {
      let n = 1 + rng.below(25)
      var text = ""
      for _ in 0..<n {
        text += Self.soup[rng.below(Self.soup.count)]
        text += rng.below(3) == 0 ? "" : " "
      }
      // Loops that never end are possible: let the interrupt flag stop them.
      let deadline = DispatchTime.now() + .milliseconds(200)
      let watchdog = DispatchWorkItem { Interrupt.requested = true }
      DispatchQueue.global().asyncAfter(deadline: deadline, execute: watchdog)
      run(text, h)
      watchdog.cancel()
      Interrupt.requested = false
    }
  }

  func testStructuredPrograms() {
    // Well-formed statements with random pieces, so evaluation gets deep.
    var rng = Rng(state: 7)
    let atoms = [
      "1", "-2", "\"s\"", "[1, 2]", "{a: 1}", "null", "true", "x", "xs", "(echo 1)", "grid",
    ]
    let ops = ["+", "-", "*", "/", "%", "==", "<", "and", "..", "|"]
    let h = Harness()
    for _ in 0..<2000 {
      var e = atoms[rng.below(atoms.count)]
      for _ in 0..<rng.below(6) {
        let op = ops[rng.below(ops.count)]
        let rhs =
          op == "|" ? ["echo", "keep it", "echo 1"][rng.below(3)] : atoms[rng.below(atoms.count)]
        e = rng.below(2) == 0 ? "\(e) \(op) \(rhs)" : "(\(e)) \(op) \(rhs)"
      }
      let wrappers = [
        "let x = E", "xs = E", "E[0]", "E[1:2]", "E.a", "if E { 1 }", "for v in E { v }", "print E",
      ]
      let program =
        "let x = 1; let xs = [1, 2, 3]\n"
        + wrappers[rng.below(wrappers.count)].replacingOccurrences(of: "E", with: e)
      run(program, h)
    }
  }
}
