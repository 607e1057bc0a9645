import LSTMKit
import XCTest

@testable import LSTMData
@testable import LSTMRun

/// Resolving a run from its config and the data's schema, on schema values (no HDF5 file).
final class RunPlanTests: XCTestCase {
    static func schema(
        _ input: DatasetSchema.InputKind, _ target: DatasetSchema.TargetKind, form: DatasetSchema.Form = .sequences,
        count: Int = 64, steps: Int? = 6, vocabulary: [String]? = nil, maxID: Int32 = 1, split: String = "train"
    ) -> DatasetSchema {
        let ids = DatasetSchema.IDRange(min: 0, minIndex: 0, max: maxID, maxIndex: 3)
        return DatasetSchema(
            split: split, form: form, count: count, steps: form == .sequences ? steps : nil, input: input,
            target: target, hasLengths: false, vocabulary: vocabulary, classNames: nil, featureStatistics: nil,
            targetStatistics: nil, tokenIDs: input == .tokens ? ids : nil, classIDs: target.isClasses ? ids : nil)
    }

    static let adding = schema(.features(width: 2), .valuesPerSequence(width: 1))

    func config(_ text: String) throws -> RunConfig {
        try RunConfig.parse("data:\n  file: d.h5\n  generate: {task: adding}\n" + text, path: "job.yaml")
    }

    // MARK: - The config's sizes against the data (modelFits, located)

    func testEverySizeTheConfigGivesThatDoesNotFitIsLocatedAtItsKey() throws {
        let c = try config("model:\n  input_size: 5\n  output_size: 3\nloss: cross_entropy\n")
        XCTAssertThrowsError(try c.modelConfig(schema: Self.adding)) { error in
            XCTAssertEqual(
                "\(error)",
                "job.yaml:5:15: model.input_size: is 5 but d.h5 has features of width 2\n"
                    + "job.yaml:6:16: model.output_size: is 3 but d.h5 has targets of width 1\n"
                    + "job.yaml:7:7: loss: cross_entropy does not fit d.h5, which has float values per sequence, "
                    + "O = 1 (class ids need cross_entropy; float targets need mse or bce)")
        }
    }

    func testSizesTheConfigLeavesOutComeFromTheData() throws {
        let m = try config("model:\n  hidden_size: 8\n").modelConfig(schema: Self.adding)
        XCTAssertEqual(m.input, .features(size: 2))
        XCTAssertEqual(m.outputSize, 1)
        XCTAssertEqual(m.head, .last)
        XCTAssertEqual(m.loss, .mse)
    }

    // MARK: - The plan

    func inputs(
        _ text: String, _ train: DatasetSchema = adding, splits: [String] = ["train", "val"],
        val: DatasetSchema? = nil
    ) throws -> RunPlan.Inputs {
        var i = RunPlan.Inputs(
            config: try config(text), dataPath: "d.h5", splits: splits, train: train,
            schemaOf: { _ in val ?? train })
        i.cores = 2
        i.room = RunPlan.Room(bytes: 1 << 40)
        return i
    }

    func testAPlanResolvesModelStepsShardsAndTheMemoryPlanFromValues() throws {
        let plan = try RunPlan.resolve(inputs("  batch_size: 32\nmodel:\n  hidden_size: 8\n"))
        XCTAssertEqual(plan.model.summary, "features I=2, H=8 × 1 layer(s), O=1, head last, mse+identity")
        XCTAssertEqual(plan.maxSteps, 6)
        XCTAssertNil(plan.seqLength)
        XCTAssertFalse(plan.stateful)
        // One process, 2 cores, B = 32: the scheduler's rule gives min(cores, B / 16) = 2.
        XCTAssertEqual(plan.shards, 2)
        XCTAssertNil(plan.partition)
        XCTAssertEqual(plan.memoryAvailable, 1 << 40)
        XCTAssertEqual(
            plan.memoryPlan,
            try MemoryPlan.training(
                model: plan.model, schema: Self.adding, batch: 32, steps: 6, shards: 2,
                optimizer: OptimizerConfig(name: "adam", values: [:]), validates: true, stateful: false))
    }

    func testSeveralProcessesShareTheShardsAndNeedOneEach() throws {
        var i = try inputs("  batch_size: 64\nparallel:\n  shards: 4\n")
        i.worldSize = 2
        i.rank = 1
        let plan = try RunPlan.resolve(i)
        XCTAssertEqual(plan.shards, 4)
        XCTAssertEqual(plan.partition, ShardPartition(shards: 4, rank: 1, worldSize: 2))
        // Unset, S is the multi-process rule's B / 16 = 4, and the memory plan counts this rank's 2.
        var unset = try inputs("  batch_size: 64\n")
        unset.worldSize = 2
        let planned = try RunPlan.resolve(unset)
        XCTAssertEqual(planned.shards, 4)
        XCTAssertEqual(planned.partition, ShardPartition(shards: 4, rank: 0, worldSize: 2))
        XCTAssertTrue(
            planned.memoryPlan.items.contains { $0.name == "workspaces (2 shard(s))" }, "\(planned.memoryPlan.items)")
        var few = try inputs("  batch_size: 32\n")
        few.worldSize = 4
        XCTAssertThrowsError(try RunPlan.resolve(few)) { error in
            XCTAssertEqual(
                "\(error)",
                "job.yaml: parallel.shards: 2 shard(s) (the multi-process default, batch_size / 16) cannot be dealt "
                    + "to 4 processes; set parallel.shards ≥ 4 (the same value for every process count gives the same bits)"
            )
        }
    }

    func testAStreamPlansWindowsOfSeqLengthAndRefusesStatefulBidirectionalLanes() throws {
        let stream = Self.schema(
            .tokens, .classesPerStep, form: .tokenStream, count: 1000, vocabulary: ["a", "b", "c"], maxID: 2)
        let plan = try RunPlan.resolve(inputs("  seq_length: 9\n  stream_mode: stateful\n", stream))
        XCTAssertEqual(plan.maxSteps, 9)
        XCTAssertEqual(plan.seqLength, 9)
        XCTAssertTrue(plan.stateful)
        XCTAssertEqual(plan.model.input, .tokens(vocabulary: 3, embedding: plan.model.inputWidth))
        XCTAssertThrowsError(
            try RunPlan.resolve(inputs("  stream_mode: stateful\nmodel:\n  bidirectional: true\n", stream))
        ) { error in
            XCTAssertTrue(
                "\(error)".hasPrefix("job.yaml:4:16: data.stream_mode: stateful lanes carry h and c"), "\(error)")
        }
    }

    func testKeysTheConfigLeavesOutComeFromTheInitWeightsAndGivenOnesMustMatch() throws {
        let stored = ModelConfig(
            input: .features(size: 2), hiddenSizes: [7, 5], outputSize: 1, head: .last, loss: .mse,
            initialization: .xavier)
        var i = try inputs("")
        i.initWeights = ("w.pt", stored)
        let plan = try RunPlan.resolve(i)
        XCTAssertEqual(plan.model, stored)
        var given = try inputs("model:\n  hidden_size: 8\n")
        given.initWeights = ("w.pt", stored)
        XCTAssertThrowsError(try RunPlan.resolve(given)) { error in
            XCTAssertTrue("\(error)".hasPrefix("w.pt: its model (features I=2, H=[7, 5] (per layer)"), "\(error)")
        }
        var resumed = try inputs("model:\n  hidden_size: 8\n")
        resumed.checkpointModel = stored
        XCTAssertThrowsError(try RunPlan.resolve(resumed)) { error in
            XCTAssertTrue("\(error)".hasPrefix("the checkpoint's model (features I=2, H=[7, 5]"), "\(error)")
        }
    }

    func testAModelThatDoesNotFitTheTrainOrValidationSplitIsRefused() throws {
        XCTAssertThrowsError(try RunPlan.resolve(inputs("model:\n  head: sequence\n"))) { error in
            XCTAssertTrue(
                "\(error)".hasPrefix(
                    "job.yaml:5:3: model: does not fit the data: d.h5: train: the model does not fit the data: "),
                "\(error)")
            XCTAssertTrue("\(error)".contains("the model's head `sequence` predicts every step"), "\(error)")
        }
        XCTAssertThrowsError(try RunPlan.resolve(inputs("", splits: ["train"]))) { error in
            XCTAssertTrue("\(error)".contains("data.val_split: d.h5 has no split 'val' (splits: train)"), "\(error)")
        }
        let wide = Self.schema(.features(width: 3), .valuesPerSequence(width: 1), split: "val")
        XCTAssertThrowsError(try RunPlan.resolve(inputs("", val: wide))) { error in
            XCTAssertEqual(
                "\(error)",
                "d.h5: val: the model does not fit the data: the model reads I = 2 features but val/inputs has I = 3")
        }
    }

    func testAPlanLargerThanTheRoomIsRefusedAtTheModel() throws {
        var i = try inputs("model:\n  hidden_size: 8\n")
        i.room = RunPlan.Room(bytes: 1000, limit: "ulimit -v 1000 bytes")
        XCTAssertThrowsError(try RunPlan.resolve(i)) { error in
            XCTAssertTrue("\(error)".hasPrefix("job.yaml:5:3: model: memory plan: the run needs"), "\(error)")
            XCTAssertTrue("\(error)".contains("(ulimit -v 1000 bytes)"), "\(error)")
        }
    }
}
