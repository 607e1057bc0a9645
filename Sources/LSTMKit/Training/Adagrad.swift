import Foundation

// MARK: - Adagrad

/// Adagrad exactly as torch.optim.Adagrad. With d = g + λθ and t = `stepCount` after the
/// increment:
///
///     lr_t = lr / (1 + (t − 1)·lr_decay),  s ← s + d²,  θ ← θ − lr_t·d / (√s + ε)
///
/// State: "sum" (s), starting at `initial_accumulator_value`.
public final class Adagrad<Scalar: LSTMScalar>: ElementwiseOptimizer {
    public var name: String { "adagrad" }
    public var learningRate: Double
    /// torch `lr_decay` (default 0).
    public let learningRateDecay: Double
    /// λ (torch `weight_decay`, default 0): L2 penalty added to the gradient.
    public let weightDecay: Double
    /// s's starting value (torch `initial_accumulator_value`, default 0).
    public let initialAccumulatorValue: Double
    /// ε (torch `eps`, default 1e-10), added after the square root.
    public let epsilon: Double
    /// The elements of the arena this optimizer updates and keeps state for (one rank's
    /// `ArenaSlices` slice with a sharded optimizer); nil: all of them.
    public let slice: Range<Int>?
    public var stepCount = 0
    /// s, the running sum of squared gradients.
    public let sum: Buffer<Scalar>
    /// Run the scalar reference loop for Float too (tests and lstm-bench compare it with the SIMD pass).
    @_spi(Reference) public var scalarReference = false
    public var stateBuffers: [(name: String, buffer: Buffer<Scalar>)] { [("sum", sum)] }

    public var configuration: OptimizerConfig {
        OptimizerConfig(
            name: name,
            values: [
                "lr": [learningRate], "lr_decay": [learningRateDecay], "weight_decay": [weightDecay],
                "initial_accumulator_value": [initialAccumulatorValue], "eps": [epsilon]
            ])
    }

    /// torch.optim.Adagrad's parameters and defaults; traps on values torch rejects (any of
    /// them < 0).
    public init(
        layout: ParameterLayout, learningRate: Double = OptimizerConfig.defaults("adagrad", "lr")[0],
        learningRateDecay: Double = OptimizerConfig.defaults("adagrad", "lr_decay")[0],
        weightDecay: Double = OptimizerConfig.defaults("adagrad", "weight_decay")[0],
        initialAccumulatorValue: Double = OptimizerConfig.defaults("adagrad", "initial_accumulator_value")[0],
        epsilon: Double = OptimizerConfig.defaults("adagrad", "eps")[0],
        slice: Range<Int>? = nil
    ) {
        self.learningRate = learningRate
        self.learningRateDecay = learningRateDecay
        self.weightDecay = weightDecay
        self.initialAccumulatorValue = initialAccumulatorValue
        self.epsilon = epsilon
        self.slice = slice
        sum = Buffer(count: slice?.count ?? layout.count)
        requireValid(configuration)
        sum.base.update(repeating: Scalar(initialAccumulatorValue), count: sum.count)
    }

    @_specialize(exported:true,where Scalar == Float)
    @_specialize(exported:true,where Scalar == Double)
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func beginStep(_ params: ParameterSet<Scalar>, _ grads: ParameterSet<Scalar>) {
        _ = updatedRange(params, grads, state: sum.count)
        stepCount += 1
    }

    @_specialize(exported:true,where Scalar == Float)
    @_specialize(exported:true,where Scalar == Double)
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func update(_ params: ParameterSet<Scalar>, _ grads: ParameterSet<Scalar>, part: Range<Int>) {
        let (p, g) = partPointers(params, grads, part: part, state: sum.count)
        let s = sum.base + part.lowerBound
        let clr = learningRate / (1 + Double(stepCount - 1) * learningRateDecay)
        if Scalar.self == Float.self && !scalarReference {
            adagradUpdateSIMD8(
                asFloat(p), asFloat(g), asFloat(s), count: part.count, clr: clr, eps: epsilon,
                weightDecay: weightDecay)
        } else {
            adagradUpdate(p, g, s, count: part.count, clr: clr, eps: epsilon, weightDecay: weightDecay)
        }
    }
}

/// One Adagrad update at the decayed rate `clr` (torch's `_single_tensor_adagrad`): the scalar
/// reference, and the loop for Double and the SIMD pass's tail.
@inline(__always)
private func adagradUpdate<S: LSTMScalar>(
    _ p: UnsafeMutablePointer<S>, _ g: UnsafeMutablePointer<S>, _ s: UnsafeMutablePointer<S>, count n: Int,
    clr: Double, eps: Double, weightDecay: Double
) {
    let clr = S(clr)
    let decay = weightDecay != 0
    let wd = S(weightDecay)
    let e = S(eps)
    for i in 0..<n {
        let d = decay ? g[i] + wd * p[i] : g[i]
        let si = s[i] + d * d
        s[i] = si
        p[i] -= clr * d / (si.squareRoot() + e)
    }
}

/// `adagradUpdate` for Float, eight lanes at a time with the same operations in the same order
/// (bitwise equal); the last n mod 8 elements go to `adagradUpdate`.
private func adagradUpdateSIMD8(
    _ p: UnsafeMutablePointer<Float>, _ g: UnsafeMutablePointer<Float>, _ s: UnsafeMutablePointer<Float>,
    count n: Int, clr: Double, eps: Double, weightDecay: Double
) {
    let clrS = Float(clr)
    let wd = Float(weightDecay)
    let e = Float(eps)
    let end = n - n % 8
    @inline(__always) func pass(decay: Bool) {
        var i = 0
        while i < end {
            let pi = load8(p, i)
            let gi = load8(g, i)
            let d = decay ? gi + wd * pi : gi
            let si = load8(s, i) + d * d
            store8(si, s, i)
            store8(pi - clrS * d / (sqrt8(si) + e), p, i)
            i += 8
        }
    }
    if weightDecay != 0 { pass(decay: true) } else { pass(decay: false) }
    if end < n {
        adagradUpdate(p + end, g + end, s + end, count: n - end, clr: clr, eps: eps, weightDecay: weightDecay)
    }
}
