import Foundation

/// One training step's figures.
public struct StepReport: Sendable {
    /// The step number after this update (1 for the first).
    public let step: Int
    /// Mean loss of the minibatch.
    public let loss: Double
    /// Global L2 norm of the gradient before clipping.
    public let gradientNorm: Double
    /// Whether the update was dropped by the non-finite guard.
    public let skipped: Bool
    /// B·T of the minibatch.
    public let tokens: Int
    public let seconds: Double
}

/// What to do when a loss or gradient is NaN or infinite.
public enum NonFinitePolicy: String, Sendable, Codable, CaseIterable {
    /// Drop the step (no update), count it, go on.
    case skip
    /// Throw `TrainingError.nonFinite`; the weights stay as they were before the step.
    case stop
}

/// Why training cannot go on.
public enum TrainingError: Error, CustomStringConvertible, Equatable {
    case nonFinite(step: Int, loss: Double, gradientNorm: Double)

    public var description: String {
        switch self {
        case .nonFinite(let step, let loss, let norm):
            return "non-finite values at step \(step) (loss \(loss), gradient norm \(norm)); "
                + "the update was not applied and the weights are unchanged"
        }
    }
}

/// Minibatch training with the data-parallel scheduler: gradient, non-finite guard, optional
/// clipping, update. Weights never become non-finite: a bad step is never applied.
public final class Trainer<T: LSTMScalar> {
    public let network: LSTMNetwork<T>
    public let parameters: ParameterSet<T>
    public let scheduler: DataParallelScheduler<T>
    public let optimizer: any Optimizer<T>
    /// Clip the global gradient norm to this value before each update (nil: no clipping).
    public var clipNorm: Double?
    /// Clamp every gradient element to [−v, v] before each update (nil: no clamping).
    public var clipValue: Double?
    public var nonFinitePolicy: NonFinitePolicy = .skip
    /// Seed of the dropout masks (masks also depend on the step and the sequence).
    public var dropoutSeed: UInt64 = 0
    /// Carry each shard's final (h, c) into the next minibatch (truncated BPTT on streams).
    public var carriesState = false
    /// Updates applied or skipped so far.
    public var step = 0
    /// Steps dropped by the non-finite guard.
    public private(set) var skippedSteps = 0

    private var carried: [LSTMState<T>?]

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
        carried = Array(repeating: nil, count: scheduler.shardCount)
    }

    /// Forgets carried state (call at the start of every epoch of a stateful stream).
    public func resetState() {
        for i in carried.indices { carried[i] = nil }
    }

    /// Each shard's carried (h, c), for checkpoints.
    public var carriedState: [LSTMState<T>?] { carried }

    /// Restores carried state saved from `carriedState` (same shard count), or clears it.
    public func restoreCarriedState(_ states: [LSTMState<T>?]?) {
        guard let states, states.count == carried.count else { return resetState() }
        carried = states
    }

    /// Trains on one minibatch and returns what happened.
    ///
    /// - Throws: `TrainingError.nonFinite` under the `stop` policy.
    @discardableResult
    public func train(_ batch: Minibatch<T>) throws -> StepReport {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let dropout = network.config.dropout > 0 ? DropoutContext(seed: dropoutSeed, step: step) : nil
        if carriesState, let first = carried.first ?? nil, first.h.first?.count != scheduler.shardRows(0, batch: batch.batchSize).count * network.config.hiddenSize {
            resetState()  // the minibatch shape changed: state cannot carry over
        }
        let loss = batch.withView {
            scheduler.computeGradient(parameters, $0, initialStates: carriesState ? carried : nil, dropout: dropout)
        }
        if carriesState {
            for s in 0..<scheduler.shardCount where !scheduler.shardRows(s, batch: batch.batchSize).isEmpty {
                carried[s] = scheduler.finalState(shard: s)
            }
        }
        let grads = scheduler.gradients
        let norm = gradientNorm(grads)
        step += 1
        let finite = loss.mean.isFinite && norm.isFinite
        if finite {
            if let clipValue { clipGradientValue(grads, clipValue: clipValue) }
            // After value clipping the norm has changed; otherwise reuse the one just taken.
            if let clipNorm { clipGradientNorm(grads, maxNorm: clipNorm, knownNorm: clipValue == nil ? norm : nil) }
            optimizer.step(parameters, grads)
        } else {
            skippedSteps += 1
            if nonFinitePolicy == .stop { throw TrainingError.nonFinite(step: step, loss: loss.mean, gradientNorm: norm) }
            if carriesState { resetState() }  // the carried state may be poisoned too
        }
        let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        return StepReport(step: step, loss: loss.mean, gradientNorm: norm, skipped: !finite,
                          tokens: batch.batchSize * batch.steps, seconds: dt)
    }
}
