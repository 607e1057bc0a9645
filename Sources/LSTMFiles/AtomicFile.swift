import Foundation
import HDF5Kit

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where an atomic write has got to; tests use it to inject failures at each stage.
public enum AtomicWriteStage: Sendable, Equatable {
    /// The temporary HDF5 file is open and partly written (called by the content writer).
    case writing
    /// The temporary file is complete, flushed, closed and fsynced; the rename comes next.
    case beforeRename
}

/// A hook called at each `AtomicWriteStage`; throwing from it aborts the write.
public typealias AtomicWriteHook = (AtomicWriteStage) throws -> Void

/// A new HDF5 file that appears at `path` all at once or not at all: it is written under a hidden
/// temporary name in the same directory, then `commit()` flushes, closes and fsyncs it, renames it
/// over `path` and fsyncs the directory. Released (or failing) before `commit()`, it deletes the
/// temporary file, so `path` is never left half-written. Use from one thread.
public final class AtomicHDF5File {
    /// The final path, as given.
    public let path: String
    /// The hidden temporary file written until `commit()`: `<dir>/.<name>.tmp-<pid>-<random>`.
    public let temporaryPath: String
    /// What sort of file this is, for the errors it throws.
    public let role: FileError.Role
    /// The temporary file, open for writing.
    public let file: HDF5File
    private var finished = false

    /// Creates the temporary file next to `path`; the directory must exist and be writable.
    public init(path: String, role: FileError.Role) throws {
        try AtomicFile.checkDirectory(of: path, role: role)
        let temporary = AtomicFile.temporaryPath(for: path)
        self.path = path
        self.role = role
        temporaryPath = temporary
        file = try FileError.mapping(role, file: path) { try HDF5File.create(temporary) }
    }

    deinit { discard() }

    /// Flushes and closes the file, runs `check` on the closed temporary file (e.g. to validate
    /// it), then fsyncs and renames it over `path` (calling `hook` just before the rename). On any
    /// error the temporary file is removed.
    public func commit(
        check: (_ temporaryPath: String) throws -> Void = { _ in },
        hook: AtomicWriteHook? = nil
    ) throws {
        guard !finished else {
            throw FileError(.invalidArgument, role, file: path, "the writer was already committed or discarded")
        }
        finished = true
        do {
            try FileError.mapping(role, file: path) {
                try file.flush()
                try file.close()
            }
            try check(temporaryPath)
            try AtomicFile.fsyncFile(temporaryPath, for: path, role: role)
            try hook?(.beforeRename)
            try AtomicFile.rename(temporaryPath, to: path, role: role)
        } catch {
            unlink(temporaryPath)
            throw error
        }
        AtomicFile.fsyncDirectory(of: path)
    }

    /// Closes and deletes the temporary file without touching `path` (also done on release).
    public func discard() {
        guard !finished else { return }
        finished = true
        try? file.close()
        unlink(temporaryPath)
    }
}

/// Atomic replacement of files (temporary file in the same directory, fsync, rename(2), fsync of
/// the directory), shared by checkpoints, weights, datasets and prediction files.
public enum AtomicFile {
    /// Writes a new HDF5 file at `path` atomically: `body` fills the temporary file, which is then
    /// committed (see `AtomicHDF5File`). On any error `path` is left as it was.
    public static func writeHDF5(
        to path: String, role: FileError.Role, hook: AtomicWriteHook? = nil,
        _ body: (HDF5File) throws -> Void
    ) throws {
        let writer = try AtomicHDF5File(path: path, role: role)
        do { try body(writer.file) } catch {
            writer.discard()
            throw error
        }
        try writer.commit(hook: hook)  // after `body` returned, so every object it opened is released
    }

    /// Makes `destination` name the same file as `source` atomically (hard link to a temporary name,
    /// then rename); falls back to an fsynced copy where hard links are not supported.
    public static func linkOrCopy(_ source: String, to destination: String, role: FileError.Role) throws {
        try checkDirectory(of: destination, role: role)
        let temporary = temporaryPath(for: destination)
        do {
            if link(source, temporary) != 0 {
                do { try FileManager.default.copyItem(atPath: source, toPath: temporary) } catch {
                    throw FileError(
                        .io, role, file: destination,
                        "could not copy '\(source)' into place: \(error.localizedDescription)")
                }
                try fsyncFile(temporary, for: destination, role: role)
            }
            try rename(temporary, to: destination, role: role)
        } catch {
            unlink(temporary)
            throw error
        }
        fsyncDirectory(of: destination)
    }

    /// The hidden temporary name used next to `path`: `<dir>/.<name>.tmp-<pid>-<random>`.
    static func temporaryPath(for path: String) -> String {
        let url = URL(fileURLWithPath: path)
        let random = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        return url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(random)").path
    }

    /// Throws a clear error unless the directory that will hold `path` exists and is writable.
    static func checkDirectory(of path: String, role: FileError.Role) throws {
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw FileError(.io, role, file: path, "cannot write it: the directory '\(dir)' does not exist")
        }
        guard access(dir, W_OK) == 0 else {
            throw FileError(.io, role, file: path, "cannot write it: the directory '\(dir)' is not writable")
        }
    }

    /// fsync(2) on `temporary`, so its contents are on disk before it is renamed to `path`.
    static func fsyncFile(_ temporary: String, for path: String, role: FileError.Role) throws {
        let fd = open(temporary, O_RDONLY)
        guard fd >= 0 else { throw ioError("could not open '\(temporary)' to fsync it", path, role) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw ioError("could not fsync '\(temporary)'", path, role) }
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
    static func rename(_ from: String, to: String, role: FileError.Role) throws {
        #if canImport(Glibc)
            let status = Glibc.rename(from, to)
        #else
            let status = Darwin.rename(from, to)
        #endif
        guard status == 0 else { throw ioError("could not rename the temporary file '\(from)' into place", to, role) }
    }

    /// An `.io` error about `path` ending with errno's explanation.
    private static func ioError(_ what: String, _ path: String, _ role: FileError.Role) -> FileError {
        FileError(.io, role, file: path, "\(what): \(String(cString: strerror(errno)))")
    }
}
