import Foundation
import HDF5Kit
import LSTMFiles
import LSTMKit

// Validating one file's split (shapes, dtypes, id ranges, lengths, root statistics) the first
// time it is asked for; `DatasetFile.validated(_:)` caches the result.

extension DatasetFile {
    func describe(_ form: DatasetSchema.Form) -> String {
        form == .sequences ? "sequences (`inputs`, `targets`)" : "a token stream (`tokens`)"
    }

    /// "sequence 3, step 4" for a flat index into [N, T] token inputs, or "position 17" in a stream.
    func position(_ flat: Int, _ schema: DatasetSchema) -> String {
        switch schema.form {
        case .tokenStream: return ElementPosition.stream([schema.count])(flat)
        case .sequences: return ElementPosition.inputs([schema.count, schema.steps ?? 1])(flat)
        }
    }

    /// Position of a flat index into the class targets ([N, T] or [N]).
    func targetPosition(_ flat: Int, _ schema: DatasetSchema) -> String {
        let shape = schema.target.isPerStep ? [schema.count, schema.steps ?? 1] : [schema.count]
        return ElementPosition.targets(shape, perStep: schema.target.isPerStep)(flat)
    }

    static func describe(_ d: HDF5Dataset) -> String {
        "\(d.elementType) [\(d.shape.map(String.init).joined(separator: ", "))]"
    }

    func validate(_ split: String) throws -> ValidatedSplit {
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

    func open(_ group: HDF5Group, _ split: String, _ name: String) throws -> HDF5Dataset {
        let object = "\(split)/\(name)"
        guard group.exists(name) else {
            throw FileError(.missing, .dataset, file: path, object: object, "no such dataset")
        }
        let d = try datasetIO(file: path, object: object) { try group.openDataset(name) }
        try scanner.checkStored(d, object: object)
        return d
    }

    func validateStream(_ split: String, _ group: HDF5Group) throws -> ValidatedSplit {
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

    func validateSequences(_ split: String, _ group: HDF5Group) throws -> ValidatedSplit {
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
    func checkTokenIDs(_ ids: DatasetSchema.IDRange, object: String, at: (Int) -> String) throws {
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
