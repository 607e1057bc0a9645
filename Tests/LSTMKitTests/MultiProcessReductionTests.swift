import Foundation
import LSTMKit
import XCTest

/// The exact multi-process reduction (ExactReduction.swift): N ranks, each holding only its
/// block of the S shards, reduce-scatter the gradient and update only their slice of the arena
/// with only their slice of the optimizer state (ZeRO-1), and end with the one-process bits. Ranks run as threads (ThreadGroup), so
/// this runs everywhere; scripts/test-mpi.sh checks the same through `mpirun … lstm train`.
final class MultiProcessReductionTests: XCTestCase {
    /// The scheduler's tree over 0..<S, as one process computes it.
    func wholeTree(_ arenas: [[Float]]) -> [Float] {
        var a = arenas
        ShardPartition.treeAdditions(0..<a.count) { dst, src in
            for k in a[dst].indices { a[dst][k] += a[src][k] }
        }
        return a[0]
    }

    /// Each rank's subtrees, then the finishing additions on the gathered roots.
    func piecewiseTree(_ arenas: [[Float]], ranks n: Int) -> (sum: [Float], additions: Int) {
        var a = arenas
        var additions = 0
        let p = ShardPartition(shards: arenas.count, rank: 0, worldSize: n)
        for r in 0..<n {
            for node in p.nodes(rank: r) {
                XCTAssertTrue(node.lowerBound >= p.block(r).lowerBound && node.upperBound <= p.block(r).upperBound)
                ShardPartition.treeAdditions(node) { dst, src in
                    additions += 1
                    for k in a[dst].indices { a[dst][k] += a[src][k] }
                }
            }
        }
        for (dst, src) in p.finishingAdditions() {
            additions += 1
            for k in a[dst].indices { a[dst][k] += a[src][k] }
        }
        return (a[0], additions)
    }

    func testPiecewiseTreeIsBitwiseTheWholeTreeForEveryShardAndRankCount() {
        var rng = RandomSource(seed: 7)
        for s in 1...17 {
            // Values of very different magnitudes, so a different summation order changes bits.
            let arenas = (0..<s).map { _ in (0..<64).map { _ in Float(rng.normal() * pow(10, rng.uniform(-4, 4))) } }
            let whole = wholeTree(arenas)
            for n in 1...min(s, 6) {
                let (sum, additions) = piecewiseTree(arenas, ranks: n)
                XCTAssertTrue(sum.map(\.bitPattern) == whole.map(\.bitPattern), "S = \(s), N = \(n)")
                XCTAssertEqual(additions, s - 1, "every addition once: S = \(s), N = \(n)")
                let p = ShardPartition(shards: s, rank: 0, worldSize: n)
                let nodes = (0..<n).map { p.nodes(rank: $0).count }
                XCTAssertLessThanOrEqual(nodes.max()!, 2 * Int(log2(Double(s))) + 2, "O(log S) arenas per rank")
            }
        }
        // And the order matters: a left fold of the same arenas gives other bits (the test can fail).
        let arenas = (0..<8).map { _ in (0..<64).map { _ in Float(rng.normal() * pow(10, rng.uniform(-4, 4))) } }
        let fold = arenas.dropFirst().reduce(arenas[0]) { acc, x in zip(acc, x).map { $0 + $1 } }
        XCTAssertNotEqual(fold.map(\.bitPattern), wholeTree(arenas).map(\.bitPattern))
    }

    func testBlocksAreContiguousAndRowsCoverTheMinibatch() {
        for (s, n, b) in [(4, 2, 64), (5, 2, 13), (7, 3, 7), (4, 4, 3), (6, 4, 64)] {
            let p = ShardPartition(shards: s, rank: 0, worldSize: n)
            XCTAssertEqual((0..<n).flatMap { Array(p.block($0)) }, Array(0..<s))
            XCTAssertEqual((0..<n).flatMap { Array(p.rows(rank: $0, batch: b)) }, Array(0..<b), "S \(s) N \(n) B \(b)")
        }
    }

    // MARK: - Whole training steps through Trainer

    let config = tinyConfig(
        input: .features(size: 3), hidden: 8, layers: 2, output: 3, loss: .crossEntropy, dropout: 0.3)

    /// Minibatches of 13, 13 and an uneven last 6, with variable lengths.
    func data() -> [Minibatch<Float>] {
        [13, 13, 6].enumerated().map { i, b in
            var m = convert(randomBatch(config, batch: b, steps: 5, seed: UInt64(40 + i)), to: Float.self)
            var rng = RandomSource(seed: UInt64(90 + i))
            m.lengths = (0..<b).map { _ in Int32(1 + rng.index(below: 5)) }
            return m
        }
    }

    /// Trains `steps` steps (Adam, or SGD with momentum) with N ranks (threads), each with its
    /// slice of the optimizer state, gradient-norm clipping at `clipNorm`; returns rank 0's weights,
    /// every rank's losses and gradient norms, the optimizer state gathered to rank 0, and checks
    /// that all ranks ended with the same weights.
    func train(
        ranks n: Int, shards s: Int, carry: Bool = false, steps: Int = 6, sgd: Bool = false,
        clipNorm: Double? = 0.05, overlap: Bool = false
    ) throws -> (
        weights: [Float], losses: [[Double]], carried: [[LSTMState<Float>?]], norms: [[Double]],
        state: [String: [Float]]
    ) {
        let batches = data()
        let group: [any ProcessGroup] = n == 1 ? [SingleProcess()] : ThreadGroup.members(n)
        final class Results: @unchecked Sendable {
            var weights: [[Float]]
            var losses: [[Double]]
            var carried: [[LSTMState<Float>?]]
            var norms: [[Double]]
            var state: [String: [Float]] = [:]
            init(_ n: Int) {
                norms = Array(repeating: [], count: n)
                weights = Array(repeating: [], count: n)
                losses = Array(repeating: [], count: n)
                carried = Array(repeating: [], count: n)
            }
        }
        let results = Results(n)
        let config = self.config
        let lock = NSLock()
        // One real thread per rank (concurrentPerform runs only as many at once as there are
        // cores, and ranks wait for each other in collectives).
        runThreads(n) { r in
            let net = try! LSTMNetwork<Float>(config: config)
            let params = ParameterSet<Float>(config: config, seed: 5)
            let slice = n == 1 ? nil : ArenaSlices(count: params.count, worldSize: n).range(r)
            let optimizer: any Optimizer<Float> =
                sgd
                ? SGD<Float>(layout: params.layout, learningRate: 0.1, momentum: 0.9, slice: slice)
                : Adam<Float>(layout: params.layout, learningRate: 0.01, slice: slice)
            // Sharded: each rank keeps only its slice of the state.
            XCTAssertTrue(optimizer.stateBuffers.allSatisfy { $0.buffer.count == (slice?.count ?? params.count) })
            let trainer = Trainer(
                network: net, parameters: params, optimizer: optimizer, maxBatch: 13, maxSteps: 5, shards: s,
                workers: 2, clipNorm: clipNorm, group: group[r], overlap: overlap)
            XCTAssertEqual(trainer.shardWorkers.overlappedBuckets > 0, overlap && n > 1)
            trainer.dropoutSeed = 11
            trainer.carriesState = carry
            var mine: [Double] = []
            var norms: [Double] = []
            for i in 0..<steps {
                let whole = batches[(carry ? 0 : i) % batches.count]
                let part =
                    n == 1 ? whole : rankRows(whole, trainer.shardWorkers.partition.localRows(batch: whole.batchSize))
                let report = try! trainer.train(part)
                mine.append(report.loss)
                norms.append(report.gradientNorm)
            }
            let state = trainer.gatheredOptimizerState()
            lock.lock()
            results.weights[r] = params.storage.toArray()
            results.losses[r] = mine
            results.carried[r] = trainer.carriedState
            results.norms[r] = norms
            if r == 0 { results.state = state! }
            lock.unlock()
        }
        let weights = results.weights
        for r in 1..<n { XCTAssertTrue(weights[r] == weights[0], "rank \(r) holds other weights than rank 0") }
        return (weights[0], results.losses, results.carried, results.norms, results.state)
    }

    func testShardedAdamWithClippingDropoutLengthsAndUnevenLastBatchGivesOneProcessBitsForAnyRankCount() throws {
        for s in [4, 5] {
            let one = try train(ranks: 1, shards: s)
            XCTAssertNotEqual(one.weights, ParameterSet<Float>(config: config, seed: 5).storage.toArray())
            XCTAssertTrue(one.norms[0].contains { $0 > 0.05 }, "clipping happens: \(one.norms[0])")
            XCTAssertEqual(one.state.keys.sorted(), ["exp_avg", "exp_avg_sq"])
            for n in [2, 3, 4] where n <= s {
                let slices = ArenaSlices(count: one.weights.count, worldSize: n)
                XCTAssertTrue((0..<n).allSatisfy { !slices.range($0).isEmpty }, "every rank owns a slice: N = \(n)")
                let many = try train(ranks: n, shards: s)
                let differing = zip(many.weights, one.weights).filter { $0.bitPattern != $1.bitPattern }.count
                XCTAssertEqual(differing, 0, "weights differing from one process's: S = \(s), N = \(n)")
                for r in 0..<n {
                    XCTAssertEqual(many.losses[r], one.losses[0], "losses of rank \(r), S \(s), N \(n)")
                    XCTAssertEqual(
                        many.norms[r].map(\.bitPattern), one.norms[0].map(\.bitPattern), "norms of rank \(r), N \(n)")
                }
                for (name, whole) in one.state {
                    XCTAssertEqual(
                        many.state[name]?.map(\.bitPattern), whole.map(\.bitPattern),
                        "\(name) gathered from \(n) slices: S = \(s)")
                }
            }
        }
    }

    func testExchangeOverlappedWithBackpropagationGivesOneProcessBitsForAnyRankCount() throws {
        for s in [4, 5] {
            let one = try train(ranks: 1, shards: s)
            for n in [2, 3, 4] where n <= s {
                let many = try train(ranks: n, shards: s, overlap: true)
                XCTAssertEqual(many.weights.map(\.bitPattern), one.weights.map(\.bitPattern), "S = \(s), N = \(n)")
                for r in 0..<n {
                    XCTAssertEqual(many.losses[r], one.losses[0], "losses of rank \(r), S \(s), N \(n)")
                    XCTAssertEqual(
                        many.norms[r].map(\.bitPattern), one.norms[0].map(\.bitPattern), "norms of rank \(r), N \(n)")
                }
                XCTAssertEqual(
                    many.state["exp_avg_sq"]?.map(\.bitPattern), one.state["exp_avg_sq"]?.map(\.bitPattern),
                    "S = \(s), N = \(n)")
            }
        }
    }

    func testGradientBucketsAreTheParameterGroupsInBackwardOrderCoveringTheArena() throws {
        for bidirectional in [false, true] {
            let config = tinyConfig(
                input: .tokens(vocabulary: 7, embedding: 3), hidden: 5, layers: 3, bidirectional: bidirectional)
            let layout = ParameterLayout(config)
            let buckets = GradientBuckets(config).ranges
            XCTAssertEqual(buckets.count, 4)
            // Backward finishes the head first, then layer 2, layer 1, and layer 0 with the embedding:
            // together a growing suffix of the arena, ending at its start.
            XCTAssertEqual(buckets[0], layout.entry("head.weight")!.offset..<layout.count)
            XCTAssertEqual(buckets[1].lowerBound, layout.entry("lstm.weight_ih_l2")!.offset)
            XCTAssertEqual(buckets[2].lowerBound, layout.entry("lstm.weight_ih_l1")!.offset)
            XCTAssertEqual(buckets[3], 0..<layout.entry("lstm.weight_ih_l1")!.offset)
            for b in 1..<buckets.count { XCTAssertEqual(buckets[b].upperBound, buckets[b - 1].lowerBound) }
        }
    }

    func testShardedSGDMomentumWithoutClippingGivesOneProcessBits() throws {
        let one = try train(ranks: 1, shards: 4, sgd: true, clipNorm: nil)
        for n in [2, 3, 4] {
            let many = try train(ranks: n, shards: 4, sgd: true, clipNorm: nil)
            XCTAssertEqual(many.weights.map(\.bitPattern), one.weights.map(\.bitPattern), "N = \(n)")
            XCTAssertEqual(
                many.state["momentum_buffer"]?.map(\.bitPattern), one.state["momentum_buffer"]?.map(\.bitPattern),
                "N = \(n)")
        }
    }

    func testSlicesAreContiguousBlockAlignedAndCoverTheArena() {
        for (p, n) in [(1, 1), (1, 4), (255, 2), (256, 2), (1019, 3), (1019, 4), (100_000, 7)] {
            let s = ArenaSlices(count: p, worldSize: n)
            XCTAssertEqual((0..<n).flatMap { Array(s.range($0)) }, Array(0..<p), "P \(p) N \(n)")
            for r in 0..<n where !s.range(r).isEmpty {
                XCTAssertEqual(s.range(r).lowerBound % ArenaSlices.block, 0)
            }
            XCTAssertLessThanOrEqual(s.largestSlice, (p / n + ArenaSlices.block) + ArenaSlices.block)
        }
    }

    func testCarriedStateStaysWithTheRankThatOwnsTheShard() throws {
        let one = try train(ranks: 1, shards: 4, carry: true, steps: 3)
        let two = try train(ranks: 2, shards: 4, carry: true, steps: 3)
        XCTAssertTrue(two.weights == one.weights, "2 ranks' weights differ from one process's")
        // Rank 0 carries shards 0, 1; rank 1 carries 2, 3 — together exactly one process's state.
        XCTAssertEqual(two.carried[0][0], one.carried[0][0])
        XCTAssertNil(two.carried[0][2])
        XCTAssertEqual(two.carried[1][3], one.carried[0][3])
        XCTAssertNil(two.carried[1][0])
    }
}

/// Rows `range` of a minibatch, as a rank's loader hands them over.
func rankRows(_ m: Minibatch<Float>, _ range: Range<Int>) -> Minibatch<Float> {
    let b = m.batchSize
    func cut<E>(_ a: [E]) -> [E] {
        let per = a.count / b
        return Array(a[(range.lowerBound * per)..<(range.upperBound * per)])
    }
    let inputs: Minibatch<Float>.Inputs
    switch m.inputs {
    case .features(let x): inputs = .features(cut(x))
    case .tokens(let x): inputs = .tokens(cut(x))
    }
    var targets: Minibatch<Float>.Targets?
    switch m.targets {
    case .classes(let c): targets = .classes(cut(c))
    case .values(let v): targets = .values(cut(v))
    case .none: targets = nil
    }
    return Minibatch(
        batchSize: range.count, steps: m.steps, inputs: inputs, targets: targets, lengths: m.lengths.map(cut),
        rowOffset: range.lowerBound, globalBatchSize: b)
}

/// Runs `body(0..<n)` on n threads at once and waits for all of them.
func runThreads(_ n: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let done = DispatchGroup()
    for r in 0..<n {
        done.enter()
        let t = Thread {
            body(r)
            done.leave()
        }
        t.stackSize = 8 << 20
        t.start()
    }
    done.wait()
}
