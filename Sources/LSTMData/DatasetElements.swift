import Foundation
import HDF5Kit
import LSTMFiles

/// What a dataset of a split is used for. The one place that decides which stored element types
/// each role accepts (docs/datasets.md, "Element types"); the loader reads every accepted type
/// through HDF5's conversion into the runtime's types (Float features and values, Int32 ids and lengths).
enum DatasetRole: Sendable, Equatable {
    /// `inputs` [N, T, I]: features, read as Float.
    case features
    /// `inputs` [N, T] or `tokens` [L]: token ids, read as Int32.
    case tokenIDs
    /// `targets` [N, T] or [N]: class ids, read as Int32.
    case classIDs
    /// `targets` [N, T, O] or [N, O]: regression values, read as Float.
    case values
    /// `lengths` [N]: steps per sequence, read as Int32.
    case lengths

    /// Whether a dataset storing `type` can serve in this role.
    func accepts(_ type: HDF5ElementType) -> Bool {
        switch self {
        case .features: type.isFloat || type.isInteger
        case .values: type.isFloat
        case .tokenIDs, .classIDs, .lengths: type.isInteger
        }
    }

    /// The accepted types in words, for messages ("a float or integer type", "an integer type").
    var acceptedTypes: String {
        switch self {
        case .features: "float16/32/64 or any integer type"
        case .values: "float16/32/64"
        case .tokenIDs, .classIDs, .lengths: "int8…int64 or uint8…uint64"
        }
    }

    /// What one element is called in messages.
    var elementName: String {
        switch self {
        case .features: "input value"
        case .values: "target value"
        case .tokenIDs: "token id"
        case .classIDs: "class id"
        case .lengths: "length"
        }
    }
}

/// Names the element at a flat (row-major) index of a dataset, e.g. "sequence 3, step 4, feature 1":
/// the one place that formats where an offending element is. The first coordinate is the row in the file.
struct ElementPosition: Sendable {
    /// One label per dimension, e.g. ["sequence", "step", "feature"].
    let labels: [String]
    /// The dataset's shape (only dimensions after the first matter).
    let shape: [Int]

    /// "sequence 3, step 4, feature 1" for flat index `flat`.
    func callAsFunction(_ flat: Int) -> String {
        var rest = flat
        var coordinates = [Int](repeating: 0, count: labels.count)
        for d in stride(from: labels.count - 1, through: 1, by: -1) {
            let extent = max(1, d < shape.count ? shape[d] : 1)
            coordinates[d] = rest % extent
            rest /= extent
        }
        if !coordinates.isEmpty { coordinates[0] = rest }
        return zip(labels, coordinates).map { "\($0) \($1)" }.joined(separator: ", ")
    }

    /// Positions in a token stream [L]: "position 17".
    static func stream(_ shape: [Int]) -> ElementPosition { ElementPosition(labels: ["position"], shape: shape) }
    /// Positions in `inputs` [N, T, I] or [N, T].
    static func inputs(_ shape: [Int]) -> ElementPosition {
        ElementPosition(labels: Array(["sequence", "step", "feature"].prefix(shape.count)), shape: shape)
    }
    /// Positions in `targets` [N, T, O], [N, T] (per step) or [N, O], [N] (per sequence).
    static func targets(_ shape: [Int], perStep: Bool) -> ElementPosition {
        let labels = perStep ? ["sequence", "step", "output"] : ["sequence", "output"]
        return ElementPosition(labels: Array(labels.prefix(shape.count)), shape: shape)
    }
    /// Positions in `lengths` [N].
    static func lengths(_ shape: [Int]) -> ElementPosition { ElementPosition(labels: ["sequence"], shape: shape) }
}

/// How dataset validation reports progress on a long scan. By default a line on stderr at most
/// once per `interval`, and only after the scan has taken longer than `interval`.
public struct ValidationProgress: Sendable {
    /// Minimum seconds between reports (and before the first one).
    public var interval: Double
    /// Receives each report line (without a newline).
    public var report: @Sendable (String) -> Void

    /// Creates a reporter.
    public init(interval: Double = 1, report: @escaping @Sendable (String) -> Void) {
        self.interval = interval
        self.report = report
    }

    /// Lines on standard error, once a second at most.
    public static let standardError = ValidationProgress { line in
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// No reports.
    public static let silent = ValidationProgress { _ in }
}

/// The scans validation makes over a split's datasets, block by block so memory stays flat.
/// Each scan reads the stored values in a type that holds them exactly (Int64 or UInt64 for
/// integers, Double for float64, Float for float16/32), so a value the loader's conversion
/// would saturate or turn into inf is reported at its position instead of being silently changed.
struct DatasetScanner {
    let path: String
    let progress: ValidationProgress

    /// About this many elements per block read.
    static let blockElements = 1 << 20

    /// Refuses a dataset whose shape claims more data than the file stores: a chunked dataset
    /// with unallocated chunks (they would read as fill values), or contiguous storage smaller
    /// than its shape or larger than the file. Runs before any scan, so a lying dataset costs nothing.
    func checkStored(_ d: HDF5Dataset, object: String) throws {
        try d.checkStoredSize(.dataset, file: path, object: object)
        if let note = Self.manyChunksNote(d, object: object, file: path) { progress.report(note) }
    }

    /// From this many chunks on, a dataset's layout is worth a note: HDF5 does per-chunk work for
    /// each (a million one-row chunks take about a minute to validate on 2 cores; contiguous, seconds).
    static let manyChunks = 100_000

    /// The note for a dataset stored in at least `manyChunks` chunks of under 64 rows, naming the
    /// layout and the h5repack command that stores it contiguous; nil otherwise.
    static func manyChunksNote(
        _ d: HDF5Dataset, object: String, file: String, threshold: Int = manyChunks
    ) -> String? {
        guard let info = try? d.storage(), info.layout == .chunked, let n = info.allocatedChunks, n >= threshold,
            let rows = info.chunkShape?.first, rows < 64
        else { return nil }
        let out = (file as NSString).deletingPathExtension + "-contiguous.h5"
        return
            "note: \(file): \(object) is stored in \(n) chunks of \(rows) row\(rows == 1 ? "" : "s"), which HDF5 reads "
            + "chunk by chunk, so validating and reading it is slow; stored contiguous it takes seconds: "
            + "h5repack -l CONTI \(file) \(out) (Debian package hdf5-tools)"
    }

    /// Reads `d` as `T` (HDF5 converting from the stored type) in blocks of whole rows and calls
    /// `body(block, flatIndexOfFirstElement)`; reports progress if the scan takes long.
    func blocks<T: HDF5Scalar>(
        _ d: HDF5Dataset, as type: T.Type, object: String,
        _ body: (UnsafeMutableBufferPointer<T>, Int) throws -> Void
    ) throws {
        let rowSize = max(1, d.rowSize)
        let rowsPerBlock = d.rowsPerRead(Self.blockElements / rowSize)
        let buffer = UnsafeMutableBufferPointer<T>.allocate(capacity: rowsPerBlock * rowSize)
        defer { buffer.deallocate() }
        let start = Date()
        var lastReport = start
        var row = 0
        while row < d.rowCount {
            let rows = row..<min(d.rowCount, row + rowsPerBlock)
            let count = try datasetIO(file: path, object: object) {
                try d.readRows(into: buffer, rows: rows, converting: true)
            }
            try body(UnsafeMutableBufferPointer(rebasing: buffer[0..<count]), row * rowSize)
            row = rows.upperBound
            let now = Date()
            if now.timeIntervalSince(lastReport) >= progress.interval && row < d.rowCount {
                lastReport = now
                let percent = Int(Double(row) / Double(d.rowCount) * 100)
                progress.report(
                    "validating \(path): \(object): \(percent)% (\(row) of \(d.rowCount) rows, \(Int(now.timeIntervalSince(start))) s)"
                )
            }
        }
    }

    /// Smallest and largest id (or length) of an integer dataset, with their first positions.
    /// An id that does not fit Int32 (≥ 2^31 or < -2^31) is refused at its first occurrence.
    func scanIDs(
        _ d: HDF5Dataset, role: DatasetRole, object: String, at: ElementPosition
    ) throws -> DatasetSchema.IDRange {
        if d.elementType == .uint64 {
            return try scanIDs(d, as: UInt64.self, role: role, object: object, at: at)
        }
        return try scanIDs(d, as: Int64.self, role: role, object: object, at: at)
    }

    private func scanIDs<T: FixedWidthInteger & HDF5Scalar>(
        _ d: HDF5Dataset, as type: T.Type, role: DatasetRole, object: String, at: ElementPosition
    ) throws -> DatasetSchema.IDRange {
        var range = DatasetSchema.IDRange(min: .max, minIndex: 0, max: .min, maxIndex: 0)
        let low = T(truncatingIfNeeded: Int64(Int32.min))
        let high = T(Int32.max)
        let signed = T.isSigned
        try blocks(d, as: T.self, object: object) { block, base in
            for i in 0..<block.count {
                let v = block[i]
                if v > high || (signed && v < low) {
                    throw FileError(
                        .invalidValue, .dataset, file: path, object: object,
                        "\(role.elementName) \(v) at \(at(base + i)) does not fit in int32, which the runtime reads \(role.elementName)s as (\(role == .lengths ? "lengths must be in 1...T" : "ids must be in 0..<2^31"))"
                    )
                }
                let w = Int32(truncatingIfNeeded: v)
                if w < range.min {
                    range.min = w
                    range.minIndex = base + i
                }
                if w > range.max {
                    range.max = w
                    range.maxIndex = base + i
                }
            }
        }
        return range
    }

    /// Refuses the first value that is not finite, or (float64) would not be finite as float32.
    /// Integer datasets always convert to finite Floats and are not scanned.
    func scanFinite(_ d: HDF5Dataset, role: DatasetRole, object: String, at: ElementPosition) throws {
        switch d.elementType {
        case .float64:
            try blocks(d, as: Double.self, object: object) { block, base in
                for i in 0..<block.count where !Float(block[i]).isFinite {
                    let v = block[i]
                    throw FileError(
                        .invalidValue, .dataset, file: path, object: object,
                        v.isFinite
                            ? "float64 \(role.elementName) \(v) at \(at(base + i)) is beyond float32's finite range (±\(Float.greatestFiniteMagnitude)) and would become \(v > 0 ? "inf" : "-inf")"
                            : "expected finite \(role.elementName)s, found \(v) at \(at(base + i))")
                }
            }
        case .float16, .float32:
            try blocks(d, as: Float.self, object: object) { block, base in
                for i in 0..<block.count where !block[i].isFinite {
                    throw FileError(
                        .invalidValue, .dataset, file: path, object: object,
                        "expected finite \(role.elementName)s, found \(block[i]) at \(at(base + i))")
                }
            }
        default:
            break
        }
    }
}
