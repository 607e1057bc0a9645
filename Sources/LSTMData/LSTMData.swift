import HDF5Kit
import LSTMFiles
import LSTMKit

/// HDF5-backed datasets: schema, validation, writer, loader, preparers and generators.
public enum LSTMData {
    /// The HDF5 library version in use.
    public static var hdf5Version: String { HDF5Kit.libraryVersion }
}

/// `error` as a dataset `FileError` about `object` of `file`; errors that are not file errors
/// become `.io` errors carrying their own text.
func datasetError(_ error: Error, file: String, object: String?) -> FileError {
    FileError.wrapping(error, .dataset, file: file, object: object)
        ?? FileError(.io, .dataset, file: file, object: object, "\(error)")
}

/// Runs `body`, turning any error that is not a `FileError` into one that names `file` and `object`.
func datasetIO<R>(file: String, object: String?, _ body: () throws -> R) throws -> R {
    do { return try body() } catch { throw datasetError(error, file: file, object: object) }
}
