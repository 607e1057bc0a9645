import HDF5Kit

/// Why a dataset file cannot be used: names the file, the dataset or attribute inside it, what was
/// found and what was expected, so one printed line is enough to fix the data.
public struct DatasetError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Broad category of a `DatasetError`, so callers and tests can react without parsing text.
    public enum Kind: Sendable, Equatable {
        /// A file, split, dataset, attribute or CSV column that is required does not exist.
        case missing
        /// A dataset has the wrong rank or dimensions (including an inconsistent N or T).
        case shape
        /// A dataset or attribute stores the wrong element type.
        case dtype
        /// A stored value is out of range: a token or class id, a length, a statistic.
        case value
        /// The data does not fit the model (input width, vocabulary, outputs, head).
        case modelMismatch
        /// An argument given by the caller is invalid (batch size, fractions, window, ...).
        case invalidArgument
        /// Reading or writing failed (I/O, HDF5 library errors, not an HDF5 file).
        case io
    }

    /// What kind of problem this is.
    public let kind: Kind
    /// The file involved, as given by the caller.
    public let file: String
    /// The object inside the file, e.g. `train/inputs`, `vocabulary (root attribute)`, or a CSV
    /// column; nil when the problem concerns the whole file or the caller's arguments.
    public let object: String?
    /// What was found and what was expected.
    public let message: String

    /// Creates an error; `object` names the dataset (e.g. `train/targets`) when there is one.
    public init(_ kind: Kind, file: String, object: String? = nil, _ message: String) {
        self.kind = kind
        self.file = file
        self.object = object
        self.message = message
    }

    /// One line: `file: object: message`, e.g. `data.h5: train/targets: expected ..., found ...`.
    public var description: String {
        if let object { return "\(file): \(object): \(message)" }
        return "\(file): \(message)"
    }

    /// Wraps an HDF5Kit error met while working on `object` of `file`, keeping HDF5's reason.
    static func wrapping(_ error: Error, file: String, object: String?) -> DatasetError {
        if let error = error as? DatasetError { return error }
        if let h = error as? HDF5Error {
            switch h.kind {
            case .notFound where h.operation == "open file":
                return DatasetError(.missing, file: file, object: object, "no such file")
            case .notHDF5:
                return DatasetError(.io, file: file, object: object, h.reason)
            default:
                var text = "\(h.operation) failed: \(h.reason)"
                if !h.hdf5Messages.isEmpty { text += " [HDF5: " + h.hdf5Messages.joined(separator: "; ") + "]" }
                return DatasetError(.io, file: file, object: object, text)
            }
        }
        return DatasetError(.io, file: file, object: object, "\(error)")
    }
}

/// Runs `body`, turning any non-`DatasetError` into one that names `file` and `object`.
func datasetIO<R>(file: String, object: String?, _ body: () throws -> R) throws -> R {
    do { return try body() } catch { throw DatasetError.wrapping(error, file: file, object: object) }
}
