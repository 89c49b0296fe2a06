import XCTest
final class LangTestsPlaceholder: XCTestCase { func testBuilds() {} }
