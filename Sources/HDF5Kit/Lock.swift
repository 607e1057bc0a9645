import CHDF5
import Foundation

/// The one process-wide lock around every HDF5 call. Recursive, so that a handle released
/// (and closed in `deinit`) inside a locked region does not deadlock.
private let hdf5Lock = NSRecursiveLock()

/// Runs `body` holding the process-wide HDF5 lock, with HDF5's automatic stderr error dump off.
/// Every call into the C library goes through here, so HDF5Kit is safe even with an HDF5 built
/// without `--enable-threadsafe`, and an error stack is read before another call can clear it.
func hdf5Locked<R>(_ body: () throws -> R) rethrows -> R {
    hdf5Lock.lock()
    defer { hdf5Lock.unlock() }
    _ = noCleanupAtExit
    // The automatic error printer is per thread when the library is built thread-safe (as
    // Debian's "serial" build is), so silence it on every entry rather than only once; the
    // call is a few instructions.
    H5Eset_auto2(H5E_DEFAULT, nil, nil)
    return try body()
}

/// Read-only files in which HDF5 reported an error (a damaged object header or message), by path.
/// HDF5 1.10 can crash (SIGSEGV in H5A__close) when it closes a file after failing to decode a
/// damaged attribute message, so such a file is left open (`HDF5File.close`) and released by the
/// operating system at exit. Only read or written under the lock.
nonisolated(unsafe) var filesWithErrors: Set<String> = []

/// HDF5's own cleanup at exit would close those files (and crash); everything HDF5Kit writes is
/// closed explicitly, so it is turned off before the library's first use.
private let noCleanupAtExit: Void = { _ = H5dont_atexit() }()

/// `H5P_DEFAULT` as an `hid_t` (it imports as `Int32`).
let defaultPlist = hid_t(H5P_DEFAULT)

/// Sentinel for a closed handle.
let invalidID: hid_t = -1

/// Builds a C-compatible `hsize_t` array from Swift `Int`s (all known to be non-negative).
func hsizes(_ values: [Int]) -> [hsize_t] { values.map { hsize_t($0) } }

/// Product of dimensions (1 for rank 0).
func product(_ dims: [Int]) -> Int { dims.reduce(1, *) }

/// Joins a path inside the file: absolute names stay as they are.
func joinPath(_ parent: String, _ name: String) -> String {
    if name.hasPrefix("/") { return name }
    return parent == "/" ? "/" + name : parent + "/" + name
}

/// `H5S_ALL`, which hdf5.h defines as `(hid_t)0`. Both that macro and the shim getter import
/// under the same name, so Swift cannot pick one; spell the value out instead.
let allSpace: hid_t = 0
