import Foundation
import LSTMData
import LSTMFiles
import LSTMIO
import LSTMKit

extension RunPlan {
    /// What a run reads to be planned, and the plan.
    struct Loaded {
        let plan: RunPlan
        /// The dataset, opened and its train split validated.
        let dataFile: DatasetFile
        /// The dataset files as they were when opened (`FileIdentity`), before they were read.
        let dataIdentities: [FileIdentity]
        /// The `--init` weights, to be restored into the fresh parameters.
        let initWeights: Checkpoint?
    }

    /// Reads what the plan of a run needs and resolves it: generates the dataset when the config
    /// asks and it is missing (rank 0; the other processes wait for it), opens and validates it,
    /// reads the `--init` weights (printing the importer's notes on rank 0), measures the memory
    /// available, then `resolve`s.
    static func load(
        config: RunConfig, checkpoint: Checkpoint?, initFrom: String?, reducer: any ProcessGroup
    ) throws -> Loaded {
        if let g = config.data.generate, reducer.rank == 0, !FileManager.default.fileExists(atPath: config.data.file) {
            do { try g.write(to: config.data.file) } catch {
                throw FileError.fileSystem(error, .dataset, file: config.data.file, "could not generate the dataset")
            }
        }
        if reducer.worldSize > 1 { _ = reducer.sum(0) }  // the others open the file once rank 0 has written it
        let identities = config.data.paths.compactMap { FileIdentity(path: $0) }  // before reading them
        let file = try DatasetFile.open(paths: config.data.paths)
        let schema = try file.schema(config.data.trainSplit)
        var inputs = Inputs(
            config: config, dataPath: file.path, splits: file.splits, train: schema,
            schemaOf: { try file.validatedSchema($0) })
        var initial: Checkpoint?
        if let initFrom {
            let model = try config.modelConfig(schema: schema)  // what the importer needs to know
            let (c, notes) = try WeightsImporter.readNoting(
                initFrom,
                options: WeightsImportOptions(
                    head: model.head, activation: model.activation, loss: model.loss,
                    bias: config.gives("model.bias") ? model.bias : nil))
            if reducer.rank == 0 { for note in notes { FileHandle.standardError.write(Data("note: \(note)\n".utf8)) } }
            inputs.initWeights = (initFrom, c.config)
            initial = c
        }
        inputs.checkpointModel = checkpoint?.config
        inputs.worldSize = reducer.worldSize
        inputs.rank = reducer.rank
        // Threads still to start: the scheduler's workers (at most one per core, the main thread
        // being one) and the two loaders' prefetch threads; each core may run BLAS.
        let cores = inputs.cores
        inputs.room = MemoryPlan.available(threads: cores - 1 + 2, computeThreads: cores - 1).map {
            Room(bytes: $0.bytes, limit: $0.limit)
        }
        return Loaded(
            plan: try resolve(inputs), dataFile: file, dataIdentities: identities, initWeights: initial)
    }
}
