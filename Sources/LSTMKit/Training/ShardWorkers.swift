import Dispatch
import Foundation

/// The shard workers (data parallelism inside one process): each minibatch is cut into S shards
/// of whole sequences, the shards run forward and backward on W Dispatch worker threads, and their
/// gradients are reduced in a fixed pairwise tree over shard indices (`ExactReduction`, which also
/// takes the step across processes). This type only does the threading.
///
/// Results depend on S and never on W: shard s always covers the same rows, owns its own
/// workspace and gradient arena, and the reduction order is a function of s alone. So a run
/// with S = 4 gives the same bits on a machine with 1, 2 or 8 cores.
///
/// Threading rule (measured with `lstm-bench scheduler` and `lstm-train-bench` on the 2-core
/// development machines; figures in docs/results/README.md). Two ways to use the cores:
///   - shards: S > 1 workers each run whole sequences, and every BLAS call inside a worker is
///     single-threaded (nested OpenBLAS threads would oversubscribe the cores and make results
///     depend on W);
///   - BLAS threads: S = 1, and OpenBLAS splits each GEMM over the cores.
/// Shards win wherever the per-step recurrent GEMM is small or medium — at H ≤ 512 splitting the
/// tiny (B, H)·(H, 4H) products over threads costs more in synchronisation than it saves, while
/// shards synchronise once per minibatch (H = 256, B = 32, 2 layers: 1.85× one thread with two
/// shards, 1.38× with two BLAS threads). Down to 16 sequences per shard the GEMMs keep their
/// efficiency. BLAS threads win only when that GEMM is large (≥ 2^28 FLOPs, e.g. B = 64,
/// H = 1024: 1.61× against 1.39× for two shards). With one shard for want of sequences
/// (B < 32 on 2 cores), BLAS threads are used when the per-step GEMM is ≥ 2^24 FLOPs; below that
/// OpenBLAS's threads spin between the tiny calls (half a small run's time was system time).
/// With our own GEMM kernel (the default on AVX-512 CPUs), which runs each call on one thread,
/// shards are used at every H (H = 1024 on one shard left a core idle).
///
/// Gradient accumulation (`rounds` K > 1, `training.accumulate`): the minibatch is K micro-batches
/// and S = K·S₁ shards; this process runs its local shards in K rounds of at most ⌈local/K⌉, each
/// round on the same workspaces (memory for one micro-batch's rows). After each round the tree's
/// additions whose operands are complete are done and their arenas reused (`RoundPlan`): the same
/// additions on the same operands as the tree over all S shard indices, so the bits are those of
/// one K-times-larger minibatch with S shards.
public final class ShardWorkers<T: LSTMScalar>: @unchecked Sendable {
    public let network: LSTMNetwork<T>
    /// S: how many pieces each minibatch is cut into (over all processes).
    public let shardCount: Int
    /// W: how many threads run shards at once (W ≤ the shards of a round).
    public let workerCount: Int
    /// K: the rounds the local shards run in (gradient accumulation); 1 without.
    public let rounds: Int
    /// The local shards of one round, and so the workspaces: ⌈local shards / K⌉.
    public let shardsPerRound: Int
    /// OpenBLAS threads per call while these workers run.
    public let blasThreads: Int
    public let maxBatch: Int
    public let maxSteps: Int
    /// How the S shards are dealt to processes, and which of them this process runs.
    public let partition: ShardPartition
    /// The processes this one trains with (`SingleProcess` for one process).
    public let group: any ProcessGroup

    /// The shards this process runs (all of them in one process).
    public var localShards: Range<Int> { partition.localShards }

    /// The reduced gradient of the last `computeGradient` (mean loss over the whole minibatch);
    /// with several processes only this rank's slice (`ArenaSlices`) of it is valid.
    public var gradients: ParameterSet<T> { shardGradients[roundPlan.arenaOfShard[0]] }

    /// Indexed by local shard modulo `shardsPerRound` (one per shard of a round).
    private let workspaces: [Workspace<T>]
    /// The gradient arenas; local shard j (global shard − localShards.lowerBound) writes
    /// `roundPlan.arenaOfShard[j]`, which is its own unless rounds let it reuse a reduced one.
    private let shardGradients: [ParameterSet<T>]
    /// Which arena each shard writes and which tree additions follow each round.
    public let roundPlan: RoundPlan
    /// Per-shard loss slots, each written by the worker that runs the shard.
    private let lossSlots: UnsafeMutableBufferPointer<LossSum>
    /// The fixed-order tree over the shard arenas, within and across processes.
    private let reduction: ExactReduction<T>
    /// With `overlap`: the gradient buckets' readiness (shared by the workspaces' backward), the
    /// thread that runs the overlapped round's workers, and that round's job and index.
    private let bucketReadiness: BucketReadiness?
    private let roundThread: RoundThread?
    private var pendingJob: RoundJob?
    private var overlapRound = 0
    /// The gradient buckets exchanged while the last round's backward runs (`GradientBuckets`;
    /// several processes with `overlap` only), or 0 when the exchange does not overlap.
    public var overlappedBuckets: Int { bucketReadiness?.count ?? 0 }
    /// The local shards' per-step GEMMs computed together (`StepGroup`), or nil: only when every
    /// shard of a round has its own worker (W = shards per round > 1), so all of them run at once on distinct
    /// threads, and the per-step GEMMs run our packed kernel (Float on `lstm avx512`/`avx2`).
    /// The bits are the same with or without it.
    public let stepGroup: StepGroup?

    /// The shard count used when none is given (the threading rule above): one shard per active
    /// core with at least 16 sequences each, or one shard when the per-step GEMM is large enough
    /// for BLAS threads to win.
    public static func defaultShardCount(
        batchSize: Int, hidden: Int, cores: Int = ProcessInfo.processInfo.activeProcessorCount,
        threadedGEMM: Bool = GEMMKernel.current == .openblas
    ) -> Int {
        // BLAS threads are an option only when OpenBLAS runs the GEMMs: our own kernel
        // (GEMMKernel, Tensor/Scalar.swift) runs each call on one thread, so shards use the cores.
        if threadedGEMM && stepFlops(batch: batchSize, hidden: hidden) >= 1 << 28 { return 1 }
        return max(1, min(cores, batchSize / 16))
    }

    /// The shard count of a multi-process job when none is given: a function of B alone (one
    /// shard per 16 sequences), so N processes on any machines give the same S — and so the
    /// same bits. (A one-process run's default depends on its cores; pin `parallel.shards` to
    /// compare it bit for bit with a multi-process run.)
    public static func defaultDistributedShardCount(batchSize: Int) -> Int { max(1, batchSize / 16) }

    /// S: `requested` (`parallel.shards`), else `defaultDistributedShardCount` in several processes
    /// and `defaultShardCount` in one (H: the widest layer). The run plan (LSTMRun) calls this too.
    public static func shardCount(
        _ requested: Int?, batchSize: Int, hidden: Int, worldSize: Int,
        cores: Int = ProcessInfo.processInfo.activeProcessorCount
    ) -> Int {
        requested
            ?? (worldSize > 1
                ? defaultDistributedShardCount(batchSize: batchSize)
                : defaultShardCount(batchSize: batchSize, hidden: hidden, cores: cores))
    }

    /// Whether a multi-process run overlaps its gradient exchange with backpropagation when
    /// `parallel.overlap` is not given: with two layers or more (with one, only the head's small
    /// bucket could be in flight while layer 0 computes) and a core of this process's share left
    /// over by its `workers`. The main thread drives the exchange (MPI's progress, TCP and the
    /// shared-memory copies are CPU work); on a core that also computes it stretched the exchange
    /// as much as it hid (docs/results/mpi.md, "Overlap"), so with every core computing it is off.
    public static func defaultOverlap(layers: Int, workers: Int, coresPerProcess: Int) -> Bool {
        layers >= 2 && workers < coresPerProcess
    }

    /// FLOPs of one step's recurrent GEMM h⁽ᵗ⁻¹⁾ Rᵀ, (B, H)·(H, 4H).
    static func stepFlops(batch: Int, hidden: Int) -> Int { 2 * batch * hidden * 4 * hidden }

    /// - Parameters:
    ///   - shards: S; defaults to `defaultShardCount(batchSize: maxBatch, hidden:)` in one
    ///     process and `defaultDistributedShardCount` in several.
    ///   - workers: W; defaults to min(local shards, active cores); clamped to the local shards.
    ///   - blasThreads: overrides the BLAS threading rule above (benchmarks only).
    ///   - group: the processes this one trains with (default: just this one).
    ///   - partition: how the S shards are dealt to the processes (default:
    ///     `group.partition(shards: S)`); pass the one the data loader uses.
    ///   - rounds: K, the rounds the local shards run in on ⌈local/K⌉ workspaces (gradient
    ///     accumulation; S and `maxBatch` are then the whole K micro-batches').
    ///   - stepGroupMode: when to share the per-step GEMMs (`StepGroup`; default `StepGroup.mode`).
    public init(
        network: LSTMNetwork<T>, maxBatch: Int, maxSteps: Int, shards: Int? = nil, workers: Int? = nil,
        blasThreads: Int? = nil, group: any ProcessGroup = SingleProcess(), partition: ShardPartition? = nil,
        rounds: Int = 1, stepGroupMode: StepGroup.Mode = StepGroup.mode, overlap: Bool = false
    ) {
        precondition(rounds >= 1, "rounds must be ≥ 1")
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let h = network.config.hiddenSize  // the widest layer when widths differ
        let s =
            partition?.shards
            ?? Self.shardCount(shards, batchSize: maxBatch, hidden: h, worldSize: group.worldSize, cores: cores)
        precondition(s >= 1, "shard count must be ≥ 1")
        self.network = network
        self.shardCount = s
        self.group = group
        let partition = partition ?? group.partition(shards: s)
        precondition(
            partition.shards == s && partition.rank == group.rank && partition.worldSize == group.worldSize,
            "\(partition) is not a partition of \(s) shards over rank \(group.rank) of \(group.worldSize)")
        self.partition = partition
        let local = partition.localShards
        let perRound = (local.count + rounds - 1) / rounds
        self.rounds = rounds
        self.shardsPerRound = perRound
        self.workerCount = max(1, min(workers ?? min(perRound, cores), perRound))
        self.blasThreads = blasThreads ?? (s == 1 && Self.stepFlops(batch: maxBatch, hidden: h) >= 1 << 24 ? cores : 1)
        self.maxBatch = maxBatch
        self.maxSteps = maxSteps
        let rowsPerShard = max(1, (maxBatch + s - 1) / s)
        workspaces = (0..<perRound).map { _ in
            Workspace(config: network.config, maxBatch: rowsPerShard, maxSteps: maxSteps)
        }
        let plan = RoundPlan(partition: partition, rounds: rounds)
        roundPlan = plan
        shardGradients = (0..<plan.arenas).map { _ in ParameterSet(config: network.config) }
        lossSlots = .allocate(capacity: local.count)
        lossSlots.initialize(repeating: LossSum())
        let overlapping = overlap && group.worldSize > 1
        let buckets = overlapping ? GradientBuckets(network.config) : nil
        reduction = ExactReduction(
            partition: partition, group: group, plan: plan,
            arenas: shardGradients.map { SharedPointer($0.storage.base) },
            count: shardGradients[0].count, buckets: buckets)
        bucketReadiness = buckets.map { BucketReadiness(buckets: $0.ranges.count) }
        roundThread = overlapping ? RoundThread() : nil
        stepGroup =
            Self.stepGroupFits(
                localShards: perRound, workers: workerCount, hidden: h, cores: cores, mode: stepGroupMode,
                streaming: network.precision.perStepGEMMStreams)
            ? StepGroup(participants: perRound) : nil
        for (j, ws) in workspaces.enumerated() {
            ws.stepGroup.group = stepGroup
            ws.stepGroup.index = j
            ws.bucketReadiness = bucketReadiness
        }
        if let readiness = bucketReadiness, let thread = roundThread {
            let reduction = reduction
            readiness.onFinal = { [unowned self] b in
                reduction.reduceRound(self.overlapRound, range: buckets!.ranges[b])
            }
            thread.body = { [unowned self] in
                let job = self.pendingJob!
                runWorkers(min(self.workerCount, job.end - job.first)) { worker in self.runShards(job, worker: worker) }
            }
        }
    }

    /// Whether a step group runs: at least two local shards, one worker each, no more workers than
    /// cores (they wait for each other every step), our packed GEMM for T, and `mode` (`.auto`: R
    /// large enough for the per-step kernel, streaming or not, `StepGroup.Mode`).
    static func stepGroupFits(
        localShards: Int, workers: Int, hidden: Int, cores: Int, mode: StepGroup.Mode, streaming: Bool
    ) -> Bool {
        let packedR = T.gemmPackedCount(k: hidden, n: 4 * hidden)
        let wanted =
            mode == .on || (mode == .auto && packedR >= StepGroup.minPackedRFloats(streaming: streaming))
        return wanted && localShards > 1 && workers == localShards && workers <= cores && packedR > 0
            && T.self == Float.self
    }

    deinit {
        roundThread?.stop()
        lossSlots.deallocate()
    }

    /// Rows of shard `s` for a minibatch of `b` sequences: contiguous, sizes differ by ≤ 1.
    public func shardRows(_ s: Int, batch b: Int) -> Range<Int> {
        (s * b / shardCount)..<((s + 1) * b / shardCount)
    }

    /// Forward and backward of `batch` over this process's shards, then the reduction across
    /// processes; leaves the mean-loss gradient of the whole minibatch in `gradients` and returns
    /// the loss summed over the whole minibatch.
    ///
    /// - Parameters:
    ///   - batch: the whole minibatch, or (several processes) this process's rows of it:
    ///     `partition.localRows(batch: globalBatchSize)`, with `rowOffset` their first row.
    ///   - initialStates: per-shard initial states, indexed by global shard (optional).
    ///   - dropout: dropout masks for a training step (nil: none); masks follow the sequence,
    ///     so they are the same for any S, W and N.
    ///   - globalBatchSize: the whole minibatch's B (nil: `batch.batchSize`).
    @discardableResult
    @_specialize(exported:true,where T == Float)
    @_specialize(exported:true,where T == Double)
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func computeGradient(
        _ params: ParameterSet<T>, _ batch: MinibatchView<T>, initialStates: [LSTMState<T>?]? = nil,
        dropout: DropoutContext? = nil, globalBatchSize: Int? = nil
    ) -> LossSum {
        let g = globalBatchSize ?? batch.batchSize
        let mine = partition.localRows(batch: g)
        precondition(
            g <= maxBatch && batch.steps <= maxSteps,
            "minibatch [\(g), \(batch.steps)] exceeds the shard workers' [\(maxBatch), \(maxSteps)]")
        precondition(
            batch.batchSize == mine.count && (group.worldSize == 1 || batch.rowOffset == mine.lowerBound),
            "\(partition) holds rows \(mine) of a minibatch of \(g), got \(batch.batchSize) rows at \(batch.rowOffset)")
        BLASThreads.set(blasThreads)
        let normalizer: Int
        if group.worldSize == 1 {
            normalizer = network.targetCount(batch)
        } else if batch.lengths != nil {
            normalizer = group.sum(network.targetCount(batch))  // the global count, not this rank's
        } else {
            normalizer = network.targetCount(batch: g, steps: batch.steps)
        }
        let w = workerCount
        let local = partition.localShards
        let perRound = shardsPerRound
        let rounds = (local.count + perRound - 1) / perRound
        // Round k runs local shards k·R ..< (k+1)·R on workspaces 0 ..< R; rounds one after another
        // (a workspace is reused only once its round has ended). After each round, the tree
        // additions whose operands are complete (`RoundPlan`), freeing arenas for later rounds.
        for (round, first) in stride(from: 0, to: local.count, by: perRound).enumerated() {
            let end = min(first + perRound, local.count)
            // Lockstep needs every workspace of the group to run the layers: a full round, none
            // of its shards empty.
            let together =
                stepGroup != nil && end - first == perRound
                && (first..<end).allSatisfy { !shardRows(local.lowerBound + $0, batch: g).isEmpty }
                && stepGroup!.reset()
            let job = RoundJob(
                params: params, batch: batch, initialStates: initialStates, dropout: dropout, normalizer: normalizer,
                globalBatch: g, first: first, end: end, together: together)
            if let readiness = bucketReadiness, round == rounds - 1 {
                return overlappedRound(job, round: round, readiness: readiness)
            }
            runWorkers(min(w, end - first)) { worker in self.runShards(job, worker: worker) }
            reduction.reduceRound(round, workers: w)
        }
        return reduction.reduce(losses: lossSlots, workers: w)
    }

    /// One round's arguments, for the workers (and the overlapped round's worker thread).
    struct RoundJob: @unchecked Sendable {
        let params: ParameterSet<T>
        let batch: MinibatchView<T>
        let initialStates: [LSTMState<T>?]?
        let dropout: DropoutContext?
        let normalizer: Int
        let globalBatch: Int
        let first: Int
        let end: Int
        let together: Bool
    }

    /// Worker `worker` of a round: takes the round's shards first + worker, first + worker + W, …;
    /// each shard writes only its own workspace, gradient arena and loss slot.
    private func runShards(_ job: RoundJob, worker: Int) {
        let g = job.globalBatch
        let local = partition.localShards
        let base = partition.localRows(batch: g).lowerBound
        let losses = lossSlots
        for j in stride(from: job.first + worker, to: job.end, by: workerCount) {
            let s = local.lowerBound + j
            let grads = shardGradients[roundPlan.arenaOfShard[j]]
            grads.zero()
            let global = shardRows(s, batch: g)
            let rows = (global.lowerBound - base)..<(global.upperBound - base)
            losses[j] = LossSum()
            if rows.isEmpty {
                bucketReadiness?.finishedAll()  // a zero arena is final
                continue
            }
            let workspace = workspaces[j - job.first]
            let slot = workspace.stepGroup
            let entered = job.together ? stepGroup!.enter(j - job.first, slot: slot) : 0
            losses[j] = network.lossAndGradient(
                job.params, job.batch.rows(rows), workspace: workspace, into: grads,
                initialState: job.initialStates?[s], normalizer: job.normalizer, dropout: job.dropout)
            if job.together { stepGroup!.leave(j - job.first, slot: slot, since: entered) }
        }
    }

    /// The last round with the exchange overlapped (`overlap`): the workers run on `roundThread`
    /// while this thread (the one that may call MPI) posts each gradient bucket as soon as it is
    /// final on every local shard (head, layer L−1, …: `GradientBuckets`, in the same order on
    /// every rank) and drives the posted exchanges, polling every `pollInterval`; then the last
    /// bucket, with the losses, and the finishing additions (`ExactReduction.finishOverlapped`).
    private func overlappedRound(_ job: RoundJob, round: Int, readiness: BucketReadiness) -> LossSum {
        readiness.arm(shards: job.end - job.first)
        overlapRound = round
        pendingJob = job
        let thread = roundThread!
        thread.start.signal()
        let last = readiness.count - 1
        var next = 0
        while thread.done.wait(timeout: .now() + Self.pollInterval) == .timedOut {
            while next < last && readiness.isReady(next) {
                reduction.postBucket(next)
                next += 1
            }
            group.progressExchanges(computing: true)
        }
        pendingJob = nil
        readiness.armed = false
        group.progressExchanges(computing: true)  // (the time since the last poll was computing)
        while next < last {
            reduction.postBucket(next)
            next += 1
        }
        return reduction.finishOverlapped(losses: lossSlots, workers: workerCount)
    }

    /// How often the main thread looks for final buckets and drives MPI while the workers compute.
    static var pollInterval: DispatchTimeInterval { .microseconds(200) }

    /// The final (h, c) of (local) shard `s` after the last `computeGradient` (for carried state;
    /// one round only: with several rounds a workspace holds only its last round's shard).
    public func finalState(shard s: Int) -> LSTMState<T> {
        precondition(shardsPerRound >= localShards.count, "carried state across \(rounds) accumulation rounds")
        return workspaces[s - localShards.lowerBound].finalState()
    }

}

/// Runs `body(0..<n)` on n threads at once (inline when n == 1); each Dispatch worker first
/// takes the process's priority (`ProcessPriority`: `nice` reaches the threads that compute).
func runWorkers(_ n: Int, _ body: @Sendable (Int) -> Void) {
    if n == 1 {
        body(0)
    } else {
        DispatchQueue.concurrentPerform(iterations: n) {
            ProcessPriority.adopt()
            body($0)
        }
    }
}

/// A pointer shared with worker closures; each worker writes only its own part of it.
struct SharedPointer<E>: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<E>
    init(_ p: UnsafeMutablePointer<E>) { pointer = p }
}

/// A thread kept for the shard workers' overlapped round: waits for `start`, runs `body`, signals
/// `done` (so the main thread stays free to call MPI). Made once; nothing allocated per step.
final class RoundThread: @unchecked Sendable {
    let start = DispatchSemaphore(value: 0)
    let done = DispatchSemaphore(value: 0)
    /// Set once, before the first `start`.
    var body: () -> Void = {}
    private var stopping = false

    init() {
        Thread.detachNewThread { [self] in
            ProcessPriority.adopt()
            while true {
                start.wait()
                if stopping { return }
                body()
                done.signal()
            }
        }
    }

    /// Ends the thread (after its current body, if any).
    func stop() {
        stopping = true
        start.signal()
    }
}
