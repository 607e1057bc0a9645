import Foundation
import HDF5Kit
import LSTMFiles
import LSTMKit

/// Human-readable descriptions of HDF5 files: a summary for checkpoints and weights files, and
/// the tree of groups and datasets (shapes, dtypes, attributes) for any HDF5 file.
public enum Inspection {
    /// Describes the file at `path`: a checkpoint summary for a checkpoint, the model attributes
    /// plus the tree for exported weights, and the tree for any other HDF5 file. Long attributes
    /// (a checkpoint's data cursor, its config text) are summarised unless `full`.
    public static func report(path: String, full: Bool = false) throws -> String {
        switch try? WeightsContainer.sniff(path) {  // anything but these two: HDF5 decides below
        case .hdf5?, nil: break
        case .safetensors?: return try safetensorsReport(path: path)
        case .kerasArchive?:
            var text = "Keras archive (.keras): \(path)\n"
            let checkpoint = try WeightsImporter.read(path)
            text += modelDescription(checkpoint.config, indent: "  ")
            return text + "parameters: \(checkpoint.parameters.count)\n"
        }
        switch try WeightsFormat.detect(path: path) {
        case .checkpoint:
            return checkpointSummary(try Checkpoint.load(from: path), path: path, full: full)
        case .some(let format):
            var text = "\(format.displayName) weights: \(path)\n"
            let loaded: Checkpoint?
            do {
                loaded = try WeightsImporter.read(
                    path, format: format, options: WeightsImportOptions(allowNonFinite: true))
            } catch let error as FileError where error.kind == .corrupted {
                throw error  // damaged after it was written: say so rather than describe it
            } catch {
                loaded = nil
            }
            if let checkpoint = loaded {
                text += modelDescription(checkpoint.config, indent: "  ")
                text += metadataDescription(checkpoint.metadata, indent: "  ")
                text += "parameters: \(checkpoint.parameters.count)\n"
            } else if let sized = try? WeightsImporter.read(
                path, format: format,
                options: WeightsImportOptions(head: .sequence, activation: .identity, loss: .mse, allowNonFinite: true),
                notice: false)
            {
                // No model attributes (e.g. saved by Keras itself): only the sizes are known.
                let c = sized.config
                var input = ""
                switch c.input {
                case .features(let size): input = "features, size \(size)"
                case .tokens(let v, let e): input = "tokens, vocabulary \(v), embedding \(e)"
                }
                text += "model (sizes inferred from shapes; head, activation and loss not recorded):\n"
                text += "  input: \(input)\n"
                text += "  lstm: \(lstmDescription(c))\n"
                text += "  output size: \(c.outputSize)\n"
                text += "parameters: \(sized.parameters.count)\n"
            }
            return text + "\n" + (try tree(path: path, full: full))
        case nil:
            return try tree(path: path, full: full)
        }
    }

    /// A safetensors file: the model (when the file describes it), every tensor's dtype and
    /// shape, and the `__metadata__` strings (long values cut at 100 characters).
    static func safetensorsReport(path: String) throws -> String {
        let file = try SafeTensorsFile(path: path)
        var text = "safetensors weights: \(path)\n"
        if let checkpoint = try? WeightsImporter.read(path) {
            text += modelDescription(checkpoint.config, indent: "  ")
            text += "parameters: \(checkpoint.parameters.count)\n"
        }
        text += "tensors:\n"
        let width = file.entries.keys.map(\.count).max() ?? 0
        for name in file.entries.keys.sorted() {
            let e = file.entries[name]!
            text += "  \(name.padding(toLength: width, withPad: " ", startingAt: 0))  \(e.dtype) \(e.shape)\n"
        }
        if !file.metadata.isEmpty {
            text += "__metadata__:\n"
            for key in file.metadata.keys.sorted() {
                let value = file.metadata[key]!
                text += "  \(key) = \(value.count > 100 ? value.prefix(100) + "…" : value)\n"
            }
        }
        return text
    }

    /// A summary of a checkpoint: model config, parameter count, tensor names and shapes,
    /// optimizer, step/epoch, metrics, RNG states, data cursor and config text.
    public static func checkpointSummary(_ checkpoint: Checkpoint, path: String? = nil, full: Bool = false) -> String {
        var s = "checkpoint"
        if let path { s += ": \(path)" }
        s += " (\(Checkpoint.formatName) v\(Checkpoint.formatVersion))\n"
        s += modelDescription(checkpoint.config, indent: "  ")
        s += metadataDescription(checkpoint.metadata, indent: "  ")
        let layout = checkpoint.layout
        s += "parameters: \(layout.count) in \(layout.entries.count) tensors\n"
        let width = layout.entries.map(\.name.count).max() ?? 0
        for e in layout.entries {
            s += "  \(e.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(e.shape)\n"
        }
        if let o = checkpoint.optimizer {
            s += "optimizer: \(o.name), learning rate \(o.learningRate), \(o.stepCount) steps"
            if !o.hyperparameters.isEmpty {
                s +=
                    ", "
                    + o.hyperparameters.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(
                        separator: ", ")
            }
            s += "\n"
            if !o.stateBuffers.isEmpty {
                s += "  state buffers: \(o.stateBuffers.keys.sorted().joined(separator: ", "))\n"
            }
        } else {
            s += "optimizer: none (weights only)\n"
        }
        s += "progress: global step \(checkpoint.globalStep), epoch \(Epochs.text(checkpoint.epoch))\n"
        if checkpoint.metrics.isEmpty {
            s += "metrics: none\n"
        } else {
            s += "metrics:\n"
            for (name, value) in checkpoint.metrics.sorted(by: { $0.key < $1.key }) { s += "  \(name) = \(value)\n" }
        }
        if !checkpoint.rngStates.isEmpty {
            s +=
                "rng states: "
                + checkpoint.rngStates.keys.sorted()
                .map { "\($0) (\(checkpoint.rngStates[$0]!.count) words)" }.joined(separator: ", ") + "\n"
        }
        if let cursor = checkpoint.dataCursor {
            s += "data cursor: \(full ? cursor : oneLine(cursor, limit: summaryLimit))\n"
        }
        if let text = checkpoint.configText {
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).count
            s += "config text: \(lines) line(s), \(text.utf8.count) bytes"
            s +=
                full
                ? ":\n"
                    + text.split(separator: "\n", omittingEmptySubsequences: false).map { "  \($0)" }.joined(
                        separator: "\n") + "\n"
                : " (--full prints it)\n"
        }
        return s
    }

    /// The tree of groups and datasets in the HDF5 file at `path`, with each dataset's shape and
    /// dtype and every attribute's value (long values abbreviated).
    public static func tree(path: String, full: Bool = false) throws -> String {
        try FileError.mapping(.weights, file: path) {
            let file = try HDF5File.open(path)
            defer { try? file.close() }
            var out = "/\n"
            let limit = full ? Int.max : treeLimit
            try attributes(of: file.root, indent: "  ", limit: limit, into: &out)
            try members(of: file.root, indent: "  ", limit: limit, into: &out)
            return out
        }
    }

    /// Characters of a long string attribute shown without `full`: the checkpoint summary's data
    /// cursor, any string in the tree.
    public static let summaryLimit = 200
    public static let treeLimit = 120

    // MARK: - Helpers

    static func modelDescription(_ config: ModelConfig, indent: String) -> String {
        var s = "model:\n"
        switch config.input {
        case .features(let size): s += "\(indent)input: features, size \(size)\n"
        case .tokens(let v, let e): s += "\(indent)input: tokens, vocabulary \(v), embedding \(e)\n"
        }
        s += "\(indent)lstm: \(lstmDescription(config))"
        s += config.dropout > 0 ? ", dropout \(config.dropout)\n" : "\n"
        s +=
            "\(indent)head: \(config.head.rawValue), output size \(config.outputSize), activation \(config.activation.rawValue), loss \(config.loss.rawValue)\n"
        s += "\(indent)initialization: \(config.initialization.rawValue), forget gate bias \(config.forgetGateBias)\n"
        return s
    }

    /// What the model knows about its data (`ModelMetadata`), or "" when nothing:
    /// "data:\n  vocabulary: 65 entries [\"\\n\", \" \", …]\n  features: temp (mean 20.1, std 3.5), …".
    static func metadataDescription(_ m: ModelMetadata, indent: String) -> String {
        if m.isEmpty { return "" }
        func shown(_ names: [String]) -> String {
            let quoted = names.prefix(10).map { "\"" + $0.debugDescription.dropFirst().dropLast() + "\"" }
            return "[" + quoted.joined(separator: ", ") + (names.count > 10 ? ", …]" : "]")
        }
        func columns(_ names: [String]?, _ stats: ColumnStatistics?) -> String {
            guard let stats else { return shown(names ?? []) }
            return stats.names.indices.map { "\(stats.names[$0]) (mean \(stats.mean[$0]), std \(stats.std[$0]))" }
                .joined(separator: ", ")
        }
        var s = "data (root attributes):\n"
        if let v = m.vocabulary { s += "\(indent)vocabulary: \(v.count) entries \(shown(v))\n" }
        if let c = m.classNames { s += "\(indent)class names: \(shown(c))\n" }
        if m.featureNames != nil || m.featureStatistics != nil {
            s += "\(indent)features: \(columns(m.featureNames, m.featureStatistics))\n"
        }
        if m.targetNames != nil || m.targetStatistics != nil {
            s += "\(indent)targets: \(columns(m.targetNames, m.targetStatistics))\n"
        }
        return s
    }

    /// "2 layer(s), hidden size 16", "2 bidirectional layer(s), hidden sizes [16, 8]", plus
    /// ", bias pytorch (bias_ih + bias_hh)" for the two-bias form.
    static func lstmDescription(_ c: ModelConfig) -> String {
        let widths = c.uniformWidth ? "hidden size \(c.hiddenSize)" : "hidden sizes \(c.hiddenSizes)"
        var s = "\(c.numLayers) \(c.bidirectional ? "bidirectional " : "")layer(s), \(widths)"
        if c.bias == .pytorch { s += ", bias pytorch (bias_ih + bias_hh)" }
        return s
    }

    private static func members(of group: HDF5Group, indent: String, limit: Int, into out: inout String) throws {
        for name in try group.memberNames() {
            switch try HDF5Tree.child(group, name) {
            case .group(let child):
                out += "\(indent)\(name)/\n"
                try attributes(of: child, indent: indent + "  ", limit: limit, into: &out)
                try members(of: child, indent: indent + "  ", limit: limit, into: &out)
            case .dataset(let dataset):
                out += "\(indent)\(name)  \(dataset.shape) \(dataset.elementType)\n"
                try attributes(of: dataset, indent: indent + "  ", limit: limit, into: &out)
            case .other(let what):
                out += "\(indent)\(name)  (\(what))\n"
            }
        }
    }

    private static func attributes(of object: HDF5Object, indent: String, limit: Int, into out: inout String) throws {
        for name in try object.attributeNames() {
            let value: String
            do { value = format(try object.attribute(name), limit: limit) } catch let error as HDF5Error
                where error.kind == .typeMismatch
            {
                value = "(unsupported attribute type)"
            }
            out += "\(indent)@\(name) = \(value)\n"
        }
    }

    private static func format(_ value: HDF5AttributeValue, limit: Int) -> String {
        func list<T>(_ values: [T], _ show: (T) -> String) -> String {
            let n = limit == Int.max ? values.count : 8
            let shown = values.prefix(n).map(show).joined(separator: ", ")
            return values.count > n ? "[\(shown), … (\(values.count) values)]" : "[\(shown)]"
        }
        func quoted(_ s: String) -> String { "\"\(oneLine(s, limit: limit))\"" }
        switch value {
        case .string(let s): return quoted(s)
        case .int(let i): return "\(i)"
        case .double(let d): return "\(d)"
        case .ints(let a): return list(a) { "\($0)" }
        case .floats(let a): return list(a) { "\($0)" }
        case .doubles(let a): return list(a) { "\($0)" }
        case .strings(let a): return list(a, quoted)
        }
    }

    /// `s` on one line (newlines shown as ⏎), cut to `limit` characters with its size and how to see it all.
    private static func oneLine(_ s: String, limit: Int) -> String {
        let flat = s.replacingOccurrences(of: "\n", with: "⏎")
        guard flat.count > limit else { return flat }
        return String(flat.prefix(limit)) + "… (\(s.count) characters, \(s.utf8.count) bytes; --full prints it)"
    }
}

/// Walking the objects of an HDF5 file.
enum HDF5Tree {
    /// A member of a group.
    enum Node {
        case group(HDF5Group)
        case dataset(HDF5Dataset)
        /// Something that is neither (a named datatype, a dangling link), described.
        case other(String)
    }

    /// Opens the member `name` of `group` as whatever it is.
    static func child(_ group: HDF5Group, _ name: String) throws -> Node {
        do {
            return .group(try group.openGroup(name))
        } catch let error as HDF5Error where error.kind == .typeMismatch {
            do { return .dataset(try group.openDataset(name)) } catch let error as HDF5Error
                where error.kind == .typeMismatch
            {
                return .other("named datatype")
            }
        } catch let error as HDF5Error where error.kind == .notFound {
            return .other("dangling link")
        }
    }

    /// Every dataset under `group`, keyed by its path relative to `group` ("a/b/c").
    static func datasets(in group: HDF5Group, prefix: String = "") throws -> [String: HDF5Dataset] {
        var out: [String: HDF5Dataset] = [:]
        for name in try group.memberNames() {
            switch try child(group, name) {
            case .group(let child): out.merge(try datasets(in: child, prefix: prefix + name + "/")) { a, _ in a }
            case .dataset(let dataset): out[prefix + name] = dataset
            case .other: break
            }
        }
        return out
    }
}
