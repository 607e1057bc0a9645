import Foundation
import HDF5Kit

/// Per-column z-score statistics: names, means and standard deviations, one per column (the
/// input features or the float targets). Values map back with x = z · std + mean.
public struct ColumnStatistics: Sendable, Equatable {
    /// Column names, one per column ("column k" when the file names none).
    public var names: [String]
    /// Per-column mean of the training split.
    public var mean: [Float]
    /// Per-column standard deviation of the training split (1 for a constant column).
    public var std: [Float]

    /// Creates statistics; the three arrays must have the same length.
    public init(names: [String], mean: [Float], std: [Float]) {
        self.names = names
        self.mean = mean
        self.std = std
    }

    /// Maps normalised values back to the original scale, column by column (row-major rows of width count).
    public func denormalize(_ values: [Float]) -> [Float] {
        let w = mean.count
        guard w > 0 else { return values }
        return values.enumerated().map { i, v in v * std[i % w] + mean[i % w] }
    }
}

/// What a model (or the dataset it is trained on) knows about its data beyond the tensors: the
/// vocabulary, the class names, the input features' names and normalisation, the float
/// targets' names and statistics. Stored as root attributes of the same names in dataset files,
/// checkpoints and exported weights files, so a Python user reads them with h5py
/// (`f.attrs["vocabulary"]`, …) and `lstm` checks data against the model it is run with.
///
/// | attribute | HDF5 type | meaning |
/// |---|---|---|
/// | `vocabulary` | string array [V] | token id → string (token models) |
/// | `class_names` | string array [O] | class id → name (classifiers) |
/// | `feature_names` | string array [I] | input feature (column) names |
/// | `mean`, `std` | float32 [I] | the inputs were normalised as (x − mean) / std |
/// | `target_names` | string array [O] | float target (column) names |
/// | `target_mean`, `target_std` | float32 [O] | targets normalised likewise; value = y · target_std + target_mean |
///
/// Every attribute is optional; `mean`/`std` (and `target_mean`/`target_std`) come together.
/// One reader and one writer serve datasets and models alike (docs/datasets.md, docs/weights.md).
public struct ModelMetadata: Sendable, Equatable {
    /// Root attribute names, in the order they are written.
    public static let attributeNames = [
        "vocabulary", "class_names", "feature_names", "mean", "std", "target_names", "target_mean", "target_std"
    ]

    /// Token id → string (the `vocabulary` attribute).
    public var vocabulary: [String]?
    /// Class id → name (the `class_names` attribute).
    public var classNames: [String]?
    /// Input feature names (`feature_names`), also without statistics.
    public var featureNames: [String]?
    /// The inputs' normalisation (`feature_names`, `mean`, `std`); names are "column k" when unnamed.
    public var featureStatistics: ColumnStatistics?
    /// Float target names (`target_names`), also without statistics.
    public var targetNames: [String]?
    /// The float targets' normalisation (`target_names`, `target_mean`, `target_std`).
    public var targetStatistics: ColumnStatistics?

    /// Metadata from its parts (all optional).
    public init(
        vocabulary: [String]? = nil, classNames: [String]? = nil, featureNames: [String]? = nil,
        featureStatistics: ColumnStatistics? = nil, targetNames: [String]? = nil,
        targetStatistics: ColumnStatistics? = nil
    ) {
        self.vocabulary = vocabulary
        self.classNames = classNames
        self.featureNames = featureNames ?? (featureStatistics.flatMap { Self.named($0) })
        self.featureStatistics = featureStatistics
        self.targetNames = targetNames ?? (targetStatistics.flatMap { Self.named($0) })
        self.targetStatistics = targetStatistics
    }

    /// Whether nothing is known (e.g. a checkpoint written before these attributes existed).
    public var isEmpty: Bool { self == ModelMetadata() }

    /// The statistics' names unless they are only the "column k" placeholders.
    private static func named(_ s: ColumnStatistics) -> [String]? {
        s.names == placeholderNames(s.names.count) ? nil : s.names
    }

    private static func placeholderNames(_ n: Int) -> [String] { (0..<n).map { "column \($0)" } }

    // MARK: - HDF5 attributes

    /// Writes every known attribute to `group` (the root of a dataset, checkpoint or weights file).
    public func write(to group: HDF5Group) throws {
        if let vocabulary { try group.setAttribute("vocabulary", vocabulary) }
        if let classNames { try group.setAttribute("class_names", classNames) }
        if let names = featureNames ?? featureStatistics?.names { try group.setAttribute("feature_names", names) }
        if let s = featureStatistics {
            try group.setAttribute("mean", s.mean)
            try group.setAttribute("std", s.std)
        }
        if let names = targetNames ?? targetStatistics?.names { try group.setAttribute("target_names", names) }
        if let s = targetStatistics {
            try group.setAttribute("target_mean", s.mean)
            try group.setAttribute("target_std", s.std)
        }
    }

    /// Reads and checks the attributes of `group`: string arrays non-empty, `mean`/`std` together,
    /// one per name, finite means, finite stds > 0. Errors are `FileError`s of `role` naming
    /// `file` and the attribute ("mean (root attribute)").
    public static func read(from group: HDF5Group, role: FileError.Role, file: String) throws -> ModelMetadata {
        let reader = AttributeReader(group: group, role: role, file: file)
        let featureNames = try reader.strings("feature_names")
        let targetNames = try reader.strings("target_names")
        var m = ModelMetadata()
        m.vocabulary = try reader.strings("vocabulary")
        m.classNames = try reader.strings("class_names")
        m.featureNames = featureNames
        m.featureStatistics = try reader.statistics(names: featureNames, "feature_names", "mean", "std")
        m.targetNames = targetNames
        m.targetStatistics = try reader.statistics(names: targetNames, "target_names", "target_mean", "target_std")
        return m
    }

    private struct AttributeReader {
        let group: HDF5Group, role: FileError.Role, file: String

        func fail(_ kind: FileError.Kind, _ name: String, _ message: String) -> FileError {
            FileError(kind, role, file: file, object: "\(name) (root attribute)", message)
        }

        func mapped<R>(_ name: String, _ what: String, _ body: () throws -> R) throws -> R {
            do { return try body() } catch let error as HDF5Error where error.kind == .typeMismatch {
                throw fail(.typeMismatch, name, "expected an array of \(what); \(error.reason)")
            } catch {
                throw FileError.wrapping(error, role, file: file, object: "\(name) (root attribute)")
                    ?? FileError(.io, role, file: file, object: "\(name) (root attribute)", "\(error)")
            }
        }

        func strings(_ name: String) throws -> [String]? {
            guard group.hasAttribute(name) else { return nil }
            let values = try mapped(name, "strings") { try group.attribute(name, as: [String].self) }
            if values.isEmpty { throw fail(.shapeMismatch, name, "expected at least one entry, found an empty array") }
            return values
        }

        func floats(_ name: String) throws -> [Float]? {
            guard group.hasAttribute(name) else { return nil }
            return try mapped(name, "floats") { try group.attribute(name, as: [Float].self) }
        }

        /// A names/mean/std triple: mean and std together (names optional), equal lengths,
        /// finite means, finite stds > 0; nil when neither mean nor std is present.
        func statistics(names n: [String]?, _ names: String, _ mean: String, _ std: String) throws
            -> ColumnStatistics?
        {
            let m = try floats(mean)
            let s = try floats(std)
            if m == nil && s == nil { return nil }
            guard let m, let s else {
                let present = [(names, n != nil), (mean, m != nil), (std, s != nil)].filter(\.1).map(\.0)
                let missing = m == nil ? mean : std
                throw fail(
                    .missing, missing,
                    "expected \(mean) and \(std) together (\(names) optional), found only \(present.joined(separator: ", "))"
                )
            }
            let names = n ?? ModelMetadata.placeholderNames(m.count)
            guard names.count == m.count, s.count == m.count else {
                throw fail(
                    .shapeMismatch, std,
                    "expected one \(mean) and one \(std) per name, found \(names.count) names, \(m.count) means and \(s.count) stds"
                )
            }
            if let i = m.firstIndex(where: { !$0.isFinite }) {
                throw fail(.invalidValue, mean, "expected finite means, found \(m[i]) for column \(names[i])")
            }
            if let i = s.firstIndex(where: { !($0.isFinite && $0 > 0) }) {
                throw fail(
                    .invalidValue, std,
                    "expected finite standard deviations > 0, found \(s[i]) for column \(names[i])")
            }
            return ColumnStatistics(names: names, mean: m, std: s)
        }
    }

    // MARK: - String properties (formats whose metadata is a string → string map)

    /// The metadata as string key/value pairs, each value JSON (an array of strings or numbers),
    /// keyed by the attribute names: for formats whose metadata is a map of strings
    /// (safetensors `__metadata__`, ONNX `metadata_props`). `init(properties:)` reads them back.
    public var properties: [(key: String, value: String)] {
        func json<T: Encodable>(_ v: T) -> String {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.withoutEscapingSlashes]
            return (try? encoder.encode(v)).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
        }
        var out: [(key: String, value: String)] = []
        if let vocabulary { out.append(("vocabulary", json(vocabulary))) }
        if let classNames { out.append(("class_names", json(classNames))) }
        if let names = featureNames ?? featureStatistics?.names { out.append(("feature_names", json(names))) }
        if let s = featureStatistics {
            out.append(("mean", json(s.mean)))
            out.append(("std", json(s.std)))
        }
        if let names = targetNames ?? targetStatistics?.names { out.append(("target_names", json(names))) }
        if let s = targetStatistics {
            out.append(("target_mean", json(s.mean)))
            out.append(("target_std", json(s.std)))
        }
        return out
    }

    /// Reads `properties` back (unknown keys are ignored; a value that is not the JSON array
    /// expected is an error naming the key).
    public init(properties: [String: String], role: FileError.Role, file: String) throws {
        func decode<T: Decodable>(_ key: String, _ type: T.Type) throws -> T? {
            guard let text = properties[key] else { return nil }
            do { return try JSONDecoder().decode(T.self, from: Data(text.utf8)) } catch {
                throw FileError(
                    .typeMismatch, role, file: file, object: "metadata '\(key)'",
                    "expected a JSON array of \(T.self == [String].self ? "strings" : "numbers"), found \(text.prefix(80))"
                )
            }
        }
        let featureNames = try decode("feature_names", [String].self)
        let targetNames = try decode("target_names", [String].self)
        func stats(_ names: [String]?, _ mean: String, _ std: String) throws -> ColumnStatistics? {
            guard let m = try decode(mean, [Float].self), let s = try decode(std, [Float].self) else { return nil }
            return ColumnStatistics(names: names ?? Self.placeholderNames(m.count), mean: m, std: s)
        }
        self.init(
            vocabulary: try decode("vocabulary", [String].self), classNames: try decode("class_names", [String].self),
            featureNames: featureNames, featureStatistics: try stats(featureNames, "mean", "std"),
            targetNames: targetNames, targetStatistics: try stats(targetNames, "target_mean", "target_std"))
    }

    // MARK: - Comparing a model with data

    /// Where `data` (the attributes of a dataset) differs from this model's metadata, one line per
    /// attribute naming both values; empty when they agree. An attribute only one side has is not
    /// a difference, except the input statistics: a model trained on normalised inputs run on data
    /// that carries no `mean`/`std` is reported (its inputs are probably in raw units).
    public func differences(fromData data: ModelMetadata) -> [String] {
        var out: [String] = []
        func list<T>(_ v: [T]) -> String {
            let shown = v.prefix(8).map { "\($0)" }.joined(separator: ", ")
            return "[\(shown)\(v.count > 8 ? ", … (\(v.count) in all)" : "")]"
        }
        func compare<T: Equatable>(_ name: String, _ model: [T]?, _ file: [T]?) {
            guard let model, let file, model != file else { return }
            if model.count == file.count, let i = model.indices.first(where: { model[$0] != file[$0] }) {
                out.append(
                    "\(name): the model has \(list(model)), the data \(list(file)) (first difference at entry \(i): \(model[i]) vs \(file[i]))"
                )
            } else {
                out.append("\(name): the model has \(list(model)), the data \(list(file))")
            }
        }
        compare("vocabulary", vocabulary, data.vocabulary)
        compare("class_names", classNames, data.classNames)
        compare("feature_names", featureNames, data.featureNames)
        if let s = featureStatistics {
            if let d = data.featureStatistics {
                compare("mean", s.mean, d.mean)
                compare("std", s.std, d.std)
            } else {
                out.append(
                    "mean/std: the model was trained on inputs normalised with mean \(list(s.mean)) and std \(list(s.std)), the data carries no statistics (normalise it the same way and store them as the root attributes mean and std)"
                )
            }
        }
        compare("target_names", targetNames, data.targetNames)
        if let s = targetStatistics, let d = data.targetStatistics {
            compare("target_mean", s.mean, d.mean)
            compare("target_std", s.std, d.std)
        }
        return out
    }
}
