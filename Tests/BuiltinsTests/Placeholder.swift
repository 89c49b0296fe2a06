import XCTest
final class BuiltinsTestsPlaceholder: XCTestCase { func testBuilds() {} }
