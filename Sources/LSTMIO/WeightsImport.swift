import Foundation
import HDF5Kit
import LSTMFiles
import LSTMKit

/// Reads model weights from a PyTorch or Keras weights file (or a checkpoint) into a
/// `Checkpoint` without optimizer state, validating names and shapes with clear errors.
public enum WeightsImporter {
    /// Reads `path`. With `format` nil the format is detected; a checkpoint is accepted whatever
    /// `format` says. The model config comes from the file's `model_config` attribute when
    /// present, else sizes are inferred from the tensors and head/loss/activation from `options`
    /// (or the file's `head`/`loss`/`activation` attributes); options given always override.
    /// PyTorch's two biases are summed into a `bias: single` model's one and kept as they are in
    /// a `bias: pytorch` model's two (`options.bias` chooses; see docs/weights.md).
    public static func read(
        _ path: String, format: WeightsFormat? = nil,
        options: WeightsImportOptions = WeightsImportOptions()
    ) throws -> Checkpoint {
        try readNoting(path, format: format, options: options).checkpoint
    }

    /// `read`, printing the notice for a file of ours without checksums only if `notice`.
    static func read(
        _ path: String, format: WeightsFormat?, options: WeightsImportOptions, notice: Bool
    ) throws -> Checkpoint {
        try readNoting(path, format: format, options: options, notice: notice).checkpoint
    }

    /// `read`, plus notes worth telling the user once (e.g. "ignored the /optimizer group").
    public static func readNoting(
        _ path: String, format: WeightsFormat? = nil,
        options: WeightsImportOptions = WeightsImportOptions(), notice: Bool = true
    ) throws -> (checkpoint: Checkpoint, notes: [String]) {
        if let format, !WeightsFormat.importable.contains(format) {
            throw FileError(
                .invalidArgument, .weights, file: path,
                "cannot read \(format.displayName) files; the formats read are \(WeightsFormat.importable.map(\.rawValue).joined(separator: ", "))"
            )
        }
        switch try WeightsContainer.sniff(path) {
        case .hdf5:
            return try readHDF5(
                path, display: path, format: format, options: options, archiveConfig: nil, notice: notice)
        case .safetensors:
            if let format, format != .safetensors && format != .pytorch {
                throw FileError(
                    .wrongFormat, .weights, file: path,
                    "the file holds safetensors (PyTorch state_dict) weights, not \(format.displayName); use --format safetensors"
                )
            }
            let file = try SafeTensorsFile(path: path)
            let store = TensorStore(
                tensors: Dictionary(
                    uniqueKeysWithValues: file.entries.map { key, e in
                        (key, TensorStore.Tensor(shape: e.shape, type: e.dtype) { _ in try file.floats(key) })
                    }),
                attributes: file.metadata, container: "safetensors")
            var result = try read(store, path: path, format: .safetensors, options: options)
            result.checkpoint.metadata = try ModelMetadata(properties: file.metadata, role: .weights, file: path)
            return result
        case .kerasArchive(let config):
            if let format, format != .keras {
                throw FileError(
                    .wrongFormat, .weights, file: path,
                    "the file is a Keras .keras archive, not \(format.displayName) weights; use --format keras")
            }
            return try KerasArchive.withWeights(path) { weights in
                try readHDF5(
                    weights, display: path, format: .keras, options: options, archiveConfig: config, notice: notice)
            }
        }
    }

    /// Reads an HDF5 file: a checkpoint, or PyTorch or Keras weights. `display` is the name used in
    /// errors (the .keras archive when `path` is the weights extracted from it).
    static func readHDF5(
        _ path: String, display: String, format: WeightsFormat?, options: WeightsImportOptions,
        archiveConfig: KerasArchive.Config?, notice: Bool
    ) throws -> (checkpoint: Checkpoint, notes: [String]) {
        let detected: WeightsFormat? = try FileError.mapping(.weights, file: display) {
            let file = try HDF5File.open(path)
            defer { try? file.close() }
            return WeightsFormat.detect(file.root)
        }
        if detected == .checkpoint || format == .checkpoint {
            let (loaded, status) = try Checkpoint.loadVerified(from: path)
            var checkpoint = loaded
            if status == .absent && notice { Checksums.reportAbsent(.checkpoint, file: display) }
            if !options.allowNonFinite { try checkpoint.checkFinite(file: display) }
            if let bias = options.bias, bias != checkpoint.config.bias { checkpoint = convert(checkpoint, to: bias) }
            checkpoint.config = try apply(options, to: checkpoint.config, path: display)
            return (checkpoint, [])
        }
        if format == .safetensors {
            throw FileError(
                .wrongFormat, .weights, file: display,
                "the file is HDF5, not safetensors; use --format \(detected?.rawValue ?? "pytorch") (or leave --format out)"
            )
        }
        return try FileError.mapping(.weights, file: display) {
            let file = try HDF5File.open(path)
            defer { try? file.close() }
            let root = file.root
            // Files PyTorch or Keras wrote never had checksums; only our own older exports get the notice.
            let status = try Checksums.verify(root, role: .weights, file: display)
            if status == .absent && root.hasAttribute(WeightsFile.markerAttribute) && notice {
                Checksums.reportAbsent(.weights, file: display)
            }
            var datasets = try HDF5Tree.datasets(in: root)
            var notes: [String] = []
            let optimizerKeys = datasets.keys.filter { $0.hasPrefix("optimizer/") }
            if !optimizerKeys.isEmpty && (detected == .keras || format == .keras || root.exists("layers")) {
                for key in optimizerKeys { datasets[key] = nil }
                notes.append(
                    "\(display): ignored the /optimizer group (\(optimizerKeys.count) tensors of Keras' optimizer state, which the weights do not need)"
                )
            }
            var attributes: [String: String] = [:]
            for name in try root.attributeNames() {
                if let value = try? root.attribute(name, as: String.self) { attributes[name] = value }
            }
            var store = TensorStore(
                tensors: datasets.mapValues { dataset in
                    TensorStore.Tensor(shape: dataset.shape, type: "\(dataset.elementType)") { name in
                        try dataset.checkStoredSize(.weights, file: display, object: "/" + name)
                        switch dataset.elementType {
                        case .float32: return try dataset.read(as: Float.self)
                        case .float64:
                            // Beyond float32's range is refused with the value as stored (the reader
                            // refuses the other non-finite values for every container).
                            let stored = try dataset.read(as: Double.self)
                            if !options.allowNonFinite, let bad = stored.firstIndex(where: { !Float($0).isFinite }) {
                                throw FileError(
                                    .invalidValue, .weights, file: display, object: "/" + name,
                                    WeightsFile.nonFiniteMessage(stored[bad], at: bad, shape: dataset.shape))
                            }
                            return stored.map { Float($0) }
                        default:
                            throw FileError(
                                .typeMismatch, .weights, file: display, object: "/" + name,
                                "stores \(dataset.elementType) values, expected float32 or float64")
                        }
                    }
                },
                attributes: attributes, container: "HDF5")
            if let archiveConfig { store.defaults = archiveConfig }
            var result = try read(store, path: display, format: format, options: options)
            // vocabulary, names, statistics: none in files written elsewhere
            result.checkpoint.metadata = try Checkpoint.readModelMetadata(root, path: display, role: .weights)
            result.notes = notes + result.notes
            return result
        }
    }

    /// Reads a PyTorch-, safetensors- or Keras-keyed `store` (renames applied here).
    static func read(
        _ original: TensorStore, path: String, format: WeightsFormat?, options: WeightsImportOptions
    ) throws -> (checkpoint: Checkpoint, notes: [String]) {
        let store = try original.renamed(options.renames, path: path)
        let container = original.container
        let detected = store.container == "safetensors" ? WeightsFormat.safetensors : store.detect()
        let chosen: WeightsFormat
        if let format {
            if let detected, detected != format, !(detected == .safetensors && format == .pytorch) {
                throw FileError(
                    .wrongFormat, .weights, file: path, object: nil,
                    "the file holds \(detected.displayName) weights, not \(format.displayName); use --format \(detected.rawValue)"
                )
            }
            chosen = format
        } else if let detected {
            chosen = detected
        } else {
            throw FileError(
                .wrongFormat, .weights, file: path, object: nil,
                "cannot tell the format: a \(container) file, expected PyTorch keys (a tensor 'lstm.weight_ih_l0') or Keras groups ('layers/lstm' or 'layers/bidirectional'); found \(store.listing())\(store.renameHint())"
            )
        }
        let checkpoint = try Reader(store: store, path: path, format: chosen, options: options).checkpoint()
        return (checkpoint, [])
    }

    /// The same function in the other bias form: b_ih + b_hh summed into one bias, or one bias
    /// as b_ih with b_hh zero. Optimizer state (laid out for the old form) is dropped.
    static func convert(_ checkpoint: Checkpoint, to bias: BiasForm) -> Checkpoint {
        var config = checkpoint.config
        config.bias = bias
        let layout = ParameterLayout(config)
        var arena = [Float](repeating: 0, count: layout.count)
        for e in layout.entries {
            var tensor = checkpoint.tensor(e.name)
            if tensor == nil, e.name.hasPrefix("lstm.bias_l") {  // single ← bias_ih + bias_hh
                let sfx = e.name.dropFirst("lstm.bias_".count)
                if let ih = checkpoint.tensor("lstm.bias_ih_\(sfx)"), let hh = checkpoint.tensor("lstm.bias_hh_\(sfx)")
                {
                    tensor = zip(ih, hh).map(WeightsFile.sumBiases)
                }
            } else if tensor == nil, e.name.hasPrefix("lstm.bias_ih_") {  // pytorch ← (bias, 0)
                tensor = checkpoint.tensor("lstm.bias_" + e.name.dropFirst("lstm.bias_ih_".count))
            }
            if let tensor { arena.replaceSubrange(e.offset..<(e.offset + e.count), with: tensor) }
        }
        var out = checkpoint
        out.config = config
        out.parameters = arena
        out.optimizer = nil
        return out
    }

    /// Applies `options` to `config` and validates the result.
    static func apply(_ options: WeightsImportOptions, to config: ModelConfig, path: String) throws -> ModelConfig {
        var config = config
        if let bias = options.bias { config.bias = bias }
        if let head = options.head { config.head = head }
        if let loss = options.loss {
            config.loss = loss
            if options.activation == nil, (try? config.validate()) == nil { config.activation = loss.defaultActivation }
        }
        if let activation = options.activation { config.activation = activation }
        do { try config.validate() } catch {
            throw FileError(.invalidConfig, .weights, file: path, object: nil, "\(error)")
        }
        return config
    }

    /// Reads one PyTorch-, safetensors- or Keras-keyed tensor store.
    private struct Reader {
        let store: TensorStore
        let path: String
        let format: WeightsFormat
        let options: WeightsImportOptions

        var datasets: [String: TensorStore.Tensor] { store.tensors }

        func fail(_ kind: FileError.Kind, _ object: String?, _ message: String) -> FileError {
            FileError(kind, .weights, file: path, object: object.map { "/" + $0 }, message)
        }

        func checkpoint() throws -> Checkpoint {
            let config = try resolveConfig(datasets)
            let expected = WeightsFile.tensors(config, format)
            let expectedKeys = Set(expected.map(\.key))
            var values: [String: [Float]] = [:]
            for t in expected {
                guard let dataset = datasets[t.key] else {
                    throw fail(
                        .missing, t.key,
                        "missing tensor: expected shape \(t.shape) for \(describe(config)); \(store.headHint(expected: expectedKeys))"
                    )
                }
                guard dataset.shape == t.shape else {
                    throw fail(
                        .shapeMismatch, t.key,
                        "shape \(dataset.shape) does not match the expected \(t.shape) for \(describe(config))\(store.attributes["model_config"] != nil ? " (the model the file's model_config attribute describes)" : "")"
                    )
                }
                let read = try dataset.read(t.key)
                if !options.allowNonFinite, let bad = read.firstIndex(where: { !$0.isFinite }) {
                    throw fail(
                        .invalidValue, t.key,
                        WeightsFile.nonFiniteMessage(Double(read[bad]), at: bad, shape: dataset.shape))
                }
                values[t.key] = read
            }
            if let extra = datasets.keys.filter({ !expectedKeys.contains($0) }).sorted().first {
                let shape = datasets[extra]!.shape
                throw fail(
                    .unexpected, extra,
                    "unexpected tensor \(shape) for this \(format.displayName) model (\(describe(config))); expected only \(expected.map(\.key).joined(separator: ", "))\(store.renameHint(extra: extra))"
                )
            }
            return Checkpoint(config: config, parameters: arena(config, expected, values))
        }

        /// Builds the arena from the file's tensors (all present and shape-checked): copies,
        /// transposes back, and sums PyTorch's two biases (single form); a parameter no tensor
        /// fills (b_hh of a two-bias model read from Keras' one bias) stays zero.
        private func arena(_ config: ModelConfig, _ tensors: [WeightsFile.Tensor], _ values: [String: [Float]])
            -> [Float]
        {
            let layout = ParameterLayout(config)
            var arena = [Float](repeating: 0, count: layout.count)
            for e in layout.entries {
                let sources = tensors.filter { $0.parameter == e.name }
                if sources.isEmpty { continue }
                var tensor: [Float]
                if let ih = sources.first(where: { $0.role == .biasIH }),
                    let hh = sources.first(where: { $0.role == .biasHH })
                {
                    tensor = zip(values[ih.key]!, values[hh.key]!).map(WeightsFile.sumBiases)
                } else {
                    let t = sources[0]
                    tensor = values[t.key]!
                    if t.role == .transposed {
                        tensor = WeightsFile.transpose(tensor, rows: t.shape[0], cols: t.shape[1])
                    }
                }
                arena.replaceSubrange(e.offset..<(e.offset + e.count), with: tensor)
            }
            return arena
        }

        /// The model config: the `model_config` attribute, else inferred from shapes, with options applied.
        private func resolveConfig(_ datasets: [String: TensorStore.Tensor]) throws -> ModelConfig {
            if let json = store.attributes["model_config"] {
                let config: ModelConfig
                do { config = try JSONDecoder().decode(ModelConfig.self, from: Data(json.utf8)) } catch {
                    throw fail(
                        .invalidConfig, "@model_config",
                        "not a valid model configuration (\(CheckpointIO.describeDecodingError(error))): \(json)")
                }
                return try WeightsImporter.apply(options, to: config, path: path)
            }
            func shape(_ name: String, rank: Int) throws -> [Int] {
                guard let dataset = datasets[name] else {
                    throw fail(
                        .missing, name,
                        "missing tensor (needed to infer the model's sizes); \(store.headHint(expected: []))")
                }
                guard dataset.shape.count == rank else {
                    throw fail(.shapeMismatch, name, "expected a \(rank)-D tensor, found shape \(dataset.shape)")
                }
                return dataset.shape
            }
            let pytorch = format != .keras
            let bidirectional =
                pytorch
                ? datasets["lstm.weight_ih_l0_reverse"] != nil
                : datasets[WeightsFile.kerasLSTM(0, bidirectional: true) + "/cell/vars/0"] != nil
            let cell: (Int) -> String = { WeightsFile.kerasLSTM($0, bidirectional: bidirectional) + "/cell/vars/" }
            // Each layer's (W key, R key): one nn.LSTM ("lstm.weight_ih_l{k}"), or one per run of
            // equal widths ("lstm.{r}.weight_ih_l{j}"), or Keras' lstm{_k}/cell/vars/{0,1}.
            var layerKeys: [(w: String, r: String)] = []
            if pytorch {
                let runs = datasets["lstm.weight_ih_l0"] == nil && datasets["lstm.0.weight_ih_l0"] != nil
                if runs {
                    var r = 0
                    while datasets["lstm.\(r).weight_ih_l0"] != nil {
                        var j = 0
                        while datasets["lstm.\(r).weight_ih_l\(j)"] != nil {
                            layerKeys.append(("lstm.\(r).weight_ih_l\(j)", "lstm.\(r).weight_hh_l\(j)"))
                            j += 1
                        }
                        r += 1
                    }
                } else {
                    while datasets["lstm.weight_ih_l\(layerKeys.count)"] != nil {
                        let k = layerKeys.count
                        layerKeys.append(("lstm.weight_ih_l\(k)", "lstm.weight_hh_l\(k)"))
                    }
                }
            } else {
                while datasets[cell(layerKeys.count) + "0"] != nil {
                    layerKeys.append((cell(layerKeys.count) + "0", cell(layerKeys.count) + "1"))
                }
            }
            if layerKeys.isEmpty { layerKeys = [(pytorch ? "lstm.weight_ih_l0" : cell(0) + "0", "")] }
            let w = try shape(layerKeys[0].w, rank: 2)
            let widths = try layerKeys.map { keys in
                let r = try shape(keys.r, rank: 2)
                return pytorch ? r[1] : r[0]
            }
            let y = try shape(pytorch ? "head.weight" : "layers/dense/vars/0", rank: 2)
            let inputWidth = pytorch ? w[1] : w[0]
            let outputs = pytorch ? y[0] : y[1]
            let embeddingKey = pytorch ? "embedding.weight" : "layers/embedding/vars/0"
            let input: InputKind
            if datasets[embeddingKey] != nil {
                let e = try shape(embeddingKey, rank: 2)
                input = .tokens(vocabulary: e[0], embedding: e[1])
            } else {
                input = .features(size: inputWidth)
            }
            func stored<V: RawRepresentable>(_ name: String, _ type: V.Type) throws -> V? where V.RawValue == String {
                guard let raw = store.attributes[name] else { return nil }
                guard let value = V(rawValue: raw) else {
                    throw fail(.invalidConfig, "@\(name)", "unknown \(name) '\(raw)'")
                }
                return value
            }
            guard let head = try options.head ?? stored("head", Head.self) ?? store.defaults?.head,
                let loss = try options.loss ?? stored("loss", LossKind.self) ?? store.defaults?.loss
            else {
                throw fail(
                    .invalidConfig, nil,
                    "the file records no model (no model_config attribute), so its head and loss are unknown; give them: `lstm import \(path) --head sequence|last --loss cross_entropy|mse|bce --out model.h5` (--activation defaults to the loss's usual one)"
                )
            }
            let activation =
                try options.activation ?? stored("activation", OutputActivation.self) ?? store.defaults?.activation
            let config = ModelConfig(
                input: input, hiddenSizes: widths, outputSize: outputs,
                activation: activation, head: head, loss: loss, bidirectional: bidirectional,
                bias: options.bias ?? .default)
            do { try config.validate() } catch {
                throw fail(.invalidConfig, nil, "the inferred model is not valid: \(error)")
            }
            return config
        }

        private func describe(_ config: ModelConfig) -> String {
            let input: String
            switch config.input {
            case .features(let size): input = "features \(size)"
            case .tokens(let v, let e): input = "tokens V=\(v) E=\(e)"
            }
            let kind = config.bidirectional ? "bidirectional layer(s)" : "layer(s)"
            let widths = config.uniformWidth ? "H=\(config.hiddenSize)" : "H=\(config.hiddenSizes)"
            var s = "\(input), \(config.numLayers) \(kind) of \(widths), O=\(config.outputSize)"
            if config.bias == .pytorch { s += ", bias pytorch" }
            return s
        }
    }
}

extension WeightsFile {
    /// One bias from PyTorch's two: `ih + hh`, but exactly `ih` when `hh` is zero (and `hh` when
    /// `ih` is), so the zeros our export writes round-trip bit for bit, −0.0 included.
    static func sumBiases(_ ih: Float, _ hh: Float) -> Float {
        if hh == 0 { return ih }
        if ih == 0 { return hh }
        return ih + hh
    }
}
