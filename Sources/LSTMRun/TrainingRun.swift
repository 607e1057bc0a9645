import Foundation
import LSTMData
import LSTMFiles
import LSTMIO
import LSTMKit

/// What a finished (or early-stopped) run did.
public struct RunSummary: Sendable {
    public var steps: Int
    /// Epochs trained, a fraction when the run ends mid-epoch (900 steps of 400 per epoch: 2.25).
    public var epochs: Double
    public var lastValidation: MetricsRecord?
    public var bestMetric: Double?
    public var stoppedEarly: Bool
    public var reason: String
    public var skippedSteps: Int
    public var wallTime: Double
    public var directory: String
    public var latestCheckpoint: String?
    public var bestCheckpoint: String?
    /// Stopped by `requestStop(saveCheckpoint: true)` (SIGINT/SIGTERM in the CLI) with a
    /// checkpoint of that step saved: the run did not reach its end; `lstm resume` continues it.
    public var interrupted = false
}

/// Everything of a run that is not in the weights or the optimizer, saved with every
/// checkpoint (as the checkpoint's JSON cursor) so a resumed run continues bit for bit.
struct RunState: Codable, Equatable {
    var cursor: LoaderCursor
    var plateau: ReduceLROnPlateau?
    var bestMetric: Double?
    var checksWithoutImprovement = 0
    var skippedSteps = 0
    var trainLossSum = 0.0
    var trainLossCount = 0
    /// Carried (h, c) per shard for stateful streams.
    var carried: [LSTMState<Float>?]?
    var wallTime = 0.0
    /// Lines in metrics.jsonl when this state was saved (nil in checkpoints written before it was
    /// counted): a resumed run cuts the file back to exactly these.
    var metricsRecords: Int?
    /// The step of the last validation logged (nil: none yet), so a resumed run that ends right
    /// away does not validate that step a second time.
    var lastValidationStep: Int?
    /// Consecutive non-finite (skipped) steps so far, and the first of them (see
    /// `training.max_nonfinite_steps`); nil in checkpoints written before they were counted.
    var nonFiniteStreak: Int?
    var firstNonFinite: NonFiniteStep?
    /// Sum of the gradient norms of the steps since the last train record (nil in older checkpoints).
    var gradientNormSum: Double?
    /// The TensorBoard event file and its size when this state was saved: a resumed run cuts it
    /// back to this size (nil: no TensorBoard, or a checkpoint written before it was recorded).
    var tensorBoard: TensorBoardState?
}

/// A step dropped by the non-finite guard: what went wrong first in a streak of them.
struct NonFiniteStep: Codable, Equatable {
    var step: Int
    var loss: Double
    var gradientNorm: Double
    var learningRate: Double
}

/// A run's TensorBoard event file (its name in the TensorBoard directory) and its size in bytes.
struct TensorBoardState: Codable, Equatable {
    var file: String
    var bytes: Int
}

/// A config-driven training job: data, model, optimizer, schedule, the loop with validation,
/// metrics.jsonl, checkpoints, early stopping and exact resume.
public final class TrainingRun {
    public let config: RunConfig
    public var model: ModelConfig { plan.model }
    public let network: LSTMNetwork<Float>
    public let parameters: ParameterSet<Float>
    public let optimizer: any Optimizer<Float>
    public let trainer: Trainer<Float>
    public let directory: String
    /// What the run is (model, T, S, partition, memory plan), resolved before anything large was allocated.
    public let plan: RunPlan
    /// What the run allocates, computed (and checked against the memory available) before it did.
    public var memoryPlan: MemoryPlan { plan.memoryPlan }
    /// The memory available when the run was planned (nil: unknown).
    public var memoryAvailable: Int? { plan.memoryAvailable }
    /// Called after every training step (the Swift API's per-step hook).
    public var onStep: ((StepReport) -> Void)?
    /// Called after every validation with the record written to metrics.jsonl.
    public var onValidation: ((MetricsRecord) -> Void)?
    /// Where progress goes.
    public var progress: ProgressReporter
    /// The processes this run is one of (`SingleProcess` unless launched by mpirun with the MPI
    /// build). Every rank trains the same model on its rows of each minibatch; rank 0 alone
    /// writes metrics, plots, config.yaml and checkpoints.
    public let reducer: any ProcessGroup
    /// Whether this process writes the run's files (rank 0).
    public var writesFiles: Bool { reducer.rank == 0 }

    let trainFile: DatasetFile
    /// The dataset files as they were when opened: a file rewritten, truncated or replaced
    /// during the run stops it (checked at each epoch, before each checkpoint, on read errors).
    let dataIdentities: [FileIdentity]
    let trainLoader: BatchLoader
    let valLoader: BatchLoader?
    /// Validation's workspace, made once (it reads the live parameters); validation reads
    /// minibatches of `data.batch_size` (one micro-batch under `training.accumulate`).
    lazy var evaluator = Evaluator(
        network: network, parameters: parameters, maxBatch: config.data.batchSize,
        maxSteps: trainer.shardWorkers.maxSteps)
    let schedule: LearningRateSchedule
    let store: CheckpointStore
    /// The TensorBoard event file (`logging.tensorboard`; rank 0 only), or nil.
    public private(set) var tensorBoard: TensorBoardLog?
    var state: RunState
    var stateful: Bool { plan.stateful }
    let baseLearningRate: Double
    /// How the run was started (`--init` file, version): run.json and every checkpoint.
    public let provenance: RunProvenance
    /// The run directory's lock (rank 0), held as long as this run exists.
    let lock: RunLock?
    /// A fresh run's `--overwrite`: the earlier run it deletes when training starts.
    private var earlierRun: EarlierRun? = nil
    private let stopLock = NSLock()
    private var stopRequest: Bool?  // nil: go on; true: stop and save; false: stop as if killed

    /// Asks the loop to stop after the current step (thread-safe; e.g. from a SIGINT handler).
    /// With `saveCheckpoint` a checkpoint of this exact step is written first, so `lstm resume`
    /// continues from it; without, the run ends as if killed (tests use this).
    public func requestStop(saveCheckpoint: Bool = true) {
        stopLock.lock()
        stopRequest = saveCheckpoint
        stopLock.unlock()
    }

    private var pendingStop: Bool? {
        stopLock.lock()
        defer { stopLock.unlock() }
        return stopRequest
    }

    /// Prepares a fresh run: generates the dataset if the config asks and it is missing,
    /// validates data against the model, then (only then) creates the run directory.
    ///
    /// - Parameter initFrom: start from these weights (a checkpoint or an imported file);
    ///   their architecture must agree with the config.
    ///   - reducer: the processes of a multi-process job (default: this one alone).
    ///   - overwrite: a run directory holding another run's checkpoints is refused (`RunError`
    ///     naming them) unless this is true; then they are deleted when training starts (not
    ///     before: a dry run deletes nothing). A directory without checkpoints (a run stopped
    ///     before its first) is reused either way.
    public convenience init(
        config: RunConfig, initFrom: String? = nil, overwrite: Bool = false,
        reducer: any ProcessGroup = SingleProcess()
    ) throws {
        try self.init(
            config: config, checkpoint: nil, initFrom: initFrom, provenance: nil,
            fresh: overwrite ? .overwrite : .refuseEarlierRun, reducer: reducer)
    }

    /// A fresh run's attitude to checkpoints already in its directory.
    enum FreshStart { case refuseEarlierRun, overwrite, restart }

    /// Whether this run continues from a checkpoint (false for a fresh run, and for `resume` of a
    /// run stopped before its first checkpoint, which starts again from its saved config.yaml).
    public var resumedFromCheckpoint: Bool { resumedStep != nil }
    private var resumedStep: Int?

    /// Continues the run in `directory` from its latest checkpoint, with the config stored in it.
    /// A run stopped before its first checkpoint starts again from the beginning with the
    /// `config.yaml` it left in `directory` (`resumedFromCheckpoint` is then false).
    /// Everything is written into `directory`, wherever the run was first started (a moved run
    /// directory resumes in its new place).
    ///
    /// - Parameter accumulate: run on with this `training.accumulate` K′ (`lstm resume --accumulate`):
    ///   the same minibatch of K·B sequences and K·S₁ shards as micro-batches of K·B/K′ in K′ rounds
    ///   of K·S₁/K′ shards, so the bits are those of the run going on unchanged.
    public static func resume(directory: String, reducer: any ProcessGroup = SingleProcess(), accumulate: Int? = nil)
        throws -> TrainingRun
    {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            throw RunError("\(directory): no such directory (expected a run directory, the checkpoint.dir of a config)")
        }
        guard isDirectory.boolValue else {
            throw RunError("\(directory) is a file, not a run directory (the checkpoint.dir of a config)")
        }
        let store = try CheckpointStore(directory: directory, keepLast: 1_000_000)
        let configPath = (directory as NSString).appendingPathComponent("config.yaml")
        guard let intact = try store.newestIntact() else {
            guard FileManager.default.fileExists(atPath: configPath) else {
                throw RunError("no checkpoint and no config.yaml in \(directory): nothing to resume")
            }
            var config = try RunConfig.load(path: configPath)
            if let k = accumulate, k != config.training.accumulate {
                config = try RunConfig.load(
                    path: configPath, overrides: try config.overrides(accumulate: k, directory: directory))
            }
            config.checkpoint.dir = directory
            // Started again from the beginning, from the same --init weights (checked unchanged).
            let provenance = try RunProvenance.read(directory: directory) ?? RunProvenance(initFrom: nil)
            return try TrainingRun(
                config: config, checkpoint: nil, initFrom: try provenance.verifiedInitFile(directory: directory),
                provenance: provenance, fresh: .restart, reducer: reducer)
        }
        let ckpt = intact.checkpoint
        if !intact.skipped.isEmpty && reducer.rank == 0 {
            let lines = intact.skipped.map { "skipped: \($0)" }
            FileHandle.standardError.write(
                Data(
                    (lines.joined(separator: "\n")
                        + "\nresuming from \(intact.path) (step \(ckpt.globalStep)), the newest intact checkpoint\n")
                        .utf8))
        }
        // What resuming needs beyond a loadable checkpoint, checked here where the file is known.
        guard ckpt.optimizer != nil else {
            throw FileError(
                .missing, .checkpoint, file: intact.path, object: "/optimizer",
                "no optimizer state, so training cannot resume from this checkpoint exactly; start a new run from its weights with `lstm train CONFIG --init \(intact.path)`"
            )
        }
        _ = try ckpt.dataCursor(as: RunState.self, file: intact.path)
        guard let text = ckpt.configText else { throw RunError("the checkpoint in \(directory) holds no run config") }
        var config = try RunConfig.parse(text, path: configPath)
        if let k = accumulate, k != config.training.accumulate {
            config = try RunConfig.parse(
                text, path: configPath, overrides: try config.overrides(accumulate: k, directory: directory))
        }
        config.checkpoint.dir = directory
        // The weights come from the checkpoint: the --init file is not read again.
        let provenance =
            try ckpt.runProvenance.map { try RunProvenance.parse($0, source: "\(store.latestPath) @run_provenance") }
            ?? RunProvenance.read(directory: directory) ?? RunProvenance(initFrom: nil)
        return try TrainingRun(
            config: config, checkpoint: ckpt, initFrom: nil, provenance: provenance, fresh: .restart,
            reducer: reducer)
    }

    private init(
        config: RunConfig, checkpoint: Checkpoint?, initFrom: String?, provenance: RunProvenance?,
        fresh: FreshStart, reducer: any ProcessGroup
    ) throws {
        self.config = config
        self.reducer = reducer
        directory = config.checkpoint.dir
        let loaded = try RunPlan.load(config: config, checkpoint: checkpoint, initFrom: initFrom, reducer: reducer)
        let plan = loaded.plan
        self.plan = plan
        trainFile = loaded.dataFile
        dataIdentities = loaded.dataIdentities
        self.provenance = try provenance ?? RunProvenance(initFrom: initFrom)  // after the file proved readable
        var network = try LSTMNetwork<Float>(config: plan.model)
        network.precision = config.training.precision  // checked by RunPlan.resolve
        self.network = network
        let file = loaded.dataFile
        let stateful = plan.stateful
        let mode = config.data.streamMode
        trainLoader = try BatchLoader(
            file: file, split: config.data.trainSplit, batchSize: plan.globalBatch,
            shuffle: stateful ? false : config.data.shuffle, seed: config.seed, seqLength: plan.seqLength, mode: mode,
            dropLast: config.data.dropLast || stateful, partition: plan.partition)
        valLoader = try config.data.valSplit.map {
            try BatchLoader(
                file: file, split: $0, batchSize: config.data.batchSize, shuffle: false,
                seed: config.seed, seqLength: plan.seqLength, mode: mode, dropLast: stateful)
        }
        guard trainLoader.batchesPerEpoch > 0 else {
            throw config.error(
                at: "data.batch_size",
                "split \(quoted(config.data.trainSplit)) of \(config.data.file) yields no minibatch of \(plan.globalBatch)"
                    + (plan.accumulate > 1
                        ? " (training.accumulate \(plan.accumulate) × data.batch_size \(config.data.batchSize))" : "")
            )
        }

        // Parameters and optimizer.
        let params = ParameterSet<Float>(config: plan.model, seed: config.seed)
        parameters = params
        let optConfig = config.optimizer
        // Several processes: each keeps and updates only its slice of the optimizer state (ZeRO-1).
        let world = reducer.worldSize
        let slice = world > 1 ? ArenaSlices(count: params.count, worldSize: world).range(reducer.rank) : nil
        let opt: any Optimizer<Float> = try optConfig.makeOptimizer(layout: params.layout, slice: slice)
        optimizer = opt
        baseLearningRate = opt.learningRate
        schedule = try config.schedule.learningRateSchedule()
        let workers = config.parallel.workers ?? reducer.defaultWorkers(shards: plan.shards)
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let overlap =
            config.parallel.overlap
            ?? ShardWorkers<Float>.defaultOverlap(
                layers: config.model.numLayers, workers: workers ?? cores,
                coresPerProcess: max(1, cores / max(1, reducer.processesOnThisHost)))
        trainer = Trainer(
            network: network, parameters: params, optimizer: opt, maxBatch: plan.globalBatch,
            maxSteps: plan.maxSteps, shards: plan.shards,
            workers: workers,
            clipNorm: config.training.clipNorm, group: reducer, partition: plan.partition,
            accumulate: plan.accumulate, overlap: overlap)
        trainer.clipValue = config.training.clipValue
        trainer.nonFinitePolicy = config.training.nanPolicy
        trainer.dropoutSeed = config.seed
        trainer.carriesState = stateful
        progress = ProgressReporter(
            mode: reducer.rank == 0 ? config.logging.progress : "none", every: config.logging.every)
        state = RunState(cursor: LoaderCursor())
        if let plateau = config.schedule.plateauConfiguration() {
            state.plateau = try ReduceLROnPlateau(learningRate: baseLearningRate, configuration: plateau)
        }

        if let initial = loaded.initWeights ?? checkpoint {
            try initial.restore(into: params, optimizer: checkpoint == nil ? nil : opt)
        }
        if let checkpoint {
            trainer.step = checkpoint.globalStep
            if let s = try checkpoint.dataCursor(as: RunState.self) { state = s }
            try trainLoader.seek(to: state.cursor)
            trainer.restoreCarriedState(state.carried)
        }
        store = try CheckpointStore(directory: directory, keepLast: config.checkpoint.keep)
        // Rank 0 alone writes, so it alone owns the directory: the lock, then what is in it.
        lock = reducer.rank == 0 ? try RunLock(directory: directory) : nil
        if let stale = lock?.takenOverFrom {
            notice("took over the lock of \(directory) from \(stale), which ended without releasing it")
        }
        if writesFiles, checkpoint == nil, fresh != .restart, let earlier = try EarlierRun(store) {
            guard fresh == .overwrite else {
                throw RunError(
                    "\(directory) holds another run's checkpoints (\(earlier.summary)). "
                        + "Continue that run with `lstm resume \(directory)`, train into another directory "
                        + "(--set checkpoint.dir=…), or pass --overwrite to delete them and start afresh")
            }
            earlierRun = earlier
        }
        if writesFiles, let place = config.logging.tensorBoard {
            let dir: String
            switch place {
            case .runDirectory: dir = (directory as NSString).appendingPathComponent("tensorboard")
            case .directory(let d): dir = d
            }
            tensorBoard = TensorBoardLog(
                directory: dir, file: state.tensorBoard?.file ?? TensorBoardLog.fileName(runDirectory: directory))
        }
        if let checkpoint {
            resumedStep = checkpoint.globalStep
            if writesFiles {
                try metrics.truncate(after: trainer.step, records: state.metricsRecords)
                state.metricsRecords = try metrics.count()
                // Events logged after the checkpoint are logged again: cut them off.
                if let tb = state.tensorBoard { try tensorBoard?.truncate(to: tb.bytes) }
            }
        }
    }

    /// A run from scratch (not resumed from a checkpoint) clears what an earlier attempt left in
    /// its directory when it starts training (not before: `lstm train --dry-run` deletes nothing),
    /// so the old checkpoints are never resumed and the old metrics never appended to.
    private func clearEarlierAttempt() throws {
        guard !resumedFromCheckpoint, state.metricsRecords == nil else { return }
        if writesFiles {
            try store.removeAll()
            try metrics.reset()
            try tensorBoard?.reset()
            if let earlier = earlierRun {
                notice(
                    "--overwrite: removed the earlier run's \(earlier.files.count) checkpoint file(s) from \(directory) "
                        + "(\(earlier.summary)) and its metrics.jsonl")
                earlierRun = nil
            }
            // What the run was started with, before its first step (a run killed before its
            // first checkpoint is started again from these by `lstm resume`).
            try AtomicFile.write(
                config.sourceText, to: (directory as NSString).appendingPathComponent("config.yaml"), role: .run)
            try AtomicFile.write(
                try provenance.json() + "\n",
                to: (directory as NSString).appendingPathComponent(RunProvenance.fileName),
                role: .run)
        }
        state.metricsRecords = 0
    }

    // MARK: - The loop

    /// Epochs trained so far (`Epochs.trained`): what the console, metrics.jsonl, checkpoints and
    /// TensorBoard call the epoch.
    var epochsTrained: Double {
        Epochs.trained(
            epoch: state.cursor.epoch, position: state.cursor.position, perEpoch: trainLoader.batchesPerEpoch)
    }

    /// The run's metrics.jsonl.
    var metrics: MetricsLog { MetricsLog(path: (directory as NSString).appendingPathComponent("metrics.jsonl")) }

    /// Trains until the configured steps or epochs are done, early stopping fires, or a
    /// non-finite step under the `stop` policy throws (the last checkpoint stays intact).
    @discardableResult
    public func run() throws -> RunSummary {
        try clearEarlierAttempt()
        ProcessPriority.applyToAllThreads()  // threads made so far (workers adopt it as they start)
        let steps = trainLoader.batchesPerEpoch
        let totalSteps = config.training.steps ?? config.training.epochs * steps
        let startWall = Date().timeIntervalSince1970 - state.wallTime
        var summary = RunSummary(
            steps: 0, epochs: 0, stoppedEarly: false, reason: "finished", skippedSteps: 0,
            wallTime: 0, directory: directory)
        var lastValidation: MetricsRecord?
        var tokensSinceLog = 0
        var timeSinceLog = 0.0
        // Under MPI: the collectives' wait and exchange seconds within the steps since the last record.
        let timer = reducer.worldSize > 1 ? reducer as? any CollectiveTimer : nil
        var collectiveSinceLog = CollectiveTiming()
        var stepsSinceLog = 0
        var sessionSteps = 0
        var sessionSeconds = 0.0  // for the ETA
        progress.message(
            "training \(model.summary): \(parameters.count) parameters, \(steps) minibatches per epoch, "
                + "\(totalSteps) steps, \(trainer.shardWorkers.shardCount) shard(s) on \(trainer.shardWorkers.workerCount) worker(s)"
                + (plan.accumulate > 1
                    ? " in \(plan.accumulate) rounds of \(config.data.batchSize) sequences (minibatch \(plan.globalBatch))"
                    : "")
                + (reducer.worldSize > 1 ? " in each of \(reducer.worldSize) processes" : "")
                + (trainer.shardWorkers.overlappedBuckets > 0
                    ? ", gradient exchange overlapped with backpropagation (\(trainer.shardWorkers.overlappedBuckets) buckets)"
                    : "")
                + (trainer.shardWorkers.stepGroup.map { ", per-step GEMMs shared by the \($0.participants) workers" }
                    ?? "")
        )
        progress.message(GEMMKernel.summary)
        progress.message(config.training.precision.summary)
        /// Validates; when early stopping fires, records why, saves a checkpoint and returns true.
        func validateStopsEarly() throws -> Bool {
            lastValidation = try validate(wallStart: startWall)
            guard let reason = earlyStop(lastValidation!) else { return false }
            summary.stoppedEarly = true
            summary.reason = reason
            try saveCheckpoint(isBest: false, wallStart: startWall)
            return true
        }
        stepLoop: while trainer.step < totalSteps {
            if state.cursor.position == 0 && stateful { trainer.resetState() }
            // A step's time runs from asking the loader for its minibatch to the end of the update,
            // so tokens/s and the ETA include any wait for data (not validation or checkpoints).
            let stepStart = DispatchTime.now().uptimeNanoseconds
            let collectiveAtStart = timer?.collectiveTiming
            let next: Minibatch<Float>?
            do { next = try trainLoader.next() } catch {
                try checkDataUnchanged()  // a read error from a dataset changed under us says so
                throw error
            }
            guard let batch = next else {
                try checkDataUnchanged()
                state.cursor = trainLoader.cursor  // the next epoch
                if config.validation.every == 0, valLoader != nil, try validateStopsEarly() { break stepLoop }
                if config.checkpoint.every == 0 { try saveCheckpoint(isBest: false, wallStart: startWall) }
                continue
            }
            let lr = learningRate(for: trainer.step)
            optimizer.learningRate = lr
            let report: StepReport
            do {
                report = try trainer.train(batch)
            } catch let e as TrainingError {
                state.skippedSteps = trainer.skippedSteps
                progress.message("stopped: \(e); the last checkpoint in \(directory) is intact")
                throw e
            }
            state.cursor = trainLoader.cursor
            state.skippedSteps = trainer.skippedSteps
            try countNonFinite(report, learningRate: lr)
            if !report.skipped {
                state.trainLossSum += report.loss
                state.trainLossCount += 1
                state.gradientNormSum = (state.gradientNormSum ?? 0) + report.gradientNorm
            }
            tokensSinceLog += report.tokens
            let stepSeconds = Double(DispatchTime.now().uptimeNanoseconds - stepStart) / 1e9
            timeSinceLog += stepSeconds
            if let timer, let before = collectiveAtStart {
                let after = timer.collectiveTiming
                collectiveSinceLog.waitSeconds += after.waitSeconds - before.waitSeconds
                collectiveSinceLog.exchangeSeconds += after.exchangeSeconds - before.exchangeSeconds
                collectiveSinceLog.overlappedSeconds += after.overlappedSeconds - before.overlappedSeconds
            }
            stepsSinceLog += 1
            onStep?(report)
            let tps = Double(tokensSinceLog) / max(timeSinceLog, 1e-9)
            sessionSteps += 1
            sessionSeconds += stepSeconds
            let remaining = Double(totalSteps - trainer.step) * sessionSeconds / Double(sessionSteps)
            let eta = sessionSteps > 3 ? remaining : nil
            progress.step(
                epoch: state.cursor.epoch, epochs: config.training.steps == nil ? config.training.epochs : nil,
                stepInEpoch: state.cursor.position, stepsPerEpoch: steps, loss: report.loss, tokensPerSecond: tps,
                eta: eta)
            if trainer.step % config.logging.every == 0 {
                let n = Double(max(1, stepsSinceLog))
                let c = collectiveSinceLog
                let perStep =
                    timer == nil
                    ? nil
                    : (
                        // Exchange hidden behind backpropagation (`parallel.overlap`) is compute time too.
                        compute: (timeSinceLog - c.waitSeconds - c.exchangeSeconds + c.overlappedSeconds) / n,
                        exchange: c.exchangeSeconds / n, wait: c.waitSeconds / n,
                        overlap: c.exchangeSeconds > 0 ? c.overlappedSeconds / c.exchangeSeconds : 0
                    )
                try logTrain(lr: lr, tokensPerSecond: tps, eta: eta, wallStart: startWall, collectives: perStep)
                tokensSinceLog = 0
                timeSinceLog = 0
                collectiveSinceLog = CollectiveTiming()
                stepsSinceLog = 0
            }
            if config.validation.every > 0, trainer.step % config.validation.every == 0, valLoader != nil,
                try validateStopsEarly()
            {
                break stepLoop
            }
            if config.checkpoint.every > 0, trainer.step % config.checkpoint.every == 0 {
                try saveCheckpoint(isBest: false, wallStart: startWall)
            }
            // All ranks stop at the same step: a signal may reach them in different steps.
            if let save = agreedStop() {
                if save { try saveCheckpoint(isBest: false, wallStart: startWall) }
                summary.stoppedEarly = true
                summary.interrupted = save
                summary.reason = save ? "stopped on request; `lstm resume \(directory)` continues" : "stopped"
                return finish(summary, lastValidation, startWall)
            }
        }
        if !summary.stoppedEarly {
            if valLoader != nil, lastValidation?.step != trainer.step, state.lastValidationStep != trainer.step {
                lastValidation = try validate(wallStart: startWall)
            }
            try saveCheckpoint(isBest: false, wallStart: startWall)
        }
        return finish(summary, lastValidation, startWall)
    }

    /// Counts a streak of non-finite (skipped) steps and ends the run once it reaches
    /// `training.max_nonfinite_steps`: a run whose every update is dropped makes no progress.
    private func countNonFinite(_ report: StepReport, learningRate lr: Double) throws {
        guard report.skipped else {
            state.nonFiniteStreak = nil
            state.firstNonFinite = nil
            return
        }
        let streak = (state.nonFiniteStreak ?? 0) + 1
        state.nonFiniteStreak = streak
        let first =
            state.firstNonFinite
            ?? NonFiniteStep(step: report.step, loss: report.loss, gradientNorm: report.gradientNorm, learningRate: lr)
        state.firstNonFinite = first
        let limit = config.training.maxNonFiniteSteps
        guard streak >= limit else { return }
        let what =
            first.loss.isFinite && first.gradientNorm.isFinite
            ? "its update made the weights or the optimizer state non-finite"
            : "loss \(first.loss), gradient norm \(first.gradientNorm)"
        let error = RunError(
            "training made no progress: \(streak) steps in a row were non-finite and skipped "
                + "(training.max_nonfinite_steps: \(limit)), the first at step \(first.step) (\(what), learning rate "
                + String(format: "%g", first.learningRate) + "). Try a lower optimizer.lr, gradient clipping "
                + "(training.clip_norm: 1.0), or check the data for NaN and infinite values; "
                + (FileManager.default.fileExists(atPath: store.latestPath)
                    ? "the last checkpoint in \(directory) is intact" : "no checkpoint was written"))
        throw error
    }

    /// The pending stop request, agreed by all processes (one integer sum per step).
    private func agreedStop() -> Bool? {
        let local = pendingStop
        guard reducer.worldSize > 1 else { return local }
        return reducer.any(local != nil) ? (local ?? true) : nil
    }

    private func finish(_ s: RunSummary, _ lastValidation: MetricsRecord?, _ startWall: Double) -> RunSummary {
        var summary = s
        summary.steps = trainer.step
        summary.epochs = epochsTrained
        summary.lastValidation = lastValidation
        summary.bestMetric = state.bestMetric
        summary.skippedSteps = trainer.skippedSteps
        summary.wallTime = Date().timeIntervalSince1970 - startWall
        summary.latestCheckpoint = store.latestPath
        summary.bestCheckpoint = FileManager.default.fileExists(atPath: store.bestPath) ? store.bestPath : nil
        return summary
    }

    /// The learning rate of step `step` (0-based) from the schedule (or reduce-on-plateau).
    func learningRate(for step: Int) -> Double {
        if let p = state.plateau { return schedule.learningRate(at: step, base: p.learningRate) }
        return schedule.learningRate(at: step, base: baseLearningRate)
    }

    // MARK: - Validation, metrics, early stopping

    /// Throws if a dataset file changed since the run opened it (size, modification time or
    /// inode), so the run never goes on training on (or checkpointing) what it then reads.
    func checkDataUnchanged() throws {
        for identity in dataIdentities {
            try identity.checkUnchanged(
                .dataset,
                advice:
                    "training stopped rather than go on with data that is no longer the dataset it started with; "
                    + "the checkpoints in \(directory) are from before the change — restore the file (or prepare a "
                    + "new one under another name) and run `lstm resume \(directory)` or start again")
        }
    }

    /// Loss and metrics on the validation split (no dropout); appends to metrics.jsonl.
    func validate(wallStart: Double) throws -> MetricsRecord {
        guard let valLoader else { preconditionFailure("no validation split") }
        try valLoader.startEpoch(0)
        let m: EvaluationResult
        do {
            m = try evaluator.evaluate(valLoader, maxBatches: config.validation.maxBatches, carryState: stateful)
        } catch {
            try checkDataUnchanged()
            throw error
        }
        var r = MetricsRecord(
            step: trainer.step, epoch: epochsTrained, wallTime: Date().timeIntervalSince1970 - wallStart)
        r.valLoss = m.loss
        r.valAccuracy = m.accuracy
        r.valPerplexity = m.perplexity
        r.valMSE = m.mse
        r.valMAE = m.mae
        r.learningRate = optimizer.learningRate
        r.skippedSteps = trainer.skippedSteps
        try appendMetrics(r)
        state.lastValidationStep = trainer.step
        progress.validated(r)
        onValidation?(r)
        if var p = state.plateau {
            p.step(metric: m.loss)
            state.plateau = p
        }
        // Best checkpoint on the early-stopping metric (val_loss by default).
        let metric = config.training.earlyStopping?.metric ?? "val_loss"
        if let v = r.value(of: metric) {
            let better =
                state.bestMetric.map {
                    isImprovement(v, over: $0, metric: metric, minDelta: config.training.earlyStopping?.minDelta ?? 0)
                } ?? true
            if better {
                state.bestMetric = v
                state.checksWithoutImprovement = 0
                try saveCheckpoint(isBest: true, wallStart: wallStart)
            } else {
                state.checksWithoutImprovement += 1
            }
        }
        return r
    }

    func isImprovement(_ v: Double, over best: Double, metric: String, minDelta: Double) -> Bool {
        metric == "val_accuracy" ? v > best + minDelta : v < best - minDelta
    }

    /// Why to stop now, if early stopping says so.
    func earlyStop(_ r: MetricsRecord) -> String? {
        guard let es = config.training.earlyStopping, let v = r.value(of: es.metric) else { return nil }
        if let target = es.target, es.metric == "val_accuracy" ? v >= target : v <= target {
            return String(format: "%@ %.5g reached the target %.5g", es.metric, v, target)
        }
        if state.checksWithoutImprovement >= es.patience {
            return "\(es.metric) did not improve by \(es.minDelta) for \(es.patience) validations"
        }
        return nil
    }

    /// Logs the mean training loss of the steps since the last record (to metrics.jsonl and, as the
    /// same figures under the same names, to the console).
    func logTrain(
        lr: Double, tokensPerSecond: Double, eta: Double?, wallStart: Double,
        collectives: (compute: Double, exchange: Double, wait: Double, overlap: Double)? = nil
    ) throws {
        var r = MetricsRecord(
            step: trainer.step, epoch: epochsTrained, wallTime: Date().timeIntervalSince1970 - wallStart)
        r.trainLoss = state.trainLossCount > 0 ? state.trainLossSum / Double(state.trainLossCount) : nil  // all skipped
        r.learningRate = lr
        r.gradientNorm =
            state.trainLossCount > 0 ? state.gradientNormSum.map { $0 / Double(state.trainLossCount) } : nil
        r.tokensPerSecond = tokensPerSecond
        r.computeSeconds = collectives?.compute
        r.exchangeSeconds = collectives?.exchange
        r.waitSeconds = collectives?.wait
        r.overlap = collectives?.overlap
        r.skippedSteps = trainer.skippedSteps
        let averaged = state.trainLossCount
        state.trainLossSum = 0
        state.trainLossCount = 0
        state.gradientNormSum = 0
        try appendMetrics(r)
        progress.logged(r, meanOf: averaged, eta: eta)
        PausePoint.reached("step:\(trainer.step)")
    }

    /// Appends to metrics.jsonl and the TensorBoard file (rank 0) and counts the record (saved with
    /// checkpoints; see `RunState`).
    func appendMetrics(_ r: MetricsRecord) throws {
        if writesFiles {
            try metrics.append(r)
            try tensorBoard?.append(r)
        }
        state.metricsRecords = (state.metricsRecords ?? 0) + 1
    }

    // MARK: - Checkpoints

    /// Every rank calls this at the same step (a collective when state is carried); rank 0 writes.
    func saveCheckpoint(isBest: Bool, wallStart: Double) throws {
        try checkDataUnchanged()  // never checkpoint weights trained on a changed dataset
        state.carried = stateful ? try gatherCarriedState() : nil
        let optimizerState = reducer.worldSize > 1 ? trainer.gatheredOptimizerState() : nil  // a collective
        guard writesFiles else { return }
        state.wallTime = Date().timeIntervalSince1970 - wallStart
        state.tensorBoard = tensorBoard.map {
            TensorBoardState(file: ($0.path as NSString).lastPathComponent, bytes: $0.size() ?? 0)
        }
        var ckpt = Checkpoint(
            parameters: parameters, optimizer: optimizer, globalStep: trainer.step,
            epoch: epochsTrained, dataCursor: nil, configText: config.sourceText)
        if let optimizerState { ckpt.optimizer?.stateBuffers = optimizerState }  // the whole arena's
        ckpt.metadata = trainFile.metadata  // vocabulary, names, statistics: the model is self-contained
        ckpt.runProvenance = try provenance.json()
        try ckpt.setDataCursor(state)
        if let b = state.bestMetric { ckpt.metrics["best_\(config.training.earlyStopping?.metric ?? "val_loss")"] = b }
        if isBest {
            try store.save(ckpt, step: trainer.step, isBest: true)
        } else {
            try store.save(ckpt, step: trainer.step, isBest: false)
        }
        PausePoint.reached("checkpoint:\(trainer.step)")
    }
}

extension TrainingRun {
    /// Every shard's carried state: each rank owns its shards' lanes, rank 0 gathers them all for
    /// the checkpoint (the other ranks get nil entries, which they never save).
    func gatherCarriedState() throws -> [LSTMState<Float>?] {
        var states = trainer.carriedState
        guard reducer.worldSize > 1 else { return states }
        let local = trainer.shardWorkers.localShards
        let mine = try JSONCoding.encoder().encode(Array(states[local]))
        guard let all = reducer.gatherToRoot([UInt8](mine)) else { return states }
        for r in 0..<reducer.worldSize {
            let theirs = try JSONCoding.decoder().decode([LSTMState<Float>?].self, from: Data(all[r]))
            let block = trainer.shardWorkers.partition.block(r)
            for (k, s) in block.enumerated() { states[s] = theirs[k] }
        }
        return states
    }
}

/// A run that cannot start or go on, in one sentence.
public struct RunError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
