import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Which file a path names and how it looked (device, inode, size, modification time), so a
/// reader can tell that the file was rewritten, truncated, replaced or removed under it — e.g. a
/// dataset during `lstm train`, which otherwise goes on training on whatever it then reads.
public struct FileIdentity: Sendable, Equatable {
    /// The path, as given.
    public let path: String
    let device: UInt64
    let inode: UInt64
    /// Size in bytes.
    public let size: Int64
    /// Modification time, nanoseconds since the epoch.
    public let modified: Int64

    /// The file at `path` now (following symbolic links); nil if it cannot be stat'ed.
    public init?(path: String) {
        var s = stat()
        guard stat(path, &s) == 0 else { return nil }
        self.path = path
        device = UInt64(truncatingIfNeeded: s.st_dev)
        inode = UInt64(truncatingIfNeeded: s.st_ino)
        size = Int64(s.st_size)
        #if canImport(Darwin)
            modified = Int64(s.st_mtimespec.tv_sec) * 1_000_000_000 + Int64(s.st_mtimespec.tv_nsec)
        #else
            modified = Int64(s.st_mtim.tv_sec) * 1_000_000_000 + Int64(s.st_mtim.tv_nsec)
        #endif
    }

    /// Throws a FileError about the file (`role`, e.g. `.dataset`) unless `path` still names the
    /// same, unmodified file; the message says what changed and what to do (`advice`).
    public func checkUnchanged(_ role: FileError.Role, advice: String) throws {
        guard let now = FileIdentity(path: path) else {
            throw FileError(.io, role, file: path, "the file was removed or became unreadable while in use; \(advice)")
        }
        var changes: [String] = []
        if now.device != device || now.inode != inode { changes.append("it was replaced by another file") }
        if now.size != size { changes.append("its size went from \(size) to \(now.size) bytes") }
        if now.modified != modified { changes.append("it was modified") }
        guard !changes.isEmpty else { return }
        throw FileError(
            .io, role, file: path, "the file changed while in use (\(changes.joined(separator: ", "))); \(advice)")
    }
}
