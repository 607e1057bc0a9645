import CHDF5

/// An open HDF5 group: a directory of groups and datasets. Wherever a name is accepted, a path
/// such as "train/inputs" (relative to this group) or "/train/inputs" (absolute) works too.
public final class HDF5Group: HDF5Object, @unchecked Sendable {

    /// Whether a group or dataset exists at `name` (checked one path component at a time, so a
    /// missing parent is simply `false`). Also `false` if this handle was closed.
    public func exists(_ name: String) -> Bool {
        (try? withID("check existence", object: joinPath(path, name)) { id, _ in
            Self.exists(name, in: id)
        }) ?? false
    }

    /// Existence check by path component (H5Lexists per prefix). Call under the lock.
    static func exists(_ name: String, in id: hid_t) -> Bool {
        let components = name.split(separator: "/", omittingEmptySubsequences: true)
        if components.isEmpty { return true }  // "" or "/": the group itself / the root
        var prefix = name.hasPrefix("/") ? "/" : ""
        for component in components {
            if !(prefix.isEmpty || prefix == "/") { prefix += "/" }
            prefix += component
            let linkExists = H5Lexists(id, prefix, defaultPlist)
            if linkExists <= 0 {
                if linkExists < 0 { _ = takeErrorStack() }  // e.g. a parent is a dataset
                return false
            }
        }
        let objectExists = H5Oexists_by_name(id, name, defaultPlist)  // false for dangling soft links
        if objectExists < 0 { _ = takeErrorStack() }
        return objectExists > 0
    }

    /// The names of this group's direct members (groups and datasets), sorted.
    public func memberNames() throws -> [String] {
        try withID("list members") { id, ctx in
            var info = H5G_info_t()
            try ctx.check(H5Gget_info(id, &info), "could not read the group info")
            var names: [String] = []
            names.reserveCapacity(Int(info.nlinks))
            for index in 0..<info.nlinks {
                let length = try ctx.check(
                    H5Lget_name_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, index, nil, 0, defaultPlist),
                    "could not read the name of member #\(index)")
                var buffer = [CChar](repeating: 0, count: Int(length) + 1)
                try ctx.check(
                    H5Lget_name_by_idx(
                        id, ".", H5_INDEX_NAME, H5_ITER_INC, index, &buffer, buffer.count,
                        defaultPlist),
                    "could not read the name of member #\(index)")
                names.append(
                    String(
                        decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) },
                        as: UTF8.self))
            }
            return names.sorted()
        }
    }

    /// Creates a new group at `name`, creating missing intermediate groups ("a/b/c" works).
    /// Throws `.alreadyExists` if something is already there.
    @discardableResult
    public func createGroup(_ name: String) throws -> HDF5Group {
        let objectPath = joinPath(path, name)
        return try withID("create group", object: objectPath) { id, ctx in
            try Self.validateName(name, ctx)
            if Self.exists(name, in: id) { throw ctx.error(.alreadyExists, "an object with this name already exists") }
            let lcpl = try Self.intermediateGroupsLinkPlist(ctx)
            defer { H5Pclose(lcpl) }
            let gid = H5Gcreate2(id, name, lcpl, defaultPlist, defaultPlist)
            if gid < 0 { throw ctx.libraryError("could not create the group") }
            return HDF5Group(id: gid, kind: .group, filePath: filePath, path: objectPath)
        }
    }

    /// Opens the existing group at `name`; throws `.notFound` if missing, `.typeMismatch` if it is a dataset.
    public func openGroup(_ name: String) throws -> HDF5Group {
        let objectPath = joinPath(path, name)
        return try withID("open group", object: objectPath) { id, ctx in
            try Self.requireObject(name, in: id, type: H5O_TYPE_GROUP, typeName: "group", ctx)
            let gid = H5Gopen2(id, name, defaultPlist)
            if gid < 0 { throw ctx.libraryError("could not open the group") }
            return HDF5Group(id: gid, kind: .group, filePath: filePath, path: objectPath)
        }
    }

    /// Creates a dataset of `T` elements with the given shape (`[]` for a scalar), optionally
    /// chunked and gzip-compressed (`compression` 0...9; chunks default to ~1 MiB row blocks).
    /// Intermediate groups in `name` are created; throws `.alreadyExists` if `name` is taken.
    @discardableResult
    public func createDataset<T: HDF5Scalar>(
        _ name: String, of type: T.Type, shape: [Int],
        chunks: [Int]? = nil, compression: Int? = nil
    ) throws -> HDF5Dataset {
        try createDataset(name, storing: T.hdf5ElementType, shape: shape, chunks: chunks, compression: compression)
    }

    /// Creates a dataset storing `elementType` (any numeric type, including `.float16`), to be
    /// written with `write(_:converting: true)` from a Swift type HDF5 converts from.
    @discardableResult
    public func createDataset(
        _ name: String, storing elementType: HDF5ElementType, shape: [Int],
        chunks: [Int]? = nil, compression: Int? = nil
    ) throws -> HDF5Dataset {
        let objectPath = joinPath(path, name)
        return try withID("create dataset", object: objectPath) { id, ctx in
            try Self.validateName(name, ctx)
            guard let elementSize = elementType.byteCount, let fileType = elementType.makeFileType() else {
                throw ctx.error(.invalidArgument, "HDF5Kit cannot create a dataset of \(elementType) elements")
            }
            defer { H5Tclose(fileType) }
            let memType = fileType
            if shape.contains(where: { $0 < 0 }) {
                throw ctx.error(.invalidArgument, "shape \(shape) has a negative dimension")
            }
            let chunkDims = try Self.chunkDims(
                shape: shape, chunks: chunks, compression: compression,
                elementSize: elementSize, ctx)
            if Self.exists(name, in: id) { throw ctx.error(.alreadyExists, "an object with this name already exists") }

            let space =
                shape.isEmpty
                ? H5Screate(H5S_SCALAR)
                : H5Screate_simple(Int32(shape.count), hsizes(shape), nil)
            try ctx.check(space, "could not create a dataspace of shape \(shape)")
            defer { H5Sclose(space) }
            let dcpl = try ctx.check(H5Pcreate(H5P_DATASET_CREATE), "could not create a property list")
            defer { H5Pclose(dcpl) }
            if let chunkDims {
                try ctx.check(
                    H5Pset_chunk(dcpl, Int32(chunkDims.count), hsizes(chunkDims)),
                    "could not set chunk shape \(chunkDims)")
            }
            if let compression {
                try ctx.check(H5Pset_deflate(dcpl, UInt32(compression)), "could not enable gzip compression")
            }
            let lcpl = try Self.intermediateGroupsLinkPlist(ctx)
            defer { H5Pclose(lcpl) }
            let did = H5Dcreate2(id, name, memType, space, lcpl, dcpl, defaultPlist)
            if did < 0 { throw ctx.libraryError("could not create the dataset") }
            return HDF5Dataset(
                id: did, filePath: filePath, path: objectPath, shape: shape,
                elementType: elementType)
        }
    }

    /// Opens the existing dataset at `name`; throws `.notFound` naming it if missing.
    public func openDataset(_ name: String) throws -> HDF5Dataset {
        let objectPath = joinPath(path, name)
        return try withID("open dataset", object: objectPath) { id, ctx in
            try Self.requireObject(name, in: id, type: H5O_TYPE_DATASET, typeName: "dataset", ctx)
            let did = H5Dopen2(id, name, defaultPlist)
            if did < 0 { throw ctx.libraryError("could not open the dataset") }
            var adopted = false
            defer { if !adopted { H5Dclose(did) } }
            let (shape, elementType) = try HDF5Dataset.describe(did, ctx)
            adopted = true
            return HDF5Dataset(
                id: did, filePath: filePath, path: objectPath, shape: shape,
                elementType: elementType)
        }
    }

    /// Creates a dataset and writes `values` in one step; `shape` defaults to `[values.count]`.
    /// `storing` another numeric type than `T`'s makes HDF5 convert as it writes (e.g. Float into float16).
    @discardableResult
    public func write<T: HDF5Scalar>(
        _ name: String, _ values: [T], shape: [Int]? = nil, storing: HDF5ElementType? = nil,
        chunks: [Int]? = nil, compression: Int? = nil
    ) throws -> HDF5Dataset {
        let shape = shape ?? [values.count]
        if product(shape) != values.count {
            throw HDF5Error(
                kind: .shapeMismatch, operation: "write dataset", filePath: filePath,
                objectPath: joinPath(path, name),
                reason: "\(values.count) values do not fill shape \(shape) (\(product(shape)) elements)")
        }
        let dataset = try createDataset(
            name, storing: storing ?? T.hdf5ElementType, shape: shape, chunks: chunks, compression: compression)
        try dataset.write(values, converting: storing != nil)
        return dataset
    }

    /// Creates a 1-D dataset of fixed-length (NUL-padded) strings, as h5py writes numpy `S` arrays.
    /// HDF5Kit does not read string datasets back; this exists to describe and test such files.
    @discardableResult
    public func writeStrings(_ name: String, _ values: [String]) throws -> HDF5Dataset {
        let objectPath = joinPath(path, name)
        return try withID("write strings", object: objectPath) { id, ctx in
            try Self.validateName(name, ctx)
            if Self.exists(name, in: id) { throw ctx.error(.alreadyExists, "an object with this name already exists") }
            let width = max(1, values.map(\.utf8.count).max() ?? 1)
            let type = try ctx.check(H5Tcopy(H5T_C_S1), "could not create a string type")
            defer { H5Tclose(type) }
            try ctx.check(H5Tset_size(type, width), "could not set the string width")
            var count = hsize_t(values.count)
            let space = try ctx.check(H5Screate_simple(1, &count, nil), "could not create a dataspace")
            defer { H5Sclose(space) }
            let lcpl = try Self.intermediateGroupsLinkPlist(ctx)
            defer { H5Pclose(lcpl) }
            let did = H5Dcreate2(id, name, type, space, lcpl, defaultPlist, defaultPlist)
            if did < 0 { throw ctx.libraryError("could not create the dataset") }
            var bytes = [UInt8](repeating: 0, count: width * values.count)
            for (i, v) in values.enumerated() {
                bytes.replaceSubrange((i * width)..<(i * width + v.utf8.count), with: v.utf8)
            }
            if !values.isEmpty {
                let status = H5Dwrite(did, type, allSpace, allSpace, defaultPlist, bytes)
                if status < 0 {
                    H5Dclose(did)
                    throw ctx.libraryError("could not write the strings")
                }
            }
            return HDF5Dataset(
                id: did, filePath: filePath, path: objectPath, shape: [values.count], elementType: .other("string"))
        }
    }

    /// Reads the whole dataset at `name` as `[T]` (row-major); throws `.typeMismatch` if it stores another type.
    public func read<T: HDF5Scalar>(_ name: String, as type: T.Type = T.self) throws -> [T] {
        try openDataset(name).read(as: T.self)
    }

    // MARK: - Helpers (called under the lock)

    private static func validateName(_ name: String, _ ctx: Context) throws {
        if name.split(separator: "/").isEmpty { throw ctx.error(.invalidArgument, "the name is empty") }
    }

    /// A link-creation property list that creates missing intermediate groups. Caller closes it.
    private static func intermediateGroupsLinkPlist(_ ctx: Context) throws -> hid_t {
        let lcpl = try ctx.check(H5Pcreate(H5P_LINK_CREATE), "could not create a property list")
        if H5Pset_create_intermediate_group(lcpl, 1) < 0 {
            let error = ctx.libraryError("could not request intermediate groups")
            H5Pclose(lcpl)
            throw error
        }
        return lcpl
    }

    /// Throws `.notFound` unless an object of the given type exists at `name`.
    private static func requireObject(
        _ name: String, in id: hid_t, type: H5O_type_t, typeName: String,
        _ ctx: Context
    ) throws {
        guard exists(name, in: id) else {
            throw ctx.error(.notFound, "no \(typeName) with this name exists")
        }
        var info = H5O_info_t()
        try ctx.check(
            H5Oget_info_by_name2(id, name, &info, UInt32(H5O_INFO_BASIC), defaultPlist),
            "could not read the object info")
        if info.type != type {
            let actual =
                info.type == H5O_TYPE_GROUP ? "group" : info.type == H5O_TYPE_DATASET ? "dataset" : "named type"
            throw ctx.error(.typeMismatch, "the object is a \(actual), not a \(typeName)")
        }
    }

    /// Validates or derives the chunk shape; nil means contiguous storage.
    private static func chunkDims(
        shape: [Int], chunks: [Int]?, compression: Int?, elementSize: Int,
        _ ctx: Context
    ) throws -> [Int]? {
        if let compression {
            guard (0...9).contains(compression) else {
                throw ctx.error(.invalidArgument, "gzip level \(compression) is not in 0...9")
            }
            guard H5Zfilter_avail(H5Z_filter_t(H5Z_FILTER_DEFLATE)) > 0 else {
                _ = takeErrorStack()
                throw ctx.error(.invalidArgument, "this HDF5 library has no gzip (deflate) filter")
            }
        }
        guard chunks != nil || compression != nil else { return nil }
        if shape.isEmpty { throw ctx.error(.invalidArgument, "a scalar dataset cannot be chunked or compressed") }
        if shape.contains(0) {
            throw ctx.error(
                .invalidArgument,
                "a dataset with a zero-length dimension (shape \(shape)) cannot be chunked or compressed")
        }
        if let chunks {
            guard chunks.count == shape.count,
                zip(chunks, shape).allSatisfy({ $0 > 0 && $0 <= $1 })
            else {
                throw ctx.error(
                    .invalidArgument,
                    "chunk shape \(chunks) must have one positive entry per dimension of shape \(shape), each no larger than that dimension"
                )
            }
            return chunks
        }
        // Whole rows, about 1 MiB per chunk.
        let rowBytes = max(1, product(Array(shape.dropFirst())) * elementSize)
        var dims = shape
        dims[0] = max(1, min(shape[0], (1 << 20) / rowBytes))
        return dims
    }
}
