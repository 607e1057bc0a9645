import Foundation
import HDF5Kit
import LSTMFiles
import XCTest

/// FileError's one-line messages and HDF5 mapping, and the atomic writer's all-or-nothing files.
final class LSTMFilesTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory =
            FileManager.default.temporaryDirectory
            .appendingPathComponent("lstm-files-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func testDescriptionsNameTheFileTheObjectAndTheReason() {
        XCTAssertEqual(
            FileError(.missing, .checkpoint, file: "c.h5", object: "/parameters", "missing").description,
            "checkpoint 'c.h5': /parameters: missing")
        XCTAssertEqual(FileError(.io, .weights, file: nil, "failed").description, "weights file: failed")
        XCTAssertEqual(
            FileError(.shapeMismatch, .dataset, file: "d.h5", object: "train/inputs", "bad").description,
            "d.h5: train/inputs: bad")
        XCTAssertEqual(FileError(.io, .predictions, file: "p.h5", "bad").errorDescription, "p.h5: bad")
    }

    func testHDF5ErrorsMapByKindAndKeepTheirReason() throws {
        let missing = directory + "/none.h5"
        let openMissing = { _ = try HDF5File.open(missing) }
        XCTAssertThrowsError(try FileError.mapping(.checkpoint, file: missing, openMissing)) { error in
            let e = error as? FileError
            XCTAssertEqual(e?.kind, .notFound)
            XCTAssertEqual(e?.file, missing)
            XCTAssertEqual(e?.message, "open file failed: no such file")
        }
        let text = directory + "/text.h5"
        try Data("not hdf5".utf8).write(to: URL(fileURLWithPath: text))
        XCTAssertThrowsError(try FileError.mapping(.weights, file: text) { try HDF5File.open(text) }) { error in
            XCTAssertEqual((error as? FileError)?.kind, .wrongFormat)
        }
        struct Other: Error {}
        XCTAssertThrowsError(try FileError.mapping(.dataset, file: text) { throw Other() }) { error in
            XCTAssertTrue(error is Other, "other errors pass through")
        }
    }

    func testAtomicWriteReplacesTheFileOnlyWhenComplete() throws {
        let path = directory + "/out.h5"
        try AtomicFile.writeHDF5(to: path, role: .predictions) { file in try file.root.setAttribute("v", 1) }
        struct Injected: Error {}
        XCTAssertThrowsError(
            try AtomicFile.writeHDF5(to: path, role: .predictions) { file in
                try file.root.setAttribute("v", 2)
                throw Injected()
            })
        let file = try HDF5File.open(path)
        XCTAssertEqual(try file.root.attribute("v", as: Int.self), 1, "a failed write leaves the old file")
        try file.close()
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: directory), ["out.h5"],
            "no temporary file left")
    }

    func testWritingIntoAMissingDirectorySaysSo() {
        XCTAssertThrowsError(try AtomicHDF5File(path: directory + "/no/such/x.h5", role: .dataset)) { error in
            let e = error as? FileError
            XCTAssertEqual(e?.kind, .io)
            XCTAssertTrue(e?.description.contains("does not exist") == true, "\(error)")
        }
    }

    func testAStreamingWriterReleasedBeforeCommitLeavesNothing() throws {
        do {
            let writer = try AtomicHDF5File(path: directory + "/s.h5", role: .dataset)
            try writer.file.root.setAttribute("v", 1)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), [])
    }
}
