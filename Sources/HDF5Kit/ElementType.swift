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
            // Class and size are not enough: a float32-sized type with another byte order,
            // precision, exponent/mantissa layout, bias or normalization would be converted
            // by HDF5 into different values. Only exact IEEE binary16/32/64 little-endian pass.
            let layout = HDF5FloatLayout(typeID: typeID)
            switch size {
            case 2 where layout == .ieeeBinary16: self = .float16
            case 4 where layout == .ieeeBinary32: self = .float32
            case 8 where layout == .ieeeBinary64: self = .float64
            case 2, 4, 8: self = .other("non-IEEE float\(size * 8) (\(layout))")
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

/// How an HDF5 float type lays out its bits (H5Tget_order, H5Tget_precision, H5Tget_offset,
/// H5Tget_fields, H5Tget_ebias, H5Tget_norm): the one place that decides whether a stored float
/// is exactly IEEE 754 binary16/32/64 little-endian, the only float layouts HDF5Kit reads.
public struct HDF5FloatLayout: Sendable, Equatable, CustomStringConvertible {
    /// Whether the bytes are little-endian (false: big-endian, VAX or another order).
    public var littleEndian: Bool
    /// Significant bits and the offset of the first one.
    public var precision: Int, offset: Int
    /// Bit positions: sign bit, exponent start and size, mantissa start and size.
    public var signBit: Int, exponentStart: Int, exponentBits: Int, mantissaStart: Int, mantissaBits: Int
    /// The exponent bias.
    public var exponentBias: Int
    /// Whether the mantissa's leading 1 is implied (IEEE normalization).
    public var impliedLeadingOne: Bool

    /// Reads the layout of a float type. Call under the lock.
    init(typeID: hid_t) {
        var spos = 0
        var epos = 0
        var esize = 0
        var mpos = 0
        var msize = 0
        if H5Tget_fields(typeID, &spos, &epos, &esize, &mpos, &msize) < 0 {
            _ = takeErrorStack()
            (spos, epos, esize, mpos, msize) = (-1, -1, -1, -1, -1)
        }
        littleEndian = H5Tget_order(typeID) == H5T_ORDER_LE
        precision = H5Tget_precision(typeID)
        offset = Int(H5Tget_offset(typeID))
        signBit = spos
        exponentStart = epos
        exponentBits = esize
        mantissaStart = mpos
        mantissaBits = msize
        exponentBias = H5Tget_ebias(typeID)
        impliedLeadingOne = H5Tget_norm(typeID) == H5T_NORM_IMPLIED
    }

    /// A layout from its parts.
    init(bits: Int, exponentBits: Int, bias: Int) {
        littleEndian = true
        precision = bits
        offset = 0
        signBit = bits - 1
        exponentStart = bits - 1 - exponentBits
        self.exponentBits = exponentBits
        mantissaStart = 0
        mantissaBits = bits - 1 - exponentBits
        exponentBias = bias
        impliedLeadingOne = true
    }

    /// IEEE 754 binary16 (numpy float16), little-endian.
    public static let ieeeBinary16 = HDF5FloatLayout(bits: 16, exponentBits: 5, bias: 15)
    /// IEEE 754 binary32 (numpy float32), little-endian.
    public static let ieeeBinary32 = HDF5FloatLayout(bits: 32, exponentBits: 8, bias: 127)
    /// IEEE 754 binary64 (numpy float64), little-endian.
    public static let ieeeBinary64 = HDF5FloatLayout(bits: 64, exponentBits: 11, bias: 1023)

    /// "big-endian, 32 bits at offset 0: sign bit 31, exponent bits 23…30 (bias 127), mantissa bits 0…20 (21 bits)".
    public var description: String {
        func bits(_ start: Int, _ count: Int) -> String { "\(start)…\(start + count - 1) (\(count) bits)" }
        var s = "\(littleEndian ? "little" : "big or other")-endian, \(precision) bits at offset \(offset): "
        s += "sign bit \(signBit), exponent bits \(bits(exponentStart, exponentBits)), bias \(exponentBias), "
        s += "mantissa bits \(bits(mantissaStart, mantissaBits))"
        if !impliedLeadingOne { s += ", no implied leading 1" }
        return s
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
