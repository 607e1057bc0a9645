import Foundation

// Scale-out across processes with the same bits as one process.
//
// A minibatch of B sequences is cut into S global shards (ShardWorkers.shardRows), and
// the S shards are dealt to the N processes ("ranks") in contiguous blocks: rank r owns shards
// r·S/N ..< (r+1)·S/N and reads only their rows. The gradient is the single-process shard workers'
// pairwise tree over the S shard indices, evaluated in pieces: each rank reduces every maximal
// aligned subtree of that tree lying wholly inside its block (`ShardPartition.nodes`), the
// partial sums (at most 2·log₂S arenas per rank) are gathered by every rank in rank order, and
// every rank finishes the same tree in the same order (`ShardPartition.finishingAdditions`). Every addition
// of the global tree happens exactly once, on the same operands, so the result is bitwise the
// single-process one for any N — including N = 1, where the whole tree is one rank's subtree. A
// reduction whose order is up to the library (MPI_Allreduce) would not give this.

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

// MARK: - The reduction

/// The fixed pairwise tree over one process's shard arenas and, with several processes, the step
/// across them (see the top of this file). `ShardWorkers` calls `reduce` once per minibatch.
final class ExactReduction<T: LSTMScalar>: @unchecked Sendable {
    let partition: ShardPartition
    let group: any ProcessGroup
    /// The local shards' gradient arenas (index = global shard − the first local shard).
    private let arenaPointers: [SharedPointer<T>]
    private let count: Int
    /// The local tree additions (dst, src as local indices, flattened), in tree order.
    private let localAdditions: [Int]
    private let exchange: Exchange?

    init(partition: ShardPartition, group: any ProcessGroup, arenas: [SharedPointer<T>], count: Int) {
        self.partition = partition
        self.group = group
        arenaPointers = arenas
        self.count = count
        let local = partition.localShards
        var adds: [Int] = []
        for node in partition.nodes(rank: partition.rank) {
            ShardPartition.treeAdditions(node) { dst, src in adds += [dst - local.lowerBound, src - local.lowerBound] }
        }
        localAdditions = adds
        exchange =
            partition.worldSize > 1
            ? Exchange(partition: partition, parameters: count, scalarSize: MemoryLayout<T>.stride) : nil
    }

    /// Reduces the local shard arenas (and, across processes, everyone's) into the first local
    /// arena and folds the shard losses in shard order; returns the whole minibatch's loss.
    func reduce(losses: UnsafeMutableBufferPointer<LossSum>, workers: Int) -> LossSum {
        reduceLocally(workers: workers)
        guard let exchange else { return losses.reduce(LossSum(), +) }  // shard order: deterministic
        return reduceAcrossProcesses(exchange, losses: losses, workers: workers)
    }

    /// Pairwise tree over shard indices: level d adds shard i + 2^d into shard i for every i
    /// divisible by 2^(d+1) — here restricted to the subtrees inside this process's block (all of
    /// it in one process). Elementwise, so slices of the arena run on different workers without
    /// changing a bit.
    private func reduceLocally(workers: Int) {
        guard !localAdditions.isEmpty else { return }
        let arenas = arenaPointers
        let adds = localAdditions
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

    /// Packs this rank's subtree sums and shard losses, gathers every rank's, finishes the global
    /// tree in its order, and folds the shard losses in shard order: the one-process bits.
    private func reduceAcrossProcesses(
        _ x: Exchange, losses lossSlots: UnsafeMutableBufferPointer<LossSum>, workers: Int
    ) -> LossSum {
        let local = partition.localShards
        let buffer = x.buffer
        let mine = x.chunks[partition.rank]
        let sums = (buffer + mine.offset).assumingMemoryBound(to: Double.self)
        let counts = (buffer + mine.offset + 8 * local.count).assumingMemoryBound(to: Int64.self)
        for j in 0..<local.count {
            sums[j] = lossSlots[j].sum
            counts[j] = Int64(lossSlots[j].count)
        }
        for (n, root) in mine.roots.enumerated() {
            let dst = x.arena(rank: partition.rank, node: n).assumingMemoryBound(to: T.self)
            dst.update(from: arenaPointers[root - local.lowerBound].pointer, count: count)
        }
        x.counts.withUnsafeBufferPointer { c in
            x.offsets.withUnsafeBufferPointer { o in group.allGather(inPlace: buffer, counts: c, offsets: o) }
        }
        let adds = x.finishing
        let slices = min(workers, max(1, count / 4096))
        let shared = SharedPointer(buffer.assumingMemoryBound(to: UInt8.self))
        runWorkers(slices) { slice in
            let buffer = UnsafeMutableRawPointer(shared.pointer)
            let lo = slice * count / slices
            let hi = (slice + 1) * count / slices
            var a = 0
            while a < adds.count {
                let dst = (buffer + adds[a]).assumingMemoryBound(to: T.self)
                let src = (buffer + adds[a + 1]).assumingMemoryBound(to: T.self)
                for k in lo..<hi { dst[k] += src[k] }
                a += 2
            }
        }
        arenaPointers[0].pointer.update(from: (buffer + x.rootOffset).assumingMemoryBound(to: T.self), count: count)
        var total = LossSum()
        for chunk in x.chunks {
            let n = chunk.shards
            let s = (buffer + chunk.offset).assumingMemoryBound(to: Double.self)
            let c = (buffer + chunk.offset + 8 * n).assumingMemoryBound(to: Int64.self)
            for j in 0..<n { total = total + LossSum(sum: s[j], count: Int(c[j])) }
        }
        return total
    }
}

/// The buffer every rank gathers into, and where each rank's part sits in it: per rank, its
/// shards' loss sums (Double) and target counts (Int64), then one gradient arena per subtree.
final class Exchange: @unchecked Sendable {
    struct Chunk {
        var offset: Int
        var shards: Int
        /// The first shard of each of the rank's subtrees.
        var roots: [Int]
        var arenas: Int
    }
    let chunks: [Chunk]
    let buffer: UnsafeMutableRawPointer
    let counts: [Int32]
    let offsets: [Int32]
    /// Byte offsets (dst, src) of the finishing additions (`ShardPartition.finishingAdditions`), flattened.
    let finishing: [Int]
    /// Byte offset of shard 0's subtree, which ends holding the whole gradient.
    let rootOffset: Int
    let arenaBytes: Int

    init(partition: ShardPartition, parameters: Int, scalarSize: Int) {
        arenaBytes = parameters * scalarSize
        var chunks: [Chunk] = []
        var offset = 0
        var arenaOffset: [Int: Int] = [:]
        for r in 0..<partition.worldSize {
            let n = partition.block(r).count
            let roots = partition.nodes(rank: r).map(\.lowerBound)
            let head = 16 * n
            for (k, root) in roots.enumerated() { arenaOffset[root] = offset + head + k * arenaBytes }
            chunks.append(Chunk(offset: offset, shards: n, roots: roots, arenas: roots.count))
            let size = head + roots.count * arenaBytes
            offset += (size + 15) / 16 * 16
        }
        precondition(offset <= Int(Int32.max), "the gradient exchange (\(offset) bytes) exceeds 2 GiB")
        self.chunks = chunks
        buffer = .allocate(byteCount: max(offset, 16), alignment: 16)
        counts = (0..<chunks.count).map { r in
            Int32((r + 1 < chunks.count ? chunks[r + 1].offset : offset) - chunks[r].offset)
        }
        offsets = chunks.map { Int32($0.offset) }
        finishing = partition.finishingAdditions().flatMap { [arenaOffset[$0.0]!, arenaOffset[$0.1]!] }
        rootOffset = arenaOffset[0]!
    }

    func arena(rank: Int, node: Int) -> UnsafeMutableRawPointer {
        buffer + chunks[rank].offset + 16 * chunks[rank].shards + node * arenaBytes
    }

    deinit { buffer.deallocate() }
}
