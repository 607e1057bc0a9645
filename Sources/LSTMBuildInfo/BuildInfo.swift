/// What a binary was built from: `lstm --version` prints it (with the OpenBLAS kernel and the
/// HDF5 library, which are known only at run time).
public enum BuildInfo {
    /// The project's version.
    public static let version = "0.1.0"
    /// The git commit the sources were built from (Plugins/BuildInfo writes it at build time):
    /// 12 hex digits, "-dirty" when tracked files differed from it, or "unknown" when built
    /// outside a git checkout.
    public static var commit: String { buildCommit }
}
