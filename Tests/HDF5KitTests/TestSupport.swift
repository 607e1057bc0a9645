import Foundation
import HDF5Kit
import XCTest

/// Base class giving each test its own temporary directory, removed afterwards.
class HDF5TestCase: XCTestCase {
    private(set) var directory: URL!

    override func setUpWithError() throws {
        try super.setUpWithError()
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("HDF5KitTests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let directory { try? FileManager.default.removeItem(at: directory) }
        try super.tearDownWithError()
    }

    /// A path inside this test's temporary directory.
    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Asserts that `body` throws an `HDF5Error` of `kind` whose description mentions every string in `mentions`.
    @discardableResult
    func assertHDF5Error<R>(
        _ kind: HDF5Error.Kind, mentions: [String],
        file: StaticString = #filePath, line: UInt = #line,
        _ body: () throws -> R
    ) -> HDF5Error? {
        do {
            _ = try body()
            XCTFail("expected an HDF5Error of kind \(kind), but nothing was thrown", file: file, line: line)
            return nil
        } catch let error as HDF5Error {
            XCTAssertEqual(error.kind, kind, "\(error)", file: file, line: line)
            for text in mentions {
                XCTAssertTrue(
                    error.description.contains(text),
                    "error description does not mention '\(text)': \(error)", file: file, line: line)
            }
            return error
        } catch {
            XCTFail("expected an HDF5Error, got \(error)", file: file, line: line)
            return nil
        }
    }
}
