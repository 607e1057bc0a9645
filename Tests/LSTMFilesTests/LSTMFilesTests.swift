import Foundation
import HDF5Kit
import LSTMFiles
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

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

/// The one mapping from errno, POSIXError and Foundation's CocoaError to words (FileError.fileSystem).
final class FileSystemMessageTests: XCTestCase {
    func testErrnoValuesBecomeWordsAndKinds() {
        let cases: [(Int32, FileError.Kind, String)] = [
            (ENOSPC, .noSpace, "no space left on device"), (EROFS, .readOnly, "the file system is read-only"),
            (EACCES, .permissionDenied, "permission denied"), (EPERM, .permissionDenied, "permission denied"),
            (ENOTDIR, .io, "a parent of the path is a file, not a directory"),
            (EEXIST, .io, "a file already exists there"), (ENOENT, .notFound, "no such file or directory"),
            (EISDIR, .io, "the path is a directory, not a file")
        ]
        for (code, kind, words) in cases {
            let e = FileError.fileSystem(errno: code, .run, file: "/r/metrics.jsonl", "could not append a record")
            XCTAssertEqual(e.kind, kind, "errno \(code)")
            XCTAssertEqual(e.description, "/r/metrics.jsonl: could not append a record: \(words)")
        }
    }

    func testCocoaErrorsSayWhyNotTheirDomainAndCode() {
        // What FileManager throws on Linux: CocoaError 512 with the errno underneath …
        let underlying = NSError(domain: NSPOSIXErrorDomain, code: Int(EROFS))
        let cocoa = NSError(
            domain: NSCocoaErrorDomain, code: 512,
            userInfo: [NSFilePathErrorKey: "/ro/run", NSUnderlyingErrorKey: underlying])
        let e = FileError.fileSystem(cocoa, .checkpoint, file: "/ro/run", "could not create the checkpoint directory")
        XCTAssertEqual(e.kind, .readOnly)
        XCTAssertEqual(
            e.description,
            "checkpoint '/ro/run': could not create the checkpoint directory: the file system is read-only")
        // … or a bare code such as 642 ("The volume is read only."), or a POSIXError.
        let bare = FileError.fileSystem(CocoaError(.fileWriteVolumeReadOnly), .run, file: "/ro/x", "could not write it")
        XCTAssertEqual(bare.description, "/ro/x: could not write it: the file system is read-only")
        XCTAssertEqual(
            FileError.fileSystem(CocoaError(.fileWriteOutOfSpace), .run, file: "f", "w").kind, .noSpace)
        XCTAssertEqual(
            FileError.fileSystem(POSIXError(.EACCES), .run, file: "f", "w").description, "f: w: permission denied")
        for error in [bare, e] { XCTAssertFalse(error.description.contains("NSCocoaErrorDomain"), "\(error)") }
    }

    func testARealFailureIsMapped() throws {
        // A directory under a regular file: FileManager fails with ENOTDIR underneath.
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("lstm-fs-\(UUID().uuidString)")
        try Data("x".utf8).write(to: base)
        defer { try? FileManager.default.removeItem(at: base) }
        let target = base.appendingPathComponent("run").path
        XCTAssertThrowsError(try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true))
        { error in
            let e = FileError.fileSystem(error, .run, file: target, "could not create it")
            XCTAssertEqual(
                e.description, "\(target): could not create it: a parent of the path is a file, not a directory")
        }
        XCTAssertThrowsError(try AtomicFile.write("text", to: target + "/config.yaml", role: .run)) { error in
            XCTAssertTrue("\(error)".contains("not a directory"), "\(error)")
        }
    }

    func testInMemoryHDF5FilesAreWrittenOutWhole() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lstm-mem-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("c.h5").path
        let writer = try AtomicHDF5File(path: path, role: .checkpoint)
        XCTAssertTrue(writer.inMemory)
        try writer.file.root.write("x", [Float](repeating: 1.5, count: 1000), shape: [1000])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [], "nothing on disk yet")
        try writer.commit()
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["c.h5"])
        let file = try HDF5File.open(path)
        XCTAssertEqual(try file.root.openDataset("x").read(as: Float.self), [Float](repeating: 1.5, count: 1000))
        try file.close()
        XCTAssertFalse(try AtomicHDF5File(path: path, role: .dataset).inMemory, "datasets go straight to disk")
    }
}
