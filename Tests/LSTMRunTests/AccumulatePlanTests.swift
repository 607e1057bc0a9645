import LSTMData
import LSTMKit
import XCTest

@testable import LSTMRun

/// `training.accumulate: K`: the plan of K micro-batches of B per step is the plan of one minibatch
/// of K·B in K·S₁ shards, whose memory is counted as allocated: one gradient arena per local shard,
/// the workspaces of one round only.
final class AccumulatePlanTests: XCTestCase {
    func inputs(_ text: String, _ train: DatasetSchema = RunPlanTests.adding) throws -> RunPlan.Inputs {
        var i = RunPlan.Inputs(
            config: try RunConfig.parse("data:\n  file: d.h5\n  generate: {task: adding}\n" + text, path: "job.yaml"),
            dataPath: "d.h5", splits: ["train", "val"], train: train, schemaOf: { _ in train })
        i.cores = 2
        i.room = RunPlan.Room(bytes: 1 << 40)
        return i
    }

    func testTwoMicroBatchesOfSixteenPlanTheMinibatchAndShardsOfThirtyTwo() throws {
        let whole = try RunPlan.resolve(inputs("  batch_size: 32\nmodel:\n  hidden_size: 8\n"))
        let accumulated = try RunPlan.resolve(
            inputs("  batch_size: 16\nmodel:\n  hidden_size: 8\ntraining:\n  accumulate: 2\n"))
        // One process, 2 cores: S₁ = min(2, 16 / 16) = 1 per micro-batch, K·S₁ = 2 = the S of B = 32.
        XCTAssertEqual(accumulated.shards, whole.shards)
        XCTAssertEqual(accumulated.globalBatch, 32)
        XCTAssertEqual(accumulated.accumulate, 2)
        XCTAssertEqual(whole.globalBatch, 32)
        XCTAssertEqual(whole.accumulate, 1)
        XCTAssertLessThan(accumulated.memoryPlan.total, whole.memoryPlan.total)
        let items = Dictionary(uniqueKeysWithValues: accumulated.memoryPlan.items.map { ($0.name, $0.bytes) })
        XCTAssertNotNil(items["workspaces (1 shard(s), 2 rounds)"], "\(accumulated.memoryPlan.items)")
        XCTAssertNotNil(items["gradients (2 shard arena(s))"], "\(accumulated.memoryPlan.items)")
    }

    func testTheAccumulatedPlansShardItemsAreWhatTheWorkersAllocate() throws {
        let m = ModelConfig(
            input: .tokens(vocabulary: 11, embedding: 4), hiddenSize: 6, numLayers: 3, outputSize: 11,
            loss: .crossEntropy, dropout: 0.2)
        let schema = RunPlanTests.schema(.tokens, .classesPerStep, vocabulary: ["a", "b", "c"], maxID: 2)
        let network = try LSTMNetwork<Float>(config: m)
        // K = 1: an arena per shard. Rounds reuse the arenas of reduced subtrees (RoundPlan).
        for (k, shards, arenas, rounds) in [
            (1, 4, 4, "workspaces (4 shard(s))"), (2, 4, 3, "workspaces (2 shard(s), 2 rounds)"),
            (4, 4, 3, "workspaces (1 shard(s), 4 rounds)"), (3, 6, 3, "workspaces (2 shard(s), 3 rounds)"),
            (16, 16, 5, "workspaces (1 shard(s), 16 rounds)")
        ] {
            let plan = try MemoryPlan.training(
                model: m, schema: schema, batch: 12, steps: 3, shards: shards,
                optimizer: OptimizerConfig(name: "sgd", values: [:]), validates: false, stateful: false, accumulate: k)
            let item = Dictionary(uniqueKeysWithValues: plan.items.map { ($0.name, $0.bytes) })
            let workers = Allocation.counting {
                ShardWorkers(network: network, maxBatch: 12, maxSteps: 3, shards: shards, workers: 1, rounds: k)
            }
            XCTAssertEqual(
                try XCTUnwrap(item["gradients (\(arenas) shard arena(s))"], "\(plan.items)")
                    + XCTUnwrap(item[rounds], "\(plan.items)"),
                workers.bytes, "K = \(k)")
        }
    }

    func testEachProcessPlansItsOwnShardsArenasAndOneRoundsWorkspaces() throws {
        // 2 processes, K = 2, S₁ = 2: 4 shards, 2 per rank, run in 2 rounds of 1.
        var i = try inputs("  batch_size: 32\nparallel:\n  shards: 2\ntraining:\n  accumulate: 2\n")
        i.worldSize = 2
        i.rank = 1
        let plan = try RunPlan.resolve(i)
        XCTAssertEqual(plan.shards, 4)
        XCTAssertEqual(plan.partition, ShardPartition(shards: 4, rank: 1, worldSize: 2))
        let names = plan.memoryPlan.items.map(\.name)
        XCTAssertTrue(names.contains("gradients (2 shard arena(s))"), "\(names)")
        XCTAssertTrue(names.contains("workspaces (1 shard(s), 2 rounds)"), "\(names)")
    }

    func testAStatefulStreamRefusesAccumulationAtItsKey() throws {
        let stream = RunPlanTests.schema(
            .tokens, .classesPerStep, form: .tokenStream, count: 1000, vocabulary: ["a", "b", "c"], maxID: 2)
        XCTAssertThrowsError(
            try RunPlan.resolve(
                inputs("  seq_length: 9\n  stream_mode: stateful\ntraining:\n  accumulate: 2\n", stream))
        ) { error in
            XCTAssertTrue(
                "\(error)".hasPrefix("job.yaml:7:15: training.accumulate: is 2, but a stateful stream carries"),
                "\(error)")
        }
        XCTAssertNoThrow(
            try RunPlan.resolve(inputs("  seq_length: 9\n  stream_mode: windows\ntraining:\n  accumulate: 2\n", stream))
        )
    }
}
