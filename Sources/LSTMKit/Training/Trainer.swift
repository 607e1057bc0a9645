import Foundation

/// One training step's figures.
public struct StepReport: Sendable {
    public let step: Int
    public let loss: Double
    public let gradientNorm: Double
    public let tokens: Int
    public let seconds: Double
}

/// Minibatch training with the data-parallel scheduler: gradient, optional clipping, update.
public final class Trainer<T: LSTMScalar> {
    public let network: LSTMNetwork<T>
    public let parameters: ParameterSet<T>
    public let scheduler: DataParallelScheduler<T>
    public let optimizer: any Optimizer<T>
    /// Clip the global gradient norm to this value before each update (nil: no clipping).
    public var clipNorm: Double?
    public private(set) var step = 0

    public init(
        network: LSTMNetwork<T>, parameters: ParameterSet<T>, optimizer: any Optimizer<T>,
        maxBatch: Int, maxSteps: Int, shards: Int? = nil, workers: Int? = nil, clipNorm: Double? = nil
    ) {
        self.network = network
        self.parameters = parameters
        self.optimizer = optimizer
        self.clipNorm = clipNorm
        scheduler = DataParallelScheduler(
            network: network, maxBatch: maxBatch, maxSteps: maxSteps, shards: shards, workers: workers)
    }

    /// Trains on one minibatch and returns what happened.
    @discardableResult
    public func train(_ batch: Minibatch<T>) -> StepReport {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let loss = batch.withView { scheduler.computeGradient(parameters, $0) }
        let grads = scheduler.gradients
        let norm = clipNorm.map { clipGradientNorm(grads, maxNorm: $0) } ?? .nan
        optimizer.step(parameters, grads)
        step += 1
        let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        return StepReport(step: step, loss: loss.mean, gradientNorm: norm, tokens: batch.batchSize * batch.steps, seconds: dt)
    }

    /// Mean loss of `batch` without updating anything (uses shard 0's workspace size limits).
    public func evaluate(_ batch: Minibatch<T>, chunk: Int? = nil) -> LossSum {
        let ws = Workspace<T>(config: network.config, maxBatch: min(batch.batchSize, chunk ?? scheduler.maxBatch),
                              maxSteps: batch.steps)
        return batch.withView { view in
            var total = LossSum()
            var start = 0
            while start < view.batchSize {
                let end = min(view.batchSize, start + ws.maxBatch)
                total = total + network.forward(parameters, view.rows(start..<end), workspace: ws)
                start = end
            }
            return total
        }
    }
}
