import Foundation
import HDF5Kit
import LSTMFiles

/// Prepares a next-step forecasting dataset from a CSV file with a header row: each sample is a
/// window of T rows of the feature columns, its target the target columns of the row after it.
/// Rows are split chronologically (train first); each split is windowed inside its own rows, and
/// z-score statistics from the train rows only are applied to every split and stored as root
/// attributes (`feature_names`, `mean`, `std`, `target_names`, `target_mean`, `target_std`).
public struct CSVPreparer: Sendable {
    /// T, rows per input window.
    public var window: Int
    /// The target columns (O = their count), predicted for the row after each window.
    public var targets: [String]
    /// The feature columns; nil means every numeric column (those whose first data cell is a number).
    public var features: [String]?
    /// Fraction of the rows for `val` (after train); 0 leaves the split out.
    public var valFraction: Double
    /// Fraction of the rows for `test` (the last rows); 0 leaves the split out.
    public var testFraction: Double
    /// Normalise with these statistics (e.g. a trained model's, for new data to predict on)
    /// instead of the train rows'; their feature and target names must be the chosen columns.
    public var statistics: (features: FeatureStatistics, targets: FeatureStatistics)?

    /// A preparer for windows of `window` rows predicting `targets`; default split 0.8/0.1/0.1.
    public init(
        window: Int, targets: [String], features: [String]? = nil,
        valFraction: Double = 0.1, testFraction: Double = 0.1
    ) {
        self.window = window
        self.targets = targets
        self.features = features
        self.valFraction = valFraction
        self.testFraction = testFraction
    }

    /// Reads the CSV file at `input` and writes the dataset to `output` atomically.
    @discardableResult
    public func prepare(file input: String, to output: String) throws -> DatasetSummary {
        return try prepare(csv: try readUTF8(input), source: input, to: output)
    }

    /// Writes the CSV text `csv` as a dataset to `output`; `source` names the CSV in errors.
    @discardableResult
    public func prepare(csv: String, source: String = "<csv>", to output: String) throws -> DatasetSummary {
        let t = window
        guard t >= 1 else {
            throw FileError(.invalidArgument, .dataset, file: source, "the window must be ≥ 1 row, got \(t)")
        }
        guard !targets.isEmpty else {
            throw FileError(.invalidArgument, .dataset, file: source, "no target column given")
        }
        try checkFractions(valFraction, testFraction, file: source)

        let records = try CSVReader.parse(csv, source: source)
        guard let header = records.first else {
            throw FileError(.invalidValue, .dataset, file: source, "the file is empty")
        }
        let body = Array(records.dropFirst())
        for record in body where record.fields.count != header.fields.count {
            throw FileError(
                .shapeMismatch, .dataset, file: source,
                "line \(record.line) has \(record.fields.count) fields, the header has \(header.fields.count)")
        }
        let names = header.fields.map { $0.trimmingCharacters(in: .whitespaces) }
        func column(_ name: String) throws -> Int {
            let matches = names.indices.filter { names[$0] == name }
            guard let first = matches.first else {
                throw FileError(
                    .missing, .dataset, file: source, object: "column '\(name)'",
                    "no such column in the header (columns: \(names.joined(separator: ", ")))")
            }
            guard matches.count == 1 else {
                throw FileError(
                    .invalidValue, .dataset, file: source, object: "column '\(name)'",
                    "the header names it \(matches.count) times")
            }
            return first
        }
        let targetColumns = try targets.map(column)
        let featureNames: [String]
        if let features {
            featureNames = features
        } else {
            guard let first = body.first else {
                throw FileError(.shapeMismatch, .dataset, file: source, "the file has no data rows")
            }
            featureNames = names.indices.filter { Self.number(first.fields[$0]) != nil }.map { names[$0] }
        }
        guard !featureNames.isEmpty else {
            throw FileError(
                .invalidValue, .dataset, file: source,
                "no numeric feature column found (columns: \(names.joined(separator: ", ")))")
        }
        let featureColumns = try featureNames.map(column)

        let rows = body.count
        guard rows > t else {
            throw FileError(
                .shapeMismatch, .dataset, file: source,
                "too few rows for the window: \(rows) data rows, a window of T = \(t) and its target need at least \(t + 1)"
            )
        }
        // Parse every used column up front, so a bad cell is reported wherever it is.
        func values(_ columns: [Int], _ columnNames: [String]) throws -> [Double] {
            var out = [Double](repeating: 0, count: rows * columns.count)
            for (r, record) in body.enumerated() {
                for (j, c) in columns.enumerated() {
                    guard let v = Self.number(record.fields[c]) else {
                        throw FileError(
                            .invalidValue, .dataset, file: source, object: "column '\(columnNames[j])'",
                            "line \(record.line) (data row \(r + 1)): '\(record.fields[c])' is not a finite number")
                    }
                    out[r * columns.count + j] = v
                }
            }
            return out
        }
        let x = try values(featureColumns, featureNames)
        let y = try values(targetColumns, targets)

        let sizes = splitSizes(total: rows, valFraction: valFraction, testFraction: testFraction)
        let parts = [
            ("train", 0..<sizes.train, 1.0),
            ("val", sizes.train..<(sizes.train + sizes.val), valFraction),
            ("test", (sizes.train + sizes.val)..<rows, testFraction)
        ]
        for (name, range, fraction) in parts where fraction > 0 && range.count <= t {
            throw FileError(
                .shapeMismatch, .dataset, file: source,
                "too few rows for the window: the \(name) split gets \(range.count) of \(rows) data rows (fraction \(fraction)), a window of T = \(t) and its target need at least \(t + 1)"
            )
        }

        let trainRows = parts[0].1
        var featureStats = Self.statistics(x, width: featureColumns.count, rows: trainRows, names: featureNames)
        var targetStats = Self.statistics(y, width: targetColumns.count, rows: trainRows, names: targets)
        if let given = statistics {
            for (what, have, chosen) in [
                ("feature", given.features.names, featureNames), ("target", given.targets.names, targets)
            ] where have != chosen {
                throw FileError(
                    .incompatible, .dataset, file: source,
                    "the given statistics are for the \(what) columns [\(have.joined(separator: ", "))], the chosen \(what) columns are [\(chosen.joined(separator: ", "))]; choose the same columns (--features, --target)"
                )
            }
            (featureStats, targetStats) = given
        }

        let writer = try DatasetWriter(path: output)
        let i = featureColumns.count
        let o = targetColumns.count
        for (name, range, fraction) in parts where fraction > 0 {
            let n = range.count - t
            var inputs = [Float](repeating: 0, count: n * t * i)
            var outputs = [Float](repeating: 0, count: n * o)
            for s in 0..<n {
                for step in 0..<t {
                    let row = range.lowerBound + s + step
                    for j in 0..<i {
                        inputs[(s * t + step) * i + j] =
                            Float((x[row * i + j] - Double(featureStats.mean[j])) / Double(featureStats.std[j]))
                    }
                }
                let row = range.lowerBound + s + t
                for j in 0..<o {
                    outputs[s * o + j] = Float(
                        (y[row * o + j] - Double(targetStats.mean[j])) / Double(targetStats.std[j]))
                }
            }
            try writer.writeSequences(
                split: name, count: n, steps: t, inputs: .features(inputs, width: i),
                targets: .valuesPerSequence(outputs, width: o))
        }
        try writer.setFeatureStatistics(featureStats)
        try writer.setTargetStatistics(targetStats)
        try writer.setAttribute("window", t)
        try writer.setAttribute("source", URL(fileURLWithPath: source).lastPathComponent)
        return try writer.commit()
    }

    /// The input and target statistics stored in `path`'s root attributes (`mean`/`std`,
    /// `target_mean`/`target_std` with their names): a model trained on such data (checkpoint or
    /// exported weights) or a prepared dataset; an error names what is missing.
    public static func statistics(from path: String) throws -> (features: FeatureStatistics, targets: FeatureStatistics)
    {
        let metadata = try datasetIO(file: path, object: nil) {
            let file = try HDF5File.open(path)
            defer { try? file.close() }
            return try ModelMetadata.read(from: file.root, role: .dataset, file: path)
        }
        guard let features = metadata.featureStatistics, let targets = metadata.targetStatistics else {
            throw FileError(
                .missing, .dataset, file: path, object: "mean, target_mean (root attributes)",
                "expected the input and target statistics of a model trained on `lstm prepare csv` data (mean, std, target_mean, target_std), found \(metadata.featureStatistics == nil ? "no mean/std" : "no target_mean/target_std")"
            )
        }
        return (features, targets)
    }

    /// A finite number, or nil (empty cells, text, nan and inf are not numbers).
    static func number(_ cell: String) -> Double? {
        guard let v = Double(cell.trimmingCharacters(in: .whitespaces)), v.isFinite else { return nil }
        return v
    }

    /// Per-column mean and population standard deviation over `rows` (std 1 for a constant column).
    static func statistics(_ values: [Double], width: Int, rows: Range<Int>, names: [String]) -> FeatureStatistics {
        var mean = [Float]()
        var std = [Float]()
        for j in 0..<width {
            var sum = 0.0
            for r in rows { sum += values[r * width + j] }
            let m = sum / Double(rows.count)
            var sq = 0.0
            for r in rows { sq += (values[r * width + j] - m) * (values[r * width + j] - m) }
            let s = (sq / Double(rows.count)).squareRoot()
            mean.append(Float(m))
            std.append(s > 0 && Float(s) > 0 ? Float(s) : 1)
        }
        return FeatureStatistics(names: names, mean: mean, std: std)
    }
}

/// A minimal RFC 4180 reader: comma-separated fields, double-quoted fields may hold commas,
/// newlines and doubled quotes; LF or CRLF line ends; blank lines are skipped.
enum CSVReader {
    struct Record {
        /// 1-based line number where the record starts.
        let line: Int
        let fields: [String]
    }

    static func parse(_ text: String, source: String) throws -> [Record] {
        var records: [Record] = []
        var fields: [String] = []
        var field: [UInt8] = []
        var line = 1
        var recordLine = 1
        var inQuotes = false
        var quoted = false
        let bytes = Array(text.utf8)
        func endField() {
            fields.append(String(decoding: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
            quoted = false
        }
        func endRecord() {
            endField()
            if !(fields.count == 1 && fields[0].isEmpty) {
                records.append(Record(line: recordLine, fields: fields))
            }
            fields.removeAll(keepingCapacity: true)
        }
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            if inQuotes {
                if c == UInt8(ascii: "\"") {
                    if i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "\"") {
                        field.append(c)
                        i += 1
                    } else {
                        inQuotes = false
                    }
                } else {
                    if c == UInt8(ascii: "\n") { line += 1 }
                    field.append(c)
                }
            } else {
                switch c {
                case UInt8(ascii: "\""):
                    if field.isEmpty && !quoted {
                        inQuotes = true
                        quoted = true
                    } else {
                        throw FileError(
                            .invalidValue, .dataset, file: source,
                            "line \(line): a quote inside an unquoted field")
                    }
                case UInt8(ascii: ","):
                    endField()
                case UInt8(ascii: "\r") where i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "\n"):
                    break
                case UInt8(ascii: "\n"):
                    endRecord()
                    line += 1
                    recordLine = line
                default:
                    field.append(c)
                }
            }
            i += 1
        }
        if inQuotes {
            throw FileError(.invalidValue, .dataset, file: source, "line \(recordLine): a quoted field is not closed")
        }
        if !field.isEmpty || !fields.isEmpty { endRecord() }
        return records
    }
}
