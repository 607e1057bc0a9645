import Foundation
import HDF5Kit
import LSTMFiles
import LSTMKit

/// A dataset file opened read-only: lists its splits and validates each one (shapes, dtypes, id
/// ranges, lengths) the first time it is asked for, so nothing is trained on malformed data.
/// Safe to share between threads; validation results are cached per split.
public final class DatasetFile: @unchecked Sendable {
    /// The file's path, as given to `init(path:)`.
    public let path: String
    /// The root `vocabulary` attribute (token id → string), if present.
    public let vocabulary: [String]?
    /// The root `class_names` attribute (class id → name), if present.
    public let classNames: [String]?
    /// Root statistics of the input features (`feature_names`, `mean`, `std`), if present.
    public let featureStatistics: FeatureStatistics?
    /// Root statistics of float targets (`target_names`, `target_mean`, `target_std`), if present.
    public let targetStatistics: FeatureStatistics?
    /// Every root attribute that describes the data (vocabulary, class names, feature and target
    /// names and statistics), as a model trained on it records them (see `ModelMetadata`).
    public let metadata: ModelMetadata
    /// The files, in order, when this dataset is the concatenation of several shards (see
    /// `open(paths:)`); empty for a single file.
    public let shards: [DatasetFile]

    let file: HDF5File
    let scanner: DatasetScanner
    private let lock = NSLock()
    private var cache: [String: ValidatedSplit] = [:]

    /// What validation learned about a split, before any caller-specific limits are applied.
    struct ValidatedSplit {
        let schema: DatasetSchema
        /// "inputs" or "tokens": the dataset the inputs come from.
        let inputName: String
        /// How the targets dataset looks, e.g. "float32 [100, 5]" (for messages).
        let targetsFound: String
    }

    /// Opens `path` read-only and validates its root attributes (vocabulary, class names, statistics).
    /// Long validation scans of a split report to `progress` (stderr by default, once a second at most).
    public init(path: String, progress: ValidationProgress = .standardError) throws {
        self.path = path
        shards = []
        scanner = DatasetScanner(path: path, progress: progress)
        file = try datasetIO(file: path, object: nil) { try HDF5File.open(path, mode: .readOnly) }
        // Files `lstm prepare` wrote carry checksums (docs/datasets.md); others (h5py) have none.
        let root = file.root
        _ = try datasetIO(file: path, object: nil) { try Checksums.verify(root, role: .dataset, file: path) }
        metadata = try ModelMetadata.read(from: root, role: .dataset, file: path)
        vocabulary = metadata.vocabulary
        classNames = metadata.classNames
        featureStatistics = metadata.featureStatistics
        targetStatistics = metadata.targetStatistics
    }

    /// The concatenation of `shards` (at least two, root attributes already compared).
    init(shards: [DatasetFile]) {
        self.shards = shards
        let first = shards[0]
        path = shards.map(\.path).joined(separator: " + ")
        metadata = first.metadata
        vocabulary = first.vocabulary
        classNames = first.classNames
        featureStatistics = first.featureStatistics
        targetStatistics = first.targetStatistics
        file = first.file
        scanner = first.scanner
    }

    /// The split groups in the file: `train`, `val`, `test` first (those present), then any others
    /// sorted; for shards, the splits every file has.
    public var splits: [String] {
        if let first = shards.first {
            return first.splits.filter { s in shards.allSatisfy { $0.splits.contains(s) } }
        }
        let names = (try? file.root.memberNames()) ?? []
        let groups = names.filter { (try? file.root.openGroup($0)) != nil }
        let standard = ["train", "val", "test"].filter(groups.contains)
        return standard + groups.filter { !standard.contains($0) }
    }

    /// The validated schema of `split`. Token ids are also checked against `vocabularySize` and class
    /// ids against `classCount` when given (asking for a class count on float targets is an error).
    public func schema(_ split: String, vocabularySize: Int? = nil, classCount: Int? = nil) throws -> DatasetSchema {
        let validated = try validated(split)
        let schema = validated.schema
        if !schema.hasTargets {
            throw FileError(
                .missing, .dataset, file: path, object: "\(split)/targets",
                "no such dataset: the split holds only inputs, and training and `lstm evaluate` compare the model's outputs with targets (to run a model on inputs alone, use `lstm predict`)"
            )
        }
        if let v = vocabularySize {
            if v < 1 {
                throw FileError(.invalidArgument, .dataset, file: path, "vocabulary size must be ≥ 1, got \(v)")
            }
            if let ids = schema.tokenIDs, Int(ids.max) >= v {
                throw FileError(
                    .invalidValue, .dataset, file: path, object: "\(split)/\(validated.inputName)",
                    "token id \(ids.max) at \(position(ids.maxIndex, schema)) is outside 0..<\(v) (vocabulary size \(v) given by the caller)"
                )
            }
        }
        if let k = classCount {
            if k < 1 { throw FileError(.invalidArgument, .dataset, file: path, "class count must be ≥ 1, got \(k)") }
            let targetsName = schema.form == .tokenStream ? "tokens" : "targets"
            guard let ids = schema.classIDs else {
                let n = schema.count
                let t = schema.steps ?? 0
                throw FileError(
                    .typeMismatch, .dataset, file: path, object: "\(split)/\(targetsName)",
                    "expected integer class ids [N] or [N, T] with N = \(n), T = \(t), found \(validated.targetsFound)")
            }
            if Int(ids.max) >= k {
                let at =
                    schema.form == .tokenStream
                    ? position(ids.maxIndex, schema)
                    : targetPosition(ids.maxIndex, schema)
                throw FileError(
                    .invalidValue, .dataset, file: path, object: "\(split)/\(targetsName)",
                    "class id \(ids.max) at \(at) is outside 0..<\(k) (class count \(k) given by the caller)")
            }
        }
        return schema
    }

    /// The validated schema of `split` as it is, an inputs-only split included (`hasTargets`
    /// false), with no caller-specific limits: what `check(against:split:)` holds a model to.
    public func validatedSchema(_ split: String) throws -> DatasetSchema {
        try validated(split).schema
    }

    /// Whether `split` (validated) stores `targets`; false for an inputs-only split.
    public func hasTargets(_ split: String) throws -> Bool {
        try validated(split).schema.hasTargets
    }

    /// The validated schema of `split` for inference: a split without `targets` (new data to
    /// predict on: `inputs`, optionally `lengths`) is accepted and described with `target`, what
    /// the model predicts (`hasTargets` is then false). A split with targets gives `schema(_:)`.
    public func inputsSchema(_ split: String, assuming target: DatasetSchema.TargetKind) throws -> DatasetSchema {
        let validated = try validated(split)
        var schema = validated.schema
        if schema.hasTargets { return schema }
        schema = DatasetSchema(
            split: schema.split, form: schema.form, count: schema.count, steps: schema.steps, input: schema.input,
            target: target, hasLengths: schema.hasLengths, vocabulary: schema.vocabulary,
            classNames: schema.classNames, featureStatistics: schema.featureStatistics,
            targetStatistics: schema.targetStatistics, tokenIDs: schema.tokenIDs, classIDs: nil, hasTargets: false)
        return schema
    }

    /// Reports every mismatch between `model` and `split` (`modelFits`: input kind and width,
    /// vocabulary size, output size or class count, `sequence` vs `last` head) in one `FileError`.
    public func check(against model: ModelConfig, split: String) throws {
        // an inputs-only split is checked on its inputs
        if let error = try validatedSchema(split).fitError(model, file: path) { throw error }
    }

    /// Closes the file; loaders created from it keep their datasets open until they are released.
    public func close() {
        for shard in shards { shard.close() }
        try? file.close()
    }

    // MARK: - Internals

    /// Opens dataset `name` of `split` (after validation).
    func dataset(_ split: String, _ name: String) throws -> HDF5Dataset {
        try datasetIO(file: path, object: "\(split)/\(name)") { try file.root.openDataset("\(split)/\(name)") }
    }

    /// The cached validation of `split`, validating it on first use.
    func validated(_ split: String) throws -> ValidatedSplit {
        lock.lock()
        defer { lock.unlock() }
        if let cached = cache[split] { return cached }
        let result = shards.isEmpty ? try validate(split) : try validateShards(split)
        cache[split] = result
        return result
    }
}
