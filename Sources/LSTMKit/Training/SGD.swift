import Foundation

// MARK: - SGD

/// Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and L2
/// weight decay, exactly as torch.optim.SGD. With d = g + λθ:
///
///     b ← d                       (first step: torch starts the buffer at d, undamped)
///     b ← μ·b + (1 − τ)·d         (later steps)
///     u = d + μ·b if nesterov, else b   (u = d when μ = 0: no buffer)
///     θ ← θ − lr·u
///
/// State: "momentum_buffer" (only with μ ≠ 0). The buffer counts as unset while
/// `stepCount == 0`, so restoring a checkpoint (buffer + step count) resumes exactly.
public final class SGD<Scalar: LSTMScalar>: ElementwiseOptimizer {
    public var name: String { "sgd" }
    public var learningRate: Double
    /// μ (torch `momentum`, default 0).
    public let momentum: Double
    /// τ (torch `dampening`, default 0): the damping of the gradient's share after step one.
    public let dampening: Double
    /// λ (torch `weight_decay`, default 0): L2 penalty added to the gradient.
    public let weightDecay: Double
    /// Nesterov momentum (torch `nesterov`; needs μ > 0 and τ = 0).
    public let nesterov: Bool
    /// The elements of the arena this optimizer updates and keeps state for (one rank's
    /// `ArenaSlices` slice with a sharded optimizer); nil: all of them.
    public private(set) var slice: Range<Int>?
    public var stepCount = 0
    /// b, torch's "momentum_buffer": nil without momentum, and allocated at the first step if
    /// the optimizer was made without a layout.
    public private(set) var momentumBuffer: Buffer<Scalar>?
    /// Whether the step begun starts the momentum buffer (b = d): `stepCount` was 0.
    private var startsBuffer = false
    public var stateBuffers: [(name: String, buffer: Buffer<Scalar>)] {
        momentumBuffer.map { [("momentum_buffer", $0)] } ?? []
    }

    public var configuration: OptimizerConfig {
        OptimizerConfig(
            name: name,
            values: [
                "lr": [learningRate], "momentum": [momentum], "dampening": [dampening],
                "weight_decay": [weightDecay], "nesterov": [nesterov ? 1 : 0]
            ])
    }

    /// torch.optim.SGD's parameters and defaults; traps on values torch rejects (lr < 0,
    /// momentum < 0, weight_decay < 0, nesterov without momentum or with dampening). With
    /// momentum, the buffer is allocated at the first step: use `init(layout:…)` to have it
    /// (and `stateBuffers`) before then, e.g. to restore a checkpoint.
    public init(
        learningRate: Double = OptimizerConfig.defaults("sgd", "lr")[0],
        momentum: Double = OptimizerConfig.defaults("sgd", "momentum")[0],
        dampening: Double = OptimizerConfig.defaults("sgd", "dampening")[0],
        weightDecay: Double = OptimizerConfig.defaults("sgd", "weight_decay")[0],
        nesterov: Bool = OptimizerConfig.defaults("sgd", "nesterov")[0] != 0
    ) {
        self.learningRate = learningRate
        self.momentum = momentum
        self.dampening = dampening
        self.weightDecay = weightDecay
        self.nesterov = nesterov
        self.slice = nil
        requireValid(configuration)
    }

    /// As `init(learningRate:…)`, with the momentum buffer allocated up front for `layout`.
    public convenience init(
        layout: ParameterLayout, learningRate: Double = OptimizerConfig.defaults("sgd", "lr")[0],
        momentum: Double = OptimizerConfig.defaults("sgd", "momentum")[0],
        dampening: Double = OptimizerConfig.defaults("sgd", "dampening")[0],
        weightDecay: Double = OptimizerConfig.defaults("sgd", "weight_decay")[0],
        nesterov: Bool = OptimizerConfig.defaults("sgd", "nesterov")[0] != 0,
        slice: Range<Int>? = nil
    ) {
        self.init(
            learningRate: learningRate, momentum: momentum, dampening: dampening,
            weightDecay: weightDecay, nesterov: nesterov)
        self.slice = slice
        if momentum != 0 { momentumBuffer = Buffer(count: slice?.count ?? layout.count) }
    }

    @_specialize(exported:true,where Scalar == Float)
    @_specialize(exported:true,where Scalar == Double)
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func beginStep(_ params: ParameterSet<Scalar>, _ grads: ParameterSet<Scalar>) {
        let n = updatedRange(params, grads, state: momentumBuffer?.count).count
        if momentum != 0 && momentumBuffer == nil { momentumBuffer = Buffer(count: n) }
        startsBuffer = stepCount == 0
        stepCount += 1
    }

    @_specialize(exported:true,where Scalar == Float)
    @_specialize(exported:true,where Scalar == Double)
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func update(_ params: ParameterSet<Scalar>, _ grads: ParameterSet<Scalar>, part: Range<Int>) {
        let n = part.count
        let (p, g) = partPointers(params, grads, part: part, state: momentumBuffer?.count)
        let lr = Scalar(learningRate)
        let wd = Scalar(weightDecay)
        let decay = weightDecay != 0
        guard let buffer = momentumBuffer, momentum != 0 else {
            if decay {
                for i in 0..<n { p[i] -= lr * (g[i] + wd * p[i]) }
            } else {
                for i in 0..<n { p[i] -= lr * g[i] }
            }
            return
        }
        let b = buffer.base + part.lowerBound
        let mu = Scalar(momentum)
        let keep = Scalar(1 - dampening)
        if startsBuffer {  // once per run: b = d
            for i in 0..<n {
                let d = decay ? g[i] + wd * p[i] : g[i]
                b[i] = d
                p[i] -= lr * (nesterov ? d + mu * d : d)
            }
            return
        }
        // Invariant flags inside the loop stop LLVM vectorising it, so each combination gets its
        // own copy of the loop, with the flags folded to constants.
        @inline(__always) func update(decay: Bool, nesterov: Bool) {
            for i in 0..<n {
                let d = decay ? g[i] + wd * p[i] : g[i]
                let bi = b[i] * mu + keep * d
                b[i] = bi
                p[i] -= lr * (nesterov ? d + mu * bi : bi)
            }
        }
        switch (decay, nesterov) {
        case (false, false): update(decay: false, nesterov: false)
        case (false, true): update(decay: false, nesterov: true)
        case (true, false): update(decay: true, nesterov: false)
        case (true, true): update(decay: true, nesterov: true)
        }
    }
}
