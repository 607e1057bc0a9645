import Foundation

/// Where each named parameter tensor lives in the flat arena.
///
/// Names follow PyTorch's `state_dict()` where a counterpart exists; the single bias per gate
/// unit (PyTorch's bias_ih + bias_hh) is `lstm.bias_l{k}`, and with `bias: pytorch` the two
/// biases are `lstm.bias_ih_l{k}` and `lstm.bias_hh_l{k}` as in nn.LSTM. Gate blocks are stacked
/// in the order i, f, g, o. Layer k is H_k wide: W_k [4H_k, I_k], R_k [4H_k, H_k], I_k = D·H_{k−1}.
public struct ParameterLayout: Sendable, Equatable {
    /// One tensor: its name, shape and offset (in elements) into the arena.
    public struct Entry: Sendable, Equatable {
        public let name: String
        public let shape: [Int]
        public let offset: Int
        public var count: Int { shape.reduce(1, *) }
    }

    public let entries: [Entry]
    /// Total number of scalars.
    public let count: Int

    /// The layout of `config` (its sizes within `SizeBounds`, as `ModelConfig.validate()` checks).
    public init(_ config: ModelConfig) {
        do { try self.init(checked: config) } catch {
            preconditionFailure("a parameter arena past Int: \(config)")
        }
    }

    /// The layout of `config`, each size in overflow-checked arithmetic (`SizeOverflow` names
    /// "the parameters"): the memory plan's parameter count is this `count`.
    public init(checked config: ModelConfig) throws(SizeOverflow) {
        let what = "the parameters"
        var entries: [Entry] = []
        var offset = 0
        func add(_ name: String, _ shape: [Int]) throws(SizeOverflow) {
            entries.append(Entry(name: name, shape: shape, offset: offset))
            offset = try CheckedSize.sum(offset, CheckedSize.product(shape, what), what)
        }
        if case .tokens(let v, let e) = config.input { try add("embedding.weight", [v, e]) }
        for k in 0..<config.numLayers {
            let h = config.hiddenSize(k)
            let g = try CheckedSize.product([4, h], what)
            for d in 0..<config.directions {
                let sfx = Self.suffix(layer: k, direction: d)
                try add("lstm.weight_ih_\(sfx)", [g, config.layerInputWidth(k)])  // W [4H_k, I_k]
                try add("lstm.weight_hh_\(sfx)", [g, h])  // R [4H_k, H_k]
                for name in Self.biasNames(sfx, config.bias) { try add(name, [g]) }  // b [4H_k] (or b_ih, b_hh)
            }
        }
        try add("head.weight", [config.outputSize, config.layerOutputWidth])  // W^y [O, D·H_last]
        try add("head.bias", [config.outputSize])  // b^y [O]
        self.entries = entries
        self.count = offset
    }

    /// PyTorch's name suffix for layer k, direction d: "l0", "l0_reverse", …
    public static func suffix(layer k: Int, direction d: Int) -> String { d == 0 ? "l\(k)" : "l\(k)_reverse" }

    /// The bias tensor name(s) of layer/direction suffix `sfx`: `lstm.bias_{sfx}`, or PyTorch's
    /// `lstm.bias_ih_{sfx}` and `lstm.bias_hh_{sfx}`.
    public static func biasNames(_ sfx: String, _ form: BiasForm) -> [String] {
        switch form {
        case .single: ["lstm.bias_\(sfx)"]
        case .pytorch: ["lstm.bias_ih_\(sfx)", "lstm.bias_hh_\(sfx)"]
        }
    }

    /// The entry called `name`, if any.
    public func entry(_ name: String) -> Entry? { entries.first { $0.name == name } }
}

/// Views of one LSTM layer's parameters (or of their gradients).
public struct LayerParameters<T: LSTMScalar>: @unchecked Sendable {
    /// W, [4H, I_k]: input weights of the four gates, rows in gate order i, f, g, o.
    public let w: Matrix<T>
    /// R, [4H, H]: recurrent weights.
    public let r: Matrix<T>
    /// b, [4H]: one bias per gate unit (PyTorch's `bias_ih` with `bias: pytorch`).
    public let b: UnsafeMutablePointer<T>
    /// PyTorch's `bias_hh`, [4H], with `bias: pytorch` (added to the pre-activations with `b`); else nil.
    public let bHH: UnsafeMutablePointer<T>?
    /// H, this layer's width.
    public var hidden: Int { r.cols }
}

/// All parameters of a model in one contiguous arena with named views into it.
///
/// Gradients and optimizer state use the same type and layout, so zeroing, reducing,
/// clipping, stepping and saving are flat loops over `storage`.
public final class ParameterSet<T: LSTMScalar>: @unchecked Sendable {
    public let config: ModelConfig
    public let layout: ParameterLayout
    /// The arena.
    public let storage: Buffer<T>
    /// Embedding table [V, E] (token input only).
    public let embedding: Matrix<T>?
    /// Per layer and direction, index k·D + d (d = 1 is the reverse direction).
    public let layers: [LayerParameters<T>]
    /// W^y, [O, D·H_last].
    public let headWeight: Matrix<T>
    /// b^y, [O].
    public let headBias: UnsafeMutablePointer<T>

    /// A zero-filled arena for `config`.
    public init(config: ModelConfig) {
        self.config = config
        let layout = ParameterLayout(config)
        self.layout = layout
        let storage = Buffer<T>(count: layout.count)
        self.storage = storage
        func view(_ name: String) -> Matrix<T> {
            let e = layout.entry(name)!
            return Matrix(storage.base + e.offset, rows: e.shape[0], cols: e.shape.count > 1 ? e.shape[1] : 1)
        }
        embedding = layout.entry("embedding.weight") == nil ? nil : view("embedding.weight")
        layers = (0..<(config.numLayers * config.directions)).map { slot in
            let sfx = ParameterLayout.suffix(layer: slot / config.directions, direction: slot % config.directions)
            let biases = ParameterLayout.biasNames(sfx, config.bias)
            return LayerParameters(
                w: view("lstm.weight_ih_\(sfx)"), r: view("lstm.weight_hh_\(sfx)"), b: view(biases[0]).base,
                bHH: biases.count > 1 ? view(biases[1]).base : nil)
        }
        headWeight = view("head.weight")
        headBias = view("head.bias").base
    }

    /// A new arena for `config`, initialised by `config.initialization` from `seed`.
    public convenience init(config: ModelConfig, seed: UInt64) {
        self.init(config: config)
        var rng = RandomSource(seed: seed)
        initialize(using: &rng)
    }

    /// Number of scalars.
    public var count: Int { storage.count }

    /// Sets every parameter to zero.
    public func zero() { storage.zero() }

    /// The tensor called `name` as a flat pointer (nil if the layout has none).
    public func tensor(_ name: String) -> UnsafeMutableBufferPointer<T>? {
        guard let e = layout.entry(name) else { return nil }
        return UnsafeMutableBufferPointer(start: storage.base + e.offset, count: e.count)
    }

    /// Copies every value from another arena of the same layout.
    public func copy(from other: ParameterSet<T>) {
        precondition(other.layout == layout, "parameter layouts differ")
        storage.base.update(from: other.storage.base, count: count)
    }

    /// A copy of the values converted to another scalar type (e.g. Float → Double for checks).
    public func converted<U: LSTMScalar>(to: U.Type) -> ParameterSet<U> {
        let out = ParameterSet<U>(config: config)
        for i in 0..<count { out.storage.base[i] = U(storage.base[i]) }
        return out
    }

    // MARK: - Initialisation

    /// Fills the arena according to `config.initialization`, drawing from `rng` in layout order.
    public func initialize(using rng: inout RandomSource) {
        func fillUniform(_ p: UnsafeMutablePointer<T>, _ n: Int, _ bound: Double) {
            for i in 0..<n { p[i] = T(rng.uniform(-bound, bound)) }
        }
        if let emb = embedding {  // nn.Embedding: N(0, 1)
            for i in 0..<emb.count { emb.base[i] = T(rng.normal()) }
        }
        for layer in layers {
            let h = layer.hidden
            let k = 1 / Double(h).squareRoot()
            let biases = [layer.b] + (layer.bHH.map { [$0] } ?? [])
            switch config.initialization {
            case .pytorch:  // W, R, then each bias (nn.LSTM: bias_ih, then bias_hh), uniform(−1/√H, 1/√H)
                fillUniform(layer.w.base, layer.w.count, k)
                fillUniform(layer.r.base, layer.r.count, k)
                for b in biases { fillUniform(b, 4 * h, k) }
            case .xavier:
                fillUniform(layer.w.base, layer.w.count, xavierBound(layer.w))
                fillUniform(layer.r.base, layer.r.count, xavierBound(layer.r))
                for b in biases { b.update(repeating: 0, count: 4 * h) }
            case .orthogonal:
                fillUniform(layer.w.base, layer.w.count, xavierBound(layer.w))
                fillOrthogonal(layer.r, &rng)
                for b in biases { b.update(repeating: 0, count: 4 * h) }
            }
            if config.forgetGateBias {  // gate order i, f, g, o: f is block 1; the sum b_ih + b_hh is 1
                (layer.b + h).update(repeating: 1, count: h)
                layer.bHH.map { ($0 + h).update(repeating: 0, count: h) }
            }
        }
        // nn.Linear's default: uniform(−1/√fan_in, 1/√fan_in) for weight and bias; fan_in = D·H.
        let kHead = 1 / Double(config.layerOutputWidth).squareRoot()
        fillUniform(headWeight.base, headWeight.count, kHead)
        fillUniform(headBias, config.outputSize, kHead)
    }

    private func xavierBound(_ m: Matrix<T>) -> Double {
        (6 / Double(m.rows + m.cols)).squareRoot()
    }

    /// Orthogonal init as in PyTorch's `orthogonal_`: QR of a Gaussian matrix (on the
    /// transpose when it is wide), Q's columns sign-corrected by diag(R).
    private func fillOrthogonal(_ m: Matrix<T>, _ rng: inout RandomSource) {
        let tall = m.rows >= m.cols
        let n = tall ? m.rows : m.cols
        let p = tall ? m.cols : m.rows  // Q is n × p, n ≥ p
        var a = (0..<(n * p)).map { _ in rng.normal() }  // column j at a[j*n ..< (j+1)*n]
        for j in 0..<p {  // modified Gram–Schmidt, Double precision
            for i in 0..<j {
                var dot = 0.0
                for r in 0..<n { dot += a[i * n + r] * a[j * n + r] }
                for r in 0..<n { a[j * n + r] -= dot * a[i * n + r] }
            }
            var norm = 0.0
            for r in 0..<n { norm += a[j * n + r] * a[j * n + r] }
            norm = norm.squareRoot()
            for r in 0..<n { a[j * n + r] /= norm }  // diag(R) = norm > 0: signs already fixed
        }
        for r in 0..<m.rows {
            for c in 0..<m.cols {
                m.base[r * m.stride + c] = T(tall ? a[c * n + r] : a[r * n + c])
            }
        }
    }
}
