import Foundation
import Builtins
import Lang
import XCTest

/// Every command's own examples run without error (they feed help and the README).
final class ExamplesTests: XCTestCase {
  func testEveryExampleOfEveryCommandRuns() throws {
    let (interp, registry) = makeInterpreter()
    // Examples that save (`save out.csv`) write into a scratch folder, not the checkout.
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("tdb-examples-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    let previous = FileManager.default.currentDirectoryPath
    FileManager.default.changeCurrentDirectoryPath(scratch.path)
    defer {
      FileManager.default.changeCurrentDirectoryPath(previous)
      try? FileManager.default.removeItem(at: scratch)
    }
    var ran = 0
    for command in registry.all {
      for example in command.spec.examples {
        do {
          _ = try interp.evaluate(example, file: "example of \(command.spec.name)")
          ran += 1
        } catch {
          XCTFail("example of \(command.spec.name) failed: \(example)\n\(error)")
        }
      }
    }
    XCTAssertGreaterThan(ran, 40)
  }

  func testEveryCommandDescribesItself() {
    let (_, registry) = makeInterpreter()
    for command in registry.all where !command.isUserDefined {
      XCTAssertFalse(command.spec.summary.isEmpty, command.spec.name)
      XCTAssertFalse(command.spec.examples.isEmpty, "\(command.spec.name) has no example")
    }
  }
}
