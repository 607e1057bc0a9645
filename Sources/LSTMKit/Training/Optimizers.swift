import Foundation
#if arch(x86_64)
internal import _Builtin_intrinsics.intel
#endif

// Parameter updates as flat loops over the arena (parameters, gradients and optimizer state
// share one layout). Update rules, hyperparameter names, defaults, validation and state names
// follow torch.optim's single-tensor (foreach=False) implementations, so trajectories agree
// with PyTorch to rounding (Tests/LSTMKitTests/OptimizerTests.swift checks 1e-12 in Double).
//
// Weight decay never writes into the gradient arena: like torch's `grad.add(param, ...)` it
// makes a local d = g + λθ, so the caller's gradients are left as they were.
//
// Each `step` carries two pairs of @_specialize: the exported pair lets other modules call the
// Float/Double bodies directly; the plain pair makes the generic body check Scalar at run time
// and jump to them. The second matters because callers hold `any Optimizer<T>` (Trainer): the
// protocol witness enters the generic body, which without that check runs unspecialised,
// ~30–60× slower (measured: Adam<Float> 143 → 3.7 ns per parameter through the existential).
//
// SGD's loops vectorise. Adam, RMSprop and Adagrad's scalar loops do not: on Linux a scalar
// `squareRoot()` is a sqrtss with an errno fallback call to sqrtf, which LLVM will not vectorise.
// So for Float each has a fused SIMD8<Float> pass beside its scalar loop, which stays the
// reference and runs Double and the n mod 8 tail. SIMD8's own `squareRoot()` is also lane by lane
// (eight sqrtss with fallback calls), so `sqrt8` uses SSE's sqrtps on x86_64. The SIMD pass does
// the same IEEE operations in the same order (no reassociation, no FMA; sqrt and division are
// correctly rounded either way), so it is bitwise equal to the scalar loop; OptimizerSIMDTests
// check that. `scalarReference` (SPI) forces the scalar loop, for those tests and lstm-bench.

/// An update rule applied to a parameter arena given its gradient arena.
public protocol Optimizer<Scalar>: AnyObject {
    associatedtype Scalar: LSTMScalar
    /// torch.optim's class name in lower case ("sgd", "adam", …), as stored in checkpoints.
    var name: String { get }
    /// The step size used by the next `step`.
    var learningRate: Double { get set }
    /// Updates taken so far; checkpoints save and restore it.
    var stepCount: Int { get set }
    /// State tensors mirroring the parameter arena (e.g. Adam's "exp_avg", "exp_avg_sq"),
    /// by torch.optim's names; checkpoints save and restore their contents.
    var stateBuffers: [(name: String, buffer: Buffer<Scalar>)] { get }
    /// The hyperparameters with every default filled in (`lr` is the current learning rate);
    /// `configuration.makeOptimizer(layout:)` builds an equivalent fresh optimizer.
    var configuration: OptimizerConfig { get }
    /// Applies one update to `params` from `grads` (same layout).
    func step(_ params: ParameterSet<Scalar>, _ grads: ParameterSet<Scalar>)
}

extension Optimizer {
    /// Name and learning rate only, for conformers that predate `configuration`.
    public var configuration: OptimizerConfig { OptimizerConfig(name: name, lr: learningRate) }
}

/// Traps with the validation message if `config` is invalid (the initialisers' contract;
/// `OptimizerConfig.makeOptimizer` throws the same message instead).
private func requireValid(_ config: OptimizerConfig) {
    do { try config.validate() } catch { preconditionFailure("\(error)") }
}

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
public final class SGD<Scalar: LSTMScalar>: Optimizer {
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
    public var stepCount = 0
    /// b, torch's "momentum_buffer": nil without momentum, and allocated at the first step if
    /// the optimizer was made without a layout.
    public private(set) var momentumBuffer: Buffer<Scalar>?
    public var stateBuffers: [(name: String, buffer: Buffer<Scalar>)] {
        momentumBuffer.map { [("momentum_buffer", $0)] } ?? []
    }

    public var configuration: OptimizerConfig {
        OptimizerConfig(name: name, lr: learningRate, momentum: momentum, dampening: dampening,
                        nesterov: nesterov, weightDecay: weightDecay)
    }

    /// torch.optim.SGD's parameters and defaults; traps on values torch rejects (lr < 0,
    /// momentum < 0, weight_decay < 0, nesterov without momentum or with dampening). With
    /// momentum, the buffer is allocated at the first step: use `init(layout:…)` to have it
    /// (and `stateBuffers`) before then, e.g. to restore a checkpoint.
    public init(learningRate: Double = 1e-3, momentum: Double = 0, dampening: Double = 0,
                weightDecay: Double = 0, nesterov: Bool = false) {
        self.learningRate = learningRate
        self.momentum = momentum
        self.dampening = dampening
        self.weightDecay = weightDecay
        self.nesterov = nesterov
        requireValid(configuration)
    }

    /// As `init(learningRate:…)`, with the momentum buffer allocated up front for `layout`.
    public convenience init(layout: ParameterLayout, learningRate: Double = 1e-3, momentum: Double = 0,
                            dampening: Double = 0, weightDecay: Double = 0, nesterov: Bool = false) {
        self.init(learningRate: learningRate, momentum: momentum, dampening: dampening,
                  weightDecay: weightDecay, nesterov: nesterov)
        if momentum != 0 { momentumBuffer = Buffer(count: layout.count) }
    }

    @_specialize(exported: true, where Scalar == Float)
    @_specialize(exported: true, where Scalar == Double)
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func step(_ params: ParameterSet<Scalar>, _ grads: ParameterSet<Scalar>) {
        precondition(params.layout == grads.layout, "parameter and gradient layouts differ")
        let n = params.count, p = params.storage.base, g = grads.storage.base
        let lr = Scalar(learningRate), wd = Scalar(weightDecay), decay = weightDecay != 0
        if momentum == 0 {
            if decay {
                for i in 0..<n { p[i] -= lr * (g[i] + wd * p[i]) }
            } else {
                for i in 0..<n { p[i] -= lr * g[i] }
            }
            stepCount += 1
            return
        }
        if momentumBuffer == nil { momentumBuffer = Buffer(count: n) }
        let buffer = momentumBuffer!
        precondition(buffer.count == n, "optimizer state was made for another layout")
        let b = buffer.base, mu = Scalar(momentum), keep = Scalar(1 - dampening)
        if stepCount == 0 {  // once per run: b = d
            for i in 0..<n {
                let d = decay ? g[i] + wd * p[i] : g[i]
                b[i] = d
                p[i] -= lr * (nesterov ? d + mu * d : d)
            }
            stepCount += 1
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
        stepCount += 1
    }
}

// MARK: - Adam and AdamW

/// An eight-lane view of `p[i..<i+8]` (Float arenas are only 4-byte aligned).
@inline(__always)
private func load8(_ p: UnsafeMutablePointer<Float>, _ i: Int) -> SIMD8<Float> {
    UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
}

/// Stores eight lanes to `p[i..<i+8]`.
@inline(__always)
private func store8(_ x: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>, _ i: Int) {
    UnsafeMutableRawPointer(p + i).storeBytes(of: x, as: SIMD8<Float>.self)
}

/// √x on eight lanes, correctly rounded like the scalar `squareRoot()`: two sqrtps on x86_64, where
/// SIMD8's `squareRoot()` would be eight scalar calls.
@inline(__always)
private func sqrt8(_ x: SIMD8<Float>) -> SIMD8<Float> {
    #if arch(x86_64)
    SIMD8(lowHalf: _mm_sqrt_ps(x.lowHalf), highHalf: _mm_sqrt_ps(x.highHalf))
    #else
    x.squareRoot()
    #endif
}

/// The same memory seen as Float, for the SIMD passes once `S == Float` has been checked.
@inline(__always)
private func asFloat<S>(_ p: UnsafeMutablePointer<S>) -> UnsafeMutablePointer<Float> {
    UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self)
}

/// One Adam/AdamW update (torch's `_single_tensor_adam`), inlined into each specialised `step`:
/// the scalar reference, and the loop for Double and the SIMD pass's tail.
@inline(__always)
private func adamUpdate<S: LSTMScalar>(
    _ p: UnsafeMutablePointer<S>, _ g: UnsafeMutablePointer<S>, _ m: UnsafeMutablePointer<S>,
    _ v: UnsafeMutablePointer<S>, _ vMax: UnsafeMutablePointer<S>?, count n: Int, step t: Int,
    lr: Double, beta1: Double, beta2: Double, eps: Double, weightDecay: Double, decoupled: Bool
) {
    let bc1 = 1 - Foundation.pow(beta1, Double(t)), bc2 = 1 - Foundation.pow(beta2, Double(t))
    let stepSize = S(lr / bc1), bc2Sqrt = S(bc2.squareRoot()), e = S(eps)
    // m.lerp_(d, w) with w = 1 − β₁: torch's lerp takes m + w(d − m) for |w| < 0.5, else
    // d − (d − m)(1 − w); the two round differently, so pick the same one.
    let w = S(1 - beta1), wc = 1 - w, smallWeight = abs(w) < 0.5
    let b2 = S(beta2), c2 = S(1 - beta2)
    let l2 = !decoupled && weightDecay != 0, wd = S(weightDecay)
    if decoupled && weightDecay != 0 {
        let shrink = S(1 - lr * weightDecay)
        for i in 0..<n { p[i] *= shrink }
    }
    for i in 0..<n {
        let d = l2 ? g[i] + wd * p[i] : g[i]
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
    lr: Double, beta1: Double, beta2: Double, eps: Double, weightDecay: Double, decoupled: Bool
) {
    typealias S = Float
    let bc1 = 1 - Foundation.pow(beta1, Double(t)), bc2 = 1 - Foundation.pow(beta2, Double(t))
    let stepSize = S(lr / bc1), bc2Sqrt = S(bc2.squareRoot()), e = S(eps)
    let w = S(1 - beta1), wc = 1 - w, smallWeight = abs(w) < 0.5
    let b2 = S(beta2), c2 = S(1 - beta2)
    let l2 = !decoupled && weightDecay != 0, wd = S(weightDecay)
    let shrinks = decoupled && weightDecay != 0, shrink = S(1 - lr * weightDecay)
    let end = n - n % 8
    // Flags as constants in each copy of the loop (see SGD); smallWeight stays a predictable branch.
    @inline(__always) func pass(l2: Bool, shrinks: Bool, smallWeight: Bool, amsgrad: Bool) {
        var i = 0
        while i < end {
            var pi = load8(p, i)
            if shrinks { pi *= shrink }
            let gi = load8(g, i), m0 = load8(m, i)
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
        adamUpdate(p + end, g + end, m + end, v + end, vMax.map { $0 + end }, count: n - end, step: t, lr: lr,
                   beta1: beta1, beta2: beta2, eps: eps, weightDecay: weightDecay, decoupled: decoupled)
    }
}

/// Adam (Kingma & Ba) exactly as torch.optim.Adam. With d = g + λθ (L2 weight decay) and
/// t = `stepCount` after the increment:
///
///     m ← β₁m + (1−β₁)d,  v ← β₂v + (1−β₂)d²,  v̂max ← max(v̂max, v) if amsgrad
///     θ ← θ − (lr / (1−β₁ᵗ))·m / (√v / √(1−β₂ᵗ) + ε)     (√vmax with amsgrad)
///
/// State: "exp_avg" (m), "exp_avg_sq" (v) and, with amsgrad, "max_exp_avg_sq".
/// `AdamW` is the same optimizer with the weight decay decoupled.
public class Adam<Scalar: LSTMScalar>: Optimizer {
    public var name: String { decoupled ? "adamw" : "adam" }
    public var learningRate: Double
    /// β₁, β₂ (torch `betas`, default (0.9, 0.999)) and ε (torch `eps`, default 1e-8).
    public let beta1: Double, beta2: Double, epsilon: Double
    /// λ (torch `weight_decay`): Adam's L2 penalty added to the gradient (default 0), or
    /// AdamW's decoupled decay rate (default 0.01).
    public let weightDecay: Double
    /// Normalise by the running maximum of v (torch `amsgrad`, default false).
    public let amsgrad: Bool
    /// Steps taken so far (t in the bias corrections).
    public var stepCount = 0
    public var stateBuffers: [(name: String, buffer: Buffer<Scalar>)] {
        [("exp_avg", m), ("exp_avg_sq", v)] + (maxV.map { [("max_exp_avg_sq", $0)] } ?? [])
    }
    /// First and second moments, mirroring the parameter arena.
    public let m: Buffer<Scalar>, v: Buffer<Scalar>
    /// The running maximum of v (amsgrad only).
    public let maxV: Buffer<Scalar>?
    /// AdamW's θ ← θ·(1 − lr·λ) instead of Adam's d = g + λθ.
    let decoupled: Bool
    /// Run the scalar reference loop for Float too (tests and lstm-bench compare it with the SIMD pass).
    @_spi(Reference) public var scalarReference = false

    public var configuration: OptimizerConfig {
        OptimizerConfig(name: name, lr: learningRate, weightDecay: weightDecay, betas: [beta1, beta2],
                        eps: epsilon, amsgrad: amsgrad)
    }

    /// torch.optim.Adam's parameters and defaults; traps on values torch rejects (lr, eps or
    /// weight_decay < 0, a beta outside [0, 1)).
    public convenience init(layout: ParameterLayout, learningRate: Double = 1e-3, beta1: Double = 0.9,
                            beta2: Double = 0.999, epsilon: Double = 1e-8, weightDecay: Double = 0,
                            amsgrad: Bool = false) {
        self.init(layout: layout, learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
                  weightDecay: weightDecay, amsgrad: amsgrad, decoupled: false)
    }

    init(layout: ParameterLayout, learningRate: Double, beta1: Double, beta2: Double, epsilon: Double,
         weightDecay: Double, amsgrad: Bool, decoupled: Bool) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.amsgrad = amsgrad
        self.decoupled = decoupled
        m = Buffer(count: layout.count)
        v = Buffer(count: layout.count)
        maxV = amsgrad ? Buffer(count: layout.count) : nil
        requireValid(configuration)
    }

    @_specialize(exported: true, where Scalar == Float)
    @_specialize(exported: true, where Scalar == Double)
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func step(_ params: ParameterSet<Scalar>, _ grads: ParameterSet<Scalar>) {
        precondition(params.layout == grads.layout, "parameter and gradient layouts differ")
        precondition(params.count == m.count, "optimizer state was made for another layout")
        stepCount += 1
        let p = params.storage.base, g = grads.storage.base
        if Scalar.self == Float.self && !scalarReference {
            adamUpdateSIMD8(asFloat(p), asFloat(g), asFloat(m.base), asFloat(v.base), maxV.map { asFloat($0.base) },
                            count: params.count, step: stepCount, lr: learningRate, beta1: beta1, beta2: beta2,
                            eps: epsilon, weightDecay: weightDecay, decoupled: decoupled)
        } else {
            adamUpdate(p, g, m.base, v.base, maxV?.base, count: params.count, step: stepCount, lr: learningRate,
                       beta1: beta1, beta2: beta2, eps: epsilon, weightDecay: weightDecay, decoupled: decoupled)
        }
    }
}

/// AdamW (Loshchilov & Hutter) exactly as torch.optim.AdamW: decoupled weight decay
/// θ ← θ·(1 − lr·λ) first, then the Adam step above on the raw gradient (d = g).
/// Default λ = 0.01. State: "exp_avg", "exp_avg_sq" and, with amsgrad, "max_exp_avg_sq".
public final class AdamW<Scalar: LSTMScalar>: Adam<Scalar> {
    /// torch.optim.AdamW's parameters and defaults; traps on values torch rejects.
    public init(layout: ParameterLayout, learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999,
                epsilon: Double = 1e-8, weightDecay: Double = 1e-2, amsgrad: Bool = false) {
        super.init(layout: layout, learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
                   weightDecay: weightDecay, amsgrad: amsgrad, decoupled: true)
    }
}

// MARK: - RMSprop

/// RMSprop exactly as torch.optim.RMSprop. With d = g + λθ:
///
///     s ← αs + (1−α)d²
///     ḡ ← αḡ + (1−α)d,  a = √(s − ḡ²) + ε    if centered, else a = √s + ε
///     b ← μb + d/a,  θ ← θ − lr·b            if μ > 0, else θ ← θ − lr·d/a
///
/// State: "square_avg" (s), "momentum_buffer" (b, only with μ > 0; starts at zero, unlike
/// SGD's) and "grad_avg" (ḡ, only when centered).
public final class RMSprop<Scalar: LSTMScalar>: Optimizer {
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
        OptimizerConfig(name: name, lr: learningRate, momentum: momentum, weightDecay: weightDecay,
                        eps: epsilon, alpha: alpha, centered: centered)
    }

    /// torch.optim.RMSprop's parameters and defaults; traps on values torch rejects (lr, eps,
    /// momentum, weight_decay or alpha < 0).
    public init(layout: ParameterLayout, learningRate: Double = 1e-2, alpha: Double = 0.99, epsilon: Double = 1e-8,
                weightDecay: Double = 0, momentum: Double = 0, centered: Bool = false) {
        self.learningRate = learningRate
        self.alpha = alpha
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.momentum = momentum
        self.centered = centered
        squareAverage = Buffer(count: layout.count)
        momentumBuffer = momentum > 0 ? Buffer(count: layout.count) : nil
        gradientAverage = centered ? Buffer(count: layout.count) : nil
        requireValid(configuration)
    }

    @_specialize(exported: true, where Scalar == Float)
    @_specialize(exported: true, where Scalar == Double)
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func step(_ params: ParameterSet<Scalar>, _ grads: ParameterSet<Scalar>) {
        precondition(params.layout == grads.layout, "parameter and gradient layouts differ")
        precondition(params.count == squareAverage.count, "optimizer state was made for another layout")
        stepCount += 1
        let p = params.storage.base, g = grads.storage.base, s = squareAverage.base
        let b = momentumBuffer?.base, gAvg = gradientAverage?.base
        if Scalar.self == Float.self && !scalarReference {
            rmspropUpdateSIMD8(asFloat(p), asFloat(g), asFloat(s), b.map(asFloat), gAvg.map(asFloat),
                               count: params.count, lr: learningRate, alpha: alpha, eps: epsilon,
                               weightDecay: weightDecay, momentum: momentum)
        } else {
            rmspropUpdate(p, g, s, b, gAvg, count: params.count, lr: learningRate, alpha: alpha, eps: epsilon,
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
    let lr = S(lr), a = S(alpha), c = S(1 - alpha), e = S(eps)
    let decay = weightDecay != 0, wd = S(weightDecay), mu = S(momentum)
    // grad_avg.lerp_(d, 1 − α), with torch's choice of lerp formula (see adamUpdate).
    let w = S(1 - alpha), wc = 1 - w, smallWeight = abs(w) < 0.5
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
    let lrS = S(lr), a = S(alpha), c = S(1 - alpha), e = S(eps)
    let decay = weightDecay != 0, wd = S(weightDecay), mu = S(momentum)
    let w = S(1 - alpha), wc = 1 - w, smallWeight = abs(w) < 0.5
    let end = n - n % 8
    // Flags as constants in each copy of the loop (see SGD); smallWeight stays a predictable branch.
    @inline(__always) func pass(decay: Bool, centered: Bool, momentum: Bool, smallWeight: Bool) {
        var i = 0
        while i < end {
            let pi = load8(p, i), gi = load8(g, i)
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
        rmspropUpdate(p + end, g + end, s + end, b.map { $0 + end }, gAvg.map { $0 + end }, count: n - end, lr: lr,
                      alpha: alpha, eps: eps, weightDecay: weightDecay, momentum: momentum)
    }
}

// MARK: - Adagrad

/// Adagrad exactly as torch.optim.Adagrad. With d = g + λθ and t = `stepCount` after the
/// increment:
///
///     lr_t = lr / (1 + (t − 1)·lr_decay),  s ← s + d²,  θ ← θ − lr_t·d / (√s + ε)
///
/// State: "sum" (s), starting at `initial_accumulator_value`.
public final class Adagrad<Scalar: LSTMScalar>: Optimizer {
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
    public var stepCount = 0
    /// s, the running sum of squared gradients.
    public let sum: Buffer<Scalar>
    /// Run the scalar reference loop for Float too (tests and lstm-bench compare it with the SIMD pass).
    @_spi(Reference) public var scalarReference = false
    public var stateBuffers: [(name: String, buffer: Buffer<Scalar>)] { [("sum", sum)] }

    public var configuration: OptimizerConfig {
        OptimizerConfig(name: name, lr: learningRate, weightDecay: weightDecay, eps: epsilon,
                        lrDecay: learningRateDecay, initialAccumulatorValue: initialAccumulatorValue)
    }

    /// torch.optim.Adagrad's parameters and defaults; traps on values torch rejects (any of
    /// them < 0).
    public init(layout: ParameterLayout, learningRate: Double = 1e-2, learningRateDecay: Double = 0,
                weightDecay: Double = 0, initialAccumulatorValue: Double = 0, epsilon: Double = 1e-10) {
        self.learningRate = learningRate
        self.learningRateDecay = learningRateDecay
        self.weightDecay = weightDecay
        self.initialAccumulatorValue = initialAccumulatorValue
        self.epsilon = epsilon
        sum = Buffer(count: layout.count)
        requireValid(configuration)
        sum.base.update(repeating: Scalar(initialAccumulatorValue), count: sum.count)
    }

    @_specialize(exported: true, where Scalar == Float)
    @_specialize(exported: true, where Scalar == Double)
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func step(_ params: ParameterSet<Scalar>, _ grads: ParameterSet<Scalar>) {
        precondition(params.layout == grads.layout, "parameter and gradient layouts differ")
        precondition(params.count == sum.count, "optimizer state was made for another layout")
        stepCount += 1
        let p = params.storage.base, g = grads.storage.base, s = sum.base
        let clr = learningRate / (1 + Double(stepCount - 1) * learningRateDecay)
        if Scalar.self == Float.self && !scalarReference {
            adagradUpdateSIMD8(asFloat(p), asFloat(g), asFloat(s), count: params.count, clr: clr, eps: epsilon,
                               weightDecay: weightDecay)
        } else {
            adagradUpdate(p, g, s, count: params.count, clr: clr, eps: epsilon, weightDecay: weightDecay)
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
    let clr = S(clr), decay = weightDecay != 0, wd = S(weightDecay), e = S(eps)
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
    let clrS = Float(clr), wd = Float(weightDecay), e = Float(eps)
    let end = n - n % 8
    @inline(__always) func pass(decay: Bool) {
        var i = 0
        while i < end {
            let pi = load8(p, i), gi = load8(g, i)
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
