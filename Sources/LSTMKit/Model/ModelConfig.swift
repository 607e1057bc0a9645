/// What the network reads at each step.
public enum InputKind: Sendable, Equatable, Hashable {
    /// Float feature vectors: inputs are [B, T, size].
    case features(size: Int)
    /// Integer token ids in 0..<vocabulary looked up in an embedding table [V, E]: inputs are [B, T].
    case tokens(vocabulary: Int, embedding: Int)
}

/// F in eq. 7, y = F(W^y h + b^y).
public enum OutputActivation: String, Sendable, CaseIterable, Codable {
    case identity, softmax, sigmoid, tanh
}

/// Where predictions are made.
public enum Head: String, Sendable, CaseIterable, Codable {
    /// A prediction at every step (many-to-many): targets [B, T] or [B, T, O].
    case sequence
    /// One prediction from the final step (many-to-one): targets [B] or [B, O].
    case last
}

/// The training objective; every loss is the mean over all target elements of the minibatch.
public enum LossKind: String, Sendable, CaseIterable, Codable {
    /// Softmax cross-entropy on integer class ids (needs F = softmax).
    case crossEntropy = "cross_entropy"
    /// Mean squared error on float targets (any F).
    case mse
    /// Binary cross-entropy on float targets in [0, 1] (needs F = sigmoid).
    case bce

    /// The output function this loss needs (nil: any), the one pairing rule the model and config check.
    public var requiredActivation: OutputActivation? {
        switch self {
        case .crossEntropy: .softmax
        case .bce: .sigmoid
        case .mse: nil
        }
    }
}

/// How parameters start.
public enum Initialization: String, Sendable, CaseIterable, Codable {
    /// PyTorch's nn.LSTM default: every weight and bias uniform(−1/√H, 1/√H).
    case pytorch
    /// Xavier/Glorot uniform on W and R (bound √(6/(fan_in+fan_out))), biases zero.
    case xavier
    /// Xavier-uniform W, orthogonal R (Keras' default for LSTM), biases zero.
    case orthogonal
}

/// How each gate block's bias is parametrised (`model.bias`).
public enum BiasForm: String, Sendable, CaseIterable, Codable {
    /// One bias per gate unit, `lstm.bias_l{k}` (eqs. 1–4 of docs/math.md).
    case single
    /// PyTorch's nn.LSTM form: two bias vectors per gate block, `lstm.bias_ih_l{k}` and
    /// `lstm.bias_hh_l{k}`, both added to the pre-activations, each initialised and trained on its own.
    case pytorch

    /// The form a config, checkpoint or weights file that does not name one means.
    public static let `default`: BiasForm = .single
}

/// The architecture and objective of a stacked LSTM with an output layer.
public struct ModelConfig: Sendable, Equatable, Hashable {
    public var input: InputKind
    /// H_k, the width of h and c in layer k (one entry per layer; all equal for the usual stack).
    public var hiddenSizes: [Int]
    /// The width of every layer when all are equal, else the widest layer (the threading rule's
    /// H); setting it gives every layer that width.
    public var hiddenSize: Int {
        get { hiddenSizes.max() ?? 0 }
        set { hiddenSizes = Array(repeating: newValue, count: numLayers) }
    }
    /// Number of stacked LSTM layers; layer k reads layer k−1's h. Setting it keeps the widths
    /// of the layers that stay and gives new layers the last layer's width.
    public var numLayers: Int {
        get { hiddenSizes.count }
        set {
            let last = hiddenSizes.last ?? 0
            hiddenSizes =
                newValue <= hiddenSizes.count
                ? Array(hiddenSizes.prefix(max(0, newValue)))
                : hiddenSizes + Array(repeating: last, count: newValue - hiddenSizes.count)
        }
    }
    /// Whether every layer has the same width.
    public var uniformWidth: Bool { Set(hiddenSizes).count <= 1 }
    /// One or two bias vectors per gate block.
    public var bias: BiasForm
    /// O, the width of the prediction y.
    public var outputSize: Int
    public var activation: OutputActivation
    public var head: Head
    public var loss: LossKind
    public var initialization: Initialization
    /// Start the forget-gate bias at 1.0 (Keras' `unit_forget_bias`).
    public var forgetGateBias: Bool
    /// Add a reverse-direction LSTM to every layer and concatenate its h with the forward one's
    /// (PyTorch's `bidirectional=True`): layer outputs are 2H wide.
    public var bidirectional: Bool
    /// Inverted-dropout probability on the input of every layer above the first and on the
    /// output layer's input, during training only (PyTorch's `dropout`, plus the head).
    public var dropout: Double

    public init(
        input: InputKind, hiddenSize: Int, numLayers: Int = 1, outputSize: Int,
        activation: OutputActivation? = nil, head: Head = .sequence, loss: LossKind,
        initialization: Initialization = .pytorch, forgetGateBias: Bool = false,
        bidirectional: Bool = false, dropout: Double = 0, bias: BiasForm = .default
    ) {
        self.init(
            input: input, hiddenSizes: Array(repeating: hiddenSize, count: max(0, numLayers)),
            outputSize: outputSize, activation: activation, head: head, loss: loss,
            initialization: initialization, forgetGateBias: forgetGateBias, bidirectional: bidirectional,
            dropout: dropout, bias: bias)
    }

    /// A stack whose layer k is `hiddenSizes[k]` wide.
    public init(
        input: InputKind, hiddenSizes: [Int], outputSize: Int,
        activation: OutputActivation? = nil, head: Head = .sequence, loss: LossKind,
        initialization: Initialization = .pytorch, forgetGateBias: Bool = false,
        bidirectional: Bool = false, dropout: Double = 0, bias: BiasForm = .default
    ) {
        self.input = input
        self.hiddenSizes = hiddenSizes
        self.bias = bias
        self.outputSize = outputSize
        self.activation = activation ?? loss.defaultActivation
        self.head = head
        self.loss = loss
        self.initialization = initialization
        self.forgetGateBias = forgetGateBias
        self.bidirectional = bidirectional
        self.dropout = dropout
    }

    /// D: 2 for bidirectional layers, else 1.
    public var directions: Int { bidirectional ? 2 : 1 }

    /// H_k, the width of layer k's h and c.
    @inline(__always)
    public func hiddenSize(_ k: Int) -> Int { hiddenSizes[k] }

    /// Width of layer k's output (D·H_k).
    public func layerOutputWidth(_ k: Int) -> Int { directions * hiddenSizes[k] }

    /// Width of the top layer's output (the output layer's input): D·H_last.
    public var layerOutputWidth: Int { directions * (hiddenSizes.last ?? 0) }

    /// The widest layer output, D·max H_k (workspace sizing).
    public var widestLayerOutput: Int { directions * hiddenSize }

    /// Width of layer 0's input x: the feature size or the embedding width.
    public var inputWidth: Int {
        switch input {
        case .features(let size): return size
        case .tokens(_, let embedding): return embedding
        }
    }

    /// Width of layer `k`'s input.
    public func layerInputWidth(_ k: Int) -> Int { k == 0 ? inputWidth : layerOutputWidth(k - 1) }

    /// Checks sizes and the loss/activation pairing; throws one clear message per problem.
    public func validate() throws {
        func fail(_ msg: String) throws { throw ModelConfigError(message: msg) }
        var sizes: [(String, Int, Int)] = []  // name, value, bound (SizeBounds)
        switch input {
        case .features(let size): sizes.append(("input size", size, SizeBounds.inputSize))
        case .tokens(let v, let e):
            sizes += [
                ("vocabulary size", v, SizeBounds.vocabularySize), ("embedding size", e, SizeBounds.embeddingSize)
            ]
        }
        sizes += [
            ("num_layers", numLayers, SizeBounds.numLayers),
            ("output_size", outputSize, SizeBounds.outputSize)
        ]
        for (name, value, bound) in sizes {
            if let p = SizeBounds.problem(name, value, max: bound) { try fail(p) }
        }
        for (k, h) in hiddenSizes.enumerated() {
            let name = uniformWidth ? "hidden_size" : "hidden_size of layer \(k)"
            if let p = SizeBounds.problem(name, h, max: SizeBounds.hiddenSize) { try fail(p) }
        }
        if !(dropout >= 0 && dropout < 1) { try fail("dropout must be in [0, 1) (got \(dropout))") }
        if let need = loss.requiredActivation, activation != need {
            try fail("loss \(loss.rawValue) needs activation \(need.rawValue) (got \(activation.rawValue))")
        }
        if loss == .crossEntropy && outputSize < 2 {
            try fail("loss cross_entropy needs output_size ≥ 2 classes (got \(outputSize))")
        }
    }
}

extension LossKind {
    /// The F that pairs with this loss when none is given.
    public var defaultActivation: OutputActivation {
        switch self {
        case .crossEntropy: return .softmax
        case .bce: return .sigmoid
        case .mse: return .identity
        }
    }

    /// Whether targets are integer class ids (else float values).
    public var usesClassTargets: Bool { self == .crossEntropy }
}

/// A model configuration that cannot be built.
public struct ModelConfigError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public var description: String { "invalid model: \(message)" }
}

// MARK: - Codable (flat snake_case keys, the form stored in checkpoints and weight files)

extension ModelConfig: Codable {
    enum CodingKeys: String, CodingKey {
        case inputKind = "input_kind"
        case inputSize = "input_size"
        case vocabSize = "vocab_size"
        case embeddingSize = "embedding_size"
        case hiddenSize = "hidden_size"
        case numLayers = "num_layers"
        case outputSize = "output_size"
        case activation, head, loss
        case initialization = "init"
        case forgetBias = "forget_bias"
        case bidirectional, dropout, bias
        /// The spellings files were written with before they took the config file's (read as well).
        case vocabularySize = "vocabulary_size"
        case oldInitialization = "initialization"
        case forgetGateBias = "forget_gate_bias"
    }

    /// Each key's older spelling: files are written with the config file's names (`vocab_size`,
    /// `init`, `forget_bias`, docs/config.md); files written before read as well.
    static let olderKeys: [CodingKeys: CodingKeys] = [
        .vocabSize: .vocabularySize, .initialization: .oldInitialization, .forgetBias: .forgetGateBias
    ]

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        /// The key as written now, or its older spelling when only that is present.
        func key(_ k: CodingKeys) -> CodingKeys {
            guard !c.contains(k), let older = Self.olderKeys[k], c.contains(older) else { return k }
            return older
        }
        let kind = try c.decode(String.self, forKey: .inputKind)
        switch kind {
        case "features": input = .features(size: try c.decode(Int.self, forKey: .inputSize))
        case "tokens":
            input = .tokens(
                vocabulary: try c.decode(Int.self, forKey: key(.vocabSize)),
                embedding: try c.decode(Int.self, forKey: .embeddingSize))
        default:
            throw DecodingError.dataCorruptedError(
                forKey: .inputKind, in: c,
                debugDescription: "input_kind must be features or tokens, got \(kind)")
        }
        // hidden_size: one width for every layer, or a list with one per layer.
        if let widths = try? c.decode([Int].self, forKey: .hiddenSize) {
            hiddenSizes = widths
            if let n = try c.decodeIfPresent(Int.self, forKey: .numLayers), n != widths.count {
                throw DecodingError.dataCorruptedError(
                    forKey: .numLayers, in: c,
                    debugDescription:
                        "num_layers \(n) does not match the \(widths.count) widths of hidden_size \(widths)")
            }
        } else {
            let h = try c.decode(Int.self, forKey: .hiddenSize)
            hiddenSizes = Array(repeating: h, count: max(0, try c.decode(Int.self, forKey: .numLayers)))
        }
        bias = try c.decodeIfPresent(BiasForm.self, forKey: .bias) ?? .default
        outputSize = try c.decode(Int.self, forKey: .outputSize)
        activation = try c.decode(OutputActivation.self, forKey: .activation)
        head = try c.decode(Head.self, forKey: .head)
        loss = try c.decode(LossKind.self, forKey: .loss)
        initialization = try c.decodeIfPresent(Initialization.self, forKey: key(.initialization)) ?? .pytorch
        forgetGateBias = try c.decodeIfPresent(Bool.self, forKey: key(.forgetBias)) ?? false
        bidirectional = try c.decodeIfPresent(Bool.self, forKey: .bidirectional) ?? false
        dropout = try c.decodeIfPresent(Double.self, forKey: .dropout) ?? 0
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch input {
        case .features(let size):
            try c.encode("features", forKey: .inputKind)
            try c.encode(size, forKey: .inputSize)
        case .tokens(let v, let e):
            try c.encode("tokens", forKey: .inputKind)
            try c.encode(v, forKey: .vocabSize)
            try c.encode(e, forKey: .embeddingSize)
        }
        // An int when every layer is equal (the form older files hold), else the list.
        if uniformWidth {
            try c.encode(hiddenSize, forKey: .hiddenSize)
        } else {
            try c.encode(hiddenSizes, forKey: .hiddenSize)
        }
        try c.encode(numLayers, forKey: .numLayers)
        try c.encode(outputSize, forKey: .outputSize)
        try c.encode(activation, forKey: .activation)
        try c.encode(head, forKey: .head)
        try c.encode(loss, forKey: .loss)
        try c.encode(initialization, forKey: .initialization)
        try c.encode(forgetGateBias, forKey: .forgetBias)
        try c.encode(bidirectional, forKey: .bidirectional)
        try c.encode(dropout, forKey: .dropout)
        // Written only when not the default, so files of single-bias models keep their bytes.
        if bias != .default { try c.encode(bias, forKey: .bias) }
    }
}
