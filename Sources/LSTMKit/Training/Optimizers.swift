import Foundation

// Parameter updates as flat loops over the arena (parameters, gradients and optimizer state
// share one layout). Update rules and names follow torch.optim.

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
    /// Applies one update to `params` from `grads` (same layout).
    func step(_ params: ParameterSet<Scalar>, _ grads: ParameterSet<Scalar>)
}

/// Plain stochastic gradient descent: θ ← θ − lr·g.
public final class SGD<Scalar: LSTMScalar>: Optimizer {
    public var name: String { "sgd" }
    public var learningRate: Double
    public var stepCount = 0
    public var stateBuffers: [(name: String, buffer: Buffer<Scalar>)] { [] }

    public init(learningRate: Double) { self.learningRate = learningRate }

    @_specialize(exported: true, where Scalar == Float)
    @_specialize(exported: true, where Scalar == Double)
    public func step(_ params: ParameterSet<Scalar>, _ grads: ParameterSet<Scalar>) {
        precondition(params.layout == grads.layout, "parameter and gradient layouts differ")
        let p = params.storage.base, g = grads.storage.base, lr = Scalar(learningRate)
        for i in 0..<params.count { p[i] -= lr * g[i] }
        stepCount += 1
    }
}

/// Adam (Kingma & Ba), exactly as torch.optim.Adam without weight decay or amsgrad:
/// m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², θ ← θ − lr·m̂ / (√v̂ + ε), with bias corrections.
public final class Adam<Scalar: LSTMScalar>: Optimizer {
    public var name: String { "adam" }
    public var learningRate: Double
    public let beta1: Double, beta2: Double, epsilon: Double
    /// Steps taken so far (t in the bias corrections).
    public var stepCount = 0
    public var stateBuffers: [(name: String, buffer: Buffer<Scalar>)] { [("exp_avg", m), ("exp_avg_sq", v)] }
    /// First and second moments, mirroring the parameter arena.
    public let m: Buffer<Scalar>, v: Buffer<Scalar>

    public init(layout: ParameterLayout, learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999,
                epsilon: Double = 1e-8) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        m = Buffer(count: layout.count)
        v = Buffer(count: layout.count)
    }

    @_specialize(exported: true, where Scalar == Float)
    @_specialize(exported: true, where Scalar == Double)
    public func step(_ params: ParameterSet<Scalar>, _ grads: ParameterSet<Scalar>) {
        precondition(params.count == m.count, "optimizer state was made for another layout")
        stepCount += 1
        let b1 = Scalar(beta1), b2 = Scalar(beta2)
        let c1 = 1 - Foundation.pow(beta1, Double(stepCount)), c2 = 1 - Foundation.pow(beta2, Double(stepCount))
        let stepSize = Scalar(learningRate / c1), rootC2 = Scalar(c2.squareRoot()), eps = Scalar(epsilon)
        let p = params.storage.base, g = grads.storage.base, mm = m.base, vv = v.base
        for i in 0..<params.count {
            let gi = g[i]
            mm[i] = b1 * mm[i] + (1 - b1) * gi
            vv[i] = b2 * vv[i] + (1 - b2) * gi * gi
            p[i] -= stepSize * mm[i] / ((vv[i]).squareRoot() / rootC2 + eps)
        }
    }
}

/// Scales `grads` so that its global L2 norm is at most `maxNorm` (torch's
/// `clip_grad_norm_`); returns the norm before clipping.
@discardableResult
public func clipGradientNorm<T: LSTMScalar>(_ grads: ParameterSet<T>, maxNorm: Double) -> Double {
    let g = grads.storage.base
    var sum = 0.0
    for i in 0..<grads.count { sum += Double(g[i]) * Double(g[i]) }
    let norm = sum.squareRoot()
    let factor = maxNorm / (norm + 1e-6)
    if factor < 1 {
        let f = T(factor)
        for i in 0..<grads.count { g[i] *= f }
    }
    return norm
}
