import Foundation

// How the training path stays specialised (read this before adding a generic entry point).
//
// The model code is generic over `LSTMScalar` (Float trains, Double checks gradients), and a
// generic function called from another module (LSTMRun, the CLI, a user's package) runs its
// unspecialised body: every `+` and `*` then goes through `Numeric` witness tables and value
// witnesses, 3–5× slower (measured: ~50% of `lstm train`'s instructions were Swift's generic
// runtime before this rule). So every public generic entry point that other modules call per
// step — `Trainer.train`, `ShardWorkers.computeGradient`, `LSTMNetwork.forward`,
// `backward`, `lossAndGradient`, each optimizer's `beginStep` and `update` (its `step` is the two),
// the clipping functions — carries two pairs of `@_specialize`:
//   - `@_specialize(exported: true, where T == Float)` (and Double) emits public Float/Double
//     bodies that a caller which knows T may call directly;
//   - `@_specialize(where T == Float)` (and Double) makes the generic body test T at run time
//     and jump to the specialised one — this is what reaches callers holding a generic or
//     existential (`Trainer<T>` from another module, `any Optimizer<T>`).
// Inside a specialised body everything the module calls is specialised by the optimiser
// (whole-module optimisation in release builds). `scripts/check-fast-path.sh` (run by CI)
// counts the instructions of a tiny `lstm train` under callgrind and fails when more than 2%
// are Swift's generic runtime, i.e. when some entry point lost its pair.

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
    /// B·T of the minibatch (the whole minibatch, over all processes).
    public let tokens: Int
    public let seconds: Double
}

/// What to do when a loss or gradient is NaN or infinite, or an update makes the weights (or the
/// optimizer's state) NaN or infinite (e.g. a learning rate of 1e308).
public enum NonFinitePolicy: String, Sendable, Codable, CaseIterable {
    /// Drop the step (no update, or the update undone), count it, go on.
    case skip
    /// Throw `TrainingError`; the weights stay as they were before the step.
    case stop
}

/// Why training cannot go on.
public enum TrainingError: Error, CustomStringConvertible, Equatable {
    case nonFinite(step: Int, loss: Double, gradientNorm: Double)
    /// The update of `step` (finite loss and gradient) made a weight or optimizer state value
    /// NaN or infinite; it was undone.
    case nonFiniteWeights(step: Int, learningRate: Double)

    public var description: String {
        switch self {
        case .nonFinite(let step, let loss, let norm):
            return "non-finite values at step \(step) (loss \(loss), gradient norm \(norm)); "
                + "the update was not applied and the weights are unchanged"
        case .nonFiniteWeights(let step, let lr):
            return "the update at step \(step) made the weights or the optimizer state non-finite "
                + "(learning rate \(lr); is it too large?); the update was undone and the weights are "
                + "as before the step"
        }
    }
}

/// Minibatch training with the shard workers: gradient, non-finite guard, optional
/// clipping, update. Weights never become non-finite: a bad step is never applied.
public final class Trainer<T: LSTMScalar> {
    public let network: LSTMNetwork<T>
    public let parameters: ParameterSet<T>
    /// The threads that run the shards (and the exact reduction across processes).
    public let shardWorkers: ShardWorkers<T>
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
    /// The update, its backup and its finite check (undone when non-finite).
    private let update: GuardedUpdate<T>

    /// How the arena is sliced over the processes (ZeRO stage 1): this process's gradient is
    /// reduced, clipped and its weights updated on `slices.range(rank)` only, then the weights are
    /// all-gathered. One slice (the whole arena) in one process.
    public let slices: ArenaSlices
    /// With several processes: every block's sum of squares (the gradient norm's parts), and the
    /// byte counts and offsets of the all-gathers of those sums and of the weights.
    private let blockSums: UnsafeMutablePointer<Double>
    private let blockCounts: [Int32], blockOffsets: [Int32]
    private let weightCounts: [Int32], weightOffsets: [Int32]

    public init(
        network: LSTMNetwork<T>, parameters: ParameterSet<T>, optimizer: any Optimizer<T>,
        maxBatch: Int, maxSteps: Int, shards: Int? = nil, workers: Int? = nil, clipNorm: Double? = nil,
        group: any ProcessGroup = SingleProcess(), partition: ShardPartition? = nil, accumulate: Int = 1,
        overlap: Bool = false
    ) {
        self.network = network
        self.parameters = parameters
        self.optimizer = optimizer
        self.clipNorm = clipNorm
        let slices = ArenaSlices(count: parameters.count, worldSize: group.worldSize)
        self.slices = slices
        precondition(
            group.worldSize == 1 || optimizer.slice == slices.range(group.rank),
            "with \(group.worldSize) processes the optimizer of rank \(group.rank) must be made for its slice \(slices.range(group.rank)) (OptimizerConfig.makeOptimizer(layout:slice:)), not \(String(describing: optimizer.slice))"
        )
        let n = group.worldSize
        blockSums = .allocate(capacity: max(1, slices.blocks))
        blockCounts = (0..<n).map { Int32(8 * slices.blockRange($0).count) }
        blockOffsets = (0..<n).map { Int32(8 * slices.blockRange($0).lowerBound) }
        let f = MemoryLayout<T>.stride
        precondition(parameters.count * f <= Int(Int32.max), "the weights' all-gather exceeds 2 GiB")
        weightCounts = (0..<n).map { Int32(f * slices.range($0).count) }
        weightOffsets = (0..<n).map { Int32(f * slices.range($0).lowerBound) }
        shardWorkers = ShardWorkers(
            network: network, maxBatch: maxBatch, maxSteps: maxSteps, shards: shards, workers: workers,
            group: group, partition: partition, rounds: accumulate, overlap: overlap)
        carried = Array(repeating: nil, count: shardWorkers.shardCount)
        update = GuardedUpdate(
            parameters: parameters, optimizer: optimizer, range: slices.range(group.rank),
            workers: shardWorkers.workerCount)
    }

    deinit { blockSums.deallocate() }

    /// The elements of the arena this process clips and updates (all of them in one process).
    public var updatedRange: Range<Int> { slices.range(shardWorkers.group.rank) }

    /// The gradient norm in `gradientNorm`'s order: each block's sum of squares (of this rank's
    /// reduced slice, on the shard workers), all-gathered with several processes, then added in block
    /// order.
    private func globalNorm(_ grads: ParameterSet<T>) -> Double {
        let group = shardWorkers.group
        blockSumsOfSquares(
            grads, blocks: slices.blockRange(group.rank), into: blockSums, workers: shardWorkers.workerCount)
        if group.worldSize > 1 {
            blockCounts.withUnsafeBufferPointer { c in
                blockOffsets.withUnsafeBufferPointer { o in group.allGather(inPlace: blockSums, counts: c, offsets: o) }
            }
        }
        var total = 0.0
        for b in 0..<slices.blocks { total += blockSums[b] }
        return total.squareRoot()
    }

    /// Forgets carried state (call at the start of every epoch of a stateful stream).
    public func resetState() {
        for i in carried.indices { carried[i] = nil }
    }

    /// Each shard's carried (h, c), for checkpoints, indexed by global shard (with several
    /// processes only this process's shards are filled; the others are nil).
    public var carriedState: [LSTMState<T>?] { carried }

    /// Restores carried state saved from `carriedState` (same shard count), or clears it.
    public func restoreCarriedState(_ states: [LSTMState<T>?]?) {
        guard let states, states.count == carried.count else { return resetState() }
        carried = states
    }

    /// Trains on one minibatch (or, with several processes, this process's rows of it: see
    /// `Minibatch.globalBatchSize`) and returns what happened; every process gets the same report
    /// and applies the same update.
    ///
    /// - Throws: `TrainingError.nonFinite` under the `stop` policy.
    @discardableResult
    @_specialize(exported:true,where T == Float)
    @_specialize(exported:true,where T == Double)
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func train(_ batch: Minibatch<T>) throws -> StepReport {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let dropout = network.config.dropout > 0 ? DropoutContext(seed: dropoutSeed, step: step) : nil
        let globalBatch = batch.globalBatchSize ?? batch.batchSize
        let firstShard = shardWorkers.localShards.lowerBound
        if carriesState, let first = carried[firstShard],
            first.h.first?.count != shardWorkers.shardRows(firstShard, batch: globalBatch).count
                * network.config.hiddenSize(0)
        {
            resetState()  // the minibatch shape changed: state cannot carry over
        }
        // The local shards, then the reduction across processes (a no-op in one process).
        let loss = batch.withView {
            shardWorkers.computeGradient(
                parameters, $0, initialStates: carriesState ? carried : nil, dropout: dropout,
                globalBatchSize: globalBatch)
        }
        if carriesState {
            for s in shardWorkers.localShards where !shardWorkers.shardRows(s, batch: globalBatch).isEmpty {
                carried[s] = shardWorkers.finalState(shard: s)
            }
        }
        // With several processes the gradient is valid on this rank's slice only (reduce-scatter).
        let grads = shardWorkers.gradients
        let group = shardWorkers.group
        let range = updatedRange
        let norm = globalNorm(grads)
        step += 1
        let finite = loss.mean.isFinite && norm.isFinite
        if finite {
            if let clipValue { clipGradientValue(grads, clipValue: clipValue, range: range) }
            // After value clipping the norm has changed; otherwise reuse the one just taken.
            if let clipNorm {
                clipGradientNorm(
                    grads, maxNorm: clipNorm, knownNorm: clipValue == nil ? norm : globalNorm(grads), range: range)
            }
            let stepCount = optimizer.stepCount
            var updateFinite = update.apply(grads, workers: shardWorkers.workerCount)
            if group.worldSize > 1 { updateFinite = !group.any(!updateFinite) }
            if !updateFinite {
                update.restore()
                optimizer.stepCount = stepCount
                skippedSteps += 1
                if nonFinitePolicy == .stop {
                    throw TrainingError.nonFiniteWeights(step: step, learningRate: optimizer.learningRate)
                }
                let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
                return StepReport(
                    step: step, loss: loss.mean, gradientNorm: norm, skipped: true,
                    tokens: globalBatch * batch.steps, seconds: dt)
            }
            if group.worldSize > 1 {  // every rank updated its slice: gather the others'
                let base = UnsafeMutableRawPointer(parameters.storage.base)
                weightCounts.withUnsafeBufferPointer { c in
                    weightOffsets.withUnsafeBufferPointer { o in group.allGather(inPlace: base, counts: c, offsets: o) }
                }
            }
        } else {
            skippedSteps += 1
            if nonFinitePolicy == .stop {
                throw TrainingError.nonFinite(step: step, loss: loss.mean, gradientNorm: norm)
            }
            if carriesState { resetState() }  // the carried state may be poisoned too
        }
        let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        return StepReport(
            step: step, loss: loss.mean, gradientNorm: norm, skipped: !finite,
            tokens: globalBatch * batch.steps, seconds: dt)
    }

    /// The optimizer's state buffers over the whole arena, by name, for a checkpoint. A collective
    /// with several processes (each holds only its slice, ZeRO stage 1): rank 0 receives every
    /// rank's slice and gets the whole buffers, the other ranks get nil.
    public func gatheredOptimizerState() -> [String: [T]]? {
        let buffers = optimizer.stateBuffers
        let group = shardWorkers.group
        guard group.worldSize > 1 else {
            return Dictionary(uniqueKeysWithValues: buffers.map { ($0.name, $0.buffer.toArray()) })
        }
        var mine: [UInt8] = []
        for (_, buffer) in buffers {
            mine += UnsafeRawBufferPointer(start: buffer.base, count: buffer.count * MemoryLayout<T>.stride)
        }
        guard let all = group.gatherToRoot(mine) else { return nil }
        var out: [String: [T]] = [:]
        for (k, (name, _)) in buffers.enumerated() {
            var whole = [T](repeating: 0, count: parameters.count)
            for r in 0..<group.worldSize {
                let range = slices.range(r)
                let at = k * range.count * MemoryLayout<T>.stride
                precondition(
                    all[r].count == buffers.count * range.count * MemoryLayout<T>.stride, "rank \(r)'s optimizer state")
                all[r].withUnsafeBytes { bytes in
                    whole.withUnsafeMutableBufferPointer { w in
                        for i in 0..<range.count {
                            w[range.lowerBound + i] = bytes.loadUnaligned(
                                fromByteOffset: at + i * MemoryLayout<T>.stride, as: T.self)
                        }
                    }
                }
            }
            out[name] = whole
        }
        return out
    }
}
