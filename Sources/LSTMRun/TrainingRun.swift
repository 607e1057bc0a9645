import Foundation
import LSTMData
import LSTMFiles
import LSTMIO
import LSTMKit

/// What a finished (or early-stopped) run did.
public struct RunSummary: Sendable {
    public var steps: Int
    public var epochs: Int
    public var lastValidation: MetricsRecord?
    public var bestMetric: Double?
    public var stoppedEarly: Bool
    public var reason: String
    public var skippedSteps: Int
    public var wallTime: Double
    public var directory: String
    public var latestCheckpoint: String?
    public var bestCheckpoint: String?
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
}

/// A config-driven training job: data, model, optimizer, schedule, the loop with validation,
/// metrics.jsonl, checkpoints, early stopping and exact resume.
public final class TrainingRun {
    public let config: RunConfig
    public let model: ModelConfig
    public let network: LSTMNetwork<Float>
    public let parameters: ParameterSet<Float>
    public let optimizer: any Optimizer<Float>
    public let trainer: Trainer<Float>
    public let directory: String
    /// Called after every training step (the Swift API's per-step hook).
    public var onStep: ((StepReport) -> Void)?
    /// Called after every validation with the record written to metrics.jsonl.
    public var onValidation: ((MetricsRecord) -> Void)?
    /// Where progress goes.
    public var progress: ProgressReporter

    let trainFile: DatasetFile
    let trainLoader: BatchLoader
    let valLoader: BatchLoader?
    /// Validation's workspace, made once (it reads the live parameters).
    lazy var evaluator = Evaluator(network: network, parameters: parameters, maxBatch: config.data.batchSize,
                                   maxSteps: trainer.scheduler.maxSteps)
    let schedule: LearningRateSchedule
    let store: CheckpointStore
    var state: RunState
    let stateful: Bool
    let baseLearningRate: Double
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
    public convenience init(config: RunConfig, initFrom: String? = nil) throws {
        try self.init(config: config, checkpoint: nil, initFrom: initFrom)
    }

    /// Continues the run in `directory` from its latest checkpoint, with the config stored in it.
    public static func resume(directory: String) throws -> TrainingRun {
        let store = try CheckpointStore(directory: directory, keepLast: 1_000_000)
        guard let ckpt = try store.latest() else {
            throw RunError("no checkpoint in \(directory) to resume from")
        }
        guard let text = ckpt.configText else { throw RunError("the checkpoint in \(directory) holds no run config") }
        let config = try RunConfig.parse(text, path: (directory as NSString).appendingPathComponent("config.yaml"))
        return try TrainingRun(config: config, checkpoint: ckpt, initFrom: nil)
    }

    private init(config: RunConfig, checkpoint: Checkpoint?, initFrom: String?) throws {
        self.config = config
        directory = config.checkpoint.dir
        if let g = config.data.generate, !FileManager.default.fileExists(atPath: config.data.file) {
            try Self.generate(g, to: config.data.file)
        }
        trainFile = try DatasetFile(path: config.data.file)
        let schema = try trainFile.schema(config.data.trainSplit)
        var model = try Self.modelConfig(config, schema: schema)
        var initial: Checkpoint? = checkpoint
        if let initFrom {
            let c = try WeightsImporter.read(initFrom, options: WeightsImportOptions(
                head: model.head, activation: model.activation, loss: model.loss))
            model.initialization = c.config.initialization
            model.forgetGateBias = c.config.forgetGateBias
            guard c.config == model else {
                throw RunError("\(initFrom): its model (\(Self.describe(c.config))) does not match the config's (\(Self.describe(model)))")
            }
            initial = c
        }
        if let checkpoint, checkpoint.config != model {
            throw RunError("the checkpoint's model (\(Self.describe(checkpoint.config))) does not match its config")
        }
        self.model = model
        do {
            try trainFile.check(against: model, split: config.data.trainSplit)
        } catch let e as FileError {
            throw config.error(at: "model", "does not fit the data: \(e)")
        }
        if let v = config.data.valSplit {
            guard trainFile.splits.contains(v) else {
                throw config.error(at: "data.val_split", "\(config.data.file) has no split '\(v)' (splits: \(trainFile.splits.joined(separator: ", "))); set data.val_split: none to skip validation")
            }
            try trainFile.check(against: model, split: v)
        }
        network = try LSTMNetwork<Float>(config: model)

        let isStream = schema.form == .tokenStream
        let stateful = isStream && config.data.streamMode == "stateful"
        self.stateful = stateful
        if stateful && model.bidirectional {
            throw config.error(at: "data.stream_mode", "stateful lanes carry h and c forward in time, which a "
                               + "bidirectional model cannot do; use stream_mode: windows")
        }
        let file = trainFile
        let seqLength = isStream ? config.data.seqLength : nil
        let mode: StreamMode = config.data.streamMode == "stateful" ? .stateful : .windows
        trainLoader = try BatchLoader(
            file: trainFile, split: config.data.trainSplit, batchSize: config.data.batchSize,
            shuffle: stateful ? false : config.data.shuffle, seed: config.seed, seqLength: seqLength, mode: mode,
            dropLast: config.data.dropLast || stateful)
        valLoader = try config.data.valSplit.map {
            try BatchLoader(file: file, split: $0, batchSize: config.data.batchSize, shuffle: false,
                            seed: config.seed, seqLength: seqLength, mode: mode, dropLast: stateful)
        }
        guard trainLoader.batchesPerEpoch > 0 else {
            throw config.error(at: "data.batch_size", "split '\(config.data.trainSplit)' of \(config.data.file) yields no minibatch of \(config.data.batchSize)")
        }

        // Parameters and optimizer.
        let params = ParameterSet<Float>(config: model, seed: config.seed)
        parameters = params
        let optConfig = try Self.optimizerConfig(config)
        let opt: any Optimizer<Float> = try optConfig.makeOptimizer(layout: params.layout)
        optimizer = opt
        baseLearningRate = opt.learningRate
        schedule = try Self.schedule(config)
        let maxSteps = isStream ? config.data.seqLength : (schema.steps ?? 1)
        trainer = Trainer(network: network, parameters: params, optimizer: opt, maxBatch: config.data.batchSize,
                          maxSteps: maxSteps, shards: config.parallel.shards, workers: config.parallel.workers,
                          clipNorm: config.training.clipNorm)
        trainer.clipValue = config.training.clipValue
        trainer.nonFinitePolicy = config.training.nanPolicy
        trainer.dropoutSeed = config.seed
        trainer.carriesState = stateful
        progress = ProgressReporter(mode: config.logging.progress, every: config.logging.every)
        state = RunState(cursor: LoaderCursor())
        if config.schedule.name == "plateau" {
            state.plateau = try ReduceLROnPlateau(learningRate: baseLearningRate, configuration: Self.plateauConfig(config))
        }

        if let initial {
            try initial.restore(into: params, optimizer: checkpoint == nil ? nil : opt)
        }
        if let checkpoint {
            trainer.step = checkpoint.globalStep
            if let s = try checkpoint.dataCursor(as: RunState.self) { state = s }
            try trainLoader.seek(to: state.cursor)
            trainer.restoreCarriedState(state.carried)
        }
        store = try CheckpointStore(directory: directory, keepLast: config.checkpoint.keep)
        let configCopy = (directory as NSString).appendingPathComponent("config.yaml")
        try config.sourceText.write(toFile: configCopy, atomically: true, encoding: .utf8)
        if checkpoint != nil { try truncateMetrics(after: trainer.step) }
    }

    // MARK: - The loop

    var metricsPath: String { (directory as NSString).appendingPathComponent("metrics.jsonl") }

    /// Trains until the configured steps or epochs are done, early stopping fires, or a
    /// non-finite step under the `stop` policy throws (the last checkpoint stays intact).
    @discardableResult
    public func run() throws -> RunSummary {
        let steps = trainLoader.batchesPerEpoch
        let totalSteps = config.training.steps ?? config.training.epochs * steps
        let startWall = Date().timeIntervalSince1970 - state.wallTime
        var summary = RunSummary(steps: 0, epochs: 0, stoppedEarly: false, reason: "finished", skippedSteps: 0,
                                 wallTime: 0, directory: directory)
        var lastValidation: MetricsRecord?
        var tokensSinceLog = 0, timeSinceLog = 0.0
        var sessionSteps = 0, sessionSeconds = 0.0  // for the ETA
        progress.message("training \(Self.describe(model)): \(parameters.count) parameters, \(steps) minibatches per epoch, "
                         + "\(totalSteps) steps, \(trainer.scheduler.shardCount) shard(s) on \(trainer.scheduler.workerCount) worker(s)")
        stepLoop: while trainer.step < totalSteps {
            let epoch = state.cursor.epoch
            if state.cursor.position == 0 && stateful { trainer.resetState() }
            guard let batch = try trainLoader.next() else {
                state.cursor = trainLoader.cursor  // the next epoch
                if config.validation.every == 0, valLoader != nil {
                    lastValidation = try validate(epoch: epoch, wallStart: startWall)
                    if let reason = earlyStop(lastValidation!) {
                        summary.stoppedEarly = true
                        summary.reason = reason
                        try saveCheckpoint(isBest: false, wallStart: startWall)
                        break stepLoop
                    }
                }
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
            if !report.skipped {
                state.trainLossSum += report.loss
                state.trainLossCount += 1
            }
            tokensSinceLog += report.tokens
            timeSinceLog += report.seconds
            onStep?(report)
            let tps = Double(tokensSinceLog) / max(timeSinceLog, 1e-9)
            sessionSteps += 1
            sessionSeconds += report.seconds
            let remaining = Double(totalSteps - trainer.step) * sessionSeconds / Double(sessionSteps)
            progress.step(epoch: epoch, epochs: config.training.steps == nil ? config.training.epochs : nil,
                          stepInEpoch: state.cursor.position, stepsPerEpoch: steps, globalStep: trainer.step,
                          loss: report.loss, tokensPerSecond: tps, eta: sessionSteps > 3 ? remaining : nil)
            if trainer.step % config.logging.every == 0 {
                try logTrain(epoch: epoch, lr: lr, tokensPerSecond: tps, wallStart: startWall)
                tokensSinceLog = 0
                timeSinceLog = 0
            }
            if config.validation.every > 0, trainer.step % config.validation.every == 0, valLoader != nil {
                lastValidation = try validate(epoch: epoch, wallStart: startWall)
                if let reason = earlyStop(lastValidation!) {
                    summary.stoppedEarly = true
                    summary.reason = reason
                    try saveCheckpoint(isBest: false, wallStart: startWall)
                    break stepLoop
                }
            }
            if config.checkpoint.every > 0, trainer.step % config.checkpoint.every == 0 {
                try saveCheckpoint(isBest: false, wallStart: startWall)
            }
            if let save = pendingStop {
                if save { try saveCheckpoint(isBest: false, wallStart: startWall) }
                summary.stoppedEarly = true
                summary.reason = save ? "stopped on request; `lstm resume \(directory)` continues" : "stopped"
                return finish(summary, lastValidation, startWall)
            }
        }
        if !summary.stoppedEarly {
            if valLoader != nil, lastValidation?.step != trainer.step {
                lastValidation = try validate(epoch: state.cursor.epoch, wallStart: startWall)
            }
            try saveCheckpoint(isBest: false, wallStart: startWall)
        }
        return finish(summary, lastValidation, startWall)
    }

    private func finish(_ s: RunSummary, _ lastValidation: MetricsRecord?, _ startWall: Double) -> RunSummary {
        var summary = s
        summary.steps = trainer.step
        summary.epochs = state.cursor.epoch
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

    /// Loss and metrics on the validation split (no dropout); appends to metrics.jsonl.
    func validate(epoch: Int, wallStart: Double) throws -> MetricsRecord {
        guard let valLoader else { preconditionFailure("no validation split") }
        try valLoader.startEpoch(0)
        let m = try evaluator.evaluate(valLoader, maxBatches: config.validation.maxBatches, carryState: stateful)
        var r = MetricsRecord(step: trainer.step, epoch: epoch, wallTime: Date().timeIntervalSince1970 - wallStart)
        r.valLoss = m.loss
        r.valAccuracy = m.accuracy
        r.valPerplexity = m.perplexity
        r.valMSE = m.mse
        r.valMAE = m.mae
        r.learningRate = optimizer.learningRate
        r.skippedSteps = trainer.skippedSteps
        try append(r)
        progress.message(String(format: "step %d  epoch %d  val loss %.5f", trainer.step, epoch + 1, m.loss)
                         + (m.accuracy.map { String(format: "  accuracy %.4f", $0) } ?? "")
                         + (m.perplexity.map { String(format: "  perplexity %.3f", $0) } ?? "")
                         + (m.mae.map { String(format: "  MAE %.5f", $0) } ?? ""))
        onValidation?(r)
        if var p = state.plateau {
            p.step(metric: m.loss)
            state.plateau = p
        }
        // Best checkpoint on the early-stopping metric (val_loss by default).
        let metric = config.training.earlyStopping?.metric ?? "val_loss"
        if let v = r.value(of: metric) {
            let better = state.bestMetric.map { isImprovement(v, over: $0, metric: metric, minDelta: config.training.earlyStopping?.minDelta ?? 0) } ?? true
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

    func logTrain(epoch: Int, lr: Double, tokensPerSecond: Double, wallStart: Double) throws {
        var r = MetricsRecord(step: trainer.step, epoch: epoch, wallTime: Date().timeIntervalSince1970 - wallStart)
        r.trainLoss = state.trainLossCount > 0 ? state.trainLossSum / Double(state.trainLossCount) : nil  // all skipped
        r.learningRate = lr
        r.tokensPerSecond = tokensPerSecond
        r.skippedSteps = trainer.skippedSteps
        state.trainLossSum = 0
        state.trainLossCount = 0
        try append(r)
    }

    func append(_ r: MetricsRecord) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        var line = try encoder.encode(r)
        line.append(0x0A)
        if let h = FileHandle(forWritingAtPath: metricsPath) {
            defer { try? h.close() }
            try h.seekToEnd()
            try h.write(contentsOf: line)
        } else {
            try line.write(to: URL(fileURLWithPath: metricsPath))
        }
    }

    /// Drops metrics logged after `step` (a resumed run logs them again).
    func truncateMetrics(after step: Int) throws {
        guard let text = try? String(contentsOfFile: metricsPath, encoding: .utf8) else { return }
        let kept = text.split(separator: "\n").filter { line in
            guard let r = try? MetricsRecord.decode(line) else { return false }
            return r.step <= step
        }
        try (kept.joined(separator: "\n") + (kept.isEmpty ? "" : "\n")).write(toFile: metricsPath, atomically: true, encoding: .utf8)
    }

    // MARK: - Checkpoints

    func saveCheckpoint(isBest: Bool, wallStart: Double) throws {
        state.carried = stateful ? trainer.carriedState : nil
        state.wallTime = Date().timeIntervalSince1970 - wallStart
        let cursorJSON = String(decoding: try JSONEncoder().encode(state), as: UTF8.self)
        var ckpt = Checkpoint(parameters: parameters, optimizer: optimizer, globalStep: trainer.step,
                              epoch: state.cursor.epoch, dataCursor: cursorJSON, configText: config.sourceText)
        if let b = state.bestMetric { ckpt.metrics["best_\(config.training.earlyStopping?.metric ?? "val_loss")"] = b }
        if isBest {
            try store.save(ckpt, step: trainer.step, isBest: true)
        } else {
            try store.save(ckpt, step: trainer.step, isBest: false)
        }
    }

    // MARK: - Building blocks

    /// Fills the model's sizes from the data where the config leaves them out, and checks the rest.
    static func modelConfig(_ c: RunConfig, schema: DatasetSchema) throws -> ModelConfig {
        let input: InputKind
        switch schema.input {
        case .features(let width):
            if let i = c.model.inputSize, i != width {
                throw c.error(at: "model.input_size", "is \(i) but \(c.data.file) has features of width \(width)")
            }
            input = .features(size: width)
        case .tokens:
            guard let v = c.model.vocabSize ?? schema.vocabulary?.count ?? schema.tokenIDs.map({ Int($0.max) + 1 }) else {
                throw c.error(at: "model.vocab_size", "is needed: \(c.data.file) has no vocabulary attribute")
            }
            input = .tokens(vocabulary: v, embedding: c.model.embeddingSize)
        }
        let o: Int
        if let w = schema.target.valueWidth {
            if let given = c.model.outputSize, given != w {
                throw c.error(at: "model.output_size", "is \(given) but \(c.data.file) has targets of width \(w)")
            }
            o = w
        } else {
            o = c.model.outputSize ?? schema.minimumClassCount ?? 2
        }
        let head = c.model.head ?? (schema.target.isPerStep ? .sequence : .last)
        let loss = c.loss ?? (schema.target.isClasses ? .crossEntropy : .mse)
        if schema.target.isClasses != (loss == .crossEntropy) {
            throw c.error(at: "loss", "\(loss.rawValue) does not fit \(c.data.file), which has \(schema.target) "
                           + "(class ids need cross_entropy; float targets need mse or bce)")
        }
        let model = ModelConfig(
            input: input, hiddenSize: c.model.hiddenSize, numLayers: c.model.numLayers, outputSize: o,
            activation: c.model.activation, head: head, loss: loss, initialization: c.model.initialization,
            forgetGateBias: c.model.forgetBias, bidirectional: c.model.bidirectional, dropout: c.model.dropout)
        try model.validate()
        return model
    }

    static func optimizerConfig(_ c: RunConfig) throws -> OptimizerConfig {
        let s = c.optimizer.settings
        return OptimizerConfig(
            name: c.optimizer.name, lr: s["lr"], momentum: s["momentum"], dampening: s["dampening"],
            nesterov: s["nesterov"].map { $0 != 0 }, weightDecay: s["weight_decay"], betas: c.optimizer.betas,
            eps: s["eps"], amsgrad: s["amsgrad"].map { $0 != 0 }, alpha: s["alpha"],
            centered: s["centered"].map { $0 != 0 }, lrDecay: s["lr_decay"],
            initialAccumulatorValue: s["initial_accumulator_value"])
    }

    static func schedule(_ c: RunConfig) throws -> LearningRateSchedule {
        let s = c.schedule.settings
        let decay: LearningRateSchedule.Decay
        switch c.schedule.name {
        case "step": decay = .step(stepSize: Int(s["step_size"] ?? 1000), gamma: s["gamma"] ?? 0.1)
        case "exponential": decay = .exponential(gamma: s["gamma"] ?? 0.999)
        case "cosine": decay = .cosine(tMax: Int(s["t_max"] ?? 10_000), etaMin: s["eta_min"] ?? 0)
        default: decay = .constant
        }
        return try LearningRateSchedule(decay, warmupSteps: c.schedule.warmupSteps,
                                        warmupStartFactor: s["warmup_start_factor"] ?? 1.0 / 3)
    }

    static func plateauConfig(_ c: RunConfig) -> ReduceLROnPlateau.Configuration {
        var p = ReduceLROnPlateau.Configuration()
        let s = c.schedule.settings
        if let m = c.schedule.mode { p.mode = m == "max" ? .max : .min }
        if let f = s["factor"] { p.factor = f }
        if let v = s["patience"] { p.patience = Int(v) }
        if let v = s["threshold"] { p.threshold = v }
        if let m = c.schedule.thresholdMode { p.thresholdMode = m == "abs" ? .abs : .rel }
        if let v = s["cooldown"] { p.cooldown = Int(v) }
        if let v = s["min_lr"] { p.minLR = v }
        return p
    }

    static func generate(_ g: RunConfig.Generate, to path: String) throws {
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        let counts = SplitCounts(train: g.train, val: g.val, test: g.test)
        print("generating the \(g.task) dataset into \(path)")
        switch g.task {
        case "adding": _ = try Generators.writeAdding(to: path, steps: g.steps, counts: counts, seed: g.seed)
        case "waves":
            _ = try Generators.writeWaves(
                to: path, settings: Generators.WaveSettings(classes: g.classes, minLength: g.minLength,
                                                            maxLength: g.maxLength, noise: g.noise),
                counts: counts, seed: g.seed)
        default:
            _ = try Generators.writeCopy(to: path, symbols: g.symbols, alphabet: g.alphabet, delay: g.delay,
                                         counts: counts, seed: g.seed)
        }
    }

    static func describe(_ m: ModelConfig) -> String {
        var s: String
        switch m.input {
        case .features(let i): s = "features I=\(i)"
        case .tokens(let v, let e): s = "tokens V=\(v) E=\(e)"
        }
        s += ", H=\(m.hiddenSize) × \(m.numLayers) layer(s)\(m.bidirectional ? " bidirectional" : ""), O=\(m.outputSize)"
        s += ", head \(m.head.rawValue), \(m.loss.rawValue)+\(m.activation.rawValue)"
        if m.dropout > 0 { s += ", dropout \(m.dropout)" }
        return s
    }
}

/// A run that cannot start or go on, in one sentence.
public struct RunError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
