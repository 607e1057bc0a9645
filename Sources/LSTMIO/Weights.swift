import Foundation
import HDF5Kit
import LSTMFiles
import LSTMKit

/// A file format model weights can be written in or read from.
public enum WeightsFormat: String, Sendable, CaseIterable, Codable {
    /// One HDF5 dataset per key of the equivalent PyTorch model's `state_dict()` (docs/weights.md).
    case pytorch
    /// A Keras 3 `.weights.h5` file for the equivalent `keras.Sequential` model.
    case keras
    /// This project's checkpoint (parameters plus training state); accepted wherever weights are read.
    case checkpoint

    /// A human-readable name, e.g. "PyTorch".
    public var displayName: String {
        switch self {
        case .pytorch: "PyTorch"
        case .keras: "Keras"
        case .checkpoint: "checkpoint"
        }
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

    /// Options; nil means "take it from the file".
    public init(
        head: Head? = nil, activation: OutputActivation? = nil, loss: LossKind? = nil, bias: BiasForm? = nil,
        allowNonFinite: Bool = false
    ) {
        self.head = head
        self.activation = activation
        self.loss = loss
        self.bias = bias
        self.allowNonFinite = allowNonFinite
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
            try root.setAttribute("vocabulary_size", v)
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
        try root.setAttribute("gate_order", format == .keras ? "i,f,c,o" : "i,f,g,o")
    }
}
