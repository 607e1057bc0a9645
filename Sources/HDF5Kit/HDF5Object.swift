import CHDF5

/// An open HDF5 group or dataset: owns its HDF5 handle (closed in `deinit`) and carries the
/// attribute API. Use the subclasses `HDF5Group` and `HDF5Dataset`.
public class HDF5Object: @unchecked Sendable {
    enum HandleKind { case group, dataset }

    /// The path of the file this object lives in, as given when the file was opened.
    public let filePath: String
    /// The absolute path of this object inside the file, e.g. "/train/inputs".
    public let path: String

    private let handleKind: HandleKind
    /// The HDF5 identifier; `invalidID` once closed. Only read or written under the HDF5 lock.
    private var id: hid_t

    init(id: hid_t, kind: HandleKind, filePath: String, path: String) {
        self.id = id
        self.handleKind = kind
        self.filePath = filePath
        self.path = path
    }

    deinit {
        hdf5Locked { closeHandle() }
    }

    /// Closes the handle now instead of at `deinit`; later calls on this object throw `.closed`.
    /// Closing twice is harmless.
    public func close() {
        hdf5Locked { closeHandle() }
    }

    /// Whether the handle is still open (not closed with `close()`).
    public var isOpen: Bool {
        hdf5Locked { id >= 0 }
    }

    private func closeHandle() {
        guard id >= 0 else { return }
        switch handleKind {
        case .group: _ = H5Gclose(id)
        case .dataset: _ = H5Dclose(id)
        }
        id = invalidID
    }

    /// Runs `body` under the HDF5 lock with this object's open id and an error context.
    func withID<R>(
        _ operation: String, object: String? = nil,
        _ body: (hid_t, Context) throws -> R
    ) throws -> R {
        let ctx = Context(operation: operation, filePath: filePath, objectPath: object ?? path)
        return try hdf5Locked {
            guard id >= 0 else { throw ctx.error(.closed, "the handle was already closed") }
            return try body(id, ctx)
        }
    }
}
