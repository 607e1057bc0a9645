import LSTMKit
import XCTest

/// A small model configuration for tests.
func tinyConfig(
    input: InputKind = .features(size: 3), hidden: Int = 4, layers: Int = 2, output: Int = 3,
    activation: OutputActivation? = nil, head: Head = .sequence, loss: LossKind = .crossEntropy,
    initialization: Initialization = .pytorch, bidirectional: Bool = false, dropout: Double = 0
) -> ModelConfig {
    ModelConfig(
        input: input, hiddenSize: hidden, numLayers: layers, outputSize: output,
        activation: activation, head: head, loss: loss, initialization: initialization,
        bidirectional: bidirectional, dropout: dropout)
}

/// A random minibatch (Double) with inputs and targets that fit `config`.
func randomBatch(_ config: ModelConfig, batch b: Int, steps t: Int, seed: UInt64) -> Minibatch<Double> {
    var rng = RandomSource(seed: seed)
    let inputs: Minibatch<Double>.Inputs
    switch config.input {
    case .features(let i): inputs = .features((0..<(b * t * i)).map { _ in rng.normal() })
    case .tokens(let v, _): inputs = .tokens((0..<(b * t)).map { _ in Int32(rng.index(below: v)) })
    }
    let rows = config.head == .sequence ? b * t : b
    let o = config.outputSize
    let targets: Minibatch<Double>.Targets
    switch config.loss {
    case .crossEntropy: targets = .classes((0..<rows).map { _ in Int32(rng.index(below: o)) })
    case .bce: targets = .values((0..<(rows * o)).map { _ in rng.nextUnit() })
    case .mse:
        let lo = config.activation == .sigmoid || config.activation == .softmax ? 0.0 : -0.9
        targets = .values((0..<(rows * o)).map { _ in rng.uniform(lo, 0.9) })
    }
    return Minibatch(batchSize: b, steps: t, inputs: inputs, targets: targets)
}

/// The same minibatch with features converted to another scalar type.
func convert<U: LSTMScalar>(_ m: Minibatch<Double>, to: U.Type) -> Minibatch<U> {
    let inputs: Minibatch<U>.Inputs
    switch m.inputs {
    case .features(let x): inputs = .features(x.map { U($0) })
    case .tokens(let ids): inputs = .tokens(ids)
    }
    var targets: Minibatch<U>.Targets?
    switch m.targets {
    case .none: targets = nil
    case .classes(let c): targets = .classes(c)
    case .values(let v): targets = .values(v.map { U($0) })
    }
    return Minibatch(batchSize: m.batchSize, steps: m.steps, inputs: inputs, targets: targets)
}

/// max(a, b) that keeps NaN (Swift.max returns the other operand and so silently drops it).
func maxKeepingNaN(_ a: Double, _ b: Double) -> Double { a.isNaN || b.isNaN ? .nan : max(a, b) }

/// Mean loss and its gradient (a fresh arena) for one minibatch.
func lossAndGradient<T: LSTMScalar>(
    _ net: LSTMNetwork<T>, _ params: ParameterSet<T>, _ batch: Minibatch<T>,
    initialState: LSTMState<T>? = nil, inputGradient: Bool = false, dropout: DropoutContext? = nil
) -> (loss: Double, grads: ParameterSet<T>, inputGrad: [T]?, outputs: [T]) {
    let ws = Workspace<T>(
        config: net.config, maxBatch: batch.batchSize, maxSteps: batch.steps,
        computesInputGradient: inputGradient)
    let grads = ParameterSet<T>(config: net.config)
    let loss = batch.withView {
        net.lossAndGradient(params, $0, workspace: ws, into: grads, initialState: initialState, dropout: dropout)
    }
    return (loss.mean, grads, inputGradient ? ws.inputGradient() : nil, ws.outputs())
}

/// Mean loss of one forward pass.
func meanLoss<T: LSTMScalar>(
    _ net: LSTMNetwork<T>, _ params: ParameterSet<T>, _ batch: Minibatch<T>, _ ws: Workspace<T>,
    initialState: LSTMState<T>? = nil, dropout: DropoutContext? = nil
) -> Double {
    batch.withView { net.forward(params, $0, workspace: ws, initialState: initialState, dropout: dropout) }.mean
}
