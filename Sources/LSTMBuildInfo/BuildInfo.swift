/// What a binary was built from: `lstm --version` prints it (with the version,
/// `RunProvenance.currentVersion`, and the OpenBLAS kernel and HDF5 library known at run time).
/// A module of its own, so that a new commit recompiles only this file and relinks.
public enum BuildInfo {
    /// The git commit the sources were built from (Plugins/BuildInfo writes it at build time):
    /// 12 hex digits, "-dirty" when tracked files differed from it, or "unknown" when built
    /// outside a git checkout.
    public static var commit: String { buildCommit }
}
