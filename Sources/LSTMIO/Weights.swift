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
        if root.exists("lstm.weight_ih_l0") { return .pytorch }
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

    /// Options; nil means "take it from the file".
    public init(head: Head? = nil, activation: OutputActivation? = nil, loss: LossKind? = nil) {
        self.head = head
        self.activation = activation
        self.loss = loss
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

    /// PyTorch `state_dict()` keys for `config`: `lstm.weight_ih_l{k}[_reverse]` [4H, I_k], …
    static func pytorchTensors(_ config: ModelConfig) -> [Tensor] {
        let h = config.hiddenSize
        let g = 4 * h
        var out: [Tensor] = []
        if case .tokens(let v, let e) = config.input {
            out.append(Tensor(key: "embedding.weight", shape: [v, e], parameter: "embedding.weight", role: .same))
        }
        for k in 0..<config.numLayers {
            for d in 0..<config.directions {
                let sfx = ParameterLayout.suffix(layer: k, direction: d)
                out.append(
                    Tensor(
                        key: "lstm.weight_ih_\(sfx)", shape: [g, config.layerInputWidth(k)],
                        parameter: "lstm.weight_ih_\(sfx)", role: .same))
                out.append(
                    Tensor(key: "lstm.weight_hh_\(sfx)", shape: [g, h], parameter: "lstm.weight_hh_\(sfx)", role: .same)
                )
                out.append(Tensor(key: "lstm.bias_ih_\(sfx)", shape: [g], parameter: "lstm.bias_\(sfx)", role: .biasIH))
                out.append(Tensor(key: "lstm.bias_hh_\(sfx)", shape: [g], parameter: "lstm.bias_\(sfx)", role: .biasHH))
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
        let h = config.hiddenSize
        let g = 4 * h
        var out: [Tensor] = []
        if case .tokens(let v, let e) = config.input {
            out.append(
                Tensor(key: "layers/embedding/vars/0", shape: [v, e], parameter: "embedding.weight", role: .same))
        }
        for k in 0..<config.numLayers {
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
                out.append(Tensor(key: "\(cell)/2", shape: [g], parameter: "lstm.bias_\(sfx)", role: .same))  // bias
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
        try root.setAttribute("hidden_size", config.hiddenSize)
        try root.setAttribute("output_size", config.outputSize)
        try root.setAttribute("head", config.head.rawValue)
        try root.setAttribute("activation", config.activation.rawValue)
        try root.setAttribute("loss", config.loss.rawValue)
        try root.setAttribute("gate_order", format == .keras ? "i,f,c,o" : "i,f,g,o")
    }
}
