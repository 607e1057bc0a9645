import CHDF5
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An open HDF5 file. Owns the file handle (closed in `deinit` or by `close()`) and its root group.
/// Objects opened from the file keep the file itself open in HDF5 until they are released too.
public final class HDF5File: @unchecked Sendable {
    /// How to open an existing file.
    public enum Mode: Sendable, Equatable {
        /// Reading only; any write throws.
        case readOnly
        /// Reading and writing.
        case readWrite
    }

    /// The file's path, exactly as given to `create` or `open`.
    public let path: String
    /// The mode the file was opened in (`.readWrite` for created files).
    public let mode: Mode
    /// The root group "/"; attributes set on it are the file's attributes.
    public let root: HDF5Group

    /// The HDF5 file id; `invalidID` once closed. Only touched under the HDF5 lock.
    private var fid: hid_t

    private init(fid: hid_t, path: String, mode: Mode, ctx: Context) throws {
        self.fid = fid
        self.path = path
        self.mode = mode
        let gid = H5Gopen2(fid, "/", defaultPlist)
        if gid < 0 {
            let error = ctx.libraryError("could not open the root group")
            _ = H5Fclose(fid)
            throw error
        }
        self.root = HDF5Group(id: gid, kind: .group, filePath: path, path: "/")
    }

    /// Creates a new, empty HDF5 file at `path`, truncating any existing file there.
    public static func create(_ path: String) throws -> HDF5File {
        let ctx = Context(operation: "create file", filePath: path, objectPath: nil)
        return try hdf5Locked {
            let fid = H5Fcreate(path, H5F_ACC_TRUNC, defaultPlist, defaultPlist)
            if fid < 0 { throw ctx.libraryError("could not create the file") }
            return try HDF5File(fid: fid, path: path, mode: .readWrite, ctx: ctx)
        }
    }

    /// Creates a new, empty HDF5 file held in memory only (HDF5's core driver without a backing
    /// store): nothing touches the disk, so no write can fail on a full or read-only file system and
    /// closing always succeeds. `image()` returns its bytes; `path` only names it in errors.
    public static func createInMemory(_ path: String, increment: Int = 1 << 20) throws -> HDF5File {
        let ctx = Context(operation: "create file", filePath: path, objectPath: nil)
        return try hdf5Locked {
            let fapl = try ctx.check(H5Pcreate(H5P_FILE_ACCESS), "could not create a file access list")
            defer { _ = H5Pclose(fapl) }
            try ctx.check(H5Pset_fapl_core(fapl, increment, false), "could not select the in-memory driver")
            let fid = H5Fcreate(path, H5F_ACC_TRUNC, defaultPlist, fapl)
            if fid < 0 { throw ctx.libraryError("could not create the file in memory") }
            return try HDF5File(fid: fid, path: path, mode: .readWrite, ctx: ctx)
        }
    }

    /// The file's bytes as they would be on disk (H5Fget_file_image), after flushing it; for
    /// files made by `createInMemory`, which are then written out by the caller.
    public func image() throws -> [UInt8] {
        let ctx = Context(operation: "read file image", filePath: path, objectPath: nil)
        return try hdf5Locked {
            guard fid >= 0 else { throw ctx.error(.closed, "the file was already closed") }
            try ctx.check(H5Fflush(fid, H5F_SCOPE_GLOBAL), "could not flush the file")
            let size = try ctx.check(H5Fget_file_image(fid, nil, 0), "could not size the file image")
            var bytes = [UInt8](repeating: 0, count: Int(size))
            let copied = bytes.withUnsafeMutableBytes { H5Fget_file_image(fid, $0.baseAddress, Int(size)) }
            guard copied == size else { throw ctx.libraryError("could not copy the file image") }
            return bytes
        }
    }

    /// Opens an existing HDF5 file; throws `.notFound` if it is missing, `.notRegularFile` if it
    /// is a directory, FIFO, device or socket, `.notHDF5` if it is not HDF5.
    public static func open(_ path: String, mode: Mode = .readOnly) throws -> HDF5File {
        let ctx = Context(operation: "open file", filePath: path, objectPath: nil)
        try checkRegularFile(path, ctx)
        return try hdf5Locked {
            let isHDF5 = H5Fis_hdf5(path)
            if isHDF5 == 0 {
                _ = takeErrorStack()
                throw ctx.error(.notHDF5, "not an HDF5 file (no HDF5 signature found)")
            }
            if isHDF5 < 0 { throw ctx.libraryError("could not check whether the file is HDF5") }
            let flags = mode == .readOnly ? H5F_ACC_RDONLY : H5F_ACC_RDWR
            let fid = H5Fopen(path, flags, defaultPlist)
            if fid < 0 { throw ctx.libraryError("could not open the file") }
            return try HDF5File(fid: fid, path: path, mode: mode, ctx: ctx)
        }
    }

    /// The check `open` makes first, for callers that read a file's first bytes themselves before
    /// opening it as HDF5 (e.g. to tell HDF5 from safetensors): one message for every entry point.
    public static func requireRegularFile(_ path: String) throws {
        try checkRegularFile(path, Context(operation: "open file", filePath: path, objectPath: nil))
    }

    /// Throws `.notFound` unless `path` exists, and `.notRegularFile` unless it is a regular file
    /// (after following symbolic links): HDF5 would block forever reading a FIFO or a terminal,
    /// and a directory or device is never a file of ours. The one check every open goes through.
    static func checkRegularFile(_ path: String, _ ctx: Context) throws {
        var info = stat()
        guard stat(path, &info) == 0 else {
            let code = errno
            if code == ENOENT { throw ctx.error(.notFound, "no such file") }
            throw ctx.error(.library, "cannot stat it: " + String(cString: strerror(code)))
        }
        let what: String
        switch info.st_mode & S_IFMT {
        case S_IFREG: return
        case S_IFDIR: what = "a directory"
        case S_IFIFO: what = "a FIFO (named pipe)"
        case S_IFCHR: what = "a character device"
        case S_IFBLK: what = "a block device"
        case S_IFSOCK: what = "a socket"
        default: what = "of an unknown file type"
        }
        throw ctx.error(.notRegularFile, "the path is \(what), not a regular file; give the path of an HDF5 file")
    }

    /// Writes all buffered data of this file to disk (H5Fflush), e.g. at a checkpoint.
    public func flush() throws {
        let ctx = Context(operation: "flush file", filePath: path, objectPath: nil)
        try hdf5Locked {
            guard fid >= 0 else { throw ctx.error(.closed, "the file was already closed") }
            try ctx.check(H5Fflush(fid, H5F_SCOPE_GLOBAL), "could not flush the file")
        }
    }

    /// Whether `close()` has not been called yet.
    public var isOpen: Bool {
        hdf5Locked { fid >= 0 }
    }

    /// Closes the file and its root group now rather than at `deinit`. Groups and datasets still
    /// held elsewhere stay usable; HDF5 closes the file for real when the last of them is released.
    public func close() throws {
        let ctx = Context(operation: "close file", filePath: path, objectPath: nil)
        try hdf5Locked {
            guard fid >= 0 else { return }
            root.close()
            if leftOpen { return }
            let status = H5Fclose(fid)
            fid = invalidID
            try ctx.check(status, "could not close the file")
        }
    }

    /// A read-only file in which HDF5 reported an error is not closed (see `filesWithErrors`).
    /// Call under the lock; marks the handle closed.
    private var leftOpen: Bool {
        guard mode == .readOnly, filesWithErrors.contains(path) else { return false }
        fid = invalidID
        return true
    }

    deinit {
        hdf5Locked {
            guard fid >= 0, !leftOpen else { return }
            _ = H5Fclose(fid)
            fid = invalidID
        }
    }
}
