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

/// A new HDF5 file that appears at `path` all at once or not at all. By default (`inMemory`) HDF5
/// builds it in memory and `commit()` writes its bytes to a hidden temporary file in the same
/// directory with plain system calls, fsyncs it, renames it over `path` and fsyncs the directory:
/// a full or read-only file system then fails one `write(2)` with a clear error, never an HDF5
/// flush (HDF5 1.10 cannot close a file whose flush failed without leaving a dangling handle that
/// crashes the process at exit). Files too big for memory (datasets) are written by HDF5 straight
/// into the temporary file instead. Released (or failing) before `commit()`, nothing is left
/// behind, so `path` is never half-written. Use from one thread.
public final class AtomicHDF5File {
    /// The final path, as given.
    public let path: String
    /// The hidden temporary file written by `commit()` (or, not in memory, until it):
    /// `<dir>/.<name>.tmp-<pid>-<random>`.
    public let temporaryPath: String
    /// What sort of file this is, for the errors it throws.
    public let role: FileError.Role
    /// The file being written (in memory, or the temporary file).
    public let file: HDF5File
    /// Whether HDF5 writes to memory and `commit()` writes the bytes out.
    public let inMemory: Bool
    private var finished = false

    /// Creates the file to fill; the directory of `path` must exist and be writable.
    /// `inMemory` defaults to true except for datasets, which may not fit in memory.
    public init(path: String, role: FileError.Role, inMemory: Bool? = nil) throws {
        try AtomicFile.checkDirectory(of: path, role: role)
        let temporary = AtomicFile.temporaryPath(for: path)
        let memory = inMemory ?? (role != .dataset)
        self.path = path
        self.role = role
        self.inMemory = memory
        temporaryPath = temporary
        file = try FileError.mapping(role, file: path) {
            memory
                ? try HDF5File.createInMemory(temporary)
                : try TemporaryFiles.create(temporary) { try HDF5File.create(temporary) }
        }
    }

    deinit { discard() }

    /// Finishes the file (in memory: takes its image, closes it and writes the bytes to the
    /// temporary file; otherwise flushes and closes the temporary file), runs `check` on the closed
    /// temporary file (e.g. to validate it), then fsyncs and renames it over `path` (calling `hook`
    /// just before the rename). On any error the temporary file is removed and `path` is untouched.
    public func commit(
        check: (_ temporaryPath: String) throws -> Void = { _ in },
        hook: AtomicWriteHook? = nil
    ) throws {
        guard !finished else {
            throw FileError(.invalidArgument, role, file: path, "the writer was already committed or discarded")
        }
        finished = true
        do {
            if inMemory {
                let bytes = try FileError.mapping(role, file: path) { () throws -> [UInt8] in
                    defer { try? file.close() }  // in memory: closing cannot fail on I/O
                    return try file.image()
                }
                try bytes.withUnsafeBytes { try AtomicFile.writeNew(temporaryPath, $0, for: path, role: role) }
            } else {
                try FileError.mapping(role, file: path) {
                    try file.flush()
                    try file.close()
                }
                try AtomicFile.fsyncFile(temporaryPath, for: path, role: role)
            }
            try check(temporaryPath)
            try hook?(.beforeRename)
            PausePoint.reached("write:" + URL(fileURLWithPath: path).lastPathComponent)
            try AtomicFile.rename(temporaryPath, to: path, role: role)
        } catch {
            if inMemory { try? file.close() }
            TemporaryFiles.remove(temporaryPath)
            throw error
        }
        AtomicFile.fsyncDirectory(of: path)
    }

    /// Closes and deletes the temporary file without touching `path` (also done on release).
    public func discard() {
        guard !finished else { return }
        finished = true
        try? file.close()
        TemporaryFiles.remove(temporaryPath)
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

    /// Writes `data` to `path` atomically (temporary file in the same directory, fsync, rename,
    /// fsync of the directory): run files such as config.yaml, metrics.jsonl cut back on resume,
    /// loss.svg. On any error `path` is left as it was and no temporary file remains.
    public static func write(_ data: Data, to path: String, role: FileError.Role) throws {
        try checkDirectory(of: path, role: role)
        let temporary = temporaryPath(for: path)
        do {
            try data.withUnsafeBytes { try writeNew(temporary, $0, for: path, role: role) }
            try rename(temporary, to: path, role: role)
        } catch {
            TemporaryFiles.remove(temporary)
            throw error
        }
        fsyncDirectory(of: path)
    }

    /// `write(_:to:role:)` for UTF-8 text.
    /// Appends `data` to the end of `path` (created if missing) in one write, whole or not at all:
    /// a failed or short write (no space left, read-only file system, …) is cut back to the old
    /// end, so a reader never sees a partial record, and is thrown naming `what` could not be appended.
    public static func append(_ data: Data, to path: String, role: FileError.Role, what: String) throws {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o666)
        guard fd >= 0 else { throw FileError.fileSystem(errno: errno, role, file: path, "could not open it to append") }
        defer { close(fd) }
        let start = lseek(fd, 0, SEEK_END)
        #if canImport(Glibc)
            let written = data.withUnsafeBytes { Glibc.write(fd, $0.baseAddress!, $0.count) }
        #else
            let written = data.withUnsafeBytes { Darwin.write(fd, $0.baseAddress!, $0.count) }
        #endif
        guard written == data.count else {
            let code = written < 0 ? errno : ENOSPC  // a short write: the disk filled up
            if start >= 0 { _ = ftruncate(fd, start) }
            throw FileError.fileSystem(errno: code, role, file: path, "could not append \(what)")
        }
    }

    public static func write(_ text: String, to path: String, role: FileError.Role) throws {
        try write(Data(text.utf8), to: path, role: role)
    }

    /// Writes a text file at `path` atomically while `body` produces it piece by piece through
    /// the `append` it is given (buffered, so memory stays flat however long the text is): a
    /// temporary file in the same directory, fsynced and renamed over `path` once `body` returns.
    /// On any error (from `body` too) `path` is left as it was and no temporary file remains.
    public static func writeText(
        to path: String, role: FileError.Role, _ body: (_ append: (String) throws -> Void) throws -> Void
    ) throws {
        try checkDirectory(of: path, role: role)
        let temporary = temporaryPath(for: path)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        guard fd >= 0 else { throw ioError("could not create the temporary file '\(temporary)'", path, role) }
        var open = true
        do {
            var buffer: [UInt8] = []
            buffer.reserveCapacity(1 << 16)
            func flush() throws {
                try buffer.withUnsafeBytes { try writeAll(fd, $0, temporary, for: path, role: role) }
                buffer.removeAll(keepingCapacity: true)
            }
            try body { text in
                buffer.append(contentsOf: text.utf8)
                if buffer.count >= 1 << 16 { try flush() }
            }
            try flush()
            guard fsync(fd) == 0 else { throw ioError("could not fsync '\(temporary)'", path, role) }
            open = false
            guard close(fd) == 0 else { throw ioError("could not close '\(temporary)'", path, role) }
            try rename(temporary, to: path, role: role)
        } catch {
            if open { close(fd) }
            unlink(temporary)
            throw error
        }
        fsyncDirectory(of: path)
    }

    /// Writes all of `bytes` to `fd` (retrying on EINTR and short writes).
    static func writeAll(
        _ fd: Int32, _ bytes: UnsafeRawBufferPointer, _ temporary: String, for path: String, role: FileError.Role
    ) throws {
        var done = 0
        while done < bytes.count {
            #if canImport(Glibc)
                let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            #else
                let n = Darwin.write(fd, bytes.baseAddress! + done, bytes.count - done)
            #endif
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw ioError("could not write \(bytes.count) bytes to '\(temporary)'", path, role) }
            done += n
        }
    }

    /// Creates `temporary` (which must not exist), writes `bytes`, fsyncs and closes it; errors
    /// say what failed about `path` and why (e.g. "no space left on device").
    static func writeNew(
        _ temporary: String, _ bytes: UnsafeRawBufferPointer, for path: String, role: FileError.Role
    ) throws {
        let fd = try TemporaryFiles.create(temporary) {
            let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
            guard fd >= 0 else { throw ioError("could not create the temporary file '\(temporary)'", path, role) }
            return fd
        }
        var done = 0
        while done < bytes.count {
            #if canImport(Glibc)
                let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            #else
                let n = Darwin.write(fd, bytes.baseAddress! + done, bytes.count - done)
            #endif
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let error = ioError("could not write \(bytes.count) bytes to '\(temporary)'", path, role)
                close(fd)
                throw error
            }
            done += n
        }
        guard fsync(fd) == 0 else {
            let error = ioError("could not fsync '\(temporary)'", path, role)
            close(fd)
            throw error
        }
        guard close(fd) == 0 else { throw ioError("could not close '\(temporary)'", path, role) }
    }

    /// Makes `destination` name the same file as `source` atomically (hard link to a temporary name,
    /// then rename); falls back to an fsynced copy where hard links are not supported.
    public static func linkOrCopy(_ source: String, to destination: String, role: FileError.Role) throws {
        try checkDirectory(of: destination, role: role)
        let temporary = temporaryPath(for: destination)
        do {
            try TemporaryFiles.create(temporary) {
                guard link(source, temporary) != 0 else { return }
                do { try FileManager.default.copyItem(atPath: source, toPath: temporary) } catch {
                    throw FileError.fileSystem(error, role, file: destination, "could not copy '\(source)' into place")
                }
                try fsyncFile(temporary, for: destination, role: role)
            }
            try rename(temporary, to: destination, role: role)
        } catch {
            TemporaryFiles.remove(temporary)
            throw error
        }
        fsyncDirectory(of: destination)
    }

    /// Throws unless `out` is a different file from each of `inputs` (what each input is, e.g.
    /// "dataset", and its path): the same file after following symbolic links (same device and
    /// inode, so hard links count too). Every command with `--out` calls this before reading, so
    /// an output never replaces the file it is made from.
    public static func checkOutput(
        _ out: String, isNotAnyOf inputs: [(what: String, path: String)], role: FileError.Role
    ) throws {
        var o = stat()
        guard stat(out, &o) == 0 else { return }  // nothing there yet: it cannot be an input
        for (what, path) in inputs {
            var i = stat()
            guard stat(path, &i) == 0, i.st_dev == o.st_dev, i.st_ino == o.st_ino else { continue }
            let same = path == out ? "" : " '\(path)'"
            throw FileError(
                .invalidArgument, role, file: out,
                "--out is the \(what)\(same): writing it would replace the input it is made from; choose another file")
        }
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
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory) else {
            // stat(2) says why: no such directory, or a parent that is a file (ENOTDIR), …
            var info = stat()
            let code = stat(dir, &info) == 0 ? ENOENT : errno
            if code == ENOENT {
                throw FileError(.io, role, file: path, "cannot write it: the directory '\(dir)' does not exist")
            }
            throw FileError.fileSystem(errno: code, role, file: path, "cannot write it in '\(dir)'")
        }
        guard isDirectory.boolValue else {
            throw FileError(.io, role, file: path, "cannot write it in '\(dir)': that is a file, not a directory")
        }
        guard access(dir, W_OK) == 0 else {
            throw FileError.fileSystem(errno: errno, role, file: path, "cannot write it in '\(dir)'")
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
        let status = TemporaryFiles.rename(from, to: to)
        guard status == 0 else { throw ioError("could not rename the temporary file '\(from)' into place", to, role) }
    }

    /// An `.io` error about `path` ending with errno's explanation.
    private static func ioError(_ what: String, _ path: String, _ role: FileError.Role) -> FileError {
        FileError.fileSystem(errno: errno, role, file: path, what)
    }
}
