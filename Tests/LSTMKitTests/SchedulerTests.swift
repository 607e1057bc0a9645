import LSTMKit
import XCTest

final class SchedulerTests: XCTestCase {
    let config = tinyConfig(input: .features(size: 3), hidden: 8, layers: 2, output: 3, loss: .crossEntropy)

    /// Trains `steps` SGD steps from the same start and returns the final weights.
    func train<T: LSTMScalar>(_: T.Type, shards: Int, workers: Int, batches: [Minibatch<T>], steps: Int = 3) throws
        -> [T]
    {
        let net = try LSTMNetwork<T>(config: config)
        let params = ParameterSet<Double>(config: config, seed: 21).converted(to: T.self)
        let maxBatch = batches.map(\.batchSize).max()!
        let scheduler = ShardWorkers(
            network: net, maxBatch: maxBatch, maxSteps: batches[0].steps,
            shards: shards, workers: workers)
        let sgd = SGD<T>(learningRate: 0.5)
        for i in 0..<steps {
            batches[i % batches.count].withView { _ = scheduler.computeGradient(params, $0) }
            sgd.step(params, scheduler.gradients)
        }
        return params.storage.toArray()
    }

    func batches<T: LSTMScalar>(_: T.Type, sizes: [Int], steps: Int = 6) -> [Minibatch<T>] {
        sizes.enumerated().map { i, b in
            convert(randomBatch(config, batch: b, steps: steps, seed: UInt64(100 + i)), to: T.self)
        }
    }

    func testWeightsAreBitwiseIdenticalForAnyWorkerCountAtFixedShardCount() throws {
        let data = batches(Float.self, sizes: [19, 19, 7])
        let reference = try train(Float.self, shards: 8, workers: 1, batches: data)
        for w in [2, 3, 4, 8] {
            let got = try train(Float.self, shards: 8, workers: w, batches: data)
            XCTAssertEqual(got, reference, "W = \(w) differs from W = 1 at S = 8")
        }
        let s3 = try train(Float.self, shards: 3, workers: 1, batches: data)
        XCTAssertEqual(try train(Float.self, shards: 3, workers: 2, batches: data), s3)
    }

    func testShardedTrainingAgreesWithOneShard() throws {
        let data = batches(Float.self, sizes: [16, 16, 11])
        let one = try train(Float.self, shards: 1, workers: 1, batches: data, steps: 6)
        for s in [2, 3, 4] {
            let many = try train(Float.self, shards: s, workers: 2, batches: data, steps: 6)
            XCTAssertLessThan(relativeError(many, one), 1e-5, "S = \(s)")
            XCTAssertNotEqual(
                many, ParameterSet<Double>(config: config, seed: 21).converted(to: Float.self).storage.toArray())
        }
    }

    /// The reduced shard gradient equals the one-pass batched gradient, in Double, for uneven
    /// shards, a final minibatch smaller than the maximum, and more shards than sequences.
    func testReducedShardGradientsEqualBatchedGradient() throws {
        let net = try LSTMNetwork<Double>(config: config)
        let params = ParameterSet<Double>(config: config, seed: 22)
        for (b, s) in [(10, 3), (7, 4), (3, 5), (1, 2), (16, 16)] {
            let batch = randomBatch(config, batch: b, steps: 5, seed: UInt64(b * 10 + s))
            let whole = lossAndGradient(net, params, batch)
            let scheduler = ShardWorkers(network: net, maxBatch: 16, maxSteps: 5, shards: s, workers: 2)
            let loss = batch.withView { scheduler.computeGradient(params, $0) }
            XCTAssertEqual(loss.mean, whole.loss, accuracy: 1e-12, "B = \(b), S = \(s)")
            XCTAssertLessThan(
                relativeError(scheduler.gradients.storage.toArray(), whole.grads.storage.toArray()), 1e-12,
                "B = \(b), S = \(s)")
        }
    }

    func testShardRowsCoverTheBatchOnceInOrder() {
        let net = try! LSTMNetwork<Float>(config: config)
        for (b, s) in [(10, 3), (3, 5), (64, 2), (1, 1)] {
            let sched = ShardWorkers(network: net, maxBatch: b, maxSteps: 1, shards: s, workers: 1)
            let rows = (0..<s).map { sched.shardRows($0, batch: b) }
            XCTAssertEqual(rows.first?.lowerBound, 0)
            XCTAssertEqual(rows.last?.upperBound, b)
            for (x, y) in zip(rows, rows.dropFirst()) { XCTAssertEqual(x.upperBound, y.lowerBound) }
            XCTAssertLessThanOrEqual(rows.map(\.count).max()! - rows.map(\.count).min()!, 1)
        }
    }

    func testDefaultsKeepSixteenSequencesPerShardOneShardForLargeGEMMsAndWorkersAtMostShards() {
        typealias S = ShardWorkers<Float>
        XCTAssertEqual(S.defaultShardCount(batchSize: 64, hidden: 512, cores: 2), 2)
        XCTAssertEqual(S.defaultShardCount(batchSize: 32, hidden: 128, cores: 2), 2)
        XCTAssertEqual(S.defaultShardCount(batchSize: 40, hidden: 64, cores: 8), 2)
        XCTAssertEqual(S.defaultShardCount(batchSize: 20, hidden: 64, cores: 8), 1)
        XCTAssertEqual(S.defaultShardCount(batchSize: 256, hidden: 256, cores: 4), 4)
        // (64, 1024)·(1024, 4096) per step: with OpenBLAS, BLAS threads on one shard beat shards;
        // our own kernel runs each GEMM on one thread, so it takes shards there too.
        XCTAssertEqual(S.defaultShardCount(batchSize: 64, hidden: 1024, cores: 2, threadedGEMM: true), 1)
        XCTAssertEqual(S.defaultShardCount(batchSize: 64, hidden: 1024, cores: 2, threadedGEMM: false), 2)
        let net = try! LSTMNetwork<Float>(config: config)
        let sched = ShardWorkers(network: net, maxBatch: 8, maxSteps: 2, shards: 3, workers: 8)
        XCTAssertEqual(sched.workerCount, 3)
        XCTAssertEqual(sched.blasThreads, 1)
    }
}
