import Foundation
import HDF5Kit
import LSTMFiles
import LSTMKit

// Joining shards: several files opened as one dataset, each split the concatenation of theirs.

extension DatasetFile {
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

    /// Validates `split` in every shard and checks that they have the same layout; the schema is
    /// that of the concatenation (N = ΣN_f, id ranges over all files, flat indices into the whole).
    func validateShards(_ split: String) throws -> ValidatedSplit {
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
}
