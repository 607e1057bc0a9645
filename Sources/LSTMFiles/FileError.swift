import Foundation
import HDF5Kit

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A file of this project (checkpoint, weights, dataset, predictions) that cannot be written,
/// read or used: names the file, the object in it, what failed and why, so it prints as-is.
/// One type for every file format, so callers catch one error and HDF5 errors map one way.
public struct FileError: Error, CustomStringConvertible, LocalizedError, Sendable, Equatable {
    /// Broad category, so callers (and tests) can react without parsing text.
    public enum Kind: Sendable, Equatable {
        /// The file does not exist.
        case notFound
        /// The file is not HDF5, or holds another format than the one asked for.
        case wrongFormat
        /// The file was written by an incompatible version of its format.
        case unsupportedVersion
        /// A required tensor, group, dataset, attribute, split or column is missing.
        case missing
        /// The file holds a tensor or group the model's layout does not have.
        case unexpected
        /// A tensor or dataset has the wrong rank or dimensions (or a value array the wrong length).
        case shapeMismatch
        /// A tensor, dataset or attribute stores the wrong element type.
        case typeMismatch
        /// A value is invalid on its own: out of range, empty name, NUL in a string, bad config JSON.
        case invalidValue
        /// The model configuration is missing or cannot be inferred from the file alone.
        case invalidConfig
        /// An argument given by the caller is invalid (batch size, fractions, keepLast, ...).
        case invalidArgument
        /// The file does not fit the model, parameters or optimizer it is used with.
        case incompatible
        /// The file's content does not match its checksums: it was damaged after it was written.
        case corrupted
        /// The file system or the HDF5 library failed.
        case io
        /// The file system has no room left (ENOSPC, EDQUOT).
        case noSpace
        /// The file system is mounted read-only (EROFS).
        case readOnly
        /// Permission denied (EACCES, EPERM).
        case permissionDenied
    }

    /// What sort of file it is; checkpoint and weights errors say so in their first words.
    public enum Role: Sendable, Equatable {
        /// A training checkpoint (`Checkpoint`, `CheckpointStore`).
        case checkpoint
        /// An exported or imported PyTorch/Keras weights file.
        case weights
        /// A dataset file (docs/datasets.md) or a source a dataset is prepared from.
        case dataset
        /// A file of model outputs written by `lstm predict`.
        case predictions
        /// Any other file or directory of a training run (the run directory, metrics.jsonl,
        /// config.yaml, loss.svg, text written by `lstm sample`).
        case run

        /// The words that start the message ("checkpoint 'FILE': …"), or nil to start with the file.
        var label: String? {
            switch self {
            case .checkpoint: "checkpoint"
            case .weights: "weights file"
            case .dataset, .predictions, .run: nil
            }
        }
    }

    /// What kind of failure this is.
    public let kind: Kind
    /// What sort of file is involved.
    public let role: Role
    /// The file involved, as given by the caller, if any.
    public let file: String?
    /// The object inside the file (e.g. "/parameters/lstm.weight_ih_l0", "train/inputs"), if any.
    public let object: String?
    /// What was wrong and what was expected.
    public let message: String

    /// Creates an error; `message` should say what was found and what was expected.
    public init(_ kind: Kind, _ role: Role, file: String?, object: String? = nil, _ message: String) {
        self.kind = kind
        self.role = role
        self.file = file
        self.object = object
        self.message = message
    }

    /// One line: "checkpoint 'FILE': OBJECT: MESSAGE", "weights file 'FILE': …" or "FILE: OBJECT: MESSAGE".
    public var description: String {
        var s: String
        if let label = role.label {
            s = label
            if let file { s += " '\(file)'" }
        } else {
            s = file ?? "(no file)"
        }
        if let object { s += ": \(object)" }
        return s + ": " + message
    }

    /// Same as `description`, for `localizedDescription` and argument-parser output.
    public var errorDescription: String? { description }

    /// `error` as a FileError about `file`: a FileError unchanged, an HDF5Error mapped by kind with
    /// HDF5's reason kept, anything else nil (so callers decide whether to pass it on).
    public static func wrapping(_ error: Error, _ role: Role, file: String, object: String? = nil) -> FileError? {
        if let error = error as? FileError { return error }
        guard let h = error as? HDF5Error else { return nil }
        let kind: Kind
        switch h.kind {
        case .notFound: kind = h.objectPath == nil ? .notFound : .missing
        case .notHDF5, .notRegularFile: kind = .wrongFormat
        case .typeMismatch: kind = .typeMismatch
        case .shapeMismatch: kind = .shapeMismatch
        case .invalidArgument: kind = .invalidValue
        default: kind = .io
        }
        var message = "\(h.operation) failed: \(h.reason)"
        if !h.hdf5Messages.isEmpty { message += " [HDF5: \(h.hdf5Messages.joined(separator: "; "))]" }
        return FileError(kind, role, file: file, object: object ?? h.objectPath, message)
    }

    /// Runs `body`, turning HDF5Kit errors into FileErrors about `file` (and `object`, if given);
    /// other errors pass through unchanged.
    public static func mapping<R>(
        _ role: Role, file: String, object: String? = nil,
        _ body: () throws -> R
    ) throws -> R {
        do { return try body() } catch { throw wrapping(error, role, file: file, object: object) ?? error }
    }

    // MARK: - File-system failures

    /// A failed file-system call on `file` as a FileError saying what failed (`action`, e.g.
    /// "could not create the run directory"), on which path, and why in plain words ("the file
    /// system is read-only", "no space left on device", "a parent of the path is a file, not a
    /// directory", …). `error` may be a POSIXError, a CocoaError (Foundation's FileManager,
    /// FileHandle and Data calls: "NSCocoaErrorDomain error 512" gains its underlying errno), an
    /// NSError, or a FileError/HDF5Error (returned as they are / mapped as by `wrapping`).
    /// The one place where errno values and Foundation's file errors become words.
    public static func fileSystem(
        _ error: Error, _ role: Role, file: String, _ action: String
    ) -> FileError {
        if let error = error as? FileError { return error }
        if let mapped = wrapping(error, role, file: file) { return mapped }
        if let code = posixCode(of: error) { return fileSystem(errno: code, role, file: file, action) }
        let ns = error as NSError
        if ns.domain == NSCocoaErrorDomain, let (kind, reason) = cocoaReason(ns.code) {
            return FileError(kind, role, file: file, "\(action): \(reason)")
        }
        return FileError(.io, role, file: file, "\(action): \(ns.localizedDescription)")
    }

    /// A failed system call on `file` from its errno (pass `errno` right after the call).
    public static func fileSystem(errno code: Int32, _ role: Role, file: String, _ action: String) -> FileError {
        let (kind, reason) = reason(errno: code)
        return FileError(kind, role, file: file, "\(action): \(reason)")
    }

    /// The error kind and the words for an errno value.
    public static func reason(errno code: Int32) -> (Kind, String) {
        switch code {
        case ENOSPC: return (.noSpace, "no space left on device")
        case EDQUOT: return (.noSpace, "disk quota exceeded")
        case EROFS: return (.readOnly, "the file system is read-only")
        case EACCES, EPERM: return (.permissionDenied, "permission denied")
        case ENOTDIR: return (.io, "a parent of the path is a file, not a directory")
        case EISDIR: return (.io, "the path is a directory, not a file")
        case EEXIST: return (.io, "a file already exists there")
        case ENOENT: return (.notFound, "no such file or directory")
        case ENAMETOOLONG: return (.invalidArgument, "the path is too long")
        case ELOOP: return (.io, "too many levels of symbolic links")
        case EMFILE, ENFILE: return (.io, "too many open files")
        case EIO: return (.io, "input/output error (the disk or file system failed)")
        case EXDEV: return (.io, "the paths are on different file systems")
        default: return (.io, String(cString: strerror(code)) + " (errno \(code))")
        }
    }

    /// The errno behind `error`: a POSIXError, an NSError in NSPOSIXErrorDomain, or a CocoaError
    /// whose underlying error is one of those.
    static func posixCode(of error: Error) -> Int32? {
        if let p = error as? POSIXError { return p.code.rawValue }
        let ns = error as NSError
        if ns.domain == NSPOSIXErrorDomain { return Int32(truncatingIfNeeded: ns.code) }
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? Error { return posixCode(of: underlying) }
        return nil
    }

    /// Words for Foundation's file error codes when no errno came with them.
    static func cocoaReason(_ code: Int) -> (Kind, String)? {
        switch CocoaError.Code(rawValue: code) {
        case .fileNoSuchFile, .fileReadNoSuchFile: (.notFound, "no such file or directory")
        case .fileWriteVolumeReadOnly: (.readOnly, "the file system is read-only")
        case .fileWriteOutOfSpace: (.noSpace, "no space left on device")
        case .fileWriteNoPermission, .fileReadNoPermission: (.permissionDenied, "permission denied")
        case .fileWriteFileExists: (.io, "a file already exists there")
        case .fileWriteInvalidFileName, .fileReadInvalidFileName: (.invalidArgument, "the file name is invalid")
        default: nil
        }
    }
}
