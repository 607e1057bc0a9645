import Foundation
import HDF5Kit
import XCTest

final class ErrorTests: HDF5TestCase {

    func testOpeningMissingFileThrowsNotFoundNamingThePath() throws {
        let p = path("does-not-exist.h5")
        assertHDF5Error(.notFound, mentions: [p, "open file"]) { try HDF5File.open(p) }
    }

    func testOpeningNonHDF5FileThrowsNamingThePath() throws {
        let p = path("notes.txt")
        try "this is not an HDF5 file\n".write(toFile: p, atomically: true, encoding: .utf8)
        assertHDF5Error(.notHDF5, mentions: [p, "not an HDF5 file"]) { try HDF5File.open(p, mode: .readWrite) }
    }

    func testCreatingFileInMissingDirectoryReportsHDF5sOwnMessage() throws {
        let p = path("no/such/dir/x.h5")
        let error = assertHDF5Error(.library, mentions: [p, "create file"]) { try HDF5File.create(p) }
        XCTAssertFalse(error?.hdf5Messages.isEmpty ?? true, "HDF5's error stack should have been collected")
        XCTAssertTrue(error?.description.contains("H5Fcreate") ?? false, "\(String(describing: error))")
    }

    func testOpeningMissingDatasetNamesItAndTheFile() throws {
        let p = path("f.h5")
        let f = try HDF5File.create(p)
        try f.root.createGroup("train")
        assertHDF5Error(.notFound, mentions: ["/train/inputs", p]) { try f.root.openDataset("train/inputs") }
        assertHDF5Error(.notFound, mentions: ["/train/inputs"]) {
            try f.root.openGroup("train").openDataset("inputs")
        }
        assertHDF5Error(.notFound, mentions: ["/nope"]) { try f.root.openGroup("nope") }
    }

    func testOpeningGroupAsDatasetAndViceVersaThrowsTypeMismatch() throws {
        let f = try HDF5File.create(path("kinds.h5"))
        try f.root.createGroup("g")
        try f.root.write("d", [Float(1)])
        assertHDF5Error(.typeMismatch, mentions: ["/g", "group, not a dataset"]) { try f.root.openDataset("g") }
        assertHDF5Error(.typeMismatch, mentions: ["/d", "dataset, not a group"]) { try f.root.openGroup("d") }
    }

    func testReadingWithWrongElementTypeThrowsInsteadOfConverting() throws {
        let f = try HDF5File.create(path("types.h5"))
        let ds = try f.root.write("x", [Double(1), 2, 3])
        assertHDF5Error(.typeMismatch, mentions: ["/x", "float64", "Float"]) { try ds.read(as: Float.self) }
        assertHDF5Error(.typeMismatch, mentions: ["/x", "float64", "Int32"]) { try ds.readRows(0..<1, as: Int32.self) }
        assertHDF5Error(.typeMismatch, mentions: ["/x"]) { try ds.readRows(indices: [0], as: Float.self) }
        assertHDF5Error(.typeMismatch, mentions: ["/x", "written"]) { try ds.write([Float(1), 2, 3]) }
        XCTAssertEqual(try ds.read(as: Double.self), [1, 2, 3])
    }

    func testWriteWithWrongCountThrowsNamingShape() throws {
        let f = try HDF5File.create(path("count.h5"))
        let ds = try f.root.createDataset("x", of: Int32.self, shape: [2, 3])
        assertHDF5Error(.shapeMismatch, mentions: ["/x", "5 values", "[2, 3]"]) {
            try ds.write([Int32](repeating: 0, count: 5))
        }
        assertHDF5Error(.shapeMismatch, mentions: ["/x", "4 values"]) {
            try ds.writeRows([Int32](repeating: 0, count: 4), at: 0)
        }
        assertHDF5Error(.shapeMismatch, mentions: ["/y", "[2, 2]"]) {
            try f.root.write("y", [Int32(1), 2, 3], shape: [2, 2])
        }
        XCTAssertFalse(f.root.exists("y"), "a failed convenience write must not leave a dataset behind")
    }

    func testOutOfRangeRowsAndSlabsThrowNamingDatasetAndShapes() throws {
        let f = try HDF5File.create(path("range.h5"))
        let ds = try f.root.write("m", [Float](repeating: 1, count: 10), shape: [5, 2])
        assertHDF5Error(.outOfRange, mentions: ["/m", "3..<9", "[5, 2]"]) { try ds.readRows(3..<9, as: Float.self) }
        assertHDF5Error(.outOfRange, mentions: ["/m", "row index 7", "[5, 2]"]) {
            try ds.readRows(indices: [1, 7], as: Float.self)
        }
        assertHDF5Error(.outOfRange, mentions: ["/m", "row index -1"]) {
            try ds.readRows(indices: [-1], as: Float.self)
        }
        assertHDF5Error(.outOfRange, mentions: ["/m", "[4, 1]", "[2, 2]", "[5, 2]"]) {
            try ds.read(offset: [4, 1], count: [2, 2], as: Float.self)
        }
        assertHDF5Error(.shapeMismatch, mentions: ["/m", "[0]"]) {
            try ds.read(offset: [0], count: [1], as: Float.self)
        }
        assertHDF5Error(.outOfRange, mentions: ["/m", "4..<6"]) {
            try ds.writeRows([Float](repeating: 0, count: 4), at: 4)
        }
    }

    func testWritingToReadOnlyFileFailsWithHDF5Messages() throws {
        let p = path("ro.h5")
        do {
            let f = try HDF5File.create(p)
            try f.root.write("x", [Int64(1)])
        }
        let f = try HDF5File.open(p, mode: .readOnly)
        let error = assertHDF5Error(.library, mentions: [p, "/x"]) { try f.root.openDataset("x").write([Int64(2)]) }
        XCTAssertFalse(error?.hdf5Messages.isEmpty ?? true)
        assertHDF5Error(.library, mentions: [p, "/@a"]) { try f.root.setAttribute("a", 1) }
    }

    func testUsingAClosedHandleThrowsClosed() throws {
        let f = try HDF5File.create(path("closed.h5"))
        let ds = try f.root.write("x", [Float(1)])
        ds.close()
        XCTAssertFalse(ds.isOpen)
        assertHDF5Error(.closed, mentions: ["/x"]) { try ds.read(as: Float.self) }
        try f.close()
        assertHDF5Error(.closed, mentions: [path("closed.h5")]) { try f.flush() }
    }

    func testErrorDescriptionNamesOperationObjectFileAndReason() {
        let error = HDF5Error(
            kind: .notFound, operation: "open dataset", filePath: "/tmp/a.h5",
            objectPath: "/train/x", reason: "no dataset with this name exists",
            hdf5Messages: ["H5Dopen2(): not found"])
        XCTAssertEqual(
            error.description,
            "HDF5 open dataset failed for '/train/x' in file '/tmp/a.h5': no dataset with this name exists [HDF5: H5Dopen2(): not found]"
        )
    }

    func testHDF5DoesNotDumpItsErrorStackToStderrOnAnyThread() throws {
        // HDF5's automatic error printer is per thread in thread-safe builds (as Debian's is), so
        // provoke library failures on this thread and on a fresh one while stderr goes to a file.
        let capture = path("stderr.txt")
        _ = FileManager.default.createFile(atPath: capture, contents: nil)
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: capture))
        fflush(nil)
        let savedStderr = dup(STDERR_FILENO)
        dup2(handle.fileDescriptor, STDERR_FILENO)
        let missingDirectory = path("no/such/dir/x.h5")
        _ = try? HDF5File.create(missingDirectory)
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            _ = try? HDF5File.create(missingDirectory)
            done.signal()
        }
        thread.start()
        done.wait()
        fflush(nil)
        dup2(savedStderr, STDERR_FILENO)
        close(savedStderr)
        try handle.close()
        let output = try String(contentsOfFile: capture, encoding: .utf8)
        XCTAssertFalse(output.contains("HDF5-DIAG"), "HDF5 printed to stderr:\n\(output)")
    }
}
