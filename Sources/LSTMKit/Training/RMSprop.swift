import Foundation

// MARK: - RMSprop

/// RMSprop exactly as torch.optim.RMSprop. With d = g + λθ:
///
///     s ← αs + (1−α)d²
///     ḡ ← αḡ + (1−α)d,  a = √(s − ḡ²) + ε    if centered, else a = √s + ε
///     b ← μb + d/a,  θ ← θ − lr·b            if μ > 0, else θ ← θ − lr·d/a
///
/// State: "square_avg" (s), "momentum_buffer" (b, only with μ > 0; starts at zero, unlike
/// SGD's) and "grad_avg" (ḡ, only when centered).
public final class RMSprop<Scalar: LSTMScalar>: ElementwiseOptimizer {
    public var name: String { "rmsprop" }
    public var learningRate: Double
    /// α (torch `alpha`, default 0.99): the smoothing constant of both averages.
    public let alpha: Double
    /// ε (torch `eps`, default 1e-8), added after the square root.
    public let epsilon: Double
    /// λ (torch `weight_decay`, default 0): L2 penalty added to the gradient.
    public let weightDecay: Double
    /// μ (torch `momentum`, default 0).
    public let momentum: Double
    /// Normalise by the estimated variance instead of the raw second moment (torch `centered`).
    public let centered: Bool
    /// The elements of the arena this optimizer updates and keeps state for (one rank's
    /// `ArenaSlices` slice with a sharded optimizer); nil: all of them.
    public let slice: Range<Int>?
    public var stepCount = 0
    /// s, b and ḡ as described above.
    public let squareAverage: Buffer<Scalar>, momentumBuffer: Buffer<Scalar>?, gradientAverage: Buffer<Scalar>?
    /// Run the scalar reference loop for Float too (tests and lstm-bench compare it with the SIMD pass).
    @_spi(Reference) public var scalarReference = false
    public var stateBuffers: [(name: String, buffer: Buffer<Scalar>)] {
        [("square_avg", squareAverage)] + (momentumBuffer.map { [("momentum_buffer", $0)] } ?? [])
            + (gradientAverage.map { [("grad_avg", $0)] } ?? [])
    }

    public var configuration: OptimizerConfig {
        OptimizerConfig(
            name: name,
            values: [
                "lr": [learningRate], "alpha": [alpha], "eps": [epsilon], "weight_decay": [weightDecay],
                "momentum": [momentum], "centered": [centered ? 1 : 0]
            ])
    }

    /// torch.optim.RMSprop's parameters and defaults; traps on values torch rejects (lr, eps,
    /// momentum, weight_decay or alpha < 0).
    public init(
        layout: ParameterLayout, learningRate: Double = OptimizerConfig.defaults("rmsprop", "lr")[0],
        alpha: Double = OptimizerConfig.defaults("rmsprop", "alpha")[0],
        epsilon: Double = OptimizerConfig.defaults("rmsprop", "eps")[0],
        weightDecay: Double = OptimizerConfig.defaults("rmsprop", "weight_decay")[0],
        momentum: Double = OptimizerConfig.defaults("rmsprop", "momentum")[0],
        centered: Bool = OptimizerConfig.defaults("rmsprop", "centered")[0] != 0,
        slice: Range<Int>? = nil
    ) {
        self.learningRate = learningRate
        self.alpha = alpha
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.momentum = momentum
        self.centered = centered
        self.slice = slice
        let n = slice?.count ?? layout.count
        squareAverage = Buffer(count: n)
        momentumBuffer = momentum > 0 ? Buffer(count: n) : nil
        gradientAverage = centered ? Buffer(count: n) : nil
        requireValid(configuration)
    }

    @_specialize(exported:true,where Scalar == Float)
    @_specialize(exported:true,where Scalar == Double)
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func beginStep(_ params: ParameterSet<Scalar>, _ grads: ParameterSet<Scalar>) {
        _ = updatedRange(params, grads, state: squareAverage.count)
        stepCount += 1
    }

    @_specialize(exported:true,where Scalar == Float)
    @_specialize(exported:true,where Scalar == Double)
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func update(_ params: ParameterSet<Scalar>, _ grads: ParameterSet<Scalar>, part: Range<Int>) {
        let o = part.lowerBound
        let (p, g) = partPointers(params, grads, part: part, state: squareAverage.count)
        let s = squareAverage.base + o
        let b = momentumBuffer.map { $0.base + o }
        let gAvg = gradientAverage.map { $0.base + o }
        if Scalar.self == Float.self && !scalarReference {
            rmspropUpdateSIMD8(
                asFloat(p), asFloat(g), asFloat(s), b.map(asFloat), gAvg.map(asFloat),
                count: part.count, lr: learningRate, alpha: alpha, eps: epsilon,
                weightDecay: weightDecay, momentum: momentum)
        } else {
            rmspropUpdate(
                p, g, s, b, gAvg, count: part.count, lr: learningRate, alpha: alpha, eps: epsilon,
                weightDecay: weightDecay, momentum: momentum)
        }
    }
}

/// One RMSprop update (torch's `_single_tensor_rmsprop`; b and ḡ given when momentum and centered):
/// the scalar reference, and the loop for Double and the SIMD pass's tail.
@inline(__always)
private func rmspropUpdate<S: LSTMScalar>(
    _ p: UnsafeMutablePointer<S>, _ g: UnsafeMutablePointer<S>, _ s: UnsafeMutablePointer<S>,
    _ b: UnsafeMutablePointer<S>?, _ gAvg: UnsafeMutablePointer<S>?, count n: Int,
    lr: Double, alpha: Double, eps: Double, weightDecay: Double, momentum: Double
) {
    let lr = S(lr)
    let a = S(alpha)
    let c = S(1 - alpha)
    let e = S(eps)
    let decay = weightDecay != 0
    let wd = S(weightDecay)
    let mu = S(momentum)
    // grad_avg.lerp_(d, 1 − α), with torch's choice of lerp formula (see adamUpdate).
    let w = S(1 - alpha)
    let wc = 1 - w
    let smallWeight = abs(w) < 0.5
    for i in 0..<n {
        let d = decay ? g[i] + wd * p[i] : g[i]
        let si = s[i] * a + c * d * d
        s[i] = si
        var avg: S
        if let gAvg {
            let gi = smallWeight ? gAvg[i] + w * (d - gAvg[i]) : d - (d - gAvg[i]) * wc
            gAvg[i] = gi
            avg = (si - gi * gi).squareRoot()
        } else {
            avg = si.squareRoot()
        }
        avg += e
        if let b {
            let bi = b[i] * mu + d / avg
            b[i] = bi
            p[i] -= lr * bi
        } else {
            p[i] -= lr * d / avg
        }
    }
}

/// `rmspropUpdate` for Float, eight lanes at a time with the same operations in the same order
/// (bitwise equal); the last n mod 8 elements go to `rmspropUpdate`.
private func rmspropUpdateSIMD8(
    _ p: UnsafeMutablePointer<Float>, _ g: UnsafeMutablePointer<Float>, _ s: UnsafeMutablePointer<Float>,
    _ b: UnsafeMutablePointer<Float>?, _ gAvg: UnsafeMutablePointer<Float>?, count n: Int,
    lr: Double, alpha: Double, eps: Double, weightDecay: Double, momentum: Double
) {
    typealias S = Float
    let lrS = S(lr)
    let a = S(alpha)
    let c = S(1 - alpha)
    let e = S(eps)
    let decay = weightDecay != 0
    let wd = S(weightDecay)
    let mu = S(momentum)
    let w = S(1 - alpha)
    let wc = 1 - w
    let smallWeight = abs(w) < 0.5
    let end = n - n % 8
    // Flags as constants in each copy of the loop (see SGD); smallWeight stays a predictable branch.
    @inline(__always) func pass(decay: Bool, centered: Bool, momentum: Bool, smallWeight: Bool) {
        var i = 0
        while i < end {
            let pi = load8(p, i)
            let gi = load8(g, i)
            let d = decay ? gi + wd * pi : gi
            let si = load8(s, i) * a + c * d * d
            store8(si, s, i)
            var avg: SIMD8<Float>
            if centered, let gAvg {
                let g0 = load8(gAvg, i)
                let ga = smallWeight ? g0 + w * (d - g0) : d - (d - g0) * wc
                store8(ga, gAvg, i)
                avg = sqrt8(si - ga * ga)
            } else {
                avg = sqrt8(si)
            }
            avg += e
            if momentum, let b {
                let bi = load8(b, i) * mu + d / avg
                store8(bi, b, i)
                store8(pi - lrS * bi, p, i)
            } else {
                store8(pi - lrS * d / avg, p, i)
            }
            i += 8
        }
    }
    switch (decay, gAvg != nil, b != nil) {
    case (false, false, false): pass(decay: false, centered: false, momentum: false, smallWeight: smallWeight)
    case (false, false, true): pass(decay: false, centered: false, momentum: true, smallWeight: smallWeight)
    case (false, true, false): pass(decay: false, centered: true, momentum: false, smallWeight: smallWeight)
    case (false, true, true): pass(decay: false, centered: true, momentum: true, smallWeight: smallWeight)
    case (true, false, false): pass(decay: true, centered: false, momentum: false, smallWeight: smallWeight)
    case (true, false, true): pass(decay: true, centered: false, momentum: true, smallWeight: smallWeight)
    case (true, true, false): pass(decay: true, centered: true, momentum: false, smallWeight: smallWeight)
    case (true, true, true): pass(decay: true, centered: true, momentum: true, smallWeight: smallWeight)
    }
    if end < n {
        rmspropUpdate(
            p + end, g + end, s + end, b.map { $0 + end }, gAvg.map { $0 + end }, count: n - end, lr: lr,
            alpha: alpha, eps: eps, weightDecay: weightDecay, momentum: momentum)
    }
}
