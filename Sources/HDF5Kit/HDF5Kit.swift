import CHDF5

/// Placeholder: the HDF5 wrapper is being written.
public enum HDF5Kit {
    /// The HDF5 library version, "major.minor.release".
    public static var libraryVersion: String {
        var maj: UInt32 = 0, min: UInt32 = 0, rel: UInt32 = 0
        H5get_libversion(&maj, &min, &rel)
        return "\(maj).\(min).\(rel)"
    }
}
