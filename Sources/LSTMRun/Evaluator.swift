import Foundation
import LSTMData
import LSTMKit

/// Loss and metrics over a split.
public struct EvaluationResult: Sendable, Equatable {
    /// Mean loss over all target elements.
    public var loss: Double
    /// Classification: fraction of (valid) predictions whose argmax is the target class.
    public var accuracy: Double?
    /// Token models: e^loss.
    public var perplexity: Double?
    /// Float targets: mean squared and mean absolute error of y = F(z) against the targets.
    public var mse: Double?
    public var mae: Double?
    /// Target elements seen.
    public var count: Int
}

/// Runs the model without dropout over minibatches and accumulates loss and metrics.
public final class Evaluator {
    let network: LSTMNetwork<Float>
    let parameters: ParameterSet<Float>
    let workspace: Workspace<Float>

    public init(network: LSTMNetwork<Float>, parameters: ParameterSet<Float>, maxBatch: Int, maxSteps: Int) {
        self.network = network
        self.parameters = parameters
        workspace = Workspace(config: network.config, maxBatch: maxBatch, maxSteps: maxSteps)
    }

    /// One pass over `loader`'s current epoch (at most `maxBatches` minibatches).
    ///
    /// - Parameter carryState: carry (h, c) from one minibatch to the next (stateful streams).
    public func evaluate(_ loader: BatchLoader, maxBatches: Int? = nil, carryState: Bool = false) throws
        -> EvaluationResult
    {
        var acc = Accumulator(config: network.config)
        var state: LSTMState<Float>?
        var n = 0
        while let batch = try loader.next() {
            if let maxBatches, n >= maxBatches {
                continue  // drain the epoch so the loader ends where it started
            }
            if state.map({ $0.h[0].count != batch.batchSize * network.config.hiddenSize(0) }) ?? false { state = nil }
            acc.add(
                batch,
                loss: batch.withView { network.forward(parameters, $0, workspace: workspace, initialState: state) },
                outputs: workspace.outputs())
            if carryState { state = workspace.finalState() }
            n += 1
        }
        return acc.result
    }

    /// Loss and metrics of one minibatch.
    public func evaluate(_ batch: Minibatch<Float>) -> EvaluationResult {
        var acc = Accumulator(config: network.config)
        acc.add(
            batch, loss: batch.withView { network.forward(parameters, $0, workspace: workspace) },
            outputs: workspace.outputs())
        return acc.result
    }

    struct Accumulator {
        let config: ModelConfig
        var loss = LossSum()
        var correct = 0, predictions = 0
        var squared = 0.0, absolute = 0.0, values = 0

        init(config: ModelConfig) { self.config = config }

        /// `outputs` batch-major [B, T, O] or [B, O]; padding rows (past a length) are skipped.
        mutating func add(_ batch: Minibatch<Float>, loss l: LossSum, outputs y: [Float]) {
            loss = loss + l
            let o = config.outputSize
            let b = batch.batchSize
            let t = batch.steps
            let perStep = config.head == .sequence
            func valid(_ row: Int) -> Bool {
                guard perStep, let lengths = batch.lengths else { return true }
                return row % t < Int(lengths[row / t])
            }
            let rows = perStep ? b * t : b
            switch batch.targets {
            case .classes(let ids):
                for r in 0..<rows where valid(r) {
                    var best = 0
                    for j in 1..<o where y[r * o + j] > y[r * o + best] { best = j }
                    if best == Int(ids[r]) { correct += 1 }
                    predictions += 1
                }
            case .values(let v):
                for r in 0..<rows where valid(r) {
                    for j in 0..<o {
                        let d = Double(y[r * o + j]) - Double(v[r * o + j])
                        squared += d * d
                        absolute += abs(d)
                        values += 1
                    }
                }
            case .none: break
            }
        }

        var result: EvaluationResult {
            var r = EvaluationResult(loss: loss.mean, count: loss.count)
            if predictions > 0 { r.accuracy = Double(correct) / Double(predictions) }
            if case .tokens = config.input, config.loss == .crossEntropy { r.perplexity = Foundation.exp(loss.mean) }
            if values > 0 {
                r.mse = squared / Double(values)
                r.mae = absolute / Double(values)
            }
            return r
        }
    }
}
