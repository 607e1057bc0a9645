import Foundation
import HDF5Kit

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
        /// The file system or the HDF5 library failed.
        case io
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

        /// The words that start the message ("checkpoint 'FILE': …"), or nil to start with the file.
        var label: String? {
            switch self {
            case .checkpoint: "checkpoint"
            case .weights: "weights file"
            case .dataset, .predictions: nil
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
        case .notHDF5: kind = .wrongFormat
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
}
