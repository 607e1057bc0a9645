import LSTMKit
import XCTest

/// Variable lengths, dropout and truncated BPTT at the level of the network and the scheduler.
final class VariableLengthTests: XCTestCase {
    /// A padded batch's loss and gradient equal the sum of each sequence run alone at its own
    /// length (each normalised by the whole batch's element count).
    func paddedBatchEqualsSequencesOneByOne(_ config: ModelConfig, lengths: [Int32]) throws {
        let net = try LSTMNetwork<Double>(config: config)
        let params = ParameterSet<Double>(config: config, seed: 31)
        let t = Int(lengths.max()!)
        var batch = randomBatch(config, batch: lengths.count, steps: t, seed: 32)
        batch.lengths = lengths
        let padded = lossAndGradient(net, params, batch)
        let total = batch.withView { net.targetCount($0) }

        var lossSum = 0.0
        let sum = ParameterSet<Double>(config: config)
        for (r, len) in lengths.map(Int.init).enumerated() {
            let one = slice(batch, row: r, steps: len, config: config)
            let ws = Workspace<Double>(config: config, maxBatch: 1, maxSteps: len)
            lossSum += one.withView { net.lossAndGradient(params, $0, workspace: ws, into: sum, normalizer: total) }.sum
        }
        XCTAssertEqual(padded.loss, lossSum / Double(total), accuracy: 1e-12)
        XCTAssertLessThan(relativeError(padded.grads.storage.toArray(), sum.storage.toArray()), 1e-12)
    }

    /// Sequence `r` of `batch` cut to its first `len` steps.
    func slice(_ batch: Minibatch<Double>, row r: Int, steps len: Int, config: ModelConfig) -> Minibatch<Double> {
        let t = batch.steps
        let inputs: Minibatch<Double>.Inputs
        switch batch.inputs {
        case .features(let x):
            let i = config.inputWidth
            inputs = .features(Array(x[(r * t * i)..<(r * t * i + len * i)]))
        case .tokens(let ids): inputs = .tokens(Array(ids[(r * t)..<(r * t + len)]))
        }
        let perStep = config.head == .sequence
        let targets: Minibatch<Double>.Targets
        switch batch.targets! {
        case .classes(let c): targets = .classes(perStep ? Array(c[(r * t)..<(r * t + len)]) : [c[r]])
        case .values(let v):
            let o = config.outputSize
            targets = .values(perStep ? Array(v[(r * t * o)..<((r * t + len) * o)]) : Array(v[(r * o)..<((r + 1) * o)]))
        }
        return Minibatch(batchSize: 1, steps: len, inputs: inputs, targets: targets)
    }

    func testPaddedSequenceHeadBatchEqualsSequencesOneByOne() throws {
        try paddedBatchEqualsSequencesOneByOne(tinyConfig(layers: 2, loss: .crossEntropy), lengths: [6, 2, 4, 1])
    }

    func testPaddedLastHeadBatchReadsEachSequencesOwnFinalStep() throws {
        try paddedBatchEqualsSequencesOneByOne(
            tinyConfig(layers: 2, output: 2, head: .last, loss: .mse), lengths: [3, 6, 1])
    }

    func testPaddedBidirectionalBatchEqualsSequencesOneByOne() throws {
        try paddedBatchEqualsSequencesOneByOne(
            tinyConfig(layers: 2, loss: .crossEntropy, bidirectional: true), lengths: [2, 6, 5])
        try paddedBatchEqualsSequencesOneByOne(
            tinyConfig(
                input: .tokens(vocabulary: 5, embedding: 3), layers: 2, output: 2, head: .last, loss: .bce,
                bidirectional: true), lengths: [4, 1, 6])
    }
}

final class DropoutTests: XCTestCase {
    let config = tinyConfig(
        input: .features(size: 3), hidden: 8, layers: 3, output: 3, loss: .crossEntropy, dropout: 0.5)

    func testMasksAreTheSameForAnyShardAndWorkerCount() throws {
        let net = try LSTMNetwork<Double>(config: config)
        let params = ParameterSet<Double>(config: config, seed: 41)
        let batch = randomBatch(config, batch: 9, steps: 4, seed: 42)
        let ctx = DropoutContext(seed: 7, step: 12)
        var results: [[Double]] = []
        for (s, w) in [(1, 1), (3, 1), (3, 3), (9, 2)] {
            let sched = ShardWorkers(network: net, maxBatch: 9, maxSteps: 4, shards: s, workers: w)
            _ = batch.withView { sched.computeGradient(params, $0, dropout: ctx) }
            results.append(sched.gradients.storage.toArray())
        }
        XCTAssertEqual(results[1], results[2], "same S, different W must be bitwise equal")
        for r in results.dropFirst() { XCTAssertLessThan(relativeError(r, results[0]), 1e-12) }
        // …and the masks do something: without dropout the gradient differs.
        let plain = lossAndGradient(net, params, batch).grads.storage.toArray()
        XCTAssertGreaterThan(relativeError(plain, results[0]), 1e-3)
    }

    func testDropoutIsOffInEvaluationAndChangesWithTheStep() throws {
        let net = try LSTMNetwork<Double>(config: config)
        let params = ParameterSet<Double>(config: config, seed: 43)
        let batch = randomBatch(config, batch: 4, steps: 5, seed: 44)
        let ws = Workspace<Double>(config: config, maxBatch: 4, maxSteps: 5)
        let eval1 = meanLoss(net, params, batch, ws)
        let eval2 = meanLoss(net, params, batch, ws)
        let train1 = meanLoss(net, params, batch, ws, dropout: DropoutContext(seed: 1, step: 0))
        let train1again = meanLoss(net, params, batch, ws, dropout: DropoutContext(seed: 1, step: 0))
        let train2 = meanLoss(net, params, batch, ws, dropout: DropoutContext(seed: 1, step: 1))
        XCTAssertEqual(eval1, eval2)
        XCTAssertEqual(train1, train1again)
        XCTAssertNotEqual(eval1, train1)
        XCTAssertNotEqual(train1, train2)
    }
}

final class TruncatedBPTTTests: XCTestCase {
    let config = tinyConfig(
        input: .tokens(vocabulary: 6, embedding: 3), hidden: 5, layers: 2, output: 6, loss: .crossEntropy)

    /// Chunks of a stream with carried (h, c) give the same outputs as one long forward pass,
    /// also through the scheduler with several shards.
    func testChunksWithCarriedStateMatchOneLongPass() throws {
        let net = try LSTMNetwork<Double>(config: config)
        let params = ParameterSet<Double>(config: config, seed: 51)
        let b = 4
        let t = 9
        let chunk = 3
        let long = randomBatch(config, batch: b, steps: t, seed: 52)
        let ws = Workspace<Double>(config: config, maxBatch: b, maxSteps: t)
        _ = long.withView { net.forward(params, $0, workspace: ws) }
        let full = ws.outputs()  // [B, T, O]
        guard case .tokens(let ids) = long.inputs, case .classes(let ys) = long.targets else { return XCTFail() }

        let sched = ShardWorkers(network: net, maxBatch: b, maxSteps: chunk, shards: 2, workers: 2)
        var states: [LSTMState<Double>?] = [nil, nil]
        let wsChunk = Workspace<Double>(config: config, maxBatch: b, maxSteps: chunk)
        var carried: LSTMState<Double>?
        for c in 0..<(t / chunk) {
            func cut(_ a: [Int32]) -> [Int32] {
                var out: [Int32] = []
                for r in 0..<b {
                    let start: Int = r * t + c * chunk
                    out += a[start..<(start + chunk)]
                }
                return out
            }
            let piece = Minibatch<Double>(
                batchSize: b, steps: chunk, inputs: .tokens(cut(ids)), targets: .classes(cut(ys)))
            _ = piece.withView { sched.computeGradient(params, $0, initialStates: states) }
            states = (0..<2).map { sched.finalState(shard: $0) }
            _ = piece.withView { net.forward(params, $0, workspace: wsChunk, initialState: carried) }
            carried = wsChunk.finalState()
            let out = wsChunk.outputs()
            for r in 0..<b {
                for s in 0..<chunk {
                    for j in 0..<6 {
                        XCTAssertEqual(
                            out[(r * chunk + s) * 6 + j], full[(r * t + c * chunk + s) * 6 + j], accuracy: 1e-13)
                    }
                }
            }
        }
        // The scheduler's per-shard carried states match the single-workspace ones row for row.
        let h = config.hiddenSize
        for slot in 0..<2 {
            let joined = states[0]!.h[slot] + states[1]!.h[slot]
            XCTAssertEqual(joined.count, b * h)
            for i in 0..<(b * h) { XCTAssertEqual(joined[i], carried!.h[slot][i], accuracy: 1e-13) }
        }
    }

    /// The gradient of a chunk stops at its boundary: it equals central differences of the
    /// chunk's loss with the carried state held constant, and differs from full BPTT.
    func testGradientStopsAtTheChunkBoundary() throws {
        let config = tinyConfig(input: .features(size: 2), hidden: 3, layers: 1, output: 2, head: .last, loss: .mse)
        let net = try LSTMNetwork<Double>(config: config)
        let params = ParameterSet<Double>(config: config, seed: 53)
        let long = randomBatch(config, batch: 2, steps: 6, seed: 54)
        guard case .features(let x) = long.inputs else { return XCTFail() }
        func part(_ s: Range<Int>) -> Minibatch<Double> {
            var xs: [Double] = []
            for r in 0..<2 {
                for t in s {
                    let start: Int = (r * 6 + t) * 2
                    xs += x[start..<(start + 2)]
                }
            }
            return Minibatch(batchSize: 2, steps: s.count, inputs: .features(xs), targets: long.targets)
        }
        let ws = Workspace<Double>(config: config, maxBatch: 2, maxSteps: 3)
        _ = part(0..<3).withView { net.forward(params, $0, workspace: ws) }
        let carried = ws.finalState()
        let chunk = lossAndGradient(net, params, part(3..<6), initialState: carried).grads.storage.toArray()
        let fullBPTT = lossAndGradient(net, params, long).grads.storage.toArray()

        let numeric = CentralDifferences(
            network: net, parameters: params, batch: part(3..<6), initialState: carried, epsilon: 1e-6
        ).arenaGradient()
        XCTAssertLessThan(relativeError(chunk, numeric), 1e-6)
        XCTAssertGreaterThan(relativeError(chunk, fullBPTT), 1e-3)
    }
}
