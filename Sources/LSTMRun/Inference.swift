import Foundation
import LSTMData
import LSTMFiles
import LSTMIO
import LSTMKit
import Yams

// Inference on trained (or imported) weights: `lstm evaluate`, `lstm predict` and `lstm sample`
// load models through `InferenceModel`; evaluation and prediction stream a split minibatch by
// minibatch in file order, so memory stays flat however large the split is.

/// Weights ready for inference: a checkpoint, or any file `WeightsImporter.read` accepts
/// (PyTorch/Keras exports), so models trained elsewhere can be evaluated and run too.
public struct InferenceModel: Sendable {
    /// The file the weights came from.
    public let path: String
    /// The architecture.
    public let config: ModelConfig
    /// The parameters (Float, as trained).
    public let parameters: ParameterSet<Float>
    /// The forward pass.
    public let network: LSTMNetwork<Float>
    /// What the file held: step, config text, … (no optimizer state is needed here).
    public let checkpoint: Checkpoint
    /// Settings of the run that wrote the checkpoint (empty for imported weights).
    public let run: StoredRunSettings

    /// Loads `path` as a checkpoint or weights file.
    ///
    /// A weights file saved by Keras itself has no model configuration, so head and loss cannot
    /// be read from it; when `schema` is given they are then taken from the data (a target per
    /// step: head `sequence`; class ids: `cross_entropy`, float values: `mse`).
    public static func load(_ path: String, schema: DatasetSchema? = nil) throws -> InferenceModel {
        guard FileManager.default.fileExists(atPath: path) else {
            throw RunError("\(path): no such weights file (expected a checkpoint or a file written by `lstm export`)")
        }
        var checkpoint: Checkpoint
        do {
            checkpoint = try WeightsImporter.read(path)
        } catch let error as FileError where error.kind == .invalidConfig && schema != nil {
            let s = schema!
            let options = WeightsImportOptions(
                head: s.target.isPerStep ? .sequence : .last, loss: s.target.isClasses ? .crossEntropy : .mse)
            guard let retried = try? WeightsImporter.read(path, options: options) else { throw error }
            checkpoint = retried
        }
        let parameters = try checkpoint.makeParameterSet()
        return InferenceModel(
            path: path, config: checkpoint.config, parameters: parameters,
            network: try LSTMNetwork<Float>(config: checkpoint.config), checkpoint: checkpoint,
            run: StoredRunSettings(configText: checkpoint.configText))
    }

    /// "tokens V=65 E=64, H=128 × 2 layer(s), O=65, head sequence, cross_entropy+softmax".
    public var summary: String { config.summary }
}

/// The few settings of a training run that inference reuses as defaults, read leniently from
/// the YAML stored in a checkpoint (the run's data file may no longer exist, so the config is
/// not fully re-validated here).
public struct StoredRunSettings: Sendable, Equatable {
    /// `data.file` as written in the config (relative to where training ran); of a list, the first file.
    public var dataFile: String?
    /// `data.seq_length` (token streams).
    public var seqLength: Int?
    /// `data.stream_mode` (token streams).
    public var streamMode: StreamMode?
    /// `data.test_split`.
    public var testSplit: String?
    /// `data.batch_size` (a stateful stream's lanes).
    public var batchSize: Int?
    /// `data.val_split` ("val" when not given; nil for `none`).
    public var valSplit: String?
    /// `validation.max_batches`: validation ran on this many minibatches only.
    public var validationMaxBatches: Int?

    /// Reads the settings from a run config's YAML text: a key the config leaves out has the
    /// config's default (`RunConfig.DataSection`), as it had in the run; without a readable run
    /// config every setting stays nil.
    public init(configText: String?) {
        guard let text = configText, let root = (try? Yams.load(yaml: text)) as? [String: Any],
            let data = root["data"] as? [String: Any]
        else { return }
        let defaults = RunConfig.DataSection(file: "")
        dataFile = data["file"] as? String ?? (data["file"] as? [String])?.first  // a list: its first shard
        seqLength = data["seq_length"] as? Int ?? defaults.seqLength
        streamMode = (data["stream_mode"] as? String).flatMap(StreamMode.init(rawValue:)) ?? defaults.streamMode
        testSplit = data["test_split"] as? String ?? defaults.testSplit
        batchSize = data["batch_size"] as? Int ?? defaults.batchSize
        let val = data["val_split"] as? String ?? defaults.valSplit ?? "none"
        valSplit = val == "" || val == "none" ? nil : val
        validationMaxBatches = (root["validation"] as? [String: Any])?["max_batches"] as? Int
    }
}

/// Loss and metrics of a model on one split, with what was evaluated.
public struct EvaluationReport: Sendable {
    /// The weights file.
    public var weights: String
    /// The dataset file and split.
    public var data: String
    public var split: String
    /// The metrics (`Evaluator`'s result).
    public var result: EvaluationResult
    /// Minibatches run.
    public var batches: Int
    /// Token streams: the window length T and how the stream was cut.
    public var seqLength: Int?
    public var streamMode: StreamMode?
    /// Sequences (or stream lanes) per minibatch.
    public var batchSize: Int = 0
    /// What was used and where each setting came from, e.g. "split 'val' (--split), batch size 16
    /// (the run's data.batch_size), …": printed first by `lstm evaluate`.
    public var settings: String = ""
    /// The run's best validation loss stored in the checkpoint (`best_val_loss`), when this
    /// evaluation is of the run's validation split and so must reproduce it.
    public var runBestValidationLoss: Double?

    /// Whether `result.loss` is bit for bit the run's best validation loss (nil: nothing to compare).
    public var reproducesRunValidation: Bool? {
        runBestValidationLoss.map { $0.bitPattern == result.loss.bitPattern }
    }

    /// One line per metric, e.g. "loss        0.123456" (the metrics that apply to the model).
    public var lines: [String] {
        var out = [format("loss", result.loss)]
        if let a = result.accuracy { out.append(format("accuracy", a)) }
        if let p = result.perplexity { out.append(format("perplexity", p)) }
        if let m = result.mse { out.append(format("mse", m)) }
        if let m = result.mae { out.append(format("mae", m)) }
        out.append("targets     \(result.count)")
        return out
    }

    private func format(_ name: String, _ v: Double) -> String {
        name.padding(toLength: 12, withPad: " ", startingAt: 0) + String(format: "%.6f", v)
    }

    /// One JSON object (sorted keys; absent metrics are left out, non-finite values are strings).
    public func json() throws -> String {
        struct Out: Encodable {
            var weights, data, split: String
            var loss: Double
            var accuracy, perplexity, mse, mae: Double?
            var count, batches, batchSize: Int
            var seqLength: Int?
            var streamMode: String?
            var runBestValLoss: Double?

            enum CodingKeys: String, CodingKey {
                case weights, data, split, loss, accuracy, perplexity, mse, mae, count, batches
                case batchSize = "batch_size"
                case seqLength = "seq_length"
                case streamMode = "stream_mode"
                case runBestValLoss = "run_best_val_loss"
            }
        }
        let r = result
        let out = Out(
            weights: weights, data: data, split: split, loss: r.loss, accuracy: r.accuracy,
            perplexity: r.perplexity, mse: r.mse, mae: r.mae, count: r.count, batches: batches,
            batchSize: batchSize, seqLength: seqLength, streamMode: streamMode?.rawValue,
            runBestValLoss: runBestValidationLoss)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try encoder.encode(out), as: UTF8.self)
    }
}

/// What `Inference.predict` wrote.
public struct PredictionSummary: Sendable {
    /// The file written.
    public var path: String
    /// Shape of the `outputs` dataset: [N, T, O], [N, O], or [W, T, O] for stream windows.
    public var shape: [Int]
    /// Whether regression outputs were mapped back to the data's original units.
    public var denormalized: Bool

    /// "wrote outputs float32 [8, 1] to pred.h5".
    public var description: String {
        "wrote outputs float32 [\(shape.map(String.init).joined(separator: ", "))] to \(path)"
            + (denormalized ? " (denormalized: y·target_std + target_mean)" : "")
    }
}

/// Evaluation and prediction over a dataset split (see `lstm evaluate` and `lstm predict`).
public enum Inference {
    /// Opens `data`, validates `split` and loads the weights at `weights` against it; checks the
    /// model against the split (`DatasetFile.check(against:split:)`) so a mismatch is reported
    /// in one message before anything runs.
    public static func open(weights: String, data: String, split: String) throws -> (
        InferenceModel, DatasetFile, DatasetSchema
    ) {
        let file = try DatasetFile.open(paths: dataPaths(data))
        let schema = try file.schema(split)
        let model = try InferenceModel.load(weights, schema: schema)
        try file.check(against: model.config, split: split)
        return (model, file, schema)
    }

    /// `data` as the files to open: the matches of a glob (sorted by name), else the path itself.
    static func dataPaths(_ data: String) throws -> [String] {
        guard DatasetFile.isGlob(data) else { return [data] }
        let paths = try DatasetFile.paths(matching: data)
        if paths.isEmpty { throw FileError(.notFound, .dataset, file: data, "the glob matches no file") }
        return paths
    }

    /// Loss and metrics of the weights at `weights` on `split` of `data`, without dropout: by
    /// default exactly the run's own validation, cut the same way.
    ///
    /// Every setting left nil is the training run's, stored in the checkpoint: `split` its
    /// `data.test_split`, `batchSize` its `data.batch_size` (a stateful stream's lanes), a token
    /// stream's `seqLength` and `streamMode` its own; weights from elsewhere (no run config) get
    /// "test", 64, 50 and `stateful`. `stateful` carries (h, c) from one minibatch to the next
    /// over `batchSize` lanes, like validation during training. On the run's validation split
    /// with its batch size, the run's `validation.max_batches` applies too, so the loss of
    /// best.h5 is the run's best validation loss bit for bit (`reproducesRunValidation`).
    public static func evaluate(
        weights: String, data: String, split: String? = nil, batchSize: Int? = nil,
        seqLength: Int? = nil, streamMode: StreamMode? = nil
    ) throws -> EvaluationReport {
        if let batchSize { try checkBatchSize(batchSize) }
        // The stored run settings first (the model file is read once more by `open`, against the split).
        let run = (try? InferenceModel.load(weights).run) ?? StoredRunSettings(configText: nil)
        func origin<V>(_ given: V?, _ flag: String, _ stored: V?, _ key: String, _ fallback: V) -> (V, String) {
            if let given { return (given, flag) }
            if let stored { return (stored, "the run's \(key)") }
            return (fallback, "default")
        }
        let (split, splitFrom) = origin(split, "--split", run.testSplit, "data.test_split", "test")
        let (batch, batchFrom) = origin(batchSize, "--batch-size", run.batchSize, "data.batch_size", 64)
        let (model, file, schema) = try open(weights: weights, data: data, split: split)
        let isStream = schema.form == .tokenStream
        var settings = ["split '\(split)' (\(splitFrom))"]
        var t = seqLength  // the loader rejects a wrong T
        var mode = StreamMode.windows
        if isStream {
            let (tt, tFrom) = origin(seqLength, "--seq-length", model.run.seqLength, "data.seq_length", 50)
            let (m, mFrom) = origin(streamMode, "--stream-mode", model.run.streamMode, "data.stream_mode", .stateful)
            (t, mode) = (tt, m)
            settings.append("\(m == .stateful ? "lanes" : "batch size") \(batch) (\(batchFrom))")
            settings.append("seq_length \(tt) (\(tFrom))")
            settings.append("stream_mode \(m.rawValue) (\(mFrom))")
        } else {
            settings.append("batch size \(batch) (\(batchFrom))")
        }
        let stateful = isStream && mode == .stateful
        let loader = try BatchLoader(
            file: file, split: split, batchSize: batch, shuffle: false,
            seqLength: t, mode: mode, dropLast: stateful)
        // The run's validation, reproduced: its split, cut the way it was cut, its batch cap.
        let isRunValidation =
            split == model.run.valSplit && batch == model.run.batchSize && t == (isStream ? model.run.seqLength : t)
            && (!isStream || mode == model.run.streamMode)
        let maxBatches = isRunValidation ? model.run.validationMaxBatches : nil
        if let maxBatches {
            settings.append("the first \(maxBatches) minibatches (the run's validation.max_batches)")
        }
        try MemoryPlan.inference(
            model: model.config, schema: schema, batch: min(batch, loader.sampleCount), steps: loader.steps
        ).check(available: MemoryPlan.availableBytes())
        let evaluator = Evaluator(
            network: model.network, parameters: model.parameters,
            maxBatch: min(batch, loader.sampleCount), maxSteps: loader.steps)
        let result = try evaluator.evaluate(loader, maxBatches: maxBatches, carryState: stateful)
        var report = EvaluationReport(
            weights: weights, data: data, split: split, result: result,
            batches: maxBatches.map { min($0, loader.batchesPerEpoch) } ?? loader.batchesPerEpoch, seqLength: t,
            streamMode: isStream ? mode : nil)
        report.batchSize = batch
        report.settings = settings.joined(separator: ", ")
        if isRunValidation { report.runBestValidationLoss = model.checkpoint.metrics["best_val_loss"] }
        return report
    }

    /// Writes the model's outputs y = F(z) on `split` of `data` to a new HDF5 file at `out`
    /// (atomically: a temporary file in the same directory, fsynced and renamed when complete).
    ///
    /// The file holds float32 `outputs` [N, T, O] (head `sequence`) or [N, O] (head `last`), in
    /// the split's sample order; steps past a sequence's length are 0 and the split's `lengths`
    /// is copied. A token stream is cut into its ⌊(L−1)/T⌋ non-overlapping windows of `seqLength`
    /// T (default: the run's), each run from a zero state, giving [W, T, O] (row w predicts
    /// tokens w·T+1 … w·T+T). With `denormalize`, regression outputs are mapped back to the
    /// data's original units, y·target_std + target_mean (the data must carry those attributes).
    /// Root attributes record the model config (JSON), the weights, the data file and split.
    /// Minibatches are streamed, so memory is one minibatch whatever N is.
    @discardableResult
    public static func predict(
        weights: String, data: String, split: String = "test", out: String,
        batchSize: Int = 64, seqLength: Int? = nil,
        denormalize: Bool = false
    ) throws -> PredictionSummary {
        try checkBatchSize(batchSize)
        let target = URL(fileURLWithPath: out).standardizedFileURL.resolvingSymlinksInPath().path
        for (what, p) in [("dataset", data), ("weights file", weights)]
        where URL(fileURLWithPath: p).standardizedFileURL.resolvingSymlinksInPath().path == target {
            throw RunError("--out \(out) is the \(what): choose another file for the predictions")
        }
        let (model, file, schema) = try open(weights: weights, data: data, split: split)
        let config = model.config
        var stats: FeatureStatistics?
        if denormalize {
            guard !config.loss.usesClassTargets, schema.target.valueWidth != nil else {
                throw RunError(
                    "--denormalize applies to regression outputs (float targets); \(data) split '\(split)' has class ids"
                )
            }
            guard let s = schema.targetStatistics else {
                throw RunError(
                    "\(data): no target_mean/target_std root attributes to denormalize with (see docs/datasets.md)")
            }
            stats = s
        }
        let isStream = schema.form == .tokenStream
        let t = isStream ? (seqLength ?? model.run.seqLength ?? 50) : seqLength  // the loader rejects a wrong T
        let loader = try BatchLoader(
            file: file, split: split, batchSize: batchSize, shuffle: false,
            seqLength: t, mode: .windows)
        let n = loader.sampleCount
        let steps = loader.steps
        let o = config.outputSize
        let perStep = config.head == .sequence
        let shape = perStep ? [n, steps, o] : [n, o]
        try MemoryPlan.inference(model: config, schema: schema, batch: min(batchSize, n), steps: steps).check(
            available: MemoryPlan.availableBytes())
        let ws = Workspace<Float>(config: config, maxBatch: min(batchSize, n), maxSteps: steps)
        let layout = isStream ? "[W, T, O]" : perStep ? "[N, T, O]" : "[N, O]"
        try PredictionFile.write(
            to: out, config: config, shape: shape, layout: layout,
            hasLengths: schema.hasLengths
        ) { file in
            while let batch = try loader.next() {
                batch.withView { _ = model.network.forward(model.parameters, $0, workspace: ws) }
                var y = ws.outputs()
                if let stats { y = stats.denormalize(y) }
                if perStep, let l = batch.lengths {  // zero the padding past each length
                    for b in 0..<batch.batchSize {
                        let start = (b * steps + Int(l[b])) * o
                        let end = (b + 1) * steps * o
                        if start < end { y.replaceSubrange(start..<end, with: repeatElement(0, count: end - start)) }
                    }
                }
                try file.append(outputs: y, lengths: batch.lengths, rows: batch.batchSize)
            }
            guard file.rowsWritten == n else { throw RunError("internal: wrote \(file.rowsWritten) of \(n) rows") }
            try file.setAttribute("weights", weights)
            try file.setAttribute("source_data", data)
            try file.setAttribute("split", split)
            try file.setAttribute("denormalized", stats != nil ? 1 : 0)
            try file.setAttribute(
                "units",
                stats != nil
                    ? "original units of the data: y·target_std + target_mean (root attributes of the source data)"
                    : "model outputs y = F(z), as the model was trained")
            if let stats { try file.setAttribute("target_names", stats.names) }
            if isStream {
                try file.setAttribute("seq_length", steps)
                try file.setAttribute(
                    "windows",
                    "row w holds the predictions for tokens w·T+1 … w·T+T of the stream, each window from a zero state")
            }
        }
        return PredictionSummary(path: out, shape: shape, denormalized: stats != nil)
    }

    static func checkBatchSize(_ b: Int) throws {
        if b < 1 { throw RunError("--batch-size must be ≥ 1 (got \(b))") }
    }
}
