import Foundation
import HDF5Kit
import LSTMFiles
import LSTMKit

/// A file format model weights can be written in or read from.
public enum WeightsFormat: String, Sendable, CaseIterable, Codable {
    /// One HDF5 dataset per key of the equivalent PyTorch model's `state_dict()` (docs/weights.md).
    case pytorch
    /// A Keras 3 `.weights.h5` file for the equivalent `keras.Sequential` model (or, read only, a
    /// `.keras` archive holding one).
    case keras
    /// A safetensors file with the PyTorch `state_dict()` keys (Hugging Face's format).
    case safetensors
    /// An ONNX model with ONNX's own LSTM operator (written only).
    case onnx
    /// This project's checkpoint (parameters plus training state); accepted wherever weights are read.
    case checkpoint

    /// A human-readable name, e.g. "PyTorch".
    public var displayName: String {
        switch self {
        case .pytorch: "PyTorch"
        case .keras: "Keras"
        case .safetensors: "safetensors"
        case .onnx: "ONNX"
        case .checkpoint: "checkpoint"
        }
    }

    /// The formats `lstm export` writes, in the order help lists them.
    public static let exportable: [WeightsFormat] = [.pytorch, .keras, .safetensors, .onnx]
    /// The formats `lstm import` (and every command taking weights) reads.
    public static let importable: [WeightsFormat] = [.pytorch, .keras, .safetensors, .checkpoint]

    /// The format a command-line name stands for: the raw value in any case, or "torch" for PyTorch.
    public init?(name: String) {
        let lower = name.lowercased()
        if lower == "torch" {
            self = .pytorch
        } else if let format = WeightsFormat(rawValue: lower) {
            self = format
        } else {
            return nil
        }
    }

    /// The file-name suffixes of each exportable format, longest first within a format; the
    /// first is the one suggested.
    public var suffixes: [String] {
        switch self {
        case .pytorch: [".pt.h5", ".h5"]
        case .keras: [".weights.h5"]
        case .safetensors: [".safetensors"]
        case .onnx: [".onnx"]
        case .checkpoint: [".h5"]
        }
    }

    /// The exportable format a file name's suffix names (`.weights.h5` Keras, `.pt.h5` or `.h5`
    /// PyTorch, `.safetensors`, `.onnx`), or nil.
    public static func named(byPath path: String) -> WeightsFormat? {
        let name = (path as NSString).lastPathComponent.lowercased()
        if name.hasSuffix(".weights.h5") { return .keras }
        for format in [WeightsFormat.safetensors, .onnx, .pytorch] where format.suffixes.contains(where: name.hasSuffix)
        {
            return format
        }
        return nil
    }

    /// The format to export to `path`: `format` when given (refused when the suffix names another
    /// format, or when the framework could not load the file under that name), else the one the
    /// suffix names. Errors are `FileError`s (role `.weights`, kind `.invalidArgument`) naming the
    /// right file name.
    public static func forExport(to path: String, format: WeightsFormat?) throws -> WeightsFormat {
        let bySuffix = named(byPath: path)
        let stem = Self.stem(path)
        func fail(_ message: String) -> FileError { FileError(.invalidArgument, .weights, file: path, message) }
        let list = exportable.map { "\($0.suffixes.joined(separator: "/")) (\($0.rawValue))" }.joined(separator: ", ")
        let name = (path as NSString).lastPathComponent.lowercased()
        if name.hasSuffix(".pt") || name.hasSuffix(".pth") || name.hasSuffix(".bin") {
            throw fail(
                "lstm does not write pickled PyTorch files; name the output \(stem).safetensors (load it with safetensors.torch.load_file) or \(stem).pt.h5 (h5py)"
            )
        }
        if name.hasSuffix(".keras") {
            throw fail(
                "lstm does not write .keras archives; name the output \(stem).weights.h5 and load it with model.load_weights() (docs/weights.md)"
            )
        }
        guard let format else {
            guard let bySuffix else {
                throw fail("cannot tell the format from the file name; name it with one of \(list), or give --format")
            }
            return bySuffix
        }
        guard exportable.contains(format) else {
            throw fail(
                "cannot export to format '\(format.rawValue)'; the export formats are \(exportable.map(\.rawValue).joined(separator: ", "))"
            )
        }
        if format == .keras && bySuffix != .keras {
            throw fail(
                "Keras loads weights only from files named *.weights.h5 (load_weights refuses other names); use --out \(stem).weights.h5"
            )
        }
        if let bySuffix, bySuffix != format {
            throw fail(
                "--format \(format.rawValue) disagrees with the file name, which names \(bySuffix.displayName) weights; use --out \(stem)\(format.suffixes[0]) (or drop --format)"
            )
        }
        if bySuffix == nil && format != .pytorch {
            throw fail(
                "a \(format.displayName) file must be named *\(format.suffixes[0]); use --out \(stem)\(format.suffixes[0])"
            )
        }
        return format
    }

    /// `path` without its directory-less known suffix (".weights.h5", ".pt.h5", ".h5", …), directory kept.
    static func stem(_ path: String) -> String {
        let lower = path.lowercased()
        for suffix in [".weights.h5", ".pt.h5", ".h5", ".safetensors", ".onnx", ".keras", ".pth", ".pt", ".bin"]
        where lower.hasSuffix(suffix) {
            return String(path.dropLast(suffix.count))
        }
        return path
    }

    /// Recognises the format of the HDF5 file at `path`, or nil if it is HDF5 but none of these.
    public static func detect(path: String) throws -> WeightsFormat? {
        try FileError.mapping(.weights, file: path) {
            let file = try HDF5File.open(path)
            defer { try? file.close() }
            return detect(file.root)
        }
    }

    /// Recognises a format from the root group: the checkpoint or weights marker attribute, else
    /// the characteristic objects (`lstm.weight_ih_l0` for PyTorch, `layers/lstm` for Keras).
    static func detect(_ root: HDF5Group) -> WeightsFormat? {
        if let format = try? root.attribute("format", as: String.self), format == Checkpoint.formatName {
            return .checkpoint
        }
        if let marker = try? root.attribute(WeightsFile.markerAttribute, as: String.self),
            let format = WeightsFormat(rawValue: marker), format != .checkpoint
        {
            return format
        }
        if root.exists("lstm.weight_ih_l0") || root.exists("lstm.0.weight_ih_l0") { return .pytorch }
        if root.exists("layers/lstm") || root.exists("layers/bidirectional") { return .keras }
        return nil
    }
}

/// Settings for reading weights whose file does not (fully) describe the model: each one given
/// overrides the file's own value. Sizes are always taken from the tensors' shapes.
public struct WeightsImportOptions: Sendable, Equatable {
    /// Where predictions are made (needed for a Keras file Keras itself wrote).
    public var head: Head?
    /// F, the output activation (defaults to the loss's usual one).
    public var activation: OutputActivation?
    /// The training objective (needed for a Keras file Keras itself wrote).
    public var loss: LossKind?
    /// The bias form to read into: `.pytorch` keeps a PyTorch file's bias_ih and bias_hh as they
    /// are, `.single` sums them (nil: the file's model_config, else `BiasForm.default`).
    public var bias: BiasForm?
    /// Accept weights that are not finite (NaN, ±inf, or float64 beyond float32's range), e.g. to
    /// inspect them (`--allow-non-finite`); by default they are refused with the tensor named.
    public var allowNonFinite: Bool
    /// Tensor renames applied before anything else (`--rename fc=head`), in order.
    public var renames: [WeightsRename]

    /// Options; nil means "take it from the file".
    public init(
        head: Head? = nil, activation: OutputActivation? = nil, loss: LossKind? = nil, bias: BiasForm? = nil,
        allowNonFinite: Bool = false,
        renames: [WeightsRename] = []
    ) {
        self.head = head
        self.activation = activation
        self.loss = loss
        self.bias = bias
        self.allowNonFinite = allowNonFinite
        self.renames = renames
    }
}

/// The tensor names, shapes and attributes of the PyTorch and Keras files.
enum WeightsFile {
    /// Root attribute naming the format of an exported weights file ("pytorch" or "keras").
    static let markerAttribute = "lstm_weights_format"

    /// How a tensor of a weights file relates to a parameter of our layout.
    enum Role: Sendable, Equatable {
        /// The same values in the same shape.
        case same
        /// The transpose: the file holds [in, out] where we hold [out, in] (Keras kernels).
        case transposed
        /// PyTorch's `bias_ih`: our bias on export; summed with `bias_hh` on import.
        case biasIH
        /// PyTorch's `bias_hh`: zeros on export; added to `bias_ih` on import.
        case biasHH
        /// Keras' one bias of a `bias: pytorch` model: this parameter (b_ih) plus the named one
        /// (b_hh) on export; on import it goes to this parameter and the named one stays zero.
        case summedWith(String)
    }

    /// One tensor of a weights file: its key (path from the root), shape, and the layout
    /// parameter it comes from.
    struct Tensor: Sendable, Equatable {
        let key: String
        let shape: [Int]
        let parameter: String
        let role: Role
    }

    /// Every tensor of a `format` file for `config`, in the order the framework lists them.
    static func tensors(_ config: ModelConfig, _ format: WeightsFormat) -> [Tensor] {
        format == .keras ? kerasTensors(config) : pytorchTensors(config)
    }

    /// The runs of equal consecutive widths: one `nn.LSTM` each in a PyTorch file (layer ranges).
    static func pytorchRuns(_ config: ModelConfig) -> [Range<Int>] {
        var runs: [Range<Int>] = []
        var start = 0
        for k in 1...max(1, config.numLayers)
        where k == config.numLayers || config.hiddenSize(k) != config.hiddenSize(start) {
            runs.append(start..<k)
            start = k
        }
        return runs
    }

    /// The PyTorch key prefix of layer `k` and its index inside its `nn.LSTM`: ("lstm.", k) when
    /// every layer has one width (one nn.LSTM), else ("lstm.{r}.", k − first layer of run r), the
    /// state_dict of an `nn.ModuleList` of one nn.LSTM per run of equal widths (docs/weights.md).
    static func pytorchPrefix(_ config: ModelConfig, layer k: Int) -> (prefix: String, layer: Int) {
        if config.uniformWidth { return ("lstm.", k) }
        let runs = pytorchRuns(config)
        let r = runs.firstIndex { $0.contains(k) }!
        return ("lstm.\(r).", k - runs[r].lowerBound)
    }

    /// PyTorch `state_dict()` keys for `config`: `lstm.weight_ih_l{k}[_reverse]` [4H, I_k], …
    /// (`lstm.{r}.weight_ih_l{j}` … when widths differ).
    static func pytorchTensors(_ config: ModelConfig) -> [Tensor] {
        var out: [Tensor] = []
        if case .tokens(let v, let e) = config.input {
            out.append(Tensor(key: "embedding.weight", shape: [v, e], parameter: "embedding.weight", role: .same))
        }
        for k in 0..<config.numLayers {
            let h = config.hiddenSize(k)
            let g = 4 * h
            let (prefix, j) = pytorchPrefix(config, layer: k)
            for d in 0..<config.directions {
                let sfx = ParameterLayout.suffix(layer: k, direction: d)
                let key = prefix + "%@_" + ParameterLayout.suffix(layer: j, direction: d)
                func named(_ n: String) -> String { key.replacingOccurrences(of: "%@", with: n) }
                out.append(
                    Tensor(
                        key: named("weight_ih"), shape: [g, config.layerInputWidth(k)],
                        parameter: "lstm.weight_ih_\(sfx)", role: .same))
                out.append(
                    Tensor(key: named("weight_hh"), shape: [g, h], parameter: "lstm.weight_hh_\(sfx)", role: .same))
                switch config.bias {
                case .single:
                    out.append(Tensor(key: named("bias_ih"), shape: [g], parameter: "lstm.bias_\(sfx)", role: .biasIH))
                    out.append(Tensor(key: named("bias_hh"), shape: [g], parameter: "lstm.bias_\(sfx)", role: .biasHH))
                case .pytorch:  // nn.LSTM's own two biases, as they are
                    out.append(Tensor(key: named("bias_ih"), shape: [g], parameter: "lstm.bias_ih_\(sfx)", role: .same))
                    out.append(Tensor(key: named("bias_hh"), shape: [g], parameter: "lstm.bias_hh_\(sfx)", role: .same))
                }
            }
        }
        out.append(
            Tensor(
                key: "head.weight", shape: [config.outputSize, config.layerOutputWidth],
                parameter: "head.weight", role: .same))
        out.append(Tensor(key: "head.bias", shape: [config.outputSize], parameter: "head.bias", role: .same))
        return out
    }

    /// The Keras layer path of LSTM layer `k`, direction `d`: "layers/lstm", "layers/lstm_1", …
    /// or, bidirectional, "layers/bidirectional{_k}/forward_layer" and ".../backward_layer".
    static func kerasLSTM(_ k: Int, direction d: Int = 0, bidirectional: Bool = false) -> String {
        let n = k == 0 ? "" : "_\(k)"
        if !bidirectional { return "layers/lstm" + n }
        return "layers/bidirectional\(n)/" + (d == 0 ? "forward_layer" : "backward_layer")
    }

    /// Keras variables for `config`: cell kernel [I_k, 4H], recurrent kernel [H, 4H] and bias
    /// [4H] per LSTM (or per direction), Dense kernel [D·H, O] and bias [O].
    static func kerasTensors(_ config: ModelConfig) -> [Tensor] {
        var out: [Tensor] = []
        if case .tokens(let v, let e) = config.input {
            out.append(
                Tensor(key: "layers/embedding/vars/0", shape: [v, e], parameter: "embedding.weight", role: .same))
        }
        for k in 0..<config.numLayers {
            let h = config.hiddenSize(k)
            let g = 4 * h
            for d in 0..<config.directions {
                let cell = kerasLSTM(k, direction: d, bidirectional: config.bidirectional) + "/cell/vars"
                let sfx = ParameterLayout.suffix(layer: k, direction: d)
                out.append(
                    Tensor(
                        key: "\(cell)/0", shape: [config.layerInputWidth(k), g],
                        parameter: "lstm.weight_ih_\(sfx)", role: .transposed))  // kernel
                out.append(
                    Tensor(
                        key: "\(cell)/1", shape: [h, g],
                        parameter: "lstm.weight_hh_\(sfx)", role: .transposed))  // recurrent_kernel
                switch config.bias {  // bias
                case .single:
                    out.append(Tensor(key: "\(cell)/2", shape: [g], parameter: "lstm.bias_\(sfx)", role: .same))
                case .pytorch:
                    out.append(
                        Tensor(
                            key: "\(cell)/2", shape: [g], parameter: "lstm.bias_ih_\(sfx)",
                            role: .summedWith("lstm.bias_hh_\(sfx)")))
                }
            }
        }
        out.append(
            Tensor(
                key: "layers/dense/vars/0", shape: [config.layerOutputWidth, config.outputSize],
                parameter: "head.weight", role: .transposed))
        out.append(Tensor(key: "layers/dense/vars/1", shape: [config.outputSize], parameter: "head.bias", role: .same))
        return out
    }

    /// The `name` attributes Keras 3 writes on each `vars` group (the layer names of a fresh
    /// session), keyed by the group's path.
    static func kerasVarsGroupNames(_ config: ModelConfig) -> [(group: String, name: String)] {
        var groups: [(String, String)] = [("vars", "sequential")]
        if case .tokens = config.input { groups.append(("layers/embedding/vars", "embedding")) }
        for k in 0..<config.numLayers {
            let n = k == 0 ? "" : "_\(k)"
            if config.bidirectional {
                groups.append(("layers/bidirectional\(n)/vars", "bidirectional\(n)"))
                for (d, prefix) in ["forward", "backward"].enumerated() {
                    let layer = kerasLSTM(k, direction: d, bidirectional: true)
                    groups.append(("\(layer)/vars", "\(prefix)_lstm\(n)"))
                    groups.append(("\(layer)/cell/vars", "lstm_cell"))
                }
            } else {
                let layer = kerasLSTM(k)
                groups.append(("\(layer)/vars", "lstm\(n)"))
                groups.append(("\(layer)/cell/vars", "lstm_cell"))
            }
        }
        groups.append(("layers/dense/vars", "dense"))
        return groups
    }

    /// Why a weight is refused: "expected finite weights, found nan at [3, 7] (element 52)…";
    /// the one wording for checkpoints and weights files. `value` is the stored value (a float64
    /// beyond float32's range is finite but refused too).
    static func nonFiniteMessage(_ value: Double, at index: Int, shape: [Int]) -> String {
        var rest = index
        var coordinates = [Int](repeating: 0, count: shape.count)
        for d in stride(from: shape.count - 1, through: 0, by: -1) {
            let extent = max(1, shape[d])
            coordinates[d] = d == 0 ? rest : rest % extent
            rest /= extent
        }
        let position = "\(coordinates) (element \(index))"
        let hint = "; pass --allow-non-finite to load it anyway (e.g. to inspect it), or `lstm inspect` the file"
        if value.isFinite {
            return
                "float64 weight \(value) at \(position) is beyond float32's finite range (±\(Float.greatestFiniteMagnitude)) and would become \(value > 0 ? "inf" : "-inf")\(hint)"
        }
        return "expected finite weights, found \(value) at \(position)\(hint)"
    }

    /// Keras' name for an output activation.
    static func kerasActivation(_ activation: OutputActivation) -> String {
        activation == .identity ? "linear" : activation.rawValue
    }

    /// Writes the model description as root attributes: the ModelConfig JSON plus the main
    /// hyperparameters one by one, so h5py users need not parse JSON.
    static func writeModelAttributes(_ config: ModelConfig, format: WeightsFormat, to root: HDF5Group) throws {
        try root.setAttribute(markerAttribute, format.rawValue)
        try root.setAttribute("model_config", try CheckpointIO.modelConfigJSON(config))
        switch config.input {
        case .features(let size):
            try root.setAttribute("input_kind", "features")
            try root.setAttribute("input_size", size)
        case .tokens(let v, let e):
            try root.setAttribute("input_kind", "tokens")
            try root.setAttribute("vocab_size", v)
            try root.setAttribute("embedding_size", e)
        }
        try root.setAttribute("num_layers", config.numLayers)
        try root.setAttribute("bidirectional", config.bidirectional ? 1 : 0)
        if config.uniformWidth {
            try root.setAttribute("hidden_size", config.hiddenSize)
        } else {
            try root.setAttribute("hidden_size", config.hiddenSizes)  // one width per layer
        }
        try root.setAttribute("bias", config.bias.rawValue)
        try root.setAttribute("output_size", config.outputSize)
        try root.setAttribute("head", config.head.rawValue)
        try root.setAttribute("activation", config.activation.rawValue)
        try root.setAttribute("loss", config.loss.rawValue)
        try root.setAttribute("gate_order", gateOrder(format))
    }

    /// The gate order of a format's stacked blocks, as the `gate_order` attribute says it.
    static func gateOrder(_ format: WeightsFormat) -> String {
        switch format {
        case .keras: "i,f,c,o"
        case .onnx: "i,o,f,c"
        default: "i,f,g,o"
        }
    }

    /// The same description as strings, for safetensors' `__metadata__` and ONNX's
    /// `metadata_props` (numbers in decimal, `hidden_size` a JSON list when widths differ), plus
    /// the checkpoint's `ModelMetadata` (vocabulary, names, statistics; each a JSON array).
    static func modelAttributes(_ checkpoint: Checkpoint, format: WeightsFormat) throws -> [String: String] {
        let config = checkpoint.config
        var out: [String: String] = [
            markerAttribute: format.rawValue,
            "model_config": try CheckpointIO.modelConfigJSON(config),
            "num_layers": "\(config.numLayers)",
            "bidirectional": config.bidirectional ? "1" : "0",
            "hidden_size": config.uniformWidth
                ? "\(config.hiddenSize)" : "[\(config.hiddenSizes.map(String.init).joined(separator: ", "))]",
            "bias": config.bias.rawValue,
            "output_size": "\(config.outputSize)",
            "head": config.head.rawValue,
            "activation": config.activation.rawValue,
            "loss": config.loss.rawValue,
            "gate_order": gateOrder(format)
        ]
        if format == .safetensors { out["format"] = "pt" }  // what safetensors.torch.save_file writes
        for (key, value) in checkpoint.metadata.properties { out[key] = value }
        switch config.input {
        case .features(let size):
            out["input_kind"] = "features"
            out["input_size"] = "\(size)"
        case .tokens(let v, let e):
            out["input_kind"] = "tokens"
            out["vocab_size"] = "\(v)"
            out["embedding_size"] = "\(e)"
        }
        return out
    }
}
