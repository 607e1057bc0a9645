import Foundation

// Scale-out across processes with the same bits as one process.
//
// A minibatch of B sequences is cut into S global shards (ShardWorkers.shardRows), and the S shards
// are dealt to the N processes ("ranks") in contiguous blocks: rank r owns shards r·S/N ..< (r+1)·S/N
// and reads only their rows. The gradient is the single-process shard workers' pairwise tree over
// the S shard indices, evaluated in pieces: each rank reduces every maximal aligned subtree of that
// tree lying wholly inside its block (`ShardPartition.nodes`, at most 2·log₂S arenas per rank).
//
// Reduce-scatter: the gradient arena of P elements is cut into N contiguous slices
// (`ArenaSlices`, on boundaries of 256 elements), rank r owning slice r. Each rank sends, to each
// rank d, its subtree sums restricted to slice d (one MPI_Alltoallv, `ProcessGroup.allToAll`), and
// finishes the same global tree elementwise on its own slice (`ShardPartition.finishingAdditions`).
// Every addition of the global tree happens exactly once, on the same operands, so each slice holds
// the single-process bits for any N — including N = 1, where the whole tree is one rank's subtree
// and the slice is the whole arena. A reduction whose order is up to the library (MPI_Allreduce)
// would not give this. Each rank sends and receives (N−1)/N·4P bytes (times its subtree count,
// 1 when S is a multiple of N); the optimizer then updates only the slice, with only the slice's
// state (ZeRO stage 1, `Trainer`), and the updated weights are all-gathered: another (N−1)/N·4P.

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

    /// Rows of global shard `s` in a minibatch of `b` sequences (the shard workers' rule).
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

    /// Levels of the pairwise tree over `range` (the shard workers' order), calling `add(dst, src)`
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

// MARK: - Rounds (gradient accumulation)

/// How one rank's local shards run in rounds (`training.accumulate`: K rounds of at most
/// ⌈local/K⌉ shards, one after another) on as few gradient arenas as the fixed tree allows.
///
/// Each local tree addition "src into dst" is done as soon as both operands are complete — dst
/// has had every earlier addition of its chain and src every addition of its own — which is after
/// the round that computed the later of them; the source's arena is then free for a shard of a
/// later round. Every addition still happens exactly once, on the same operands, in the same order
/// per destination, so the bits are those of the whole tree at once (and, with one round, the
/// additions are the tree's, in its order, on one arena per shard). Pure arithmetic.
public struct RoundPlan: Sendable, Equatable {
    /// Local shards (this rank's block) and the shards of one round.
    public let localShards: Int
    public let shardsPerRound: Int
    /// The arena each local shard writes its gradient into (index: local shard).
    public let arenaOfShard: [Int]
    /// Arenas allocated: the most in use at once.
    public let arenas: Int
    /// Per round, the additions (dst arena, src arena, flattened) done once that round is computed.
    public let additionsAfterRound: [[Int]]

    /// The plan of `partition`'s local shards in `rounds` rounds.
    public init(partition: ShardPartition, rounds: Int) {
        let local = partition.localShards
        let n = local.count
        let perRound = max(1, (n + rounds - 1) / rounds)
        localShards = n
        shardsPerRound = perRound
        // The local tree's additions (local indices), in tree order, and how many land in each shard.
        var pending: [(dst: Int, src: Int)] = []
        for node in partition.nodes(rank: partition.rank) {
            ShardPartition.treeAdditions(node) { pending.append(($0 - local.lowerBound, $1 - local.lowerBound)) }
        }
        var into = [Int](repeating: 0, count: n)
        for a in pending { into[a.dst] += 1 }
        var arenaOf = [Int](repeating: -1, count: n)
        var free: [Int] = []  // arenas no longer holding a live partial sum, lowest first
        var allocated = 0
        var computed = [Bool](repeating: false, count: n)
        var rounds: [[Int]] = []
        for first in stride(from: 0, to: n, by: perRound) {
            for j in first..<min(first + perRound, n) {
                if let a = free.first {
                    free.removeFirst()
                    arenaOf[j] = a
                } else {
                    arenaOf[j] = allocated
                    allocated += 1
                }
                computed[j] = true
            }
            var adds: [Int] = []
            var progress = true
            while progress {
                progress = false
                var seen = Set<Int>()  // destinations with an earlier addition still pending
                var k = 0
                while k < pending.count {
                    let (dst, src) = pending[k]
                    if !seen.contains(dst) && computed[dst] && computed[src] && into[src] == 0 {
                        adds += [arenaOf[dst], arenaOf[src]]
                        into[dst] -= 1
                        free.append(arenaOf[src])
                        free.sort()
                        pending.remove(at: k)
                        progress = true
                    } else {
                        seen.insert(dst)
                        k += 1
                    }
                }
            }
            rounds.append(adds)
        }
        precondition(pending.isEmpty, "the local tree did not finish in its rounds")
        arenaOfShard = arenaOf
        arenas = allocated
        additionsAfterRound = rounds
    }
}

// MARK: - The reduction

/// The fixed pairwise tree over one process's shard arenas and, with several processes, the step
/// across them (see the top of this file). `ShardWorkers` calls `reduceRound` after each round of
/// shards and `reduce` once per minibatch.
final class ExactReduction<T: LSTMScalar>: @unchecked Sendable {
    let partition: ShardPartition
    let group: any ProcessGroup
    /// The gradient arenas (`RoundPlan.arenas` of them; shard j writes `plan.arenaOfShard[j]`).
    private let arenaPointers: [SharedPointer<T>]
    private let count: Int
    let plan: RoundPlan
    private let exchange: Exchange?

    /// With `buckets`: the overlapped exchange's buffers (one MPI_Ialltoallv per bucket).
    private let bucketExchange: BucketExchange?

    init(
        partition: ShardPartition, group: any ProcessGroup, plan: RoundPlan, arenas: [SharedPointer<T>], count: Int,
        buckets: GradientBuckets? = nil
    ) {
        precondition(arenas.count == plan.arenas, "\(arenas.count) arenas for a plan of \(plan.arenas)")
        self.partition = partition
        self.group = group
        self.plan = plan
        arenaPointers = arenas
        self.count = count
        let multi = partition.worldSize > 1
        exchange =
            multi && buckets == nil
            ? Exchange(partition: partition, parameters: count, scalarSize: MemoryLayout<T>.stride) : nil
        bucketExchange =
            multi
            ? buckets.map {
                BucketExchange(partition: partition, buckets: $0, parameters: count, scalarSize: MemoryLayout<T>.stride)
            } : nil
    }

    /// Whether the exchange runs per bucket, overlapped with backpropagation.
    var overlaps: Bool { bucketExchange != nil }

    /// The additions `plan` allows once round `round` is computed, on the arena range `range`
    /// only (a bucket final on every local shard of the round; called by the worker that made it
    /// final while the others compute). Elementwise, so the bits are those of `reduceRound`.
    func reduceRound(_ round: Int, range: Range<Int>) {
        let adds = plan.additionsAfterRound[round]
        var a = 0
        while a < adds.count {
            let dst = arenaPointers[adds[a]].pointer
            let src = arenaPointers[adds[a + 1]].pointer
            for k in range { dst[k] += src[k] }
            a += 2
        }
    }

    /// Packs bucket `b` of this rank's subtree sums (each destination's slice of it) and posts its
    /// exchange (main thread; the bucket is final and reduced locally). The last bucket carries the
    /// shard losses and is posted by `finishOverlapped`.
    func postBucket(_ b: Int) {
        let x = bucketExchange!
        let local = partition.localShards
        let scalar = MemoryLayout<T>.stride
        let bucket = x.buckets.ranges[b]
        for d in 0..<partition.worldSize {
            let slice = x.slices.range(d)
            let piece = bucket.clamped(to: slice)
            guard !piece.isEmpty else { continue }
            let out = x.send + Int(x.sendOffsets[b * x.n + d]) + x.headBytes(b, shards: local.count)
            for (k, root) in x.roots[partition.rank].enumerated() {
                (out + k * piece.count * scalar).copyMemory(
                    from: arenaPointers[plan.arenaOfShard[root - local.lowerBound]].pointer + piece.lowerBound,
                    byteCount: piece.count * scalar)
            }
        }
        group.postAllToAll(
            slot: b, send: x.send, sendCounts: x.sendCounts + b * x.n, sendOffsets: x.sendOffsets + b * x.n,
            receive: x.receive, receiveCounts: x.receiveCounts + b * x.n, receiveOffsets: x.receiveOffsets + b * x.n)
    }

    /// The global tree's finishing additions on n elements of the receive buffer: `adds` holds
    /// (destination, source) byte offsets in pairs, applied in order to every element; the elements
    /// are cut across `workers` (each element's additions and their order do not depend on the cut).
    private static func finishTree(_ adds: [Int], in shared: SharedPointer<UInt8>, count n: Int, workers: Int) {
        let slices = min(workers, max(1, n / 4096))
        runWorkers(slices) { slice in
            let buffer = UnsafeMutableRawPointer(shared.pointer)
            let lo = slice * n / slices
            let hi = (slice + 1) * n / slices
            var a = 0
            while a < adds.count {
                let dst = (buffer + adds[a]).assumingMemoryBound(to: T.self)
                let src = (buffer + adds[a + 1]).assumingMemoryBound(to: T.self)
                for k in lo..<hi { dst[k] += src[k] }
                a += 2
            }
        }
    }

    /// After the overlapped round (every bucket but the last posted): waits for every rank, posts
    /// the last bucket with the shard losses, completes the exchange, finishes the global tree on
    /// each bucket's piece of this rank's slice in the global order (the bits of `reduce`), and
    /// folds the shard losses in shard order.
    func finishOverlapped(losses lossSlots: UnsafeMutableBufferPointer<LossSum>, workers: Int) -> LossSum {
        let x = bucketExchange!
        let local = partition.localShards
        let last = x.buckets.ranges.count - 1
        group.arriveForExchanges("the gradient exchange (MPI_Ialltoallv per bucket)")
        for d in 0..<partition.worldSize {
            let out = x.send + Int(x.sendOffsets[last * x.n + d])
            let sums = out.assumingMemoryBound(to: Double.self)
            let counts = (out + 8 * local.count).assumingMemoryBound(to: Int64.self)
            for j in 0..<local.count {
                sums[j] = lossSlots[j].sum
                counts[j] = Int64(lossSlots[j].count)
            }
        }
        postBucket(last)
        group.completeExchanges("the gradient exchange (MPI_Ialltoallv per bucket)")
        let mine = x.slices.range(partition.rank)
        let target = arenaPointers[plan.arenaOfShard[0]].pointer
        let shared = SharedPointer(x.receive.assumingMemoryBound(to: UInt8.self))
        for b in 0...last {
            let bucket = x.buckets.ranges[b]
            let piece = bucket.clamped(to: mine)
            guard !piece.isEmpty else { continue }
            let n = piece.count
            Self.finishTree(x.finishing[b], in: shared, count: n, workers: workers)
            (target + piece.lowerBound).update(
                from: (x.receive + x.rootOffset[b]).assumingMemoryBound(to: T.self), count: n)
        }
        var total = LossSum()
        for r in 0..<partition.worldSize {
            let shards = partition.block(r).count
            let at = x.receive + Int(x.receiveOffsets[last * x.n + r])
            let s = at.assumingMemoryBound(to: Double.self)
            let c = (at + 8 * shards).assumingMemoryBound(to: Int64.self)
            for j in 0..<shards { total = total + LossSum(sum: s[j], count: Int(c[j])) }
        }
        return total
    }

    /// After the last round: (across processes, reduces everyone's subtree sums into this rank's
    /// slice of) the first local shard's arena, and folds the shard losses in shard order; returns
    /// the whole minibatch's loss.
    func reduce(losses: UnsafeMutableBufferPointer<LossSum>, workers: Int) -> LossSum {
        guard let exchange else {
            precondition(bucketExchange == nil, "the overlapped exchange ends in finishOverlapped")
            return losses.reduce(LossSum(), +)  // shard order: deterministic
        }
        return reduceAcrossProcesses(exchange, losses: losses, workers: workers)
    }

    /// Pairwise tree over shard indices: level d adds shard i + 2^d into shard i for every i
    /// divisible by 2^(d+1) — here restricted to the subtrees inside this process's block (all of
    /// it in one process), the additions `plan` allows once round `round` is computed.
    /// Elementwise, so slices of the arena run on different workers without changing a bit.
    func reduceRound(_ round: Int, workers: Int) {
        let adds = plan.additionsAfterRound[round]
        guard !adds.isEmpty else { return }
        let arenas = arenaPointers
        let slices = min(workers, max(1, count / 4096))
        runWorkers(slices) { slice in
            let lo = slice * count / slices
            let hi = (slice + 1) * count / slices
            var a = 0
            while a < adds.count {
                let dst = arenas[adds[a]].pointer
                let src = arenas[adds[a + 1]].pointer
                for k in lo..<hi { dst[k] += src[k] }
                a += 2
            }
        }
    }

    /// Sends every rank its slice of this rank's subtree sums (and everyone the shard losses),
    /// finishes the global tree on this rank's slice in the global order, and folds the shard losses
    /// in shard order: the one-process bits on the slice, left at the slice's place in the first
    /// local arena (the rest of that arena is stale).
    private func reduceAcrossProcesses(
        _ x: Exchange, losses lossSlots: UnsafeMutableBufferPointer<LossSum>, workers: Int
    ) -> LossSum {
        let local = partition.localShards
        let me = partition.rank
        let scalar = MemoryLayout<T>.stride
        // Pack: for each destination d, this rank's shard losses, then each subtree sum's slice d.
        for d in 0..<partition.worldSize {
            let out = x.send + Int(x.sendOffsets[d])
            let sums = out.assumingMemoryBound(to: Double.self)
            let counts = (out + 8 * local.count).assumingMemoryBound(to: Int64.self)
            for j in 0..<local.count {
                sums[j] = lossSlots[j].sum
                counts[j] = Int64(lossSlots[j].count)
            }
            let slice = x.slices.range(d)
            for (k, root) in x.roots[me].enumerated() {
                (out + 16 * local.count + k * slice.count * scalar).copyMemory(
                    from: arenaPointers[plan.arenaOfShard[root - local.lowerBound]].pointer + slice.lowerBound,
                    byteCount: slice.count * scalar)
            }
        }
        x.sendCounts.withUnsafeBufferPointer { sc in
            x.sendOffsets.withUnsafeBufferPointer { so in
                x.receiveCounts.withUnsafeBufferPointer { rc in
                    x.receiveOffsets.withUnsafeBufferPointer { ro in
                        group.allToAll(
                            send: UnsafeRawPointer(x.send), sendCounts: sc, sendOffsets: so, receive: x.receive,
                            receiveCounts: rc, receiveOffsets: ro)
                    }
                }
            }
        }
        let mine = x.slices.range(me)
        let n = mine.count
        let shared = SharedPointer(x.receive.assumingMemoryBound(to: UInt8.self))
        Self.finishTree(x.finishing, in: shared, count: n, workers: workers)
        (arenaPointers[plan.arenaOfShard[0]].pointer + mine.lowerBound).update(
            from: (x.receive + x.rootOffset).assumingMemoryBound(to: T.self), count: n)
        var total = LossSum()
        for r in 0..<partition.worldSize {
            let shards = partition.block(r).count
            let at = x.receive + Int(x.receiveOffsets[r])
            let s = at.assumingMemoryBound(to: Double.self)
            let c = (at + 8 * shards).assumingMemoryBound(to: Int64.self)
            for j in 0..<shards { total = total + LossSum(sum: s[j], count: Int(c[j])) }
        }
        return total
    }
}

/// The gradient arena of `count` elements cut into `worldSize` contiguous slices, one per rank,
/// on boundaries of `block` elements: rank r owns blocks r·K/N ..< (r+1)·K/N of the K blocks.
/// The blocks are also the fixed summation order of the gradient norm (`gradientNorm`), so the
/// ranks' per-block sums combine into the one-process norm.
public struct ArenaSlices: Sendable, Equatable {
    /// Elements per block (1 KiB of Float).
    public static let block = 256
    /// Elements per part of the work after the reduction (`GuardedUpdate`, the norm's block sums on
    /// several threads): 64 blocks, 64 KiB of Float per array (Adam's update and its backup touch
    /// seven arrays), a whole number of SIMD lanes.
    static let part = 64 * block

    /// The threads (of `workers`) that work after the reduction over `elements` takes: at least four
    /// parts each, as a dispatch costs microseconds.
    static func threads(elements: Int, workers: Int) -> Int {
        max(1, min(workers, (elements + part - 1) / part / 4))
    }
    /// P, the arena's elements.
    public let count: Int
    public let worldSize: Int

    public init(count: Int, worldSize: Int) {
        precondition(count >= 0 && worldSize >= 1, "\(count) elements over \(worldSize) ranks")
        self.count = count
        self.worldSize = worldSize
    }

    /// K, the number of blocks (the last may be short).
    public var blocks: Int { (count + Self.block - 1) / Self.block }

    /// The blocks rank `r` owns.
    public func blockRange(_ r: Int) -> Range<Int> { (r * blocks / worldSize)..<((r + 1) * blocks / worldSize) }

    /// The arena elements rank `r` owns (empty when there are fewer blocks than ranks).
    public func range(_ r: Int) -> Range<Int> {
        let b = blockRange(r)
        return min(count, b.lowerBound * Self.block)..<min(count, b.upperBound * Self.block)
    }

    /// The largest slice of any rank (what the memory plan counts per rank).
    public var largestSlice: Int { (0..<worldSize).map { range($0).count }.max() ?? 0 }
}

/// The reduce-scatter's buffers and where each part sits in them. Send: per destination d, this
/// rank's shard losses (Double sums, Int64 counts), then one slice-d piece per subtree of this rank.
/// Receive: per source r, r's shard losses, then one piece of this rank's slice per subtree of r.
final class Exchange: @unchecked Sendable {
    let slices: ArenaSlices
    /// The first shard of each rank's subtrees.
    let roots: [[Int]]
    let send: UnsafeMutableRawPointer
    let receive: UnsafeMutableRawPointer
    let sendCounts: [Int32]
    let sendOffsets: [Int32]
    let receiveCounts: [Int32]
    let receiveOffsets: [Int32]
    /// Byte offsets in `receive` (dst, src) of the finishing additions, flattened.
    let finishing: [Int]
    /// Byte offset in `receive` of shard 0's subtree piece, which ends holding the slice's gradient.
    let rootOffset: Int

    init(partition: ShardPartition, parameters: Int, scalarSize: Int) {
        let n = partition.worldSize
        let me = partition.rank
        slices = ArenaSlices(count: parameters, worldSize: n)
        let roots = (0..<n).map { partition.nodes(rank: $0).map(\.lowerBound) }
        self.roots = roots
        func padded(_ x: Int) -> Int { (x + 15) / 16 * 16 }
        let ownShards = partition.block(me).count
        var sendOffsets: [Int] = []
        var sendCounts: [Int] = []
        var offset = 0
        for d in 0..<n {
            let size = 16 * ownShards + roots[me].count * slices.range(d).count * scalarSize
            sendOffsets.append(offset)
            sendCounts.append(size)
            offset += padded(size)
        }
        let sendTotal = offset
        var receiveOffsets: [Int] = []
        var receiveCounts: [Int] = []
        var pieceOffset: [Int: Int] = [:]
        let mine = slices.range(me).count * scalarSize
        offset = 0
        for r in 0..<n {
            let head = 16 * partition.block(r).count
            for (k, root) in roots[r].enumerated() { pieceOffset[root] = offset + head + k * mine }
            let size = head + roots[r].count * mine
            receiveOffsets.append(offset)
            receiveCounts.append(size)
            offset += padded(size)
        }
        precondition(
            max(sendTotal, offset) <= Int(Int32.max),
            "the gradient exchange (\(max(sendTotal, offset)) bytes) exceeds 2 GiB")
        send = .allocate(byteCount: max(sendTotal, 16), alignment: 16)
        receive = .allocate(byteCount: max(offset, 16), alignment: 16)
        self.sendOffsets = sendOffsets.map { Int32($0) }
        self.sendCounts = sendCounts.map { Int32($0) }
        self.receiveOffsets = receiveOffsets.map { Int32($0) }
        self.receiveCounts = receiveCounts.map { Int32($0) }
        finishing = partition.finishingAdditions().flatMap { [pieceOffset[$0.0]!, pieceOffset[$0.1]!] }
        rootOffset = pieceOffset[0]!
    }

    deinit {
        send.deallocate()
        receive.deallocate()
    }
}

/// The overlapped exchange's buffers: one region per bucket b and destination d (send) or source r
/// (receive). Send, for (b, d): this rank's shard losses (Double sums, Int64 counts; last bucket
/// only), then one piece per subtree of this rank: its sums on bucket b ∩ slice d. Receive, for
/// (b, r): r's shard losses (last bucket only), then one piece per subtree of r on b ∩ this rank's
/// slice. So every element meets the same finishing additions, on the same operands, as with the
/// one-shot `Exchange`. Counts and offsets are bytes from the buffer starts, per bucket N of each.
final class BucketExchange: @unchecked Sendable {
    let buckets: GradientBuckets
    let slices: ArenaSlices
    let n: Int
    let roots: [[Int]]
    let send: UnsafeMutableRawPointer
    let receive: UnsafeMutableRawPointer
    let sendCounts: UnsafeMutablePointer<Int32>
    let sendOffsets: UnsafeMutablePointer<Int32>
    let receiveCounts: UnsafeMutablePointer<Int32>
    let receiveOffsets: UnsafeMutablePointer<Int32>
    /// Per bucket: byte offsets in `receive` (dst, src) of the finishing additions, flattened.
    let finishing: [[Int]]
    /// Per bucket: byte offset in `receive` of shard 0's piece, which ends holding the gradient.
    let rootOffset: [Int]

    /// Bytes of the shard-loss header in bucket b's region for a rank of `shards` shards.
    func headBytes(_ b: Int, shards: Int) -> Int { b == buckets.ranges.count - 1 ? 16 * shards : 0 }

    init(partition: ShardPartition, buckets: GradientBuckets, parameters: Int, scalarSize: Int) {
        let n = partition.worldSize
        let me = partition.rank
        self.n = n
        self.buckets = buckets
        let slices = ArenaSlices(count: parameters, worldSize: n)
        self.slices = slices
        let roots = (0..<n).map { partition.nodes(rank: $0).map(\.lowerBound) }
        self.roots = roots
        let nb = buckets.ranges.count
        func padded(_ x: Int) -> Int { (x + 15) / 16 * 16 }
        func overlap(_ a: Range<Int>, _ b: Range<Int>) -> Int { a.clamped(to: b).count }
        var sc: [Int] = []
        var so: [Int] = []
        var rc: [Int] = []
        var ro: [Int] = []
        var finishing: [[Int]] = []
        var rootOffset: [Int] = []
        var sendAt = 0
        var receiveAt = 0
        let finishingPairs = partition.finishingAdditions()
        for b in 0..<nb {
            let bucket = buckets.ranges[b]
            let isLast = b == nb - 1
            for d in 0..<n {
                let size =
                    (isLast ? 16 * partition.block(me).count : 0)
                    + roots[me].count * overlap(bucket, slices.range(d)) * scalarSize
                so.append(sendAt)
                sc.append(size)
                sendAt += padded(size)
            }
            let mine = overlap(bucket, slices.range(me)) * scalarSize
            var pieceOffset: [Int: Int] = [:]
            for r in 0..<n {
                let head = isLast ? 16 * partition.block(r).count : 0
                for (k, root) in roots[r].enumerated() { pieceOffset[root] = receiveAt + head + k * mine }
                let size = head + roots[r].count * mine
                ro.append(receiveAt)
                rc.append(size)
                receiveAt += padded(size)
            }
            finishing.append(finishingPairs.flatMap { [pieceOffset[$0.0]!, pieceOffset[$0.1]!] })
            rootOffset.append(pieceOffset[0]!)
        }
        precondition(
            max(sendAt, receiveAt) <= Int(Int32.max),
            "the gradient exchange (\(max(sendAt, receiveAt)) bytes) exceeds 2 GiB")
        send = .allocate(byteCount: max(sendAt, 16), alignment: 16)
        receive = .allocate(byteCount: max(receiveAt, 16), alignment: 16)
        func pointer(_ values: [Int]) -> UnsafeMutablePointer<Int32> {
            let p = UnsafeMutablePointer<Int32>.allocate(capacity: max(1, values.count))
            for (i, v) in values.enumerated() { p[i] = Int32(v) }
            return p
        }
        sendCounts = pointer(sc)
        sendOffsets = pointer(so)
        receiveCounts = pointer(rc)
        receiveOffsets = pointer(ro)
        self.finishing = finishing
        self.rootOffset = rootOffset
    }

    deinit {
        send.deallocate()
        receive.deallocate()
        for p in [sendCounts, sendOffsets, receiveCounts, receiveOffsets] { p.deallocate() }
    }
}
