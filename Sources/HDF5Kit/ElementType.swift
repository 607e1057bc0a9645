import CHDF5

/// The element type of a stored dataset, as far as HDF5Kit maps it to Swift: every IEEE float
/// and integer width numpy/h5py write. Other HDF5 types are reported as `.other` with a short description.
public enum HDF5ElementType: Sendable, Equatable, CustomStringConvertible {
    /// IEEE 16-bit float (numpy `float16`); read and written through a `Float` with conversion.
    case float16
    /// IEEE 32-bit float (`Float`, numpy `float32`).
    case float32
    /// IEEE 64-bit float (`Double`, numpy `float64`).
    case float64
    /// Signed 8-bit integer (`Int8`, numpy `int8`).
    case int8
    /// Signed 16-bit integer (`Int16`, numpy `int16`).
    case int16
    /// Signed 32-bit integer (`Int32`, numpy `int32`).
    case int32
    /// Signed 64-bit integer (`Int64`, numpy `int64`).
    case int64
    /// Unsigned 8-bit integer (`UInt8`, numpy `uint8`).
    case uint8
    /// Unsigned 16-bit integer (`UInt16`, numpy `uint16`).
    case uint16
    /// Unsigned 32-bit integer (`UInt32`, numpy `uint32`).
    case uint32
    /// Unsigned 64-bit integer (`UInt64`, numpy `uint64`).
    case uint64
    /// Any other HDF5 type, e.g. "float128", "string", "compound", "enum".
    case other(String)

    /// Every numeric element type, narrowest first within floats, signed and unsigned integers.
    public static let numeric: [HDF5ElementType] = [
        .float16, .float32, .float64, .int8, .int16, .int32, .int64, .uint8, .uint16, .uint32, .uint64
    ]

    /// The numpy-style name of the type, e.g. "float32".
    public var description: String {
        switch self {
        case .float16: "float16"
        case .float32: "float32"
        case .float64: "float64"
        case .int8: "int8"
        case .int16: "int16"
        case .int32: "int32"
        case .int64: "int64"
        case .uint8: "uint8"
        case .uint16: "uint16"
        case .uint32: "uint32"
        case .uint64: "uint64"
        case .other(let name): name
        }
    }

    /// Whether this is an IEEE float type (float16, float32, float64).
    public var isFloat: Bool {
        switch self {
        case .float16, .float32, .float64: true
        default: false
        }
    }

    /// Whether this is an integer type of any width and sign.
    public var isInteger: Bool {
        switch self {
        case .int8, .int16, .int32, .int64, .uint8, .uint16, .uint32, .uint64: true
        default: false
        }
    }

    /// Whether this is an unsigned integer type.
    public var isUnsigned: Bool {
        switch self {
        case .uint8, .uint16, .uint32, .uint64: true
        default: false
        }
    }

    /// Bytes per element for numeric types, nil for `.other`.
    public var byteCount: Int? {
        switch self {
        case .int8, .uint8: 1
        case .float16, .int16, .uint16: 2
        case .float32, .int32, .uint32: 4
        case .float64, .int64, .uint64: 8
        case .other: nil
        }
    }

    /// The HDF5 native memory type for this element type; nil for `.float16` (no native C type) and `.other`.
    var nativeTypeID: hid_t? {
        switch self {
        case .float32: H5T_NATIVE_FLOAT
        case .float64: H5T_NATIVE_DOUBLE
        case .int8: H5T_NATIVE_INT8
        case .int16: H5T_NATIVE_INT16
        case .int32: H5T_NATIVE_INT32
        case .int64: H5T_NATIVE_INT64
        case .uint8: H5T_NATIVE_UINT8
        case .uint16: H5T_NATIVE_UINT16
        case .uint32: H5T_NATIVE_UINT32
        case .uint64: H5T_NATIVE_UINT64
        case .float16, .other: nil
        }
    }

    /// A new HDF5 datatype to store this element type in a file (little-endian IEEE half for
    /// `.float16`, as h5py writes it); the caller closes it with H5Tclose. Call under the lock.
    func makeFileType() -> hid_t? {
        if let native = nativeTypeID { return H5Tcopy(native) }
        guard self == .float16 else { return nil }
        let t = H5Tcopy(H5T_IEEE_F32LE)
        guard t >= 0 else { return nil }
        // sign bit 15, exponent at bit 10 (5 bits), mantissa at bit 0 (10 bits), bias 15.
        guard H5Tset_fields(t, 15, 10, 5, 0, 10) >= 0, H5Tset_size(t, 2) >= 0, H5Tset_ebias(t, 15) >= 0 else {
            H5Tclose(t)
            return nil
        }
        return t
    }

    /// Classifies an HDF5 datatype by class, size and sign. Call under the lock.
    init(typeID: hid_t) {
        let cls = H5Tget_class(typeID)
        let size = H5Tget_size(typeID)
        switch cls {
        case H5T_FLOAT:
            switch size {
            case 2: self = .float16
            case 4: self = .float32
            case 8: self = .float64
            default: self = .other("float\(size * 8)")
            }
        case H5T_INTEGER:
            let signed = H5Tget_sign(typeID) != H5T_SGN_NONE
            switch (signed, size) {
            case (true, 1): self = .int8
            case (true, 2): self = .int16
            case (true, 4): self = .int32
            case (true, 8): self = .int64
            case (false, 1): self = .uint8
            case (false, 2): self = .uint16
            case (false, 4): self = .uint32
            case (false, 8): self = .uint64
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
/// read and written without conversion (and, when asked, with HDF5's conversion from any numeric
/// stored type). HDF5Kit provides Float, Double and every fixed-width integer.
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

extension Int8: HDF5Scalar {
    /// Stored as `int8`.
    public static var hdf5ElementType: HDF5ElementType { .int8 }
}

extension Int16: HDF5Scalar {
    /// Stored as `int16`.
    public static var hdf5ElementType: HDF5ElementType { .int16 }
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

extension UInt16: HDF5Scalar {
    /// Stored as `uint16`.
    public static var hdf5ElementType: HDF5ElementType { .uint16 }
}

extension UInt32: HDF5Scalar {
    /// Stored as `uint32`.
    public static var hdf5ElementType: HDF5ElementType { .uint32 }
}

extension UInt64: HDF5Scalar {
    /// Stored as `uint64`.
    public static var hdf5ElementType: HDF5ElementType { .uint64 }
}
