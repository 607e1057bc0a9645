import Foundation
import LSTMData
import LSTMKit

/// What a training run is, resolved from its config, the dataset's schema, the `--init` weights'
/// model, the checkpoint's model and the number of processes before anything large is allocated:
/// the model, T, S, the partition and the memory plan. Pure: `resolve(_:)` opens no file (tests
/// build it from schema values); `RunPlan.load` reads what it needs, and `TrainingRun` runs it.
public struct RunPlan: Sendable {
    /// The model trained: the config's, sizes the config leaves out taken from the data, then
    /// from the `--init` weights or the checkpoint; fitted to the data.
    public let model: ModelConfig
    /// T, the steps of a minibatch window (a stream's `data.seq_length`, else the data's T).
    public let maxSteps: Int
    /// `data.seq_length` for a token stream, else nil.
    public let seqLength: Int?
    /// A token stream read in stateful lanes (h and c carried from window to window).
    public let stateful: Bool
    /// S, the shards of a minibatch: K × `ShardWorkers.shardCount` of one micro-batch.
    public let shards: Int
    /// K, micro-batches per optimizer step (`training.accumulate`).
    public let accumulate: Int
    /// The sequences of one optimizer step's minibatch: K × `data.batch_size`.
    public let globalBatch: Int
    /// This process's share of the S shards when there are several processes, else nil.
    public let partition: ShardPartition?
    /// What the run allocates, checked against `memoryAvailable`.
    public let memoryPlan: MemoryPlan
    /// The memory available when the run was planned (nil: unknown).
    public let memoryAvailable: Int?

    /// The memory a process may still allocate, and what limits it (`MemoryPlan.available`).
    public struct Room: Sendable, Equatable {
        public var bytes: Int
        public var limit: String?
        public init(bytes: Int, limit: String? = nil) {
            self.bytes = bytes
            self.limit = limit
        }
    }

    /// What a plan is resolved from.
    public struct Inputs {
        public var config: RunConfig
        /// The dataset's path as its messages name it (shards: "a.h5 + b.h5").
        public var dataPath: String
        /// The dataset's splits, and the schema of one of them (asked for the validation split
        /// only once the train split fits: its validation is a scan of the data).
        public var splits: [String]
        public var train: DatasetSchema
        public var schemaOf: (String) throws -> DatasetSchema
        /// The `--init` file and the model it holds (as the importer read it), if any.
        public var initWeights: (path: String, model: ModelConfig)?
        /// The model of the checkpoint the run resumes from, if any.
        public var checkpointModel: ModelConfig?
        public var worldSize = 1
        public var rank = 0
        /// The cores of this machine (the one-process default of S depends on them).
        public var cores = ProcessInfo.processInfo.activeProcessorCount
        public var room: Room?

        public init(
            config: RunConfig, dataPath: String, splits: [String], train: DatasetSchema,
            schemaOf: @escaping (String) throws -> DatasetSchema
        ) {
            self.config = config
            self.dataPath = dataPath
            self.splits = splits
            self.train = train
            self.schemaOf = schemaOf
        }
    }

    /// Resolves the run; throws the first thing that stops it, located in the config where a
    /// key is to blame (a size that does not fit the data, a memory plan that does not fit).
    public static func resolve(_ inputs: Inputs) throws -> RunPlan {
        let config = inputs.config
        let schema = inputs.train
        var model = try config.modelConfig(schema: schema)
        if let (path, stored) = inputs.initWeights {
            // Model keys the config leaves out come from the file; given ones must match it.
            model = config.model(model, inferringFrom: stored)
            model.initialization = stored.initialization
            model.forgetGateBias = stored.forgetGateBias
            guard stored == model else {
                throw RunError("\(path): its model (\(stored.summary)) does not match the config's (\(model.summary))")
            }
        }
        if let stored = inputs.checkpointModel {
            model = config.model(model, inferringFrom: stored)
            if stored != model {
                throw RunError("the checkpoint's model (\(stored.summary)) does not match its config")
            }
        }
        if let e = schema.fitError(model, file: inputs.dataPath) {
            throw config.error(at: "model", "does not fit the data: \(e)")
        }
        if let v = config.data.valSplit {
            guard inputs.splits.contains(v) else {
                throw config.error(
                    at: "data.val_split",
                    "\(config.data.file) has no split \(quoted(v)) (splits: \(inputs.splits.joined(separator: ", "))); set data.val_split: none to skip validation"
                )
            }
            if let e = try inputs.schemaOf(v).fitError(model, file: inputs.dataPath) { throw e }
        }
        _ = try LSTMNetwork<Float>(config: model)  // the network's own check of the model
        if let why = config.training.precision.unsupportedReason {
            throw config.error(
                at: "training.precision",
                "is \(config.training.precision), which this machine cannot run: \(why); use training.precision: float32"
            )
        }

        let isStream = schema.form == .tokenStream
        let stateful = isStream && config.data.streamMode == .stateful
        if stateful && model.bidirectional {
            throw config.error(
                at: "data.stream_mode",
                "stateful lanes carry h and c forward in time, which a "
                    + "bidirectional model cannot do; use stream_mode: windows")
        }
        let maxSteps = isStream ? config.data.seqLength : (schema.steps ?? 1)
        let world = inputs.worldSize
        // Accumulation: K micro-batches of B make one minibatch of K·B in K·S₁ shards (S₁ those of
        // one micro-batch), run in K rounds on S₁ workspaces: the bits of batch_size K·B with K·S₁ shards.
        let k = config.training.accumulate
        if k > 1 && stateful {
            throw config.error(
                at: "training.accumulate",
                "is \(k), but a stateful stream carries each lane's h and c from one window to the next, which accumulation rounds (reusing the workspaces) do not keep; use training.accumulate: 1 or data.stream_mode: windows"
            )
        }
        let globalBatch = k * config.data.batchSize  // ≤ 2^10 · 2^20 (SizeBounds)
        let shards =
            k
            * ShardWorkers<Float>.shardCount(
                config.parallel.shards, batchSize: config.data.batchSize, hidden: model.hiddenSize, worldSize: world,
                cores: inputs.cores)
        let memoryPlan = try MemoryPlan.training(
            model: model, schema: schema, batch: globalBatch, steps: maxSteps, shards: shards,
            optimizer: config.optimizer, validates: config.data.valSplit != nil, stateful: stateful, worldSize: world,
            rank: inputs.rank, accumulate: k, validationBatch: config.data.batchSize)
        do {
            try memoryPlan.check(available: inputs.room?.bytes, limit: inputs.room?.limit)
        } catch let e as RunError {
            throw config.error(at: "model", e.description)
        }
        // Several processes: S must not depend on N (docs/config.md, parallel.shards), and every
        // rank needs at least one shard.
        if shards < world {
            throw config.error(
                at: "parallel.shards",
                "\(shards) shard(s)\(config.parallel.shards == nil ? " (the multi-process default, batch_size / 16)" : "") cannot be dealt to \(world) processes; set parallel.shards ≥ \(world) (the same value for every process count gives the same bits)"
            )
        }
        return RunPlan(
            model: model, maxSteps: maxSteps, seqLength: isStream ? config.data.seqLength : nil, stateful: stateful,
            shards: shards, accumulate: k, globalBatch: globalBatch,
            partition: world > 1 ? ShardPartition(shards: shards, rank: inputs.rank, worldSize: world) : nil,
            memoryPlan: memoryPlan, memoryAvailable: inputs.room?.bytes)
    }
}
