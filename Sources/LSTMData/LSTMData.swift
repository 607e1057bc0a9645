import HDF5Kit
import LSTMKit

/// HDF5-backed datasets, loaders, preparers, checkpoints and weight interop.
public enum LSTMData {
    /// The HDF5 library version in use.
    public static var hdf5Version: String { HDF5Kit.libraryVersion }
}
