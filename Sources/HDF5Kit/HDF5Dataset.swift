import CHDF5

/// An open HDF5 dataset: an n-dimensional array of one element type, stored row-major.
/// "Rows" are slabs along dimension 0 with all other dimensions whole, the unit a minibatch is made of.
public final class HDF5Dataset: HDF5Object, @unchecked Sendable {
    /// The dataset's dimensions (`[]` for a scalar). Fixed: HDF5Kit creates fixed-size datasets.
    public let shape: [Int]
    /// The stored element type; reads and writes use the matching `HDF5Scalar` unless they ask
    /// for conversion (`converting: true`), which lets HDF5 convert between numeric types per read.
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
    /// With `converting`, HDF5 converts `T` to the stored numeric type (e.g. Float into a float16
    /// dataset); out-of-range values then saturate, as HDF5's conversion does by default.
    public func write<T: HDF5Scalar>(_ values: [T], converting: Bool = false) throws {
        try withID("write dataset") { id, ctx in
            let memType = try checkedType(T.self, ctx, verb: "written", converting: converting)
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

    /// Reads every element (row-major); throws `.typeMismatch` unless the stored type is exactly `T`
    /// or `converting` lets HDF5 convert a numeric stored type to `T`.
    public func read<T: HDF5Scalar>(as type: T.Type = T.self, converting: Bool = false) throws -> [T] {
        try withID("read dataset") { id, ctx in
            let memType = try checkedType(T.self, ctx, verb: "read", converting: converting)
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
    public func read<T: HDF5Scalar>(
        offset: [Int], count: [Int], as type: T.Type = T.self, converting: Bool = false
    ) throws -> [T] {
        try withID("read slab") { id, ctx in
            try validateSlab(offset: offset, count: count, ctx)
            let n = product(count)
            return try Array(unsafeUninitializedCapacity: n) { buffer, initialized in
                try transferSlab(id, ctx, T.self, offset: offset, count: count, converting: converting) {
                    memType, memSpace, fileSpace in
                    H5Dread(id, memType, memSpace, fileSpace, defaultPlist, buffer.baseAddress)
                }
                initialized = n
            }
        }
    }

    /// Reads the block at `offset`/`count` into the start of `buffer`, which must hold at least
    /// `count`'s product elements; returns how many elements were written. Allocates nothing.
    /// With `converting`, HDF5 converts a numeric stored type to `T` as it reads.
    @discardableResult
    public func read<T: HDF5Scalar>(
        offset: [Int], count: [Int], into buffer: UnsafeMutableBufferPointer<T>, converting: Bool = false
    ) throws -> Int {
        try withID("read slab") { id, ctx in
            try validateSlab(offset: offset, count: count, ctx)
            let n = product(count)
            try checkBuffer(buffer.count, needs: n, what: "slab offset \(offset) count \(count)", ctx)
            try transferSlab(id, ctx, T.self, offset: offset, count: count, converting: converting) {
                memType, memSpace, fileSpace in
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
    public func readRows<T: HDF5Scalar>(
        into buffer: UnsafeMutableBufferPointer<T>, rows: Range<Int>, converting: Bool = false
    ) throws -> Int {
        try withID("read rows") { _, ctx in
            try validateRows(rows, ctx)
            return try read(
                offset: rowOffset(rows.lowerBound), count: rowCount(rows.count), into: buffer, converting: converting)
        }
    }

    /// Reads the rows at `indices` (any order, repeats allowed) into the start of `buffer`, row i of
    /// the result being row `indices[i]`; runs of consecutive indices are read as one slab.
    /// The buffer must hold at least `indices.count * rowSize` elements; returns the element count written.
    /// With `converting`, HDF5 converts a numeric stored type to `T` per read (no whole-file copy).
    @discardableResult
    public func readRows<T: HDF5Scalar>(
        indices: [Int], into buffer: UnsafeMutableBufferPointer<T>, converting: Bool = false
    ) throws -> Int {
        try withID("read rows by index") { id, ctx in
            let memType = try checkedType(T.self, ctx, verb: "read", converting: converting)
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

    // MARK: - Raw content (checksums)

    /// Canonical bytes of the stored datatype and the shape, for checksums (see `attributeContent`).
    public func contentHeader() throws -> [UInt8] {
        try withID("describe dataset") { id, ctx in
            let type = try ctx.check(H5Dget_type(id), "could not get the element type")
            defer { H5Tclose(type) }
            var out = hdf5TypeSignature(type)
            appendInt64(&out, rank)
            for d in shape { appendInt64(&out, d) }
            return out
        }
    }

    /// Calls `body` with the stored bytes of the dataset (exactly as stored, no conversion),
    /// whole rows at a time in blocks of about `blockBytes`, in row-major order. A dataset of
    /// variable-length elements (strings, vlen) has no fixed bytes and calls `body` never.
    /// Memory stays at one block whatever the dataset's size.
    public func forEachStoredBlock(
        blockBytes: Int = 4 << 20, _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        let (elementBytes, variable) = try withID("read raw") { id, ctx in
            let type = try ctx.check(H5Dget_type(id), "could not get the element type")
            defer { H5Tclose(type) }
            let variable = H5Tis_variable_str(type) > 0 || H5Tdetect_class(type, H5T_VLEN) > 0
            _ = takeErrorStack()
            return (H5Tget_size(type), variable)
        }
        if variable || elementBytes == 0 || shape.contains(0) { return }
        var rowBytes = elementBytes
        for d in shape.dropFirst() {
            let (m, overflow) = rowBytes.multipliedReportingOverflow(by: d)
            if overflow {
                throw HDF5Error(
                    kind: .outOfRange, operation: "read raw", filePath: filePath, objectPath: path,
                    reason: "a row of shape \(shape) is too large to read")
            }
            rowBytes = m
        }
        let rowsPerBlock = rowsPerRead(blockBytes / max(1, rowBytes))
        let buffer = UnsafeMutableRawBufferPointer.allocate(
            byteCount: max(1, min(rowsPerBlock, rowCount) * rowBytes), alignment: 16)
        defer { buffer.deallocate() }
        var row = 0
        while row < rowCount {
            let rows = rank == 0 ? 1 : min(rowsPerBlock, rowCount - row)
            try withID("read raw") { id, ctx in
                let type = try ctx.check(H5Dget_type(id), "could not get the element type")
                defer { H5Tclose(type) }
                if rank == 0 {
                    try ctx.check(
                        H5Dread(id, type, allSpace, allSpace, defaultPlist, buffer.baseAddress),
                        "could not read the dataset")
                    return
                }
                let fileSpace = try ctx.check(H5Dget_space(id), "could not get the dataspace")
                defer { H5Sclose(fileSpace) }
                var start = [hsize_t](repeating: 0, count: rank)
                var count = hsizes(shape)
                start[0] = hsize_t(row)
                count[0] = hsize_t(rows)
                try ctx.check(
                    H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, start, nil, count, nil),
                    "could not select rows \(row)..<\(row + rows)")
                var memCount = hsize_t(rows * rowSize)
                let memSpace = try ctx.check(H5Screate_simple(1, &memCount, nil), "could not create a dataspace")
                defer { H5Sclose(memSpace) }
                // The memory type is the file type itself, so HDF5 copies the bytes without converting.
                try ctx.check(
                    H5Dread(id, type, memSpace, fileSpace, defaultPlist, buffer.baseAddress),
                    "could not read rows \(row)..<\(row + rows)")
            }
            try body(UnsafeRawBufferPointer(rebasing: buffer[0..<(rows * rowBytes)]))
            row += rows
        }
    }

    /// At most this many chunks per block read. HDF5 keeps bookkeeping for every chunk a read
    /// touches, so one read over a million one-row chunks grows the process by gigabytes (and is
    /// slower): `rowsPerRead` caps a block at this many chunks' rows.
    public static let chunksPerRead = 1024

    /// How many rows one block read should take: `wanted`, capped at `chunksPerRead` chunks of a
    /// chunked dataset (its chunk's first dimension times that). At least 1.
    public func rowsPerRead(_ wanted: Int) -> Int {
        let wanted = max(1, wanted)
        guard rank > 0 else { return wanted }
        let chunkRows: Int? = try? withID("get chunk shape") { id, ctx in
            let dcpl = try ctx.check(H5Dget_create_plist(id), "could not get the creation properties")
            defer { H5Pclose(dcpl) }
            guard H5Pget_layout(dcpl) == H5D_CHUNKED else { return nil }
            var dims = [hsize_t](repeating: 0, count: rank)
            let r = H5Pget_chunk(dcpl, Int32(rank), &dims)
            _ = takeErrorStack()
            return r > 0 ? Int(clamping: dims[0]) : nil
        }
        guard let chunkRows, chunkRows > 0 else { return wanted }
        let (cap, overflow) = chunkRows.multipliedReportingOverflow(by: Self.chunksPerRead)
        return overflow ? wanted : min(wanted, cap)
    }

    // MARK: - Storage

    /// How the dataset is laid out in the file and how much of it is actually stored, so callers
    /// can tell a dataset whose shape claims more than the file holds (unwritten chunks read as fill values).
    public func storage() throws -> HDF5StorageInfo {
        try withID("get storage") { id, ctx in
            let dcpl = try ctx.check(H5Dget_create_plist(id), "could not get the creation properties")
            defer { H5Pclose(dcpl) }
            let stored = Int(clamping: H5Dget_storage_size(id))
            let filters = H5Pget_nfilters(dcpl)
            switch H5Pget_layout(dcpl) {
            case H5D_CHUNKED:
                var dims = [hsize_t](repeating: 0, count: max(1, rank))
                let r = try ctx.check(H5Pget_chunk(dcpl, Int32(dims.count), &dims), "could not get the chunk shape")
                let chunkShape = dims.prefix(Int(r)).map { Int(clamping: $0) }
                let space = try ctx.check(H5Dget_space(id), "could not get the dataspace")
                defer { H5Sclose(space) }
                var n: hsize_t = 0
                try ctx.check(H5Dget_num_chunks(id, space, &n), "could not count the stored chunks")
                return HDF5StorageInfo(
                    layout: .chunked, chunkShape: chunkShape, storedBytes: stored,
                    allocatedChunks: Int(clamping: n), filtered: filters > 0)
            case H5D_CONTIGUOUS:
                return HDF5StorageInfo(layout: .contiguous, storedBytes: stored, filtered: filters > 0)
            case H5D_COMPACT:
                return HDF5StorageInfo(layout: .compact, storedBytes: stored, filtered: filters > 0)
            case H5D_VIRTUAL:
                return HDF5StorageInfo(layout: .virtual, storedBytes: stored, filtered: filters > 0)
            default:
                return HDF5StorageInfo(layout: .other, storedBytes: stored, filtered: filters > 0)
            }
        }
    }

    // MARK: - Helpers (called under the lock)

    /// The native memory type of `T`, or `.typeMismatch` if the dataset stores something else
    /// (with `converting`: something HDF5 cannot convert to `T`, i.e. not a number).
    private func checkedType<T: HDF5Scalar>(
        _ type: T.Type, _ ctx: Context, verb: String, converting: Bool = false
    ) throws -> hid_t {
        let numeric = elementType.isFloat || elementType.isInteger
        guard elementType == T.hdf5ElementType || (converting && numeric) else {
            throw ctx.error(
                .typeMismatch,
                converting
                    ? "the dataset stores \(elementType) elements, which HDF5Kit does not convert to \(T.self) (\(T.hdf5ElementType)); only numeric types convert"
                    : "the dataset stores \(elementType) elements but was \(verb) as \(T.self) (\(T.hdf5ElementType)) without conversion"
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
        _ id: hid_t, _ ctx: Context, _ type: T.Type, offset: [Int], count: [Int], converting: Bool = false,
        _ io: (_ memType: hid_t, _ memSpace: hid_t, _ fileSpace: hid_t) -> herr_t
    ) throws {
        let memType = try checkedType(T.self, ctx, verb: "accessed", converting: converting)
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

/// Where and how much of a dataset is stored (see `HDF5Dataset.storage()`).
public struct HDF5StorageInfo: Sendable, Equatable {
    /// HDF5's storage layouts.
    public enum Layout: String, Sendable, Equatable {
        /// Stored in the object header (small datasets).
        case compact
        /// One block of `elementCount × element size` bytes, allocated when first written.
        case contiguous
        /// Fixed-shape chunks, each allocated when first written.
        case chunked
        /// Mapped from other datasets or files.
        case virtual
        /// A layout HDF5Kit does not know.
        case other
    }

    /// The layout.
    public let layout: Layout
    /// The chunk shape for `.chunked`, else nil.
    public let chunkShape: [Int]?
    /// Bytes allocated in the file for the data (`H5Dget_storage_size`; after compression if filtered).
    public let storedBytes: Int
    /// Chunks allocated in the file for `.chunked` (`H5Dget_num_chunks`), else nil.
    public let allocatedChunks: Int?
    /// Whether a filter (e.g. gzip) is applied, so stored bytes may be fewer than the data's size.
    public let filtered: Bool

    /// Creates a description (HDF5Kit fills it in from the file).
    public init(
        layout: Layout, chunkShape: [Int]? = nil, storedBytes: Int, allocatedChunks: Int? = nil, filtered: Bool
    ) {
        self.layout = layout
        self.chunkShape = chunkShape
        self.storedBytes = storedBytes
        self.allocatedChunks = allocatedChunks
        self.filtered = filtered
    }
}
