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
        try read(path, format: format, options: options, notice: true)
    }

    /// `read`, printing the notice for a file of ours without checksums only if `notice`.
    static func read(
        _ path: String, format: WeightsFormat?, options: WeightsImportOptions, notice: Bool
    ) throws -> Checkpoint {
        let detected: WeightsFormat? = try FileError.mapping(.weights, file: path) {
            let file: HDF5File
            do { file = try HDF5File.open(path) } catch let error as HDF5Error where error.kind == .notHDF5 {
                throw FileError(.wrongFormat, .weights, file: path, object: nil, "not an HDF5 file (\(error.reason))")
            }
            defer { try? file.close() }
            return WeightsFormat.detect(file.root)
        }
        if detected == .checkpoint || format == .checkpoint {
            let (loaded, status) = try Checkpoint.loadVerified(from: path)
            var checkpoint = loaded
            if status == .absent && notice { Checksums.reportAbsent(.checkpoint, file: path) }
            if !options.allowNonFinite { try checkpoint.checkFinite(file: path) }
            if let bias = options.bias, bias != checkpoint.config.bias { checkpoint = convert(checkpoint, to: bias) }
            checkpoint.config = try apply(options, to: checkpoint.config, path: path)
            return checkpoint
        }
        let chosen: WeightsFormat
        if let format {
            if let detected, detected != format {
                throw FileError(
                    .wrongFormat, .weights, file: path, object: nil,
                    "the file holds \(detected.displayName) weights, not \(format.displayName); use --format \(detected.rawValue)"
                )
            }
            chosen = format
        } else {
            guard let detected else {
                throw FileError(
                    .wrongFormat, .weights, file: path, object: nil,
                    "cannot tell the format: not a checkpoint, and neither PyTorch weights (no dataset 'lstm.weight_ih_l0') nor Keras weights (no group 'layers/lstm' or 'layers/bidirectional')"
                )
            }
            chosen = detected
        }
        let (checkpoint, status, ours) = try FileError.mapping(.weights, file: path) {
            let file = try HDF5File.open(path)
            defer { try? file.close() }
            let status = try Checksums.verify(file.root, role: .weights, file: path)
            var checkpoint = try Reader(root: file.root, path: path, format: chosen, options: options).checkpoint()
            // vocabulary, names, statistics: none in files written elsewhere
            checkpoint.metadata = try Checkpoint.readModelMetadata(file.root, path: path, role: .weights)
            return (checkpoint, status, file.root.hasAttribute(WeightsFile.markerAttribute))
        }
        // Files PyTorch or Keras wrote never had checksums; only our own older exports get the notice.
        if status == .absent && ours && notice { Checksums.reportAbsent(.weights, file: path) }
        return checkpoint
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

    /// Reads one PyTorch or Keras file whose root group is open.
    private struct Reader {
        let root: HDF5Group
        let path: String
        let format: WeightsFormat
        let options: WeightsImportOptions

        func fail(_ kind: FileError.Kind, _ object: String?, _ message: String) -> FileError {
            FileError(kind, .weights, file: path, object: object.map { "/" + $0 }, message)
        }

        func checkpoint() throws -> Checkpoint {
            let datasets = try HDF5Tree.datasets(in: root)
            let config = try resolveConfig(datasets)
            let expected = WeightsFile.tensors(config, format)
            let expectedKeys = Set(expected.map(\.key))
            if let extra = datasets.keys.filter({ !expectedKeys.contains($0) }).sorted().first {
                throw fail(
                    .unexpected, extra,
                    "unexpected tensor for this \(format.displayName) model (\(describe(config))); expected only \(expected.map(\.key).joined(separator: ", "))"
                )
            }
            var values: [String: [Float]] = [:]
            for t in expected {
                guard let dataset = datasets[t.key] else {
                    throw fail(.missing, t.key, "missing tensor (expected shape \(t.shape) for \(describe(config)))")
                }
                guard dataset.shape == t.shape else {
                    throw fail(
                        .shapeMismatch, t.key,
                        "shape \(dataset.shape) does not match the expected \(t.shape) for \(describe(config))")
                }
                values[t.key] = try floats(dataset, t.key)
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
        private func resolveConfig(_ datasets: [String: HDF5Dataset]) throws -> ModelConfig {
            if root.hasAttribute("model_config") {
                let json = try root.attribute("model_config", as: String.self)
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
                    throw fail(.missing, name, "missing tensor (needed to infer the model's sizes)")
                }
                guard dataset.rank == rank else {
                    throw fail(.shapeMismatch, name, "expected a \(rank)-D tensor, found shape \(dataset.shape)")
                }
                return dataset.shape
            }
            let pytorch = format == .pytorch
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
                guard root.hasAttribute(name) else { return nil }
                let raw = try root.attribute(name, as: String.self)
                guard let value = V(rawValue: raw) else {
                    throw fail(.invalidConfig, "@\(name)", "unknown \(name) '\(raw)'")
                }
                return value
            }
            guard let head = try options.head ?? stored("head", Head.self),
                let loss = try options.loss ?? stored("loss", LossKind.self)
            else {
                throw fail(
                    .invalidConfig, nil,
                    "the file has no model_config attribute, so the head and loss must be given (--head sequence|last, --loss cross_entropy|mse|bce; --activation defaults to the loss's usual one)"
                )
            }
            let activation = try options.activation ?? stored("activation", OutputActivation.self)
            let config = ModelConfig(
                input: input, hiddenSizes: widths, outputSize: outputs,
                activation: activation, head: head, loss: loss, bidirectional: bidirectional,
                bias: options.bias ?? .default)
            do { try config.validate() } catch {
                throw fail(.invalidConfig, nil, "the inferred model is not valid: \(error)")
            }
            return config
        }

        /// A dataset's values as Float (float64 is rounded to float32), after checking its stored
        /// size; unless `options.allowNonFinite`, a value that is not finite (or a float64 beyond
        /// float32's range) is refused at its position.
        private func floats(_ dataset: HDF5Dataset, _ name: String) throws -> [Float] {
            switch dataset.elementType {
            case .float32, .float64: break
            default:
                throw fail(
                    .typeMismatch, name,
                    "stores \(dataset.elementType) values, expected float32 or float64 (IEEE 754, little-endian)")
            }
            try dataset.checkStoredSize(.weights, file: path, object: "/" + name)
            let values: [Float]
            if dataset.elementType == .float64 {
                let stored = try dataset.read(as: Double.self)
                if !options.allowNonFinite, let bad = stored.firstIndex(where: { !Float($0).isFinite }) {
                    throw fail(
                        .invalidValue, name, WeightsFile.nonFiniteMessage(stored[bad], at: bad, shape: dataset.shape))
                }
                values = stored.map { Float($0) }
            } else {
                values = try dataset.read(as: Float.self)
                if !options.allowNonFinite, let bad = values.firstIndex(where: { !$0.isFinite }) {
                    throw fail(
                        .invalidValue, name,
                        WeightsFile.nonFiniteMessage(Double(values[bad]), at: bad, shape: dataset.shape))
                }
            }
            return values
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
