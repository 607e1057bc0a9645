import CHDF5

/// An error from an HDF5 operation, naming the operation, file, object and HDF5's own explanation.
/// `description` is meant to be printed as-is: it says what failed, where, and why.
public struct HDF5Error: Error, CustomStringConvertible, Sendable {
    /// Broad category of an `HDF5Error`, so callers can react without parsing text.
    public enum Kind: Sendable, Equatable {
        /// A file, group, dataset or attribute that was asked for does not exist.
        case notFound
        /// A file exists but is not an HDF5 file.
        case notHDF5
        /// The path is a directory, FIFO, device or socket, not a regular file (nothing was opened).
        case notRegularFile
        /// Something with that name already exists where a new object was to be created.
        case alreadyExists
        /// The stored element type differs from the one requested (no silent conversion).
        case typeMismatch
        /// A value count or buffer size does not match the shape involved.
        case shapeMismatch
        /// A slab, row range or row index lies outside the dataset's shape.
        case outOfRange
        /// An argument is invalid on its own (negative size, bad compression level, ...).
        case invalidArgument
        /// The handle was closed explicitly before this call.
        case closed
        /// The HDF5 library reported a failure; see `hdf5Messages`.
        case library
    }

    /// What kind of failure this is.
    public let kind: Kind
    /// The operation that failed, e.g. "open file" or "read rows".
    public let operation: String
    /// The HDF5 file involved, as given by the caller, if any.
    public let filePath: String?
    /// The object path inside the file (group, dataset or attribute), if any.
    public let objectPath: String?
    /// Our explanation of the failure.
    public let reason: String
    /// HDF5's own messages from its error stack, outermost call first (empty if HDF5 was not involved).
    public let hdf5Messages: [String]

    /// Creates an error; normally only HDF5Kit creates these.
    public init(
        kind: Kind, operation: String, filePath: String?, objectPath: String?,
        reason: String, hdf5Messages: [String] = []
    ) {
        self.kind = kind
        self.operation = operation
        self.filePath = filePath
        self.objectPath = objectPath
        self.reason = reason
        self.hdf5Messages = hdf5Messages
    }

    /// A one-line human-readable summary: operation, object, file, reason and HDF5's messages.
    public var description: String {
        var s = "HDF5 \(operation) failed"
        if let objectPath { s += " for '\(objectPath)'" }
        if let filePath { s += " in file '\(filePath)'" }
        s += ": \(reason)"
        if !hdf5Messages.isEmpty {
            s += " [HDF5: " + hdf5Messages.joined(separator: "; ") + "]"
        }
        return s
    }
}

/// Where an operation happens, used to build errors.
struct Context {
    let operation: String
    let filePath: String?
    let objectPath: String?

    /// An error that HDF5 did not report itself (validation, type checks); clears HDF5's stack.
    func error(_ kind: HDF5Error.Kind, _ reason: String) -> HDF5Error {
        HDF5Error(
            kind: kind, operation: operation, filePath: filePath, objectPath: objectPath,
            reason: reason)
    }

    /// An error reported by HDF5: collects and clears the default error stack. Call under the lock.
    func libraryError(_ reason: String, kind: HDF5Error.Kind = .library) -> HDF5Error {
        if let filePath { filesWithErrors.insert(filePath) }
        return HDF5Error(
            kind: kind, operation: operation, filePath: filePath, objectPath: objectPath,
            reason: reason, hdf5Messages: takeErrorStack())
    }

    /// Throws a library error if an HDF5 return value (id, herr_t, htri_t, ssize_t) is negative.
    @discardableResult
    func check<I: BinaryInteger>(_ value: I, _ reason: @autoclosure () -> String) throws -> I {
        if value < 0 { throw libraryError(reason()) }
        return value
    }
}

/// Reads HDF5's default error stack (outermost first) as "function(): description" lines and clears it.
/// Must be called with the HDF5 lock held, on the thread that made the failing call.
func takeErrorStack() -> [String] {
    var messages: [String] = []
    withUnsafeMutablePointer(to: &messages) { ptr in
        _ = H5Ewalk2(
            H5E_DEFAULT, H5E_WALK_DOWNWARD,
            { _, err, data in
                guard let err, let data else { return 0 }
                let list = data.assumingMemoryBound(to: [String].self)
                let function = err.pointee.func_name.map { String(cString: $0) } ?? "?"
                let desc = (err.pointee.desc.map { String(cString: $0) } ?? "")
                    .split(whereSeparator: \.isNewline).joined(separator: " ")  // e.g. ctime() output
                list.pointee.append("\(function)(): \(desc)")
                return 0
            }, ptr)
    }
    H5Eclear2(H5E_DEFAULT)
    return messages
}
