import Foundation

/// How the processes of one training job talk to each other: just enough collectives for the
/// exact gradient reduction, the global loss normalizer, agreeing on a stop, and checkpoints.
/// `SingleProcess` is the one-process implementation; the MPI one lives in the LSTMMPI target.
///
/// Every call is collective: all ranks make it, in the same order, with matching sizes.
public protocol ProcessGroup: AnyObject, Sendable {
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
    /// Every rank sends bytes to every rank (MPI_Alltoallv): what this rank sends to rank d is
    /// `sendCounts[d]` bytes at `send + sendOffsets[d]`; what it receives from rank r lands at
    /// `receive + receiveOffsets[r]` (`receiveCounts[r]` bytes, which rank r sends to this one).
    func allToAll(
        send: UnsafeRawPointer, sendCounts: UnsafeBufferPointer<Int32>, sendOffsets: UnsafeBufferPointer<Int32>,
        receive: UnsafeMutableRawPointer, receiveCounts: UnsafeBufferPointer<Int32>,
        receiveOffsets: UnsafeBufferPointer<Int32>)
    /// Element-wise sums of integers across ranks, in place (exact in any order).
    func sum(_ values: UnsafeMutableBufferPointer<Int64>)

    // The overlapped gradient exchange (`parallel.overlap`, ExactReduction.swift): a sequence of
    // `postAllToAll` (slots 0, 1, … in the same order on every rank) while the shards still
    // compute, `progressExchanges` between posts, then `arriveForExchanges` once this process's
    // shards are done, the last post, and `completeExchanges`. The buffers, counts and offsets must
    // stay valid and unchanged until `completeExchanges` returns. Without non-blocking
    // collectives (one process, threads) a post is the blocking `allToAll` and the rest do nothing.

    /// Starts an `allToAll` in exchange slot `slot` (< `maxExchangeSlots`) without waiting for it.
    func postAllToAll(
        slot: Int, send: UnsafeRawPointer, sendCounts: UnsafePointer<Int32>, sendOffsets: UnsafePointer<Int32>,
        receive: UnsafeMutableRawPointer, receiveCounts: UnsafePointer<Int32>, receiveOffsets: UnsafePointer<Int32>)
    /// Drives the posted exchanges (a test, never a wait); `computing`: whether this process's
    /// shards still run (the time a post is in flight then counts as overlapped).
    func progressExchanges(computing: Bool)
    /// Waits, as for a collective, until every rank has reached the end of its computation
    /// (straggler time, bounded by the collective timeout).
    func arriveForExchanges(_ what: String)
    /// Waits until every posted exchange has completed (bounded by the collective timeout).
    func completeExchanges(_ what: String)
    /// Rank 0 receives every rank's bytes (index = rank); the others receive nil.
    func gatherToRoot(_ bytes: [UInt8]) -> [[UInt8]]?
    /// Ends the whole job now, printing `message` first (a failure on one rank must not leave
    /// the others waiting in a collective).
    func abort(_ message: String, code: Int32) -> Never
}

extension ProcessGroup {
    /// The sum of `value` over all ranks.
    public func sum(_ value: Int) -> Int {
        var v = Int64(value)
        withUnsafeMutablePointer(to: &v) { sum(UnsafeMutableBufferPointer(start: $0, count: 1)) }
        return Int(v)
    }

    public var processesOnThisHost: Int { 1 }

    public func postAllToAll(
        slot: Int, send: UnsafeRawPointer, sendCounts: UnsafePointer<Int32>, sendOffsets: UnsafePointer<Int32>,
        receive: UnsafeMutableRawPointer, receiveCounts: UnsafePointer<Int32>, receiveOffsets: UnsafePointer<Int32>
    ) {
        let n = worldSize
        allToAll(
            send: send, sendCounts: UnsafeBufferPointer(start: sendCounts, count: n),
            sendOffsets: UnsafeBufferPointer(start: sendOffsets, count: n), receive: receive,
            receiveCounts: UnsafeBufferPointer(start: receiveCounts, count: n),
            receiveOffsets: UnsafeBufferPointer(start: receiveOffsets, count: n))
    }
    public func progressExchanges(computing: Bool) {}
    public func arriveForExchanges(_ what: String) {}
    public func completeExchanges(_ what: String) {}

    /// The default worker threads of this process: nil (ShardWorkers' own default) in one
    /// process, else this machine's cores shared among the processes on it.
    public func defaultWorkers(shards: Int?) -> Int? {
        guard worldSize > 1 else { return nil }
        return max(1, ProcessInfo.processInfo.activeProcessorCount / max(1, processesOnThisHost))
    }

    /// Whether any rank says yes (e.g. a stop request that arrived on one rank only).
    public func any(_ flag: Bool) -> Bool { sum(flag ? 1 : 0) > 0 }

    /// The shard partition of S shards over this group's ranks.
    public func partition(shards: Int) -> ShardPartition {
        ShardPartition(shards: shards, rank: rank, worldSize: worldSize)
    }
}

/// One process: every collective is the identity.
public final class SingleProcess: ProcessGroup {
    public init() {}
    public var rank: Int { 0 }
    public var worldSize: Int { 1 }
    public func allGather(
        inPlace buffer: UnsafeMutableRawPointer, counts: UnsafeBufferPointer<Int32>,
        offsets: UnsafeBufferPointer<Int32>
    ) {}
    public func allToAll(
        send: UnsafeRawPointer, sendCounts: UnsafeBufferPointer<Int32>, sendOffsets: UnsafeBufferPointer<Int32>,
        receive: UnsafeMutableRawPointer, receiveCounts: UnsafeBufferPointer<Int32>,
        receiveOffsets: UnsafeBufferPointer<Int32>
    ) {
        (receive + Int(receiveOffsets[0])).copyMemory(from: send + Int(sendOffsets[0]), byteCount: Int(sendCounts[0]))
    }
    public func sum(_ values: UnsafeMutableBufferPointer<Int64>) {}
    public func gatherToRoot(_ bytes: [UInt8]) -> [[UInt8]]? { [bytes] }
    public func abort(_ message: String, code: Int32) -> Never {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        exit(code)
    }
}

/// N ranks as N threads of one process, sharing memory: the collectives of `ProcessGroup`
/// without MPI, so the exact multi-process reduction is tested (and usable) on any machine.
/// Make the members with `ThreadGroup.members(n)` and run each on its own thread.
public final class ThreadGroup: ProcessGroup, @unchecked Sendable {
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
        /// Each member's send buffer, counts and offsets during an `allToAll`.
        var sends: [(pointer: UnsafeRawPointer, counts: [Int32], offsets: [Int32])?] = []
        init(n: Int) {
            sends = Array(repeating: nil, count: n)
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

    public func allToAll(
        send: UnsafeRawPointer, sendCounts: UnsafeBufferPointer<Int32>, sendOffsets: UnsafeBufferPointer<Int32>,
        receive: UnsafeMutableRawPointer, receiveCounts: UnsafeBufferPointer<Int32>,
        receiveOffsets: UnsafeBufferPointer<Int32>
    ) {
        shared.condition.lock()
        shared.sends[rank] = (send, Array(sendCounts), Array(sendOffsets))
        shared.condition.unlock()
        shared.barrier()
        for r in 0..<worldSize {
            let from = shared.sends[r]!
            precondition(
                from.counts[rank] == receiveCounts[r],
                "rank \(r) sends \(from.counts[rank]) bytes to rank \(rank), which expects \(receiveCounts[r])")
            (receive + Int(receiveOffsets[r])).copyMemory(
                from: from.pointer + Int(from.offsets[rank]), byteCount: Int(receiveCounts[r]))
        }
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
