import Foundation
import HDF5Kit
import LSTMFiles

/// Inputs of N sequences of T steps, batch-major, for `DatasetWriter`.
public enum SequenceInputs: Sendable {
    /// float32 features [N, T, I], row-major.
    case features([Float], width: Int)
    /// int32 token ids [N, T].
    case tokens([Int32])
}

/// Targets of N sequences of T steps, batch-major, for `DatasetWriter`.
public enum SequenceTargets: Sendable {
    /// int32 class ids [N, T].
    case classesPerStep([Int32])
    /// int32 class ids [N].
    case classesPerSequence([Int32])
    /// float32 values [N, T, O].
    case valuesPerStep([Float], width: Int)
    /// float32 values [N, O].
    case valuesPerSequence([Float], width: Int)
}

/// Writes a dataset file in the layout of docs/datasets.md, atomically: everything goes to a
/// temporary file in the destination's directory, which `commit()` renames over the destination.
/// A writer released (or failing) before `commit()` deletes its temporary file, so a failure never
/// leaves a half-written file under the final name. Use from one thread.
public final class DatasetWriter {
    /// The final path, as given to `init(path:)`.
    public let path: String
    /// The temporary file written until `commit()`.
    public var temporaryPath: String { output.temporaryPath }
    private let output: AtomicHDF5File
    private var file: HDF5File { output.file }

    /// Creates the temporary file next to `path`; the directory must exist.
    public init(path: String) throws {
        self.path = path
        output = try AtomicHDF5File(path: path, role: .dataset)
    }

    /// Writes split `split` as N sequences of T steps (`inputs`, `targets`, optional `lengths` [N]).
    public func writeSequences(
        split: String, count n: Int, steps t: Int, inputs: SequenceInputs,
        targets: SequenceTargets, lengths: [Int32]? = nil
    ) throws {
        let rows = try beginSequences(
            split: split, count: n, steps: t, input: inputs.kind, target: targets.kind,
            hasLengths: lengths != nil)
        try rows.write(at: 0, inputs: inputs, targets: targets, lengths: lengths)
        if rows.rowsWritten != n {
            throw FileError(
                .invalidArgument, .dataset, file: path, object: "\(split)/inputs",
                "\(rows.rowsWritten) sequences given, expected N = \(n)")
        }
    }

    /// Creates the datasets of a sequences split of N sequences without data, for writing it in
    /// blocks of rows (e.g. a dataset larger than memory); fill every row before `commit()`.
    public func beginSequences(
        split: String, count n: Int, steps t: Int, input: DatasetSchema.InputKind,
        target: DatasetSchema.TargetKind, hasLengths: Bool = false
    ) throws -> SequenceRowWriter {
        try checkSplitName(split)
        guard n >= 1, t >= 1 else {
            throw FileError(
                .invalidArgument, .dataset, file: path, object: split,
                "a sequences split needs N ≥ 1 sequences of T ≥ 1 steps, got N = \(n), T = \(t)")
        }
        return try datasetIO(file: path, object: split) {
            let group = try file.root.createGroup(split)
            let inputs: HDF5Dataset
            switch input {
            case .features(let width):
                guard width >= 1 else {
                    throw FileError(
                        .invalidArgument, .dataset, file: path, object: "\(split)/inputs",
                        "feature width must be ≥ 1")
                }
                inputs = try group.createDataset("inputs", of: Float.self, shape: [n, t, width])
            case .tokens:
                inputs = try group.createDataset("inputs", of: Int32.self, shape: [n, t])
            }
            let targets: HDF5Dataset
            switch target {
            case .classesPerStep: targets = try group.createDataset("targets", of: Int32.self, shape: [n, t])
            case .classesPerSequence: targets = try group.createDataset("targets", of: Int32.self, shape: [n])
            case .valuesPerStep(let o): targets = try group.createDataset("targets", of: Float.self, shape: [n, t, o])
            case .valuesPerSequence(let o): targets = try group.createDataset("targets", of: Float.self, shape: [n, o])
            }
            let lengths = hasLengths ? try group.createDataset("lengths", of: Int32.self, shape: [n]) : nil
            return SequenceRowWriter(
                file: path, split: split, count: n, steps: t, input: input, target: target,
                inputs: inputs, targets: targets, lengths: lengths)
        }
    }

    /// Writes split `split` as one token stream `tokens` [L] (L ≥ 2).
    public func writeTokenStream(split: String, tokens: [Int32]) throws {
        try checkSplitName(split)
        guard tokens.count >= 2 else {
            throw FileError(
                .invalidArgument, .dataset, file: path, object: "\(split)/tokens",
                "a token stream needs at least 2 tokens, got \(tokens.count)")
        }
        try datasetIO(file: path, object: "\(split)/tokens") {
            let group = try file.root.createGroup(split)
            try group.write("tokens", tokens)
        }
    }

    /// Sets the root `vocabulary` attribute (token id → string).
    public func setVocabulary(_ vocabulary: [String]) throws {
        try setAttribute("vocabulary", vocabulary)
    }

    /// Sets the root `class_names` attribute (class id → name).
    public func setClassNames(_ names: [String]) throws {
        try setAttribute("class_names", names)
    }

    /// Sets the root `feature_names`, `mean` and `std` attributes.
    public func setFeatureStatistics(_ stats: FeatureStatistics) throws {
        try setAttribute("feature_names", stats.names)
        try setAttribute("mean", stats.mean)
        try setAttribute("std", stats.std)
    }

    /// Sets the root `target_names`, `target_mean` and `target_std` attributes.
    public func setTargetStatistics(_ stats: FeatureStatistics) throws {
        try setAttribute("target_names", stats.names)
        try setAttribute("target_mean", stats.mean)
        try setAttribute("target_std", stats.std)
    }

    /// Sets a root string attribute (e.g. `source`, `task`).
    public func setAttribute(_ name: String, _ value: String) throws {
        try datasetIO(file: path, object: "\(name) (root attribute)") { try file.root.setAttribute(name, value) }
    }

    /// Sets a root integer attribute (e.g. `seed`).
    public func setAttribute(_ name: String, _ value: Int) throws {
        try datasetIO(file: path, object: "\(name) (root attribute)") { try file.root.setAttribute(name, value) }
    }

    /// Sets a root string-array attribute.
    public func setAttribute(_ name: String, _ value: [String]) throws {
        if let bad = value.firstIndex(where: { $0.utf8.contains(0) }) {
            throw FileError(
                .invalidValue, .dataset, file: path, object: "\(name) (root attribute)",
                "entry \(bad) contains a NUL character, which an HDF5 string cannot hold")
        }
        try datasetIO(file: path, object: "\(name) (root attribute)") { try file.root.setAttribute(name, value) }
    }

    /// Sets a root float-array attribute.
    public func setAttribute(_ name: String, _ value: [Float]) throws {
        try datasetIO(file: path, object: "\(name) (root attribute)") { try file.root.setAttribute(name, value) }
    }

    /// Closes the temporary file, validates every split in it like `DatasetFile` does, and renames
    /// it to `path` (replacing any file there); returns what was written. On failure nothing is renamed.
    @discardableResult
    public func commit() throws -> DatasetSummary {
        var summary: DatasetSummary?
        try datasetIO(file: path, object: nil) { try Checksums.seal(file.root, role: .dataset, file: path) }
        try output.commit { temporary in
            do {
                let written = try DatasetFile(path: temporary)
                defer { written.close() }
                let splits = written.splits
                if splits.isEmpty { throw FileError(.missing, .dataset, file: path, "no split was written") }
                summary = DatasetSummary(
                    path: path, splits: try splits.map { try written.schema($0) },
                    vocabularySize: written.vocabulary?.count)
            } catch let error as FileError {  // name the final path, not the temporary file
                throw FileError(error.kind, .dataset, file: path, object: error.object, error.message)
            } catch {
                throw datasetError(error, file: path, object: nil)
            }
        }
        return summary!
    }

    /// Closes and deletes the temporary file without touching `path` (also done on release).
    public func discard() {
        output.discard()
    }

    private func checkSplitName(_ split: String) throws {
        guard !split.isEmpty, !split.contains("/") else {
            throw FileError(
                .invalidArgument, .dataset, file: path,
                "a split name must be non-empty without '/', got '\(split)'")
        }
    }
}

/// Writes blocks of rows into a sequences split created by `DatasetWriter.beginSequences`.
public final class SequenceRowWriter {
    /// N, T and the kinds the split was created with.
    public let count: Int, steps: Int, input: DatasetSchema.InputKind, target: DatasetSchema.TargetKind
    /// The highest row written so far + 1 (rows written in order: the number of rows written).
    public private(set) var rowsWritten = 0
    private let file: String, split: String
    private let inputs: HDF5Dataset, targets: HDF5Dataset, lengths: HDF5Dataset?

    init(
        file: String, split: String, count: Int, steps: Int, input: DatasetSchema.InputKind,
        target: DatasetSchema.TargetKind, inputs: HDF5Dataset, targets: HDF5Dataset, lengths: HDF5Dataset?
    ) {
        self.file = file
        self.split = split
        self.count = count
        self.steps = steps
        self.input = input
        self.target = target
        self.inputs = inputs
        self.targets = targets
        self.lengths = lengths
    }

    /// Writes whole sequences starting at row `start`; the kinds must match the split's, and
    /// `lengths` must be given exactly when the split has lengths.
    public func write(at start: Int, inputs x: SequenceInputs, targets y: SequenceTargets, lengths l: [Int32]? = nil)
        throws
    {
        let perInput: Int
        switch (x, input) {
        case (.features(_, let w), .features(let width)) where w == width: perInput = steps * width
        case (.tokens, .tokens): perInput = steps
        default:
            throw FileError(
                .invalidArgument, .dataset, file: file, object: "\(split)/inputs",
                "rows of \(x.kind) given, but the split holds \(input)")
        }
        guard x.count % perInput == 0 else {
            throw FileError(
                .invalidArgument, .dataset, file: file, object: "\(split)/inputs",
                "\(x.count) input values are not whole sequences of \(perInput)")
        }
        let rows = x.count / perInput
        guard y.kind == target else {
            throw FileError(
                .invalidArgument, .dataset, file: file, object: "\(split)/targets",
                "rows of \(y.kind) given, but the split holds \(target)")
        }
        let perTarget: Int
        switch target {
        case .classesPerStep: perTarget = steps
        case .classesPerSequence: perTarget = 1
        case .valuesPerStep(let o): perTarget = steps * o
        case .valuesPerSequence(let o): perTarget = o
        }
        guard y.count == rows * perTarget else {
            throw FileError(
                .invalidArgument, .dataset, file: file, object: "\(split)/targets",
                "\(y.count) target values given for \(rows) sequences, expected \(rows * perTarget)")
        }
        guard (l != nil) == (lengths != nil), l.map({ $0.count == rows }) ?? true else {
            throw FileError(
                .invalidArgument, .dataset, file: file, object: "\(split)/lengths",
                lengths == nil
                    ? "the split was created without lengths"
                    : "expected \(rows) lengths, got \(l?.count ?? 0)")
        }
        guard start >= 0, start + rows <= count else {
            throw FileError(
                .invalidArgument, .dataset, file: file, object: "\(split)/inputs",
                "rows \(start)..<\(start + rows) are outside 0..<\(count)")
        }
        try datasetIO(file: file, object: "\(split)/inputs") {
            switch x {
            case .features(let v, _): try inputs.writeRows(v, at: start)
            case .tokens(let v): try inputs.writeRows(v, at: start)
            }
        }
        try datasetIO(file: file, object: "\(split)/targets") {
            switch y {
            case .classesPerStep(let v), .classesPerSequence(let v): try targets.writeRows(v, at: start)
            case .valuesPerStep(let v, _), .valuesPerSequence(let v, _): try targets.writeRows(v, at: start)
            }
        }
        if let l, let lengths {
            try datasetIO(file: file, object: "\(split)/lengths") { try lengths.writeRows(l, at: start) }
        }
        rowsWritten = max(rowsWritten, start + rows)
    }
}

extension SequenceInputs {
    var kind: DatasetSchema.InputKind {
        switch self {
        case .features(_, let w): .features(width: w)
        case .tokens: .tokens
        }
    }

    var count: Int {
        switch self {
        case .features(let v, _): v.count
        case .tokens(let v): v.count
        }
    }
}

extension SequenceTargets {
    var kind: DatasetSchema.TargetKind {
        switch self {
        case .classesPerStep: .classesPerStep
        case .classesPerSequence: .classesPerSequence
        case .valuesPerStep(_, let w): .valuesPerStep(width: w)
        case .valuesPerSequence(_, let w): .valuesPerSequence(width: w)
        }
    }

    var count: Int {
        switch self {
        case .classesPerStep(let v), .classesPerSequence(let v): v.count
        case .valuesPerStep(let v, _), .valuesPerSequence(let v, _): v.count
        }
    }
}

/// What a `DatasetWriter` committed: the validated schema of every split, for a one-line report.
public struct DatasetSummary: Sendable, CustomStringConvertible {
    /// The file written.
    public let path: String
    /// The schema of every split, in `DatasetFile.splits` order.
    public let splits: [DatasetSchema]
    /// The size of the root `vocabulary`, if any.
    public let vocabularySize: Int?

    /// E.g. `data.h5: train inputs [800, 50, 2] targets [800, 1]; val ...; vocabulary 65`.
    public var description: String {
        let parts = splits.map { s -> String in
            switch s.form {
            case .tokenStream:
                return "\(s.split) tokens [\(s.count)]"
            case .sequences:
                let n = s.count
                let t = s.steps ?? 0
                let x: String
                switch s.input {
                case .features(let i): x = "inputs float32 [\(n), \(t), \(i)]"
                case .tokens: x = "inputs int32 [\(n), \(t)]"
                }
                let y: String
                switch s.target {
                case .classesPerStep: y = "targets int32 [\(n), \(t)]"
                case .classesPerSequence: y = "targets int32 [\(n)]"
                case .valuesPerStep(let o): y = "targets float32 [\(n), \(t), \(o)]"
                case .valuesPerSequence(let o): y = "targets float32 [\(n), \(o)]"
                }
                return "\(s.split) \(x) \(y)" + (s.hasLengths ? " lengths [\(n)]" : "")
            }
        }
        var line = "\(path): " + parts.joined(separator: "; ")
        if let vocabularySize { line += "; vocabulary \(vocabularySize)" }
        return line
    }
}
