import Foundation
import HDF5Kit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// File-system plumbing shared by checkpoints, the checkpoint store and weight export:
// atomic replacement (temporary file in the same directory, fsync, rename(2)).

/// Where an atomic write has got to; tests use it to inject failures at each stage.
enum AtomicWriteStage: Sendable, Equatable {
    /// The temporary HDF5 file is open and partly written (called by the content writer).
    case writing
    /// The temporary file is complete, flushed, closed and fsynced; the rename comes next.
    case beforeRename
}

/// A hook called at each `AtomicWriteStage`; throwing from it aborts the write.
typealias AtomicWriteHook = (AtomicWriteStage) throws -> Void

enum AtomicFile {
    /// The hidden temporary name used next to `path`: `<dir>/.<name>.tmp-<pid>-<random>`.
    static func temporaryPath(for path: String) -> String {
        let url = URL(fileURLWithPath: path)
        let random = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        return url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(random)").path
    }

    /// Writes a new HDF5 file at `path` atomically: `body` fills a temporary file in the same
    /// directory, which is flushed, closed, fsynced and renamed over `path`. On any error the
    /// temporary file is removed and `path` is left as it was.
    static func writeHDF5(to path: String, hook: AtomicWriteHook? = nil,
                          _ body: (HDF5File) throws -> Void) throws {
        try checkDirectory(of: path)
        let temporary = temporaryPath(for: path)
        do {
            try fill(temporary, body)
            try fsyncFile(temporary)
            try hook?(.beforeRename)
            try rename(temporary, to: path)
        } catch {
            unlink(temporary)
            throw error
        }
        fsyncDirectory(of: path)
    }

    /// Creates `temporary`, runs `body`, flushes and closes the file. Kept separate so that every
    /// group and dataset `body` opened is released before the file is closed for real.
    private static func fill(_ temporary: String, _ body: (HDF5File) throws -> Void) throws {
        let file = try HDF5File.create(temporary)
        do {
            try body(file)
            try file.flush()
        } catch {
            try? file.close()
            throw error
        }
        try file.close()
    }

    /// Makes `destination` name the same file as `source` atomically (hard link to a temporary name,
    /// then rename); falls back to an fsynced copy where hard links are not supported.
    static func linkOrCopy(_ source: String, to destination: String) throws {
        try checkDirectory(of: destination)
        let temporary = temporaryPath(for: destination)
        do {
            if link(source, temporary) != 0 {
                try FileManager.default.copyItem(atPath: source, toPath: temporary)
                try fsyncFile(temporary)
            }
            try rename(temporary, to: destination)
        } catch {
            unlink(temporary)
            throw error
        }
        fsyncDirectory(of: destination)
    }

    /// Throws a clear error unless the directory that will hold `path` exists and is writable.
    static func checkDirectory(of path: String) throws {
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CheckpointError(.io, file: path, object: nil, "cannot write it: the directory '\(dir)' does not exist")
        }
        guard access(dir, W_OK) == 0 else {
            throw CheckpointError(.io, file: path, object: nil, "cannot write it: the directory '\(dir)' is not writable")
        }
    }

    /// fsync(2) on a file, so its contents are on disk before it is renamed into place.
    static func fsyncFile(_ path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw ioError("could not open '\(path)' to fsync it") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw ioError("could not fsync '\(path)'") }
    }

    /// fsync(2) on the directory holding `path`, making a rename durable (best effort).
    static func fsyncDirectory(of path: String) {
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
        let fd = open(dir, O_RDONLY)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    /// rename(2), atomic within one file system.
    static func rename(_ from: String, to: String) throws {
        #if canImport(Glibc)
        let status = Glibc.rename(from, to)
        #else
        let status = Darwin.rename(from, to)
        #endif
        guard status == 0 else {
            throw ioError("could not rename '\(from)' to '\(to)'")
        }
    }

    private static func ioError(_ what: String) -> CheckpointError {
        CheckpointError(.io, file: nil, object: nil, "\(what): \(String(cString: strerror(errno)))")
    }
}
