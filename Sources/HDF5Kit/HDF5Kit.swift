import CHDF5

/// Library-wide information about the HDF5 C library behind HDF5Kit.
/// Entry points are `HDF5File.create(_:)` and `HDF5File.open(_:mode:)`.
public enum HDF5Kit {
    /// The HDF5 library version, "major.minor.release", e.g. to log alongside results.
    public static var libraryVersion: String {
        var maj: UInt32 = 0
        var min: UInt32 = 0
        var rel: UInt32 = 0
        hdf5Locked { _ = H5get_libversion(&maj, &min, &rel) }
        return "\(maj).\(min).\(rel)"
    }
}
