/// The numerical gradient the backward pass (eqs. 8–25) is checked against, in Double: central
/// differences (L(θ + ε) − L(θ − ε)) / 2ε of the mean loss, one element at a time, each element
/// restored afterwards. LSTMKit's gradient tests and `lstm gradcheck` (LSTMRun's `GradientCheck`)
/// both use it, and compare with `relativeError`.
public struct CentralDifferences {
    /// ε, the step: 1e-5 (in Double the truncation and rounding errors then both stay near 1e-10).
    public static let defaultEpsilon = 1e-5

    public let network: LSTMNetwork<Double>
    public let parameters: ParameterSet<Double>
    public let batch: Minibatch<Double>
    /// (h, c) the sequences start from (nil: zeros).
    public let initialState: LSTMState<Double>?
    /// Dropout masks, drawn the same way for every evaluation (nil: none).
    public let dropout: DropoutContext?
    public let epsilon: Double
    private let workspace: Workspace<Double>

    public init(
        network: LSTMNetwork<Double>, parameters: ParameterSet<Double>, batch: Minibatch<Double>,
        initialState: LSTMState<Double>? = nil, dropout: DropoutContext? = nil, epsilon: Double = defaultEpsilon
    ) {
        self.network = network
        self.parameters = parameters
        self.batch = batch
        self.initialState = initialState
        self.dropout = dropout
        self.epsilon = epsilon
        workspace = Workspace<Double>(config: network.config, maxBatch: batch.batchSize, maxSteps: batch.steps)
    }

    /// The mean loss of `m` (default: the batch) at the current parameters.
    public func meanLoss(_ m: Minibatch<Double>? = nil) -> Double {
        (m ?? batch).withView {
            network.forward(parameters, $0, workspace: workspace, initialState: initialState, dropout: dropout)
        }.mean
    }

    /// ∂L/∂θ at each of `indices` into the parameter tensor `name` (every element when nil).
    public func parameterGradient(_ name: String, at indices: [Int]? = nil) -> [Double] {
        guard let p = parameters.tensor(name) else { preconditionFailure("no parameter tensor \(name)") }
        return differences(at: indices ?? Array(0..<p.count), get: { p[$0] }, set: { p[$0] = $1 }, loss: { meanLoss() })
    }

    /// ∂L/∂θ at each of `indices` into the whole parameter arena (every element when nil).
    public func arenaGradient(at indices: [Int]? = nil) -> [Double] {
        let s = parameters.storage
        return differences(
            at: indices ?? Array(0..<parameters.count), get: { s[$0] }, set: { s[$0] = $1 }, loss: { meanLoss() })
    }

    /// ∂L/∂x at each of `indices` into the feature inputs (batch-major [B, T, I]; every element when nil).
    public func inputGradient(at indices: [Int]? = nil) -> [Double] {
        guard case .features(let x0) = batch.inputs else { preconditionFailure("the batch has no feature inputs") }
        var x = x0
        var m = batch
        return differences(
            at: indices ?? Array(0..<x.count), get: { x[$0] }, set: { x[$0] = $1 },
            loss: {
                m.inputs = .features(x)
                return meanLoss(m)
            })
    }

    private func differences(
        at indices: [Int], get: (Int) -> Double, set: (Int, Double) -> Void, loss: () -> Double
    ) -> [Double] {
        indices.map { i in
            let saved = get(i)
            set(i, saved + epsilon)
            let up = loss()
            set(i, saved - epsilon)
            let down = loss()
            set(i, saved)
            return (up - down) / (2 * epsilon)
        }
    }
}

/// What `relativeError` divides the largest difference by.
public enum RelativeErrorScale: Sendable {
    /// max_i max(|a_i|, |b_i|): neither side is the reference (gradient checks, bitwise-ish agreements).
    case larger
    /// max_i |b_i|: `b` is the reference (e.g. PyTorch's trajectory), so `a` cannot set its own scale.
    case reference
}

/// max_i |a_i − b_i| / s, the largest difference relative to the tensors' scale s (see
/// `RelativeErrorScale`); the difference itself when s = 0.
///
/// The rule for values that are not finite, so that a broken value never passes a tolerance (every
/// comparison with NaN is false: `err < tol`, `err <= tol` and `err > bound` alike): the result is NaN
/// when any element is NaN, when a and b differ at an element that is infinite on either side, or
/// when the arrays differ in length. An element equal on both sides (infinities included) agrees: its
/// difference is 0 and an infinite one adds nothing to the scale.
public func relativeError<T: BinaryFloatingPoint>(_ a: [T], _ b: [T], scale: RelativeErrorScale = .larger) -> Double {
    guard a.count == b.count else { return .nan }
    var num = 0.0
    var den = 0.0
    for (x, y) in zip(a, b) {
        let (u, v) = (Double(x), Double(y))
        if u.isNaN || v.isNaN { return .nan }
        if u == v {
            if u.isFinite { den = max(den, scale == .larger ? abs(u) : abs(v)) }
            continue
        }
        if !u.isFinite || !v.isFinite { return .nan }
        num = max(num, abs(u - v))
        den = max(den, scale == .larger ? max(abs(u), abs(v)) : abs(v))
    }
    return den == 0 ? num : num / den
}
