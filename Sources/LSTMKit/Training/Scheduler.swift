import Dispatch
import Foundation

/// The data-parallel scheduler: each minibatch is cut into S shards of whole sequences, the
/// shards run forward and backward on W Dispatch worker threads, and their gradients are
/// reduced in a fixed pairwise tree over shard indices.
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
public final class DataParallelScheduler<T: LSTMScalar>: @unchecked Sendable {
    public let network: LSTMNetwork<T>
    /// S: how many pieces each minibatch is cut into.
    public let shardCount: Int
    /// W: how many threads run shards at once (W ≤ S).
    public let workerCount: Int
    /// OpenBLAS threads per call while this scheduler runs.
    public let blasThreads: Int
    public let maxBatch: Int
    public let maxSteps: Int

    /// The reduced gradient of the last `computeGradient` (mean loss over the whole minibatch).
    public var gradients: ParameterSet<T> { shardGradients[0] }

    private let workspaces: [Workspace<T>]
    private let shardGradients: [ParameterSet<T>]
    /// Per-shard loss slots, each written by the worker that runs the shard.
    private let lossSlots: UnsafeMutableBufferPointer<LossSum>
    private let arenaPointers: [SharedPointer<T>]

    /// The shard count used when none is given (the threading rule above): one shard per active
    /// core with at least 16 sequences each, or one shard when the per-step GEMM is large enough
    /// for BLAS threads to win.
    public static func defaultShardCount(
        batchSize: Int, hidden: Int, cores: Int = ProcessInfo.processInfo.activeProcessorCount
    ) -> Int {
        if stepFlops(batch: batchSize, hidden: hidden) >= 1 << 28 { return 1 }
        return max(1, min(cores, batchSize / 16))
    }

    /// FLOPs of one step's recurrent GEMM h⁽ᵗ⁻¹⁾ Rᵀ, (B, H)·(H, 4H).
    static func stepFlops(batch: Int, hidden: Int) -> Int { 2 * batch * hidden * 4 * hidden }

    /// - Parameters:
    ///   - shards: S; defaults to `defaultShardCount(batchSize: maxBatch, hidden:)`.
    ///   - workers: W; defaults to min(S, active cores); clamped to S.
    ///   - blasThreads: overrides the BLAS threading rule above (benchmarks only).
    public init(
        network: LSTMNetwork<T>, maxBatch: Int, maxSteps: Int, shards: Int? = nil, workers: Int? = nil,
        blasThreads: Int? = nil
    ) {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let h = network.config.hiddenSize  // the widest layer when widths differ
        let s = shards ?? Self.defaultShardCount(batchSize: maxBatch, hidden: h, cores: cores)
        precondition(s >= 1, "shard count must be ≥ 1")
        self.network = network
        self.shardCount = s
        self.workerCount = max(1, min(workers ?? min(s, cores), s))
        self.blasThreads = blasThreads ?? (s == 1 && Self.stepFlops(batch: maxBatch, hidden: h) >= 1 << 24 ? cores : 1)
        self.maxBatch = maxBatch
        self.maxSteps = maxSteps
        let rowsPerShard = max(1, (maxBatch + s - 1) / s)
        workspaces = (0..<s).map { _ in
            Workspace(config: network.config, maxBatch: rowsPerShard, maxSteps: maxSteps)
        }
        shardGradients = (0..<s).map { _ in ParameterSet(config: network.config) }
        arenaPointers = shardGradients.map { SharedPointer($0.storage.base) }
        lossSlots = .allocate(capacity: s)
        lossSlots.initialize(repeating: LossSum())
    }

    deinit { lossSlots.deallocate() }

    /// Rows of shard `s` for a minibatch of `b` sequences: contiguous, sizes differ by ≤ 1.
    public func shardRows(_ s: Int, batch b: Int) -> Range<Int> {
        (s * b / shardCount)..<((s + 1) * b / shardCount)
    }

    /// Forward and backward of `batch` over all shards; leaves the mean-loss gradient in
    /// `gradients` and returns the loss summed over the whole minibatch.
    ///
    /// - Parameters:
    ///   - initialStates: per-shard initial states, indexed like the shards (optional).
    ///   - dropout: dropout masks for a training step (nil: none); masks follow the sequence,
    ///     so they are the same for any S and W.
    @discardableResult
    @_specialize(exported:true,where T == Float)
    @_specialize(exported:true,where T == Double)
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func computeGradient(
        _ params: ParameterSet<T>, _ batch: MinibatchView<T>, initialStates: [LSTMState<T>?]? = nil,
        dropout: DropoutContext? = nil
    ) -> LossSum {
        precondition(
            batch.batchSize <= maxBatch && batch.steps <= maxSteps,
            "minibatch [\(batch.batchSize), \(batch.steps)] exceeds the scheduler's [\(maxBatch), \(maxSteps)]")
        BLASThreads.set(blasThreads)
        let normalizer = network.targetCount(batch)
        let losses = SharedPointer(lossSlots.baseAddress!)
        let w = workerCount
        runWorkers(w) { worker in
            // Worker `worker` takes shards worker, worker + W, …; each shard writes only its own
            // workspace, gradient arena and loss slot.
            for s in stride(from: worker, to: self.shardCount, by: w) {
                let grads = self.shardGradients[s]
                grads.zero()
                let rows = self.shardRows(s, batch: batch.batchSize)
                losses.pointer[s] = LossSum()
                if rows.isEmpty { continue }
                losses.pointer[s] = self.network.lossAndGradient(
                    params, batch.rows(rows), workspace: self.workspaces[s], into: grads,
                    initialState: initialStates?[s], normalizer: normalizer, dropout: dropout)
            }
        }
        reduceGradients()
        return lossSlots.reduce(LossSum(), +)  // shard order: deterministic
    }

    /// The final (h, c) of shard `s` after the last `computeGradient` (for carried state).
    public func finalState(shard s: Int) -> LSTMState<T> { workspaces[s].finalState() }

    /// Pairwise tree over shard indices: level d adds shard i + 2^d into shard i for every i
    /// divisible by 2^(d+1). Elementwise, so slices of the arena run on different workers
    /// without changing a bit.
    private func reduceGradients() {
        guard shardCount > 1 else { return }
        let count = gradients.count
        let arenas = arenaPointers
        let slices = min(workerCount, max(1, count / 4096))
        let s = shardCount
        runWorkers(slices) { slice in
            let lo = slice * count / slices
            let hi = (slice + 1) * count / slices
            var stride = 1
            while stride < s {
                var i = 0
                while i + stride < s {
                    let dst = arenas[i].pointer
                    let src = arenas[i + stride].pointer
                    for k in lo..<hi { dst[k] += src[k] }
                    i += 2 * stride
                }
                stride *= 2
            }
        }
    }
}

/// Runs `body(0..<n)` on n threads at once (inline when n == 1).
func runWorkers(_ n: Int, _ body: @Sendable (Int) -> Void) {
    if n == 1 { body(0) } else { DispatchQueue.concurrentPerform(iterations: n, execute: body) }
}

/// A pointer shared with worker closures; each worker writes only its own part of it.
struct SharedPointer<E>: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<E>
    init(_ p: UnsafeMutablePointer<E>) { pointer = p }
}
