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
    private let scanner: DatasetScanner
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

    /// Opens the shards at `paths` (in order) as one dataset: each split is the concatenation of
    /// that split's rows across the files, and every file must have the same layout (root
    /// `vocabulary` and `class_names` here, each split's element kinds and widths when it is
    /// validated). One path opens that file as `init(path:)` does.
    public static func open(paths: [String], progress: ValidationProgress = .standardError) throws -> DatasetFile {
        guard let first = paths.first else {
            throw FileError(.invalidArgument, .dataset, file: nil, "no dataset file given")
        }
        if paths.count == 1 { return try DatasetFile(path: first, progress: progress) }
        let files = try paths.map { try DatasetFile(path: $0, progress: progress) }
        let a = files[0]
        for b in files.dropFirst() {
            for (name, x, y) in [
                ("vocabulary", a.vocabulary, b.vocabulary), ("class_names", a.classNames, b.classNames)
            ]
            where x != y {
                func shown(_ v: [String]?) -> String { v.map { "\($0.count) entries" } ?? "none" }
                throw FileError(
                    .incompatible, .dataset, file: b.path,
                    "its root `\(name)` attribute (\(shown(y))\(x != nil && y != nil ? ", different" : "")) differs from that of \(a.path) (\(shown(x))); the shards of a dataset must have the same layout"
                )
            }
        }
        return DatasetFile(shards: files)
    }

    /// Whether `path` is a glob pattern (holds `*`, `?` or `[`), to be expanded by
    /// `paths(matching:)` — unless a file of exactly that name exists (`data[1].h5`), which is
    /// then that file.
    public static func isGlob(_ path: String) -> Bool {
        path.contains { "*?[".contains($0) } && !FileManager.default.fileExists(atPath: path)
    }

    /// The files matching the glob `pattern` (glob(3), relative to the working directory), sorted
    /// by name; empty when nothing matches.
    public static func paths(matching pattern: String) throws -> [String] {
        var g = glob_t()
        defer { globfree(&g) }
        let status = glob(pattern, 0, nil, &g)
        if status == GLOB_NOMATCH { return [] }
        guard status == 0 else {
            throw FileError(.io, .dataset, file: pattern, "cannot expand the glob (glob(3) error \(status))")
        }
        return (0..<Int(g.gl_pathc)).compactMap { g.gl_pathv[$0].map { String(cString: $0) } }.sorted()
    }

    /// The concatenation of `shards` (at least two, root attributes already compared).
    private init(shards: [DatasetFile]) {
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

    /// Reports every mismatch between `model` and `split` (input kind and width, vocabulary size,
    /// output size or class count, `sequence` vs `last` head) in one `FileError`.
    public func check(against model: ModelConfig, split: String) throws {
        let schema = try validated(split).schema  // an inputs-only split is checked on its inputs
        let inputName = try validated(split).inputName
        let inputObject = "\(split)/\(inputName)"
        let targetObject = schema.form == .tokenStream ? "\(split)/tokens" : "\(split)/targets"
        var problems: [String] = []

        switch (model.input, schema.input) {
        case (.features(let size), .features(let width)) where size != width:
            problems.append("the model reads I = \(size) features but \(inputObject) has I = \(width)")
        case (.features(let size), .tokens):
            problems.append("the model reads features (I = \(size)) but \(inputObject) holds integer token ids")
        case (.tokens(let v, _), .features(let width)):
            problems.append(
                "the model reads token ids (vocabulary \(v)) but \(inputObject) holds features (I = \(width))")
        case (.tokens(let v, _), .tokens):
            if let vocabulary, vocabulary.count != v {
                problems.append(
                    "the model's vocabulary size is \(v) but the file's vocabulary has \(vocabulary.count) entries")
            }
            if let ids = schema.tokenIDs, Int(ids.max) >= v {
                problems.append("\(inputObject) has token id \(ids.max), outside the model's vocabulary 0..<\(v)")
            }
        default:
            break
        }

        if !schema.hasTargets {
            // inputs only (`inputsSchema`): the targets are what the model predicts
        } else if model.loss.usesClassTargets {
            if let ids = schema.classIDs {
                if let named = schema.classNames ?? (schema.form == .tokenStream ? schema.vocabulary : nil),
                    named.count != model.outputSize
                {
                    let source = schema.classNames != nil ? "class_names" : "vocabulary"
                    problems.append(
                        "the model has O = \(model.outputSize) classes but the file's \(source) names \(named.count)")
                } else if Int(ids.max) >= model.outputSize {
                    problems.append(
                        "\(targetObject) has class id \(ids.max), outside the model's O = \(model.outputSize) classes")
                }
            } else {
                problems.append(
                    "the model's loss \(model.loss.rawValue) needs integer class ids but \(targetObject) holds \(schema.target)"
                )
            }
        } else {
            if let width = schema.target.valueWidth {
                if width != model.outputSize {
                    problems.append(
                        "the model has O = \(model.outputSize) outputs but \(targetObject) has O = \(width)")
                }
            } else {
                problems.append(
                    "the model's loss \(model.loss.rawValue) needs float values but \(targetObject) holds \(schema.target)"
                )
            }
        }

        switch model.head {
        case _ where !schema.hasTargets:
            break
        case .sequence where !schema.target.isPerStep:
            problems.append(
                "the model's head `sequence` predicts every step but \(targetObject) has one target per sequence (use head `last`)"
            )
        case .last where schema.target.isPerStep:
            problems.append(
                "the model's head `last` predicts once per sequence but \(targetObject) has a target per step (use head `sequence`)"
            )
        default:
            break
        }

        if !problems.isEmpty {
            throw FileError(
                .incompatible, .dataset, file: path, object: split,
                "the model does not fit the data: " + problems.joined(separator: "; "))
        }
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

    /// Validates `split` in every shard and checks that they have the same layout; the schema is
    /// that of the concatenation (N = ΣN_f, id ranges over all files, flat indices into the whole).
    private func validateShards(_ split: String) throws -> ValidatedSplit {
        let parts = try shards.map { try $0.validated(split) }
        let a = parts[0].schema
        for (k, part) in parts.enumerated().dropFirst() {
            let b = part.schema
            var differences: [String] = []
            if b.form != a.form { differences.append("\(describe(b.form)) vs \(describe(a.form))") }
            if b.steps != a.steps, let tb = b.steps, let ta = a.steps { differences.append("T = \(tb) vs \(ta)") }
            if b.input != a.input { differences.append("inputs: \(b.input) vs \(a.input)") }
            if b.hasTargets != a.hasTargets {
                differences.append(b.hasTargets ? "a `targets` dataset vs none" : "no `targets` dataset vs one")
            } else if b.target != a.target {
                differences.append("targets: \(b.target) vs \(a.target)")
            }
            if b.hasLengths != a.hasLengths {
                differences.append(b.hasLengths ? "a `lengths` dataset vs none" : "no `lengths` dataset vs one")
            }
            if !differences.isEmpty {
                throw FileError(
                    .incompatible, .dataset, file: shards[k].path, object: split,
                    "its layout differs from that of \(shards[0].path): \(differences.joined(separator: "; ")); the shards of a dataset must have the same layout"
                )
            }
        }
        if a.form == .tokenStream {
            throw FileError(
                .invalidArgument, .dataset, file: path, object: "\(split)/tokens",
                "a token stream cannot be read from several files; concatenate the streams into one file")
        }
        let t = a.steps ?? 1
        var count = 0
        var tokenIDs: DatasetSchema.IDRange?
        var classIDs: DatasetSchema.IDRange?
        func merged(_ x: DatasetSchema.IDRange?, _ y: DatasetSchema.IDRange?, offset: Int) -> DatasetSchema.IDRange? {
            guard var y else { return x }
            y.minIndex += offset
            y.maxIndex += offset
            guard var x else { return y }
            if y.min < x.min { (x.min, x.minIndex) = (y.min, y.minIndex) }
            if y.max > x.max { (x.max, x.maxIndex) = (y.max, y.maxIndex) }
            return x
        }
        for part in parts {
            let s = part.schema
            tokenIDs = merged(tokenIDs, s.tokenIDs, offset: count * t)
            classIDs = merged(classIDs, s.classIDs, offset: count * (a.target.isPerStep ? t : 1))
            count += s.count
        }
        let schema = DatasetSchema(
            split: split, form: a.form, count: count, steps: a.steps, input: a.input, target: a.target,
            hasLengths: a.hasLengths, vocabulary: a.vocabulary, classNames: a.classNames,
            featureStatistics: a.featureStatistics, targetStatistics: a.targetStatistics, tokenIDs: tokenIDs,
            classIDs: classIDs, hasTargets: a.hasTargets)
        return ValidatedSplit(schema: schema, inputName: parts[0].inputName, targetsFound: parts[0].targetsFound)
    }

    private func describe(_ form: DatasetSchema.Form) -> String {
        form == .sequences ? "sequences (`inputs`, `targets`)" : "a token stream (`tokens`)"
    }

    /// "sequence 3, step 4" for a flat index into [N, T] token inputs, or "position 17" in a stream.
    private func position(_ flat: Int, _ schema: DatasetSchema) -> String {
        switch schema.form {
        case .tokenStream: return ElementPosition.stream([schema.count])(flat)
        case .sequences: return ElementPosition.inputs([schema.count, schema.steps ?? 1])(flat)
        }
    }

    /// Position of a flat index into the class targets ([N, T] or [N]).
    private func targetPosition(_ flat: Int, _ schema: DatasetSchema) -> String {
        let shape = schema.target.isPerStep ? [schema.count, schema.steps ?? 1] : [schema.count]
        return ElementPosition.targets(shape, perStep: schema.target.isPerStep)(flat)
    }

    private static func describe(_ d: HDF5Dataset) -> String {
        "\(d.elementType) [\(d.shape.map(String.init).joined(separator: ", "))]"
    }

    private func validate(_ split: String) throws -> ValidatedSplit {
        let root = file.root
        guard !split.isEmpty, !split.contains("/"), let group = try? root.openGroup(split) else {
            let have = splits
            throw FileError(
                .missing, .dataset, file: path, object: split,
                "no split group `\(split)` in the file (splits found: \(have.isEmpty ? "none" : have.joined(separator: ", ")))"
            )
        }
        let hasInputs = group.exists("inputs")
        let hasTokens = group.exists("tokens")
        switch (hasInputs, hasTokens) {
        case (true, true):
            throw FileError(
                .shapeMismatch, .dataset, file: path, object: split,
                "expected either `inputs` and `targets` (sequences) or `tokens` (a token stream), found both")
        case (false, false):
            let members = (try? group.memberNames()) ?? []
            throw FileError(
                .missing, .dataset, file: path, object: "\(split)/inputs",
                "no such dataset; a split holds `inputs` and `targets` (sequences) or `tokens` (a token stream), found \(members.isEmpty ? "an empty group" : "only " + members.joined(separator: ", "))"
            )
        case (false, true):
            return try validateStream(split, group)
        case (true, false):
            return try validateSequences(split, group)
        }
    }

    private func open(_ group: HDF5Group, _ split: String, _ name: String) throws -> HDF5Dataset {
        let object = "\(split)/\(name)"
        guard group.exists(name) else {
            throw FileError(.missing, .dataset, file: path, object: object, "no such dataset")
        }
        let d = try datasetIO(file: path, object: object) { try group.openDataset(name) }
        try scanner.checkStored(d, object: object)
        return d
    }

    private func validateStream(_ split: String, _ group: HDF5Group) throws -> ValidatedSplit {
        let object = "\(split)/tokens"
        let tokens = try open(group, split, "tokens")
        let accepted = DatasetRole.tokenIDs.accepts(tokens.elementType)
        guard accepted, tokens.rank == 1 else {
            throw FileError(
                accepted ? .shapeMismatch : .typeMismatch, .dataset, file: path,
                object: object,
                "expected a token stream [L] of integer ids (\(DatasetRole.tokenIDs.acceptedTypes)), found \(Self.describe(tokens))"
            )
        }
        let length = tokens.shape[0]
        guard length >= 2 else {
            throw FileError(
                .shapeMismatch, .dataset, file: path, object: object,
                "expected a token stream of at least 2 tokens (an input and its next token), found \(length)")
        }
        let at = ElementPosition.stream(tokens.shape)
        let ids = try scanner.scanIDs(tokens, role: .tokenIDs, object: object, at: at)
        try checkTokenIDs(ids, object: object) { at($0) }
        let schema = DatasetSchema(
            split: split, form: .tokenStream, count: length, steps: nil, input: .tokens, target: .classesPerStep,
            hasLengths: false, vocabulary: vocabulary, classNames: classNames, featureStatistics: featureStatistics,
            targetStatistics: targetStatistics, tokenIDs: ids, classIDs: ids)
        if let classNames, Int(ids.max) >= classNames.count {
            throw FileError(
                .invalidValue, .dataset, file: path, object: object,
                "token id \(ids.max) at position \(ids.maxIndex) is outside the \(classNames.count) classes of root attribute class_names"
            )
        }
        return ValidatedSplit(schema: schema, inputName: "tokens", targetsFound: Self.describe(tokens))
    }

    private func validateSequences(_ split: String, _ group: HDF5Group) throws -> ValidatedSplit {
        let inputsObject = "\(split)/inputs"
        let inputs = try open(group, split, "inputs")
        let input: DatasetSchema.InputKind
        switch inputs.rank {
        case 3 where DatasetRole.features.accepts(inputs.elementType): input = .features(width: inputs.shape[2])
        case 2 where DatasetRole.tokenIDs.accepts(inputs.elementType): input = .tokens
        default:
            let known = DatasetRole.features.accepts(inputs.elementType)
            let kind: FileError.Kind = known ? .shapeMismatch : .typeMismatch
            throw FileError(
                kind, .dataset, file: path, object: inputsObject,
                "expected features [N, T, I] (\(DatasetRole.features.acceptedTypes)) or token ids [N, T] (\(DatasetRole.tokenIDs.acceptedTypes)), found \(Self.describe(inputs))"
            )
        }
        let n = inputs.shape[0]
        let t = inputs.shape[1]
        if n < 1 || t < 1 || inputs.shape.contains(0) {
            throw FileError(
                .shapeMismatch, .dataset, file: path, object: inputsObject,
                "expected at least one sequence of at least one step (and I ≥ 1), found \(Self.describe(inputs))")
        }

        let targetsObject = "\(split)/targets"
        let hasTargets = group.exists("targets")  // inputs only: new data to predict on
        let targets = hasTargets ? try open(group, split, "targets") : inputs
        var target: DatasetSchema.TargetKind = .valuesPerSequence(width: 1)  // replaced by inputsSchema
        let intTargets = DatasetRole.classIDs.accepts(targets.elementType)
        let floatTargets = DatasetRole.values.accepts(targets.elementType)
        switch targets.rank {
        case _ where !hasTargets:
            break
        case 1 where intTargets && targets.shape[0] == n:
            target = .classesPerSequence
        case 2 where intTargets && targets.shape[0] == n && targets.shape[1] == t:
            target = .classesPerStep
        case 2 where floatTargets && targets.shape[0] == n && targets.shape[1] >= 1:
            target = .valuesPerSequence(width: targets.shape[1])
        case 3 where floatTargets && targets.shape[0] == n && targets.shape[1] == t && targets.shape[2] >= 1:
            target = .valuesPerStep(width: targets.shape[2])
        default:
            let kind: FileError.Kind =
                intTargets || floatTargets ? .shapeMismatch : .typeMismatch
            throw FileError(
                kind, .dataset, file: path, object: targetsObject,
                "expected values [N, T, O] or [N, O] (\(DatasetRole.values.acceptedTypes)), or class ids [N, T] or [N] (\(DatasetRole.classIDs.acceptedTypes)), with N = \(n) and T = \(t) (from \(inputsObject)), found \(Self.describe(targets))"
            )
        }

        var tokenIDs: DatasetSchema.IDRange?
        let inputAt = ElementPosition.inputs(inputs.shape)
        if input == .tokens {
            let ids = try scanner.scanIDs(inputs, role: .tokenIDs, object: inputsObject, at: inputAt)
            try checkTokenIDs(ids, object: inputsObject) { inputAt($0) }
            tokenIDs = ids
        } else {
            try scanner.scanFinite(inputs, role: .features, object: inputsObject, at: inputAt)
        }
        var classIDs: DatasetSchema.IDRange?
        let at = ElementPosition.targets(targets.shape, perStep: target.isPerStep)
        if !hasTargets {
            // nothing to scan
        } else if target.isClasses {
            let ids = try scanner.scanIDs(targets, role: .classIDs, object: targetsObject, at: at)
            if ids.min < 0 {
                throw FileError(
                    .invalidValue, .dataset, file: path, object: targetsObject,
                    "expected class ids ≥ 0, found \(ids.min) at \(at(ids.minIndex))")
            }
            if let classNames, Int(ids.max) >= classNames.count {
                throw FileError(
                    .invalidValue, .dataset, file: path, object: targetsObject,
                    "class id \(ids.max) at \(at(ids.maxIndex)) is outside 0..<\(classNames.count) (the \(classNames.count) classes of root attribute class_names)"
                )
            }
            classIDs = ids
        } else {
            try scanner.scanFinite(targets, role: .values, object: targetsObject, at: at)
        }

        let hasLengths = group.exists("lengths")
        if hasLengths {
            let object = "\(split)/lengths"
            let lengths = try open(group, split, "lengths")
            let accepted = DatasetRole.lengths.accepts(lengths.elementType)
            guard accepted, lengths.rank == 1, lengths.shape[0] == n else {
                throw FileError(
                    accepted ? .shapeMismatch : .typeMismatch, .dataset, file: path,
                    object: object,
                    "expected integer lengths [N] (\(DatasetRole.lengths.acceptedTypes)) with N = \(n) (from \(inputsObject)), found \(Self.describe(lengths))"
                )
            }
            let range = try scanner.scanIDs(
                lengths, role: .lengths, object: object, at: .lengths(lengths.shape))
            if range.min < 1 {
                throw FileError(
                    .invalidValue, .dataset, file: path, object: object,
                    "expected lengths in 1...\(t) (T = \(t)), found \(range.min) for sequence \(range.minIndex)")
            }
            if Int(range.max) > t {
                throw FileError(
                    .invalidValue, .dataset, file: path, object: object,
                    "expected lengths in 1...\(t) (T = \(t)), found \(range.max) for sequence \(range.maxIndex)")
            }
        }

        if case .features(let width) = input, let stats = featureStatistics, stats.mean.count != width {
            throw FileError(
                .shapeMismatch, .dataset, file: path, object: "mean (root attribute)",
                "expected \(width) feature statistics (I = \(width) in \(inputsObject)), found \(stats.mean.count)")
        }
        if case .features(let width) = input, let names = metadata.featureNames, names.count != width {
            throw FileError(
                .shapeMismatch, .dataset, file: path, object: "feature_names (root attribute)",
                "expected \(width) feature names (I = \(width) in \(inputsObject)), found \(names.count)")
        }
        if hasTargets, let width = target.valueWidth, let names = metadata.targetNames, names.count != width {
            throw FileError(
                .shapeMismatch, .dataset, file: path, object: "target_names (root attribute)",
                "expected \(width) target names (O = \(width) in \(targetsObject)), found \(names.count)")
        }
        if hasTargets, let width = target.valueWidth, let stats = targetStatistics, stats.mean.count != width {
            throw FileError(
                .shapeMismatch, .dataset, file: path, object: "target_mean (root attribute)",
                "expected \(width) target statistics (O = \(width) in \(targetsObject)), found \(stats.mean.count)")
        }

        let schema = DatasetSchema(
            split: split, form: .sequences, count: n, steps: t, input: input, target: target, hasLengths: hasLengths,
            vocabulary: vocabulary, classNames: classNames, featureStatistics: featureStatistics,
            targetStatistics: targetStatistics, tokenIDs: tokenIDs, classIDs: classIDs, hasTargets: hasTargets)
        return ValidatedSplit(
            schema: schema, inputName: "inputs", targetsFound: hasTargets ? Self.describe(targets) : "no dataset")
    }

    /// Token ids must be ≥ 0 and inside the root vocabulary when there is one.
    private func checkTokenIDs(_ ids: DatasetSchema.IDRange, object: String, at: (Int) -> String) throws {
        if ids.min < 0 {
            throw FileError(
                .invalidValue, .dataset, file: path, object: object,
                "expected token ids ≥ 0, found \(ids.min) at \(at(ids.minIndex))")
        }
        if let vocabulary, Int(ids.max) >= vocabulary.count {
            throw FileError(
                .invalidValue, .dataset, file: path, object: object,
                "token id \(ids.max) at \(at(ids.maxIndex)) is outside 0..<\(vocabulary.count) (the \(vocabulary.count) entries of root attribute vocabulary)"
            )
        }
    }
}
