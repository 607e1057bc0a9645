import CHDF5
import Foundation

/// The value of an attribute, for reading one whose kind is not known in advance.
public enum HDF5AttributeValue: Sendable, Equatable {
    /// A scalar string.
    case string(String)
    /// A scalar integer (any stored integer width).
    case int(Int)
    /// A scalar floating-point number (any stored float width).
    case double(Double)
    /// A 1-D integer array.
    case ints([Int])
    /// A 1-D float32 array.
    case floats([Float])
    /// A 1-D float64 array.
    case doubles([Double])
    /// A 1-D string array.
    case strings([String])
}

/// Attributes: small named metadata values on a group, the root group (= the file) or a dataset.
/// Writing replaces any existing attribute of that name. Strings are stored as variable-length
/// UTF-8 (h5py reads them as `str`); reading accepts variable- and fixed-length strings.
/// Integers are stored as int64 and floats as float32/float64; reading accepts any integer width
/// for `Int`/`[Int]` and either float width for `Double`/`[Float]`/`[Double]`.
extension HDF5Object {

    // MARK: Writing

    /// Sets a string attribute (variable-length UTF-8), replacing any existing one.
    public func setAttribute(_ name: String, _ value: String) throws {
        try writeStrings(name, [value], scalar: true)
    }

    /// Sets an integer attribute (stored as int64), replacing any existing one.
    public func setAttribute(_ name: String, _ value: Int) throws {
        try writeNumbers(name, [Int64(value)], type: H5T_NATIVE_INT64, scalar: true)
    }

    /// Sets a float64 attribute, replacing any existing one.
    public func setAttribute(_ name: String, _ value: Double) throws {
        try writeNumbers(name, [value], type: H5T_NATIVE_DOUBLE, scalar: true)
    }

    /// Sets a 1-D int64 array attribute, replacing any existing one.
    public func setAttribute(_ name: String, _ value: [Int]) throws {
        try writeNumbers(name, value.map { Int64($0) }, type: H5T_NATIVE_INT64, scalar: false)
    }

    /// Sets a 1-D float32 array attribute, replacing any existing one.
    public func setAttribute(_ name: String, _ value: [Float]) throws {
        try writeNumbers(name, value, type: H5T_NATIVE_FLOAT, scalar: false)
    }

    /// Sets a 1-D float64 array attribute, replacing any existing one.
    public func setAttribute(_ name: String, _ value: [Double]) throws {
        try writeNumbers(name, value, type: H5T_NATIVE_DOUBLE, scalar: false)
    }

    /// Sets a 1-D array attribute of variable-length UTF-8 strings, replacing any existing one.
    public func setAttribute(_ name: String, _ value: [String]) throws {
        try writeStrings(name, value, scalar: false)
    }

    // MARK: Reading

    /// Reads a string attribute (variable- or fixed-length; a one-element array also works).
    public func attribute(_ name: String, as type: String.Type) throws -> String {
        try single(name, strings(name, op: "read string attribute"), "read string attribute")
    }

    /// Reads an integer attribute of any stored integer width.
    public func attribute(_ name: String, as type: Int.Type) throws -> Int {
        try single(name, ints(name, op: "read integer attribute"), "read integer attribute")
    }

    /// Reads a floating-point attribute of either stored float width.
    public func attribute(_ name: String, as type: Double.Type) throws -> Double {
        try single(
            name, numbers(name, Double.self, H5T_NATIVE_DOUBLE, op: "read float attribute"),
            "read float attribute")
    }

    /// Reads an integer array attribute (a scalar reads as one element).
    public func attribute(_ name: String, as type: [Int].Type) throws -> [Int] {
        try ints(name, op: "read integer array attribute")
    }

    /// Reads a float array attribute as float32 (float64 values are rounded).
    public func attribute(_ name: String, as type: [Float].Type) throws -> [Float] {
        try numbers(name, Float.self, H5T_NATIVE_FLOAT, op: "read float array attribute")
    }

    /// Reads a float array attribute as float64.
    public func attribute(_ name: String, as type: [Double].Type) throws -> [Double] {
        try numbers(name, Double.self, H5T_NATIVE_DOUBLE, op: "read float array attribute")
    }

    /// Reads a string array attribute (a scalar string reads as one element).
    public func attribute(_ name: String, as type: [String].Type) throws -> [String] {
        try strings(name, op: "read string array attribute")
    }

    /// Reads an attribute of any supported kind; scalars and arrays are told apart by the dataspace.
    public func attribute(_ name: String) throws -> HDF5AttributeValue {
        let (cls, size, isScalar) = try withAttribute(name, op: "read attribute") { _, type, _, _, isScalar, _ in
            (H5Tget_class(type), H5Tget_size(type), isScalar)
        }
        switch cls {
        case H5T_STRING:
            let values = try strings(name, op: "read attribute")
            return isScalar ? .string(values.first ?? "") : .strings(values)
        case H5T_INTEGER:
            let values = try ints(name, op: "read attribute")
            return isScalar ? .int(values.first ?? 0) : .ints(values)
        case H5T_FLOAT:
            if isScalar {
                return .double(try attribute(name, as: Double.self))
            }
            return size == 4
                ? .floats(try attribute(name, as: [Float].self))
                : .doubles(try attribute(name, as: [Double].self))
        default:
            throw HDF5Error(
                kind: .typeMismatch, operation: "read attribute", filePath: filePath,
                objectPath: attributePath(name),
                reason: "the attribute's type is not a string, integer or float")
        }
    }

    // MARK: Listing

    /// The names of all attributes on this object, sorted.
    public func attributeNames() throws -> [String] {
        try withID("list attributes") { id, ctx in
            var info = H5O_info_t()
            try ctx.check(H5Oget_info2(id, &info, UInt32(H5O_INFO_NUM_ATTRS)), "could not read the object info")
            var names: [String] = []
            for index in 0..<info.num_attrs {
                let length = try ctx.check(
                    H5Aget_name_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, index, nil, 0, defaultPlist),
                    "could not read the name of attribute #\(index)")
                var buffer = [CChar](repeating: 0, count: Int(length) + 1)
                try ctx.check(
                    H5Aget_name_by_idx(
                        id, ".", H5_INDEX_NAME, H5_ITER_INC, index, &buffer, buffer.count,
                        defaultPlist),
                    "could not read the name of attribute #\(index)")
                names.append(decodeUTF8(buffer.prefix(Int(length))))
            }
            return names.sorted()
        }
    }

    /// Whether an attribute named `name` exists on this object (false if the handle was closed).
    public func hasAttribute(_ name: String) -> Bool {
        (try? withID("check attribute", object: attributePath(name)) { id, _ in
            let exists = H5Aexists(id, name)
            if exists < 0 { _ = takeErrorStack() }
            return exists > 0
        }) ?? false
    }

    /// Deletes the attribute `name`; throws `.notFound` if there is none.
    public func removeAttribute(_ name: String) throws {
        try withID("remove attribute", object: attributePath(name)) { id, ctx in
            guard try ctx.check(H5Aexists(id, name), "could not check for the attribute") > 0 else {
                throw ctx.error(.notFound, "no attribute with this name exists")
            }
            try ctx.check(H5Adelete(id, name), "could not delete the attribute")
        }
    }

    // MARK: - Internals (all HDF5 calls under the lock)

    /// How attributes are named in errors: "/path/to/object@name".
    func attributePath(_ name: String) -> String { "\(path)@\(name)" }

    /// Deletes any existing attribute `name`, creates a new one of `type` with a scalar or 1-D
    /// dataspace of `count` elements, and runs `write` on it.
    private func createAttribute(
        _ name: String, type: hid_t, count: Int, scalar: Bool, op: String,
        _ write: (_ attr: hid_t, _ ctx: Context) throws -> Void
    ) throws {
        try withID(op, object: attributePath(name)) { id, ctx in
            if name.isEmpty { throw ctx.error(.invalidArgument, "the attribute name is empty") }
            let exists = try ctx.check(H5Aexists(id, name), "could not check for an existing attribute")
            if exists > 0 {
                try ctx.check(H5Adelete(id, name), "could not delete the existing attribute")
            }
            var dim = hsize_t(count)
            let space = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dim, nil)
            try ctx.check(space, "could not create the attribute's dataspace")
            defer { H5Sclose(space) }
            let attr = H5Acreate2(id, name, type, space, defaultPlist, defaultPlist)
            if attr < 0 { throw ctx.libraryError("could not create the attribute") }
            defer { H5Aclose(attr) }
            try write(attr, ctx)
        }
    }

    private func writeNumbers<T: BitwiseCopyable>(_ name: String, _ values: [T], type: hid_t, scalar: Bool) throws {
        try createAttribute(name, type: type, count: values.count, scalar: scalar, op: "write attribute") { attr, ctx in
            if values.isEmpty { return }
            try values.withUnsafeBytes { bytes in
                _ = try ctx.check(H5Awrite(attr, type, bytes.baseAddress), "could not write the attribute")
            }
        }
    }

    private func writeStrings(_ name: String, _ values: [String], scalar: Bool) throws {
        if values.contains(where: { $0.utf8.contains(0) }) {
            throw HDF5Error(
                kind: .invalidArgument, operation: "write attribute", filePath: filePath,
                objectPath: attributePath(name),
                reason: "HDF5 strings cannot contain NUL characters")
        }
        try hdf5Locked {
            let ctx = Context(operation: "write attribute", filePath: filePath, objectPath: attributePath(name))
            let type = try variableStringType(cset: H5T_CSET_UTF8, ctx)
            defer { H5Tclose(type) }
            try createAttribute(name, type: type, count: values.count, scalar: scalar, op: "write attribute") {
                attr, ctx in
                if values.isEmpty { return }
                var pointers: [UnsafeMutablePointer<CChar>?] = values.map { strdup($0) }
                defer { for p in pointers { free(p) } }
                try ctx.check(H5Awrite(attr, type, &pointers), "could not write the attribute")
            }
        }
    }

    /// A variable-length C string type with the given character set. Caller closes it.
    private func variableStringType(cset: H5T_cset_t, _ ctx: Context) throws -> hid_t {
        let type = try ctx.check(H5Tcopy(H5T_C_S1), "could not create a string type")
        if H5Tset_size(type, H5T_VARIABLE) < 0 || H5Tset_cset(type, cset) < 0 {
            let error = ctx.libraryError("could not configure a variable-length string type")
            H5Tclose(type)
            throw error
        }
        return type
    }

    /// Opens attribute `name` and runs `body` with it, its (file) type, dataspace, element count
    /// (0 for a null dataspace) and whether it is a scalar. Throws `.notFound` if it does not exist.
    private func withAttribute<R>(
        _ name: String, op: String,
        _ body: (
            _ attr: hid_t, _ type: hid_t, _ space: hid_t, _ count: Int, _ isScalar: Bool,
            _ ctx: Context
        ) throws -> R
    ) throws -> R {
        try withID(op, object: attributePath(name)) { id, ctx in
            guard try ctx.check(H5Aexists(id, name), "could not check for the attribute") > 0 else {
                throw ctx.error(.notFound, "no attribute with this name exists")
            }
            let attr = H5Aopen(id, name, defaultPlist)
            if attr < 0 { throw ctx.libraryError("could not open the attribute") }
            defer { H5Aclose(attr) }
            let type = try ctx.check(H5Aget_type(attr), "could not get the attribute's type")
            defer { H5Tclose(type) }
            let space = try ctx.check(H5Aget_space(attr), "could not get the attribute's dataspace")
            defer { H5Sclose(space) }
            let count = try ctx.check(H5Sget_simple_extent_npoints(space), "could not get the attribute's size")
            let isScalar = H5Sget_simple_extent_type(space) == H5S_SCALAR
            return try body(attr, type, space, Int(count), isScalar, ctx)
        }
    }

    private func ints(_ name: String, op: String) throws -> [Int] {
        try withAttribute(name, op: op) { attr, type, _, count, _, ctx in
            guard H5Tget_class(type) == H5T_INTEGER else {
                throw ctx.error(
                    .typeMismatch, "the attribute holds \(HDF5ElementType(typeID: type)) values, not integers")
            }
            var values = [Int64](repeating: 0, count: count)
            if count > 0 {
                try ctx.check(H5Aread(attr, H5T_NATIVE_INT64, &values), "could not read the attribute")
            }
            return values.map { Int($0) }
        }
    }

    private func numbers<T: BitwiseCopyable & ExpressibleByIntegerLiteral>(
        _ name: String, _ swiftType: T.Type, _ memType: hid_t, op: String
    ) throws -> [T] {
        try withAttribute(name, op: op) { attr, type, _, count, _, ctx in
            guard H5Tget_class(type) == H5T_FLOAT else {
                throw ctx.error(
                    .typeMismatch, "the attribute holds \(HDF5ElementType(typeID: type)) values, not floats")
            }
            var values = [T](repeating: 0, count: count)
            if count > 0 {
                try ctx.check(H5Aread(attr, memType, &values), "could not read the attribute")
            }
            return values
        }
    }

    private func strings(_ name: String, op: String) throws -> [String] {
        try withAttribute(name, op: op) { attr, type, space, count, _, ctx in
            guard H5Tget_class(type) == H5T_STRING else {
                throw ctx.error(
                    .typeMismatch, "the attribute holds \(HDF5ElementType(typeID: type)) values, not strings")
            }
            if count == 0 { return [] }
            let isVariable = try ctx.check(H5Tis_variable_str(type), "could not inspect the string type")
            if isVariable > 0 {
                let memType = try variableStringType(cset: H5Tget_cset(type), ctx)
                defer { H5Tclose(memType) }
                var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
                defer { _ = H5Dvlen_reclaim(memType, space, defaultPlist, &pointers) }  // frees what was read
                try ctx.check(H5Aread(attr, memType, &pointers), "could not read the attribute")
                return pointers.map { $0.map { String(cString: $0) } ?? "" }
            }
            let size = H5Tget_size(type)
            guard size > 0 else { return Array(repeating: "", count: count) }
            var bytes = [UInt8](repeating: 0, count: count * size)
            try ctx.check(H5Aread(attr, type, &bytes), "could not read the attribute")
            let spacePadded = H5Tget_strpad(type) == H5T_STR_SPACEPAD
            return (0..<count).map { i in
                var field = bytes[(i * size)..<((i + 1) * size)]
                if let nul = field.firstIndex(of: 0) { field = field[..<nul] }
                if spacePadded { while field.last == 0x20 { field = field.dropLast() } }
                return String(decoding: field, as: UTF8.self)
            }
        }
    }

    /// The attribute's content as canonical bytes, for checksums: its type (`hdf5TypeSignature`),
    /// its shape, then its values as stored (no conversion); variable-length strings as each
    /// string's byte count (8 bytes, little-endian) followed by its bytes.
    public func attributeContent(_ name: String) throws -> [UInt8] {
        try withAttribute(name, op: "read attribute") { attr, type, space, count, isScalar, ctx in
            var out = hdf5TypeSignature(type)
            let rank = isScalar ? 0 : Int(try ctx.check(H5Sget_simple_extent_ndims(space), "could not get the rank"))
            var dims = [hsize_t](repeating: 0, count: rank)
            if rank > 0 { try ctx.check(H5Sget_simple_extent_dims(space, &dims, nil), "could not get the dimensions") }
            appendInt64(&out, isScalar ? -1 : rank)
            for d in dims { appendInt64(&out, Int(clamping: d)) }
            if count == 0 { return out }
            if H5Tget_class(type) == H5T_STRING,
                try ctx.check(H5Tis_variable_str(type), "could not inspect the type") > 0
            {
                let memType = try variableStringType(cset: H5Tget_cset(type), ctx)
                defer { H5Tclose(memType) }
                var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
                defer { _ = H5Dvlen_reclaim(memType, space, defaultPlist, &pointers) }
                try ctx.check(H5Aread(attr, memType, &pointers), "could not read the attribute")
                for p in pointers {
                    let length = p.map { strlen($0) } ?? 0
                    appendInt64(&out, length)
                    if let p { out.append(contentsOf: UnsafeRawBufferPointer(start: p, count: length)) }
                }
                return out
            }
            guard H5Tis_variable_str(type) <= 0, H5Tdetect_class(type, H5T_VLEN) <= 0 else {
                _ = takeErrorStack()
                return out  // other variable-length values: type and shape only
            }
            let size = H5Tget_size(type)
            var bytes = [UInt8](repeating: 0, count: count * size)
            try ctx.check(H5Aread(attr, type, &bytes), "could not read the attribute")
            out += bytes
            return out
        }
    }

    /// The single value of a scalar (or one-element) attribute.
    private func single<V>(_ name: String, _ values: [V], _ op: String) throws -> V {
        guard values.count == 1, let value = values.first else {
            throw HDF5Error(
                kind: .shapeMismatch, operation: op, filePath: filePath, objectPath: attributePath(name),
                reason: "the attribute holds \(values.count) values, not one")
        }
        return value
    }
}

/// Appends `value` as 8 little-endian bytes.
func appendInt64(_ out: inout [UInt8], _ value: Int) {
    withUnsafeBytes(of: Int64(value).littleEndian) { out.append(contentsOf: $0) }
}

/// Canonical bytes describing an HDF5 datatype, for checksums: its class and size, then what
/// decides how its bytes are read (byte order, precision, offset, sign; a float's bit fields,
/// bias and normalization; a string's form, character set and padding). Call under the lock.
func hdf5TypeSignature(_ type: hid_t) -> [UInt8] {
    var out: [UInt8] = Array("type".utf8)
    let cls = H5Tget_class(type)
    appendInt64(&out, Int(cls.rawValue))
    appendInt64(&out, H5Tget_size(type))
    switch cls {
    case H5T_INTEGER:
        appendInt64(&out, Int(H5Tget_order(type).rawValue))
        appendInt64(&out, H5Tget_precision(type))
        appendInt64(&out, Int(H5Tget_offset(type)))
        appendInt64(&out, Int(H5Tget_sign(type).rawValue))
    case H5T_FLOAT:
        let layout = HDF5FloatLayout(typeID: type)
        for v in [
            layout.littleEndian ? 0 : 1, layout.precision, layout.offset, layout.signBit, layout.exponentStart,
            layout.exponentBits, layout.mantissaStart, layout.mantissaBits, layout.exponentBias,
            layout.impliedLeadingOne ? 1 : 0
        ] { appendInt64(&out, v) }
    case H5T_STRING:
        appendInt64(&out, H5Tis_variable_str(type) > 0 ? 1 : 0)
        appendInt64(&out, Int(H5Tget_cset(type).rawValue))
        appendInt64(&out, Int(H5Tget_strpad(type).rawValue))
    default:
        break
    }
    _ = takeErrorStack()
    return out
}

/// Decodes C characters as UTF-8 (invalid sequences become U+FFFD).
func decodeUTF8<C: Collection>(_ chars: C) -> String where C.Element == CChar {
    String(decoding: chars.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
