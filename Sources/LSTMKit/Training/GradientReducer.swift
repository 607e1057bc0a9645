import Foundation

// Scale-out across processes with the same bits as one process.
//
// A minibatch of B sequences is cut into S global shards (DataParallelScheduler.shardRows), and
// the S shards are dealt to the N processes ("ranks") in contiguous blocks: rank r owns shards
// r·S/N ..< (r+1)·S/N and reads only their rows. The gradient is the single-process scheduler's
// pairwise tree over the S shard indices, evaluated in pieces: each rank reduces every maximal
// aligned subtree of that tree lying wholly inside its block (`ShardPartition.nodes`), the
// partial sums (at most 2·log₂S arenas per rank) are gathered by every rank in rank order, and
// every rank finishes the same tree in the same order (`ShardPartition.finish`). Every addition
// of the global tree happens exactly once, on the same operands, so the result is bitwise the
// single-process one for any N — including N = 1, which is today's scheduler unchanged. A
// reduction whose order is up to the library (MPI_Allreduce) would not give this.

/// How the processes of one training job talk to each other: just enough collectives for the
/// exact gradient reduction, the global loss normalizer, agreeing on a stop, and checkpoints.
/// `SingleProcess` is the one-process implementation; the MPI one lives in the LSTMMPI target.
///
/// Every call is collective: all ranks make it, in the same order, with matching sizes.
public protocol GradientReducer: AnyObject, Sendable {
    /// This process's index, 0..<worldSize.
    var rank: Int { get }
    /// N, the number of processes.
    var worldSize: Int { get }
    /// How many of the N processes share this machine (their workers share its cores).
    var processesOnThisHost: Int { get }
    /// Gathers to all ranks in place: rank r's contribution is already at `offsets[r]` of `buffer`
    /// (`counts[r]` bytes); afterwards every rank holds all contributions.
    func allGather(
        inPlace buffer: UnsafeMutableRawPointer, counts: UnsafeBufferPointer<Int32>,
        offsets: UnsafeBufferPointer<Int32>)
    /// Element-wise sums of integers across ranks, in place (exact in any order).
    func sum(_ values: UnsafeMutableBufferPointer<Int64>)
    /// Rank 0 receives every rank's bytes (index = rank); the others receive nil.
    func gatherToRoot(_ bytes: [UInt8]) -> [[UInt8]]?
    /// Ends the whole job now, printing `message` first (a failure on one rank must not leave
    /// the others waiting in a collective).
    func abort(_ message: String, code: Int32) -> Never
}

extension GradientReducer {
    /// The sum of `value` over all ranks.
    public func sum(_ value: Int) -> Int {
        var v = Int64(value)
        withUnsafeMutablePointer(to: &v) { sum(UnsafeMutableBufferPointer(start: $0, count: 1)) }
        return Int(v)
    }

    public var processesOnThisHost: Int { 1 }

    /// The default worker threads of this process: nil (the scheduler's own default) in one
    /// process, else this machine's cores shared among the processes on it.
    public func defaultWorkers(shards: Int?) -> Int? {
        guard worldSize > 1 else { return nil }
        return max(1, ProcessInfo.processInfo.activeProcessorCount / max(1, processesOnThisHost))
    }

    /// Whether any rank says yes (e.g. a stop request that arrived on one rank only).
    public func any(_ flag: Bool) -> Bool { sum(flag ? 1 : 0) > 0 }

    /// The shard partition of S shards over this reducer's ranks.
    public func partition(shards: Int) -> ShardPartition {
        ShardPartition(shards: shards, rank: rank, worldSize: worldSize)
    }
}

/// One process: every collective is the identity.
public final class SingleProcess: GradientReducer {
    public init() {}
    public var rank: Int { 0 }
    public var worldSize: Int { 1 }
    public func allGather(
        inPlace buffer: UnsafeMutableRawPointer, counts: UnsafeBufferPointer<Int32>,
        offsets: UnsafeBufferPointer<Int32>
    ) {}
    public func sum(_ values: UnsafeMutableBufferPointer<Int64>) {}
    public func gatherToRoot(_ bytes: [UInt8]) -> [[UInt8]]? { [bytes] }
    public func abort(_ message: String, code: Int32) -> Never {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        exit(code)
    }
}

/// S global shards dealt to N ranks in contiguous blocks, and the pieces of the pairwise
/// reduction tree each rank computes. Pure arithmetic: every rank derives the same plan.
public struct ShardPartition: Sendable, Equatable, CustomStringConvertible {
    /// S, the global shard count (independent of N).
    public let shards: Int
    public let rank: Int
    public let worldSize: Int

    /// - Precondition: 1 ≤ worldSize ≤ shards, 0 ≤ rank < worldSize.
    public init(shards: Int, rank: Int = 0, worldSize: Int = 1) {
        precondition(worldSize >= 1 && (0..<worldSize).contains(rank), "rank \(rank) of \(worldSize)")
        precondition(shards >= worldSize, "\(shards) shards cannot be dealt to \(worldSize) processes")
        self.shards = shards
        self.rank = rank
        self.worldSize = worldSize
    }

    public var description: String { "rank \(rank) of \(worldSize): shards \(block(rank)) of \(shards)" }

    /// The shards rank `r` owns: r·S/N ..< (r+1)·S/N.
    public func block(_ r: Int) -> Range<Int> { (r * shards / worldSize)..<((r + 1) * shards / worldSize) }

    /// This rank's shards.
    public var localShards: Range<Int> { block(rank) }

    /// Rows of global shard `s` in a minibatch of `b` sequences (the scheduler's rule).
    public func shardRows(_ s: Int, batch b: Int) -> Range<Int> { (s * b / shards)..<((s + 1) * b / shards) }

    /// The rows of a minibatch of `b` sequences that rank `r` reads and trains on.
    public func rows(rank r: Int, batch b: Int) -> Range<Int> {
        let blk = block(r)
        return shardRows(blk.lowerBound, batch: b).lowerBound..<shardRows(blk.upperBound - 1, batch: b).upperBound
    }

    /// This rank's rows of a minibatch of `b` sequences.
    public func localRows(batch b: Int) -> Range<Int> { rows(rank: rank, batch: b) }

    /// The maximal aligned subtrees of the global tree inside rank `r`'s block, in shard order:
    /// each is a range [i, min(i + 2^L, S)) with i divisible by 2^L.
    public func nodes(rank r: Int) -> [Range<Int>] {
        let blk = block(r)
        var out: [Range<Int>] = []
        var i = blk.lowerBound
        while i < blk.upperBound {
            var size = 1
            // Grow while the doubled node is still aligned at i, a real subtree, and inside the block.
            while i % (2 * size) == 0, size < shards, min(i + 2 * size, shards) <= blk.upperBound { size *= 2 }
            let end = min(i + size, shards)
            out.append(i..<end)
            i = end
        }
        return out
    }

    /// Levels of the pairwise tree over `range` (the scheduler's order), calling `add(dst, src)`
    /// for every addition "shard src into shard dst" with both in `range`, in tree order.
    public static func treeAdditions(_ range: Range<Int>, _ add: (Int, Int) -> Void) {
        let s = range.count
        var stride = 1
        while stride < s {
            var i = 0
            while i + stride < s {
                add(range.lowerBound + i, range.lowerBound + i + stride)
                i += 2 * stride
            }
            stride *= 2
        }
    }

    /// The additions that finish the global tree once every node (of all ranks) is reduced:
    /// the global tree's additions whose operands are both node roots, in the global order.
    /// The others happened inside a node. Returns (dst, src) shard pairs.
    public func finishingAdditions() -> [(Int, Int)] {
        var live = Set<Int>()
        for r in 0..<worldSize { for n in nodes(rank: r) { live.insert(n.lowerBound) } }
        var out: [(Int, Int)] = []
        Self.treeAdditions(0..<shards) { dst, src in
            if live.contains(dst) && live.contains(src) {
                out.append((dst, src))
                live.remove(src)
            }
        }
        return out
    }
}

/// N ranks as N threads of one process, sharing memory: the collectives of `GradientReducer`
/// without MPI, so the exact multi-process reduction is tested (and usable) on any machine.
/// Make the members with `ThreadGroup.members(n)` and run each on its own thread.
public final class ThreadGroup: GradientReducer, @unchecked Sendable {
    public let rank: Int
    public let worldSize: Int
    private let shared: Shared

    final class Shared: @unchecked Sendable {
        let n: Int
        let condition = NSCondition()
        var arrived = 0
        var generation = 0
        var staging: [UInt8] = []
        var sums: [Int64] = []
        var gathered: [[UInt8]] = []
        init(n: Int) {
            self.n = n
            gathered = Array(repeating: [], count: n)
        }

        /// Blocks until all n members have arrived.
        func barrier() {
            condition.lock()
            let g = generation
            arrived += 1
            if arrived == n {
                arrived = 0
                generation += 1
                condition.broadcast()
            } else {
                while generation == g { condition.wait() }
            }
            condition.unlock()
        }
    }

    private init(rank: Int, shared: Shared) {
        self.rank = rank
        self.worldSize = shared.n
        self.shared = shared
    }

    public var processesOnThisHost: Int { worldSize }

    /// The n members of a new group, rank 0 first.
    public static func members(_ n: Int) -> [ThreadGroup] {
        let shared = Shared(n: n)
        return (0..<n).map { ThreadGroup(rank: $0, shared: shared) }
    }

    public func allGather(
        inPlace buffer: UnsafeMutableRawPointer, counts: UnsafeBufferPointer<Int32>,
        offsets: UnsafeBufferPointer<Int32>
    ) {
        let total = Int(offsets[worldSize - 1] + counts[worldSize - 1])
        shared.condition.lock()
        if shared.staging.count < total { shared.staging += [UInt8](repeating: 0, count: total - shared.staging.count) }
        shared.condition.unlock()
        shared.barrier()
        shared.staging.withUnsafeMutableBytes {
            ($0.baseAddress! + Int(offsets[rank])).copyMemory(
                from: buffer + Int(offsets[rank]), byteCount: Int(counts[rank]))
        }
        shared.barrier()
        shared.staging.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: total) }
        shared.barrier()
    }

    public func sum(_ values: UnsafeMutableBufferPointer<Int64>) {
        shared.condition.lock()
        if shared.sums.count != values.count { shared.sums = Array(repeating: 0, count: values.count) }
        shared.condition.unlock()
        shared.barrier()
        shared.condition.lock()
        for i in values.indices { shared.sums[i] += values[i] }
        shared.condition.unlock()
        shared.barrier()
        for i in values.indices { values[i] = shared.sums[i] }
        shared.barrier()
        if rank == 0 { shared.sums = [] }
        shared.barrier()
    }

    public func gatherToRoot(_ bytes: [UInt8]) -> [[UInt8]]? {
        shared.condition.lock()
        shared.gathered[rank] = bytes
        shared.condition.unlock()
        shared.barrier()
        let all = rank == 0 ? shared.gathered : nil
        shared.barrier()
        return all
    }

    public func abort(_ message: String, code: Int32) -> Never {
        fatalError("rank \(rank) of \(worldSize): \(message)")
    }
}
