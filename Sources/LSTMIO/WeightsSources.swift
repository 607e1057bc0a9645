import Foundation
import HDF5Kit
import LSTMFiles
import LSTMKit
import ZIPFoundation

/// `--rename FROM=TO`: a tensor key equal to FROM, or starting with FROM followed by "." or "/",
/// has that part replaced by TO (`fc=head` maps `fc.weight` to `head.weight`).
public struct WeightsRename: Sendable, Equatable, CustomStringConvertible {
    public let from: String
    public let to: String

    public init(from: String, to: String) {
        self.from = from
        self.to = to
    }

    /// Parses "FROM=TO" (both non-empty), or nil.
    public init?(argument: String) {
        let parts = argument.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
        self.init(from: String(parts[0]), to: String(parts[1]))
    }

    public var description: String { "\(from)=\(to)" }

    /// The renamed key, or nil when this rename does not apply to `key`.
    func apply(_ key: String) -> String? {
        if key == from { return to }
        for separator in [".", "/"] where key.hasPrefix(from + separator) {
            return to + key.dropFirst(from.count)
        }
        return nil
    }
}

/// The tensors and string attributes of a weights file, whatever holds them (HDF5 datasets and
/// root attributes, or safetensors' header and `__metadata__`).
struct TensorStore {
    struct Tensor {
        let shape: [Int]
        let type: String
        let reader: (String) throws -> [Float]
        init(shape: [Int], type: String, reader: @escaping (String) throws -> [Float]) {
            self.shape = shape
            self.type = type
            self.reader = reader
        }
        /// The values as Float; `key` names the tensor in errors.
        func read(_ key: String) throws -> [Float] { try reader(key) }
    }

    var tensors: [String: Tensor]
    var attributes: [String: String]
    /// "HDF5" or "safetensors", for messages.
    let container: String
    /// Head, loss and activation known from elsewhere (a .keras archive's config.json).
    var defaults: KerasArchive.Config?

    init(tensors: [String: Tensor], attributes: [String: String], container: String) {
        self.tensors = tensors
        self.attributes = attributes
        self.container = container
    }

    /// The store with `renames` applied in order; a rename that matches no tensor is an error
    /// listing what the file holds.
    func renamed(_ renames: [WeightsRename], path: String) throws -> TensorStore {
        var out = self
        for rename in renames {
            var next: [String: Tensor] = [:]
            var matched = false
            for (key, tensor) in out.tensors {
                let newKey = rename.apply(key) ?? key
                matched = matched || rename.apply(key) != nil
                if next[newKey] != nil {
                    throw FileError(
                        .invalidArgument, .weights, file: path, object: "/" + newKey,
                        "--rename \(rename) makes two tensors named '\(newKey)'; the file holds \(out.listing())")
                }
                next[newKey] = tensor
            }
            guard matched else {
                throw FileError(
                    .invalidArgument, .weights, file: path,
                    "--rename \(rename): no tensor is named '\(rename.from)' or starts with '\(rename.from).' or '\(rename.from)/'; the file holds \(out.listing())"
                )
            }
            out.tensors = next
        }
        return out
    }

    /// PyTorch or Keras, from the marker attribute or the characteristic keys.
    func detect() -> WeightsFormat? {
        if let marker = attributes[WeightsFile.markerAttribute], let format = WeightsFormat(rawValue: marker),
            format == .pytorch || format == .keras
        {
            return format
        }
        if tensors["lstm.weight_ih_l0"] != nil || tensors["lstm.0.weight_ih_l0"] != nil { return .pytorch }
        if tensors.keys.contains(where: { $0.hasPrefix("layers/lstm/") || $0.hasPrefix("layers/bidirectional/") }) {
            return .keras
        }
        return nil
    }

    /// "a [3, 4], b [4]" for every tensor (the first 24, sorted).
    func listing(_ keys: [String]? = nil) -> String {
        let keys = (keys ?? Array(tensors.keys)).sorted()
        if keys.isEmpty { return "no tensors" }
        var parts = keys.prefix(24).map { "\($0) \(tensors[$0]?.shape ?? [])" }
        if keys.count > 24 { parts.append("… (\(keys.count) in all)") }
        return parts.joined(separator: ", ")
    }

    /// Whether `key` belongs to an LSTM or embedding (so it cannot be the head).
    private static func isRecurrentOrEmbedding(_ key: String) -> Bool {
        let last = key.split(separator: ".").last.map(String.init) ?? key
        return ["weight_ih", "weight_hh", "bias_ih", "bias_hh"].contains { last.hasPrefix($0) }
            || key.hasPrefix("embedding.") || key.hasPrefix("layers/lstm") || key.hasPrefix("layers/bidirectional")
            || key.hasPrefix("layers/embedding")
    }

    /// What to say when the head's tensors are missing: the file's tensors that look like a head
    /// (not recurrent, not an embedding, not `expected`) and the `--rename` that maps them.
    func headHint(expected: Set<String>) -> String {
        let candidates = tensors.keys.filter { !expected.contains($0) && !Self.isRecurrentOrEmbedding($0) }.sorted()
        guard !candidates.isEmpty else {
            return "the file holds no other tensor that could be the head; it holds \(listing())"
        }
        var prefixes: [String] = []
        for key in candidates {
            let prefix: String
            if key.contains("/") {  // Keras: layers/NAME/vars/i → layers/NAME
                let parts = key.split(separator: "/")
                prefix = parts.count >= 2 ? parts[0..<2].joined(separator: "/") : key
            } else {
                prefix = key.split(separator: ".").dropLast().joined(separator: ".")
            }
            if !prefix.isEmpty, !prefixes.contains(prefix), prefix != "head", prefix != "layers/dense" {
                prefixes.append(prefix)
            }
        }
        var s = "the file holds these tensors that look like a head: \(listing(candidates))"
        if !prefixes.isEmpty {
            let target = candidates[0].contains("/") ? "layers/dense" : "head"
            s += "; map them with " + prefixes.map { "--rename \($0)=\(target)" }.joined(separator: " or ")
        }
        return s
    }

    /// A `--rename` suggestion when the LSTM tensors are there under another name (e.g. `rnn.weight_ih_l0`).
    func renameHint() -> String {
        guard let key = tensors.keys.sorted().first(where: { $0.hasSuffix(".weight_ih_l0") }) else { return "" }
        let prefix = String(key.dropLast(".weight_ih_l0".count))
        return "; the LSTM seems to be called '\(prefix)': map it with --rename \(prefix)=lstm"
    }

    /// A hint for an unexpected tensor: how to drop or map it.
    func renameHint(extra: String) -> String {
        "; if it is one of these under another name, map it with --rename OLD=NEW, else remove it from the file"
    }
}

/// What a file holds, from its first bytes (and, for a zip, its member names).
enum WeightsContainer: Equatable {
    case hdf5
    case safetensors
    /// A Keras 3 `.keras` archive (zip with model.weights.h5 and config.json).
    case kerasArchive(KerasArchive.Config)

    /// Sniffs `path`; refuses pickled PyTorch files (zip with data.pkl, or pickle protocol 2–5)
    /// with the command that converts them, and names what it found otherwise.
    static func sniff(_ path: String) throws -> WeightsContainer {
        guard FileManager.default.fileExists(atPath: path) else {
            throw FileError(
                .notFound, .weights, file: path,
                "no such file (expected a checkpoint, PyTorch .pt.h5, Keras .weights.h5 or .keras, or .safetensors)")
        }
        // A directory, FIFO or device: refused at once (reading a FIFO's first bytes would block).
        try FileError.mapping(.weights, file: path) { try HDF5File.requireRegularFile(path) }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw FileError(.permissionDenied, .weights, file: path, "cannot open the file for reading")
        }
        let head = [UInt8]((try? handle.read(upToCount: 16)) ?? Data())
        try? handle.close()
        let hdf5: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]
        if head.starts(with: hdf5) { return .hdf5 }
        if SafeTensorsFile.looksLike(head) { return .safetensors }
        if head.starts(with: [0x50, 0x4b, 0x03, 0x04]) { return try zip(path) }
        if head.count >= 2 && head[0] == 0x80 && (2...5).contains(head[1]) {
            throw pickled(path, "a pickle (legacy torch.save format)")
        }
        if (path as NSString).pathExtension.lowercased() == "onnx" {
            throw FileError(
                .wrongFormat, .weights, file: path,
                "ONNX files are written (`lstm export --format onnx`), not read; import the model's .safetensors or .pt.h5 instead"
            )
        }
        // Not one of the signatures: HDF5 may sit behind a user block, so let HDF5 decide.
        if let file = try? HDF5File.open(path) {
            try? file.close()
            return .hdf5
        }
        let shown = head.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " ")
        throw FileError(
            .wrongFormat, .weights, file: path,
            "not a weights file: expected HDF5 (a checkpoint, PyTorch .pt.h5 or Keras .weights.h5), safetensors or a .keras archive; found \(head.isEmpty ? "an empty file" : "bytes \(shown)")"
        )
    }

    private static func zip(_ path: String) throws -> WeightsContainer {
        let archive: Archive
        do { archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read) } catch {
            throw FileError(.wrongFormat, .weights, file: path, "a zip file that cannot be read: \(error)")
        }
        let names = archive.map(\.path)
        if names.contains(where: { $0 == "data.pkl" || $0.hasSuffix("/data.pkl") }) {
            throw pickled(path, "a zip of pickled tensors (torch.save)")
        }
        if names.contains("model.weights.h5") {
            return .kerasArchive(try KerasArchive.config(archive, path: path))
        }
        throw FileError(
            .wrongFormat, .weights, file: path,
            "a zip file that is neither a .keras archive (no model.weights.h5) nor a torch.save file (no data.pkl); it holds \(names.prefix(8).joined(separator: ", "))"
        )
    }

    /// The refusal of a pickled PyTorch file, with the one-line command that converts it.
    static func pickled(_ path: String, _ found: String) -> FileError {
        let out = WeightsFormat.stem(path) + ".safetensors"
        return FileError(
            .wrongFormat, .weights, file: path,
            "found \(found); lstm reads no pickles (loading one can run code). Convert the state_dict to safetensors with: \(conversionCommand(path, out)) and import \(out)"
        )
    }

    /// `python3 -c "…"` saving the state_dict in `input` (torch.save) to `output` as safetensors.
    static func conversionCommand(_ input: String, _ output: String) -> String {
        func python(_ s: String) -> String {
            "'" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
        }
        let code =
            "import torch; from safetensors.torch import save_file; save_file({k: v.contiguous().clone() for k, v in torch.load(\(python(input)), map_location='cpu').items()}, \(python(output)))"
        var shell = ""
        for c in code {
            if "\\\"$`".contains(c) { shell.append("\\") }
            shell.append(c)
        }
        return "python3 -c \"\(shell)\""
    }
}

/// A Keras 3 `.keras` archive: a zip with `config.json` (the model), `metadata.json` and
/// `model.weights.h5` (the same layout as `save_weights`).
enum KerasArchive {
    /// What config.json says about the head, loss and activation (nil when it does not say).
    struct Config: Equatable, Sendable {
        var head: Head?
        var loss: LossKind?
        var activation: OutputActivation?
    }

    /// Reads config.json: the last LSTM's `return_sequences` gives the head, the last Dense
    /// layer's activation F, the compile config's loss the loss.
    static func config(_ archive: Archive, path: String) throws -> Config {
        var out = Config()
        guard let entry = archive["config.json"] else { return out }
        var data = Data()
        do { _ = try archive.extract(entry) { data.append($0) } } catch {
            throw FileError(.io, .weights, file: path, object: "config.json", "cannot be extracted: \(error)")
        }
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return out }
        let layers = ((root["config"] as? [String: Any])?["layers"] as? [[String: Any]]) ?? []
        for layer in layers {
            let className = layer["class_name"] as? String
            let config = layer["config"] as? [String: Any] ?? [:]
            let inner =
                className == "Bidirectional"
                ? ((config["layer"] as? [String: Any])?["config"] as? [String: Any]) : config
            if className == "LSTM" || className == "Bidirectional", let sequences = inner?["return_sequences"] as? Bool
            {
                out.head = sequences ? .sequence : .last
            }
            if className == "Dense", let activation = config["activation"] as? String {
                out.activation =
                    ["linear": .identity, "softmax": .softmax, "sigmoid": .sigmoid, "tanh": .tanh][
                        activation]
            }
        }
        if let compile = root["compile_config"] as? [String: Any] {
            var loss = compile["loss"]
            if let l = loss as? [String: Any] { loss = (l["config"] as? [String: Any])?["name"] ?? l["class_name"] }
            if let name = (loss as? String)?.lowercased() {
                if name.contains("categorical_crossentropy") || name.contains("categoricalcrossentropy") {
                    out.loss = .crossEntropy
                } else if name.contains("binary_crossentropy") || name.contains("binarycrossentropy") {
                    out.loss = .bce
                } else if name == "mse" || name.contains("mean_squared_error") || name.contains("meansquarederror") {
                    out.loss = .mse
                }
            }
        }
        return out
    }

    /// Extracts model.weights.h5 to a temporary file, runs `body` on its path, removes it.
    static func withWeights<R>(_ path: String, _ body: (String) throws -> R) throws -> R {
        let archive: Archive
        do { archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read) } catch {
            throw FileError(.wrongFormat, .weights, file: path, "a zip file that cannot be read: \(error)")
        }
        guard let entry = archive["model.weights.h5"] else {
            throw FileError(.missing, .weights, file: path, object: "model.weights.h5", "not in the archive")
        }
        let temporary = FileManager.default.temporaryDirectory
            .appendingPathComponent("lstm-keras-\(UUID().uuidString).weights.h5")
        defer { try? FileManager.default.removeItem(at: temporary) }
        do { _ = try archive.extract(entry, to: temporary) } catch {
            throw FileError.fileSystem(error, .weights, file: path, "could not extract model.weights.h5")
        }
        return try body(temporary.path)
    }
}
