import LSTMData
import XCTest

final class LSTMDataVersionTests: XCTestCase {
    func testUsesHDF5_1_10() { XCTAssertTrue(LSTMData.hdf5Version.hasPrefix("1.10.")) }
}
