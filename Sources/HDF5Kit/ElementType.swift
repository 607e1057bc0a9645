import CHDF5

/// The element type of a stored dataset, as far as HDF5Kit maps it to Swift.
/// Types HDF5Kit cannot read as a Swift scalar are reported as `.other` with a short description.
public enum HDF5ElementType: Sendable, Equatable, CustomStringConvertible {
    /// IEEE 32-bit float (`Float`, numpy `float32`).
    case float32
    /// IEEE 64-bit float (`Double`, numpy `float64`).
    case float64
    /// Signed 32-bit integer (`Int32`, numpy `int32`).
    case int32
    /// Signed 64-bit integer (`Int64`, numpy `int64`).
    case int64
    /// Unsigned 8-bit integer (`UInt8`, numpy `uint8`).
    case uint8
    /// Any other HDF5 type, e.g. "int16", "uint32", "string", "compound", "enum".
    case other(String)

    /// The numpy-style name of the type, e.g. "float32".
    public var description: String {
        switch self {
        case .float32: "float32"
        case .float64: "float64"
        case .int32: "int32"
        case .int64: "int64"
        case .uint8: "uint8"
        case .other(let name): name
        }
    }

    /// The HDF5 native memory type for this element type, or nil for `.other`.
    var nativeTypeID: hid_t? {
        switch self {
        case .float32: H5T_NATIVE_FLOAT
        case .float64: H5T_NATIVE_DOUBLE
        case .int32: H5T_NATIVE_INT32
        case .int64: H5T_NATIVE_INT64
        case .uint8: H5T_NATIVE_UINT8
        case .other: nil
        }
    }

    /// Classifies an HDF5 datatype by class, size and sign. Call under the lock.
    init(typeID: hid_t) {
        let cls = H5Tget_class(typeID)
        let size = H5Tget_size(typeID)
        switch cls {
        case H5T_FLOAT:
            self = size == 4 ? .float32 : size == 8 ? .float64 : .other("float\(size * 8)")
        case H5T_INTEGER:
            let signed = H5Tget_sign(typeID) != H5T_SGN_NONE
            switch (signed, size) {
            case (true, 4): self = .int32
            case (true, 8): self = .int64
            case (false, 1): self = .uint8
            default: self = .other("\(signed ? "int" : "uint")\(size * 8)")
            }
        case H5T_STRING: self = .other("string")
        case H5T_COMPOUND: self = .other("compound")
        case H5T_ENUM: self = .other("enum")
        case H5T_ARRAY: self = .other("array")
        case H5T_VLEN: self = .other("vlen")
        case H5T_OPAQUE: self = .other("opaque")
        case H5T_REFERENCE: self = .other("reference")
        case H5T_BITFIELD: self = .other("bitfield")
        case H5T_TIME: self = .other("time")
        default: self = .other("unknown")
        }
    }
}

/// A Swift scalar that maps one-to-one onto an HDF5 native element type, so arrays of it can be
/// read and written without conversion. HDF5Kit provides Float, Double, Int32, Int64 and UInt8.
public protocol HDF5Scalar: BitwiseCopyable, Sendable {
    /// The stored element type this Swift type reads and writes.
    static var hdf5ElementType: HDF5ElementType { get }
}

extension Float: HDF5Scalar {
    /// Stored as `float32`.
    public static var hdf5ElementType: HDF5ElementType { .float32 }
}

extension Double: HDF5Scalar {
    /// Stored as `float64`.
    public static var hdf5ElementType: HDF5ElementType { .float64 }
}

extension Int32: HDF5Scalar {
    /// Stored as `int32`.
    public static var hdf5ElementType: HDF5ElementType { .int32 }
}

extension Int64: HDF5Scalar {
    /// Stored as `int64`.
    public static var hdf5ElementType: HDF5ElementType { .int64 }
}

extension UInt8: HDF5Scalar {
    /// Stored as `uint8`.
    public static var hdf5ElementType: HDF5ElementType { .uint8 }
}
