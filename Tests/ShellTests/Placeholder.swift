import XCTest
final class ShellTestsPlaceholder: XCTestCase { func testBuilds() {} }
