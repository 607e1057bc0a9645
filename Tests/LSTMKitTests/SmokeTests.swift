import XCTest
import LSTMKit
final class SmokeTests: XCTestCase { func testVersion() { XCTAssertEqual(LSTMKitVersion.string, "0.1.0") } }
