import Foundation

// MARK: - Adam and AdamW

@inline(__always)
private func adamUpdate<S: LSTMScalar>(
    _ p: UnsafeMutablePointer<S>, _ g: UnsafeMutablePointer<S>, _ m: UnsafeMutablePointer<S>,
    _ v: UnsafeMutablePointer<S>, _ vMax: UnsafeMutablePointer<S>?, count n: Int, step t: Int,
    lr: Double, beta1: Double, beta2: Double, eps: Double, weightDecay: Double, decoupled: Bool,
    maximize: Bool
) {
    let bc1 = 1 - Foundation.pow(beta1, Double(t))
    let bc2 = 1 - Foundation.pow(beta2, Double(t))
    let stepSize = S(lr / bc1)
    let bc2Sqrt = S(bc2.squareRoot())
    let e = S(eps)
    // m.lerp_(d, w) with w = 1 − β₁: torch's lerp takes m + w(d − m) for |w| < 0.5, else
    // d − (d − m)(1 − w); the two round differently, so pick the same one.
    let w = S(1 - beta1)
    let wc = 1 - w
    let smallWeight = abs(w) < 0.5
    let b2 = S(beta2)
    let c2 = S(1 - beta2)
    let l2 = !decoupled && weightDecay != 0
    let wd = S(weightDecay)
    if decoupled && weightDecay != 0 {
        let shrink = S(1 - lr * weightDecay)
        for i in 0..<n { p[i] *= shrink }
    }
    for i in 0..<n {
        let gi = maximize ? -g[i] : g[i]  // torch: grad = -grad when maximizing
        let d = l2 ? gi + wd * p[i] : gi
        let mi = smallWeight ? m[i] + w * (d - m[i]) : d - (d - m[i]) * wc
        let vi = v[i] * b2 + c2 * d * d
        m[i] = mi
        v[i] = vi
        var second = vi
        if let vMax {
            second = Swift.max(vMax[i], vi)
            vMax[i] = second
        }
        p[i] -= stepSize * mi / (second.squareRoot() / bc2Sqrt + e)
    }
}

/// `adamUpdate` for Float as one fused pass, eight lanes at a time: the same constants and the same
/// operations in the same order (decoupled decay folded in before the update, as the scalar
/// pre-pass does per element), so bitwise equal; the last n mod 8 elements go to `adamUpdate`.
private func adamUpdateSIMD8(
    _ p: UnsafeMutablePointer<Float>, _ g: UnsafeMutablePointer<Float>, _ m: UnsafeMutablePointer<Float>,
    _ v: UnsafeMutablePointer<Float>, _ vMax: UnsafeMutablePointer<Float>?, count n: Int, step t: Int,
    lr: Double, beta1: Double, beta2: Double, eps: Double, weightDecay: Double, decoupled: Bool,
    maximize: Bool
) {
    typealias S = Float
    let bc1 = 1 - Foundation.pow(beta1, Double(t))
    let bc2 = 1 - Foundation.pow(beta2, Double(t))
    let stepSize = S(lr / bc1)
    let bc2Sqrt = S(bc2.squareRoot())
    let e = S(eps)
    let w = S(1 - beta1)
    let wc = 1 - w
    let smallWeight = abs(w) < 0.5
    let b2 = S(beta2)
    let c2 = S(1 - beta2)
    let l2 = !decoupled && weightDecay != 0
    let wd = S(weightDecay)
    let shrinks = decoupled && weightDecay != 0
    let shrink = S(1 - lr * weightDecay)
    let end = n - n % 8
    // Flags as constants in each copy of the loop (see SGD); smallWeight stays a predictable branch.
    @inline(__always) func pass(l2: Bool, shrinks: Bool, smallWeight: Bool, amsgrad: Bool) {
        var i = 0
        while i < end {
            var pi = load8(p, i)
            if shrinks { pi *= shrink }
            let gi = maximize ? -load8(g, i) : load8(g, i)
            let m0 = load8(m, i)
            let d = l2 ? gi + wd * pi : gi
            let mi = smallWeight ? m0 + w * (d - m0) : d - (d - m0) * wc
            let vi = load8(v, i) * b2 + c2 * d * d
            store8(mi, m, i)
            store8(vi, v, i)
            var second = vi
            if amsgrad, let vMax {
                let old = load8(vMax, i)
                second = old.replacing(with: vi, where: vi .>= old)  // Swift.max(old, vi): y >= x ? y : x
                store8(second, vMax, i)
            }
            pi -= stepSize * mi / (sqrt8(second) / bc2Sqrt + e)
            store8(pi, p, i)
            i += 8
        }
    }
    switch (l2, shrinks, vMax != nil) {
    case (false, false, false): pass(l2: false, shrinks: false, smallWeight: smallWeight, amsgrad: false)
    case (false, false, true): pass(l2: false, shrinks: false, smallWeight: smallWeight, amsgrad: true)
    case (true, _, false): pass(l2: true, shrinks: false, smallWeight: smallWeight, amsgrad: false)
    case (true, _, true): pass(l2: true, shrinks: false, smallWeight: smallWeight, amsgrad: true)
    case (false, true, false): pass(l2: false, shrinks: true, smallWeight: smallWeight, amsgrad: false)
    case (false, true, true): pass(l2: false, shrinks: true, smallWeight: smallWeight, amsgrad: true)
    }
    if end < n {
        adamUpdate(
            p + end, g + end, m + end, v + end, vMax.map { $0 + end }, count: n - end, step: t, lr: lr,
            beta1: beta1, beta2: beta2, eps: eps, weightDecay: weightDecay, decoupled: decoupled,
            maximize: maximize)
    }
}

/// Adam (Kingma & Ba) exactly as torch.optim.Adam. With d = g + λθ (L2 weight decay) and
/// t = `stepCount` after the increment:
///
///     m ← β₁m + (1−β₁)d,  v ← β₂v + (1−β₂)d²,  v̂max ← max(v̂max, v) if amsgrad
///     θ ← θ − (lr / (1−β₁ᵗ))·m / (√v / √(1−β₂ᵗ) + ε)     (√vmax with amsgrad)
///
/// With `maximize` the gradient's sign is flipped first (d = −g + λθ), as torch's does.
/// State: "exp_avg" (m), "exp_avg_sq" (v) and, with amsgrad, "max_exp_avg_sq".
/// `AdamW` is the same optimizer with the weight decay decoupled.
public class Adam<Scalar: LSTMScalar>: ElementwiseOptimizer {
    public var name: String { decoupled ? "adamw" : "adam" }
    public var learningRate: Double
    /// β₁, β₂ (torch `betas`, default (0.9, 0.999)) and ε (torch `eps`, default 1e-8).
    public let beta1: Double, beta2: Double, epsilon: Double
    /// λ (torch `weight_decay`): Adam's L2 penalty added to the gradient (default 0), or
    /// AdamW's decoupled decay rate (default 0.01).
    public let weightDecay: Double
    /// Normalise by the running maximum of v (torch `amsgrad`, default false).
    public let amsgrad: Bool
    /// Ascend instead of descend: the gradient's sign is flipped (torch `maximize`, default false).
    public let maximize: Bool
    /// Steps taken so far (t in the bias corrections).
    public var stepCount = 0
    public var stateBuffers: [(name: String, buffer: Buffer<Scalar>)] {
        [("exp_avg", m), ("exp_avg_sq", v)] + (maxV.map { [("max_exp_avg_sq", $0)] } ?? [])
    }
    /// First and second moments, mirroring the parameter arena.
    public let m: Buffer<Scalar>, v: Buffer<Scalar>
    /// The running maximum of v (amsgrad only).
    public let maxV: Buffer<Scalar>?
    /// The elements of the arena this optimizer updates and keeps state for (one rank's
    /// `ArenaSlices` slice with a sharded optimizer); nil: all of them.
    public let slice: Range<Int>?
    /// AdamW's θ ← θ·(1 − lr·λ) instead of Adam's d = g + λθ.
    let decoupled: Bool
    /// Run the scalar reference loop for Float too (tests and lstm-bench compare it with the SIMD pass).
    @_spi(Reference) public var scalarReference = false

    public var configuration: OptimizerConfig {
        OptimizerConfig(
            name: name,
            values: [
                "lr": [learningRate], "betas": [beta1, beta2], "eps": [epsilon], "weight_decay": [weightDecay],
                "amsgrad": [amsgrad ? 1 : 0], "maximize": [maximize ? 1 : 0]
            ])
    }

    /// torch.optim.Adam's parameters and defaults; traps on values torch rejects (lr, eps or
    /// weight_decay < 0, a beta outside [0, 1)).
    public convenience init(
        layout: ParameterLayout, learningRate: Double = OptimizerConfig.defaults("adam", "lr")[0],
        beta1: Double = OptimizerConfig.defaults("adam", "betas")[0],
        beta2: Double = OptimizerConfig.defaults("adam", "betas")[1],
        epsilon: Double = OptimizerConfig.defaults("adam", "eps")[0],
        weightDecay: Double = OptimizerConfig.defaults("adam", "weight_decay")[0],
        amsgrad: Bool = OptimizerConfig.defaults("adam", "amsgrad")[0] != 0,
        maximize: Bool = OptimizerConfig.defaults("adam", "maximize")[0] != 0,
        slice: Range<Int>? = nil
    ) {
        self.init(
            layout: layout, learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
            weightDecay: weightDecay, amsgrad: amsgrad, maximize: maximize, decoupled: false, slice: slice)
    }

    init(
        layout: ParameterLayout, learningRate: Double, beta1: Double, beta2: Double, epsilon: Double,
        weightDecay: Double, amsgrad: Bool, maximize: Bool, decoupled: Bool, slice: Range<Int>?
    ) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.amsgrad = amsgrad
        self.maximize = maximize
        self.decoupled = decoupled
        self.slice = slice
        let n = slice?.count ?? layout.count
        m = Buffer(count: n)
        v = Buffer(count: n)
        maxV = amsgrad ? Buffer(count: n) : nil
        requireValid(configuration)
    }

    @_specialize(exported:true,where Scalar == Float)
    @_specialize(exported:true,where Scalar == Double)
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func beginStep(_ params: ParameterSet<Scalar>, _ grads: ParameterSet<Scalar>) {
        _ = updatedRange(params, grads, state: m.count)
        stepCount += 1
    }

    @_specialize(exported:true,where Scalar == Float)
    @_specialize(exported:true,where Scalar == Double)
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func update(_ params: ParameterSet<Scalar>, _ grads: ParameterSet<Scalar>, part: Range<Int>) {
        let (p, g) = partPointers(params, grads, part: part, state: m.count)
        let o = part.lowerBound
        let (m, v, vMax) = (self.m.base + o, self.v.base + o, maxV.map { $0.base + o })
        if Scalar.self == Float.self && !scalarReference {
            adamUpdateSIMD8(
                asFloat(p), asFloat(g), asFloat(m), asFloat(v), vMax.map { asFloat($0) },
                count: part.count, step: stepCount, lr: learningRate, beta1: beta1, beta2: beta2,
                eps: epsilon, weightDecay: weightDecay, decoupled: decoupled, maximize: maximize)
        } else {
            adamUpdate(
                p, g, m, v, vMax, count: part.count, step: stepCount, lr: learningRate,
                beta1: beta1, beta2: beta2, eps: epsilon, weightDecay: weightDecay, decoupled: decoupled,
                maximize: maximize)
        }
    }
}

/// AdamW (Loshchilov & Hutter) exactly as torch.optim.AdamW: decoupled weight decay
/// θ ← θ·(1 − lr·λ) first, then the Adam step above on the raw gradient (d = g).
/// Default λ = 0.01. State: "exp_avg", "exp_avg_sq" and, with amsgrad, "max_exp_avg_sq".
public final class AdamW<Scalar: LSTMScalar>: Adam<Scalar> {
    /// torch.optim.AdamW's parameters and defaults; traps on values torch rejects.
    public init(
        layout: ParameterLayout, learningRate: Double = OptimizerConfig.defaults("adamw", "lr")[0],
        beta1: Double = OptimizerConfig.defaults("adamw", "betas")[0],
        beta2: Double = OptimizerConfig.defaults("adamw", "betas")[1],
        epsilon: Double = OptimizerConfig.defaults("adamw", "eps")[0],
        weightDecay: Double = OptimizerConfig.defaults("adamw", "weight_decay")[0],
        amsgrad: Bool = OptimizerConfig.defaults("adamw", "amsgrad")[0] != 0,
        maximize: Bool = OptimizerConfig.defaults("adamw", "maximize")[0] != 0,
        slice: Range<Int>? = nil
    ) {
        super.init(
            layout: layout, learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
            weightDecay: weightDecay, amsgrad: amsgrad, maximize: maximize, decoupled: true, slice: slice)
    }
}
