import HDF5Kit
import XCTest

final class VersionTests: XCTestCase {
    func testLibraryIsHDF5_1_10() {
        XCTAssertTrue(HDF5Kit.libraryVersion.hasPrefix("1.10."), HDF5Kit.libraryVersion)
    }
}
