import CHDF5

/// An open HDF5 dataset: an n-dimensional array of one element type, stored row-major.
/// "Rows" are slabs along dimension 0 with all other dimensions whole, the unit a minibatch is made of.
public final class HDF5Dataset: HDF5Object, @unchecked Sendable {
    /// The dataset's dimensions (`[]` for a scalar). Fixed: HDF5Kit creates fixed-size datasets.
    public let shape: [Int]
    /// The stored element type; reads and writes must use the matching `HDF5Scalar`.
    public let elementType: HDF5ElementType

    init(id: hid_t, filePath: String, path: String, shape: [Int], elementType: HDF5ElementType) {
        self.shape = shape
        self.elementType = elementType
        super.init(id: id, kind: .dataset, filePath: filePath, path: path)
    }

    /// The number of dimensions.
    public var rank: Int { shape.count }
    /// The total number of elements (1 for a scalar).
    public var elementCount: Int { product(shape) }
    /// The extent of dimension 0 (1 for a scalar).
    public var rowCount: Int { shape.first ?? 1 }
    /// Elements per row: the product of all dimensions after the first.
    public var rowSize: Int { product(Array(shape.dropFirst())) }

    /// Reads a dataset's shape and element type. Call under the lock.
    static func describe(_ did: hid_t, _ ctx: Context) throws -> ([Int], HDF5ElementType) {
        let space = try ctx.check(H5Dget_space(did), "could not get the dataspace")
        defer { H5Sclose(space) }
        let rank = try ctx.check(H5Sget_simple_extent_ndims(space), "could not get the rank")
        var dims = [hsize_t](repeating: 0, count: Int(rank))
        try ctx.check(H5Sget_simple_extent_dims(space, &dims, nil), "could not get the dimensions")
        let type = try ctx.check(H5Dget_type(did), "could not get the element type")
        defer { H5Tclose(type) }
        return (dims.map { Int($0) }, HDF5ElementType(typeID: type))
    }

    // MARK: - Whole-dataset I/O

    /// Writes every element (row-major); `values.count` must equal the product of `shape`.
    public func write<T: HDF5Scalar>(_ values: [T]) throws {
        try withID("write dataset") { id, ctx in
            let memType = try checkedType(T.self, ctx, verb: "written")
            guard values.count == elementCount else {
                throw ctx.error(
                    .shapeMismatch,
                    "\(values.count) values given but shape \(shape) holds \(elementCount)")
            }
            if values.isEmpty { return }
            _ = try values.withUnsafeBytes { bytes in
                try ctx.check(
                    H5Dwrite(id, memType, allSpace, allSpace, defaultPlist, bytes.baseAddress),
                    "could not write the dataset")
            }
        }
    }

    /// Reads every element (row-major); throws `.typeMismatch` unless the stored type is exactly `T`.
    public func read<T: HDF5Scalar>(as type: T.Type = T.self) throws -> [T] {
        try withID("read dataset") { id, ctx in
            let memType = try checkedType(T.self, ctx, verb: "read")
            let n = elementCount
            return try Array(unsafeUninitializedCapacity: n) { buffer, initialized in
                if n > 0 {
                    try ctx.check(
                        H5Dread(id, memType, allSpace, allSpace, defaultPlist, buffer.baseAddress),
                        "could not read the dataset")
                }
                initialized = n
            }
        }
    }

    // MARK: - Hyperslabs

    /// Reads the block starting at `offset` with extent `count` (one entry per dimension), row-major.
    public func read<T: HDF5Scalar>(offset: [Int], count: [Int], as type: T.Type = T.self) throws -> [T] {
        try withID("read slab") { id, ctx in
            try validateSlab(offset: offset, count: count, ctx)
            let n = product(count)
            return try Array(unsafeUninitializedCapacity: n) { buffer, initialized in
                try transferSlab(id, ctx, T.self, offset: offset, count: count) { memType, memSpace, fileSpace in
                    H5Dread(id, memType, memSpace, fileSpace, defaultPlist, buffer.baseAddress)
                }
                initialized = n
            }
        }
    }

    /// Reads the block at `offset`/`count` into the start of `buffer`, which must hold at least
    /// `count`'s product elements; returns how many elements were written. Allocates nothing.
    @discardableResult
    public func read<T: HDF5Scalar>(offset: [Int], count: [Int], into buffer: UnsafeMutableBufferPointer<T>) throws
        -> Int
    {
        try withID("read slab") { id, ctx in
            try validateSlab(offset: offset, count: count, ctx)
            let n = product(count)
            try checkBuffer(buffer.count, needs: n, what: "slab offset \(offset) count \(count)", ctx)
            try transferSlab(id, ctx, T.self, offset: offset, count: count) { memType, memSpace, fileSpace in
                H5Dread(id, memType, memSpace, fileSpace, defaultPlist, buffer.baseAddress)
            }
            return n
        }
    }

    /// Writes `values` into the block at `offset` with extent `count`; counts must match.
    public func write<T: HDF5Scalar>(_ values: [T], offset: [Int], count: [Int]) throws {
        try withID("write slab") { id, ctx in
            try validateSlab(offset: offset, count: count, ctx)
            guard values.count == product(count) else {
                throw ctx.error(
                    .shapeMismatch,
                    "\(values.count) values given but slab count \(count) holds \(product(count))")
            }
            try values.withUnsafeBytes { bytes in
                try transferSlab(id, ctx, T.self, offset: offset, count: count) { memType, memSpace, fileSpace in
                    H5Dwrite(id, memType, memSpace, fileSpace, defaultPlist, bytes.baseAddress)
                }
            }
        }
    }

    // MARK: - Rows

    /// Reads rows `rows` (a slab along dimension 0, other dimensions whole) as a new array.
    public func readRows<T: HDF5Scalar>(_ rows: Range<Int>, as type: T.Type = T.self) throws -> [T] {
        try withID("read rows") { _, ctx in
            try validateRows(rows, ctx)
            return try read(offset: rowOffset(rows.lowerBound), count: rowCount(rows.count), as: T.self)
        }
    }

    /// Reads rows `rows` into the start of `buffer` without allocating (for a prefetcher). The buffer
    /// must hold at least `rows.count * rowSize` elements; returns how many elements were written.
    @discardableResult
    public func readRows<T: HDF5Scalar>(into buffer: UnsafeMutableBufferPointer<T>, rows: Range<Int>) throws -> Int {
        try withID("read rows") { _, ctx in
            try validateRows(rows, ctx)
            return try read(offset: rowOffset(rows.lowerBound), count: rowCount(rows.count), into: buffer)
        }
    }

    /// Reads the rows at `indices` (any order, repeats allowed) into the start of `buffer`, row i of
    /// the result being row `indices[i]`; runs of consecutive indices are read as one slab.
    /// The buffer must hold at least `indices.count * rowSize` elements; returns the element count written.
    @discardableResult
    public func readRows<T: HDF5Scalar>(indices: [Int], into buffer: UnsafeMutableBufferPointer<T>) throws -> Int {
        try withID("read rows by index") { id, ctx in
            let memType = try checkedType(T.self, ctx, verb: "read")
            guard rank >= 1 else { throw ctx.error(.invalidArgument, "a scalar dataset has no rows") }
            if let bad = indices.first(where: { $0 < 0 || $0 >= rowCount }) {
                throw ctx.error(
                    .outOfRange,
                    "row index \(bad) is outside rows 0..<\(rowCount) of dataset shape \(shape)")
            }
            let rowSize = self.rowSize
            let n = indices.count * rowSize
            try checkBuffer(buffer.count, needs: n, what: "\(indices.count) rows of \(rowSize) elements", ctx)
            if n == 0 { return 0 }
            guard let base = buffer.baseAddress else { return 0 }

            let fileSpace = try ctx.check(H5Dget_space(id), "could not get the dataspace")
            defer { H5Sclose(fileSpace) }
            var start = [hsize_t](repeating: 0, count: rank)
            var count = hsizes(shape)
            var i = 0
            while i < indices.count {
                var j = i + 1
                while j < indices.count && indices[j] == indices[j - 1] + 1 { j += 1 }
                start[0] = hsize_t(indices[i])
                count[0] = hsize_t(j - i)
                try ctx.check(
                    H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, start, nil, count, nil),
                    "could not select rows \(indices[i])..<\(indices[i] + j - i)")
                var memCount = hsize_t((j - i) * rowSize)
                let memSpace = try ctx.check(H5Screate_simple(1, &memCount, nil), "could not create a dataspace")
                defer { H5Sclose(memSpace) }
                try ctx.check(
                    H5Dread(id, memType, memSpace, fileSpace, defaultPlist, base + i * rowSize),
                    "could not read rows \(indices[i])..<\(indices[i] + j - i)")
                i = j
            }
            return n
        }
    }

    /// Reads the rows at `indices` (any order, repeats allowed) as a new array, in the order given.
    public func readRows<T: HDF5Scalar>(indices: [Int], as type: T.Type = T.self) throws -> [T] {
        let n = indices.count * rowSize
        return try Array(unsafeUninitializedCapacity: n) { buffer, initialized in
            initialized = try readRows(indices: indices, into: buffer)
        }
    }

    /// Writes `values` (whole rows) starting at row `start`; `values.count` must be a multiple of `rowSize`.
    public func writeRows<T: HDF5Scalar>(_ values: [T], at start: Int) throws {
        try withID("write rows") { _, ctx in
            guard rank >= 1 else { throw ctx.error(.invalidArgument, "a scalar dataset has no rows") }
            let rowSize = self.rowSize
            let rows = rowSize == 0 ? 0 : values.count / rowSize
            guard rows * rowSize == values.count else {
                throw ctx.error(
                    .shapeMismatch,
                    "\(values.count) values are not a whole number of rows of \(rowSize) elements (shape \(shape))")
            }
            try validateRows(start..<(start + rows), ctx)
            try write(values, offset: rowOffset(start), count: rowCount(rows))
        }
    }

    // MARK: - Helpers (called under the lock)

    /// The native memory type of `T`, or `.typeMismatch` if the dataset stores something else.
    private func checkedType<T: HDF5Scalar>(_ type: T.Type, _ ctx: Context, verb: String) throws -> hid_t {
        guard elementType == T.hdf5ElementType else {
            throw ctx.error(
                .typeMismatch,
                "the dataset stores \(elementType) elements but was \(verb) as \(T.self) (\(T.hdf5ElementType)); HDF5Kit does not convert element types"
            )
        }
        guard let memType = T.hdf5ElementType.nativeTypeID else {
            throw ctx.error(.invalidArgument, "\(T.self) has no native HDF5 type")
        }
        return memType
    }

    private func rowOffset(_ row: Int) -> [Int] { [row] + Array(repeating: 0, count: rank - 1) }
    private func rowCount(_ rows: Int) -> [Int] { [rows] + shape.dropFirst() }

    private func validateRows(_ rows: Range<Int>, _ ctx: Context) throws {
        guard rank >= 1 else { throw ctx.error(.invalidArgument, "a scalar dataset has no rows") }
        guard rows.lowerBound >= 0, rows.upperBound <= rowCount else {
            throw ctx.error(
                .outOfRange,
                "rows \(rows.lowerBound)..<\(rows.upperBound) are outside rows 0..<\(rowCount) of dataset shape \(shape)"
            )
        }
    }

    private func validateSlab(offset: [Int], count: [Int], _ ctx: Context) throws {
        guard offset.count == rank, count.count == rank else {
            throw ctx.error(
                .shapeMismatch,
                "slab offset \(offset) and count \(count) need \(rank) entries each for dataset shape \(shape)")
        }
        for d in 0..<rank where offset[d] < 0 || count[d] < 0 || offset[d] + count[d] > shape[d] {
            throw ctx.error(
                .outOfRange,
                "slab offset \(offset) count \(count) is outside dataset shape \(shape) in dimension \(d)")
        }
    }

    private func checkBuffer(_ capacity: Int, needs n: Int, what: String, _ ctx: Context) throws {
        guard capacity >= n else {
            throw ctx.error(.shapeMismatch, "the buffer holds \(capacity) elements but \(what) need \(n)")
        }
    }

    /// Selects the (validated) slab in the file, makes a matching 1-D memory space and runs `io`.
    private func transferSlab<T: HDF5Scalar>(
        _ id: hid_t, _ ctx: Context, _ type: T.Type, offset: [Int], count: [Int],
        _ io: (_ memType: hid_t, _ memSpace: hid_t, _ fileSpace: hid_t) -> herr_t
    ) throws {
        let memType = try checkedType(T.self, ctx, verb: "accessed")
        let n = product(count)
        if n == 0 { return }
        if rank == 0 {
            try ctx.check(io(memType, allSpace, allSpace), "HDF5 I/O on the scalar dataset failed")
            return
        }
        let fileSpace = try ctx.check(H5Dget_space(id), "could not get the dataspace")
        defer { H5Sclose(fileSpace) }
        try ctx.check(
            H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, hsizes(offset), nil, hsizes(count), nil),
            "could not select slab offset \(offset) count \(count)")
        var memCount = hsize_t(n)
        let memSpace = try ctx.check(H5Screate_simple(1, &memCount, nil), "could not create a dataspace")
        defer { H5Sclose(memSpace) }
        try ctx.check(io(memType, memSpace, fileSpace), "HDF5 I/O on slab offset \(offset) count \(count) failed")
    }
}
