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
    /// Things about the file worth telling the user once (e.g. a Keras optimizer group ignored).
    public var notes: [String] = []

    /// Loads `path` as a checkpoint or weights file.
    ///
    /// A weights file saved by Keras itself has no model configuration, so head and loss cannot
    /// be read from it; when `schema` is given they are then taken from the data (a target per
    /// step: head `sequence`; class ids: `cross_entropy`, float values: `mse`).
    /// Weights that are not finite are refused with the tensor named unless `allowNonFinite`.
    public static func load(
        _ path: String, schema: DatasetSchema? = nil, allowNonFinite: Bool = false
    ) throws -> InferenceModel {
        guard FileManager.default.fileExists(atPath: path) else {
            throw RunError("\(path): no such weights file (expected a checkpoint or a file written by `lstm export`)")
        }
        var checkpoint: Checkpoint
        var notes: [String]
        do {
            (checkpoint, notes) = try WeightsImporter.readNoting(
                path, options: WeightsImportOptions(allowNonFinite: allowNonFinite))
        } catch let error as FileError where error.kind == .invalidConfig && error.object == nil && schema != nil {
            // No model recorded: the data's targets say where predictions are made and how.
            let s = schema!
            let options = WeightsImportOptions(
                head: s.target.isPerStep ? .sequence : .last, loss: s.target.isClasses ? .crossEntropy : .mse,
                allowNonFinite: allowNonFinite)
            (checkpoint, notes) = try WeightsImporter.readNoting(path, options: options)
            notes.append(
                "\(path) records no model; took head \(options.head!.rawValue) and loss \(options.loss!.rawValue) from the data's targets"
            )
        }
        let parameters = try checkpoint.makeParameterSet()
        var model = InferenceModel(
            path: path, config: checkpoint.config, parameters: parameters,
            network: try LSTMNetwork<Float>(config: checkpoint.config), checkpoint: checkpoint,
            run: StoredRunSettings(configText: checkpoint.configText))
        model.notes = notes
        return model
    }

    /// What the model knows about its data: vocabulary, class, feature and target names and
    /// statistics (empty for files written before models carried them, and files from elsewhere).
    public var metadata: ModelMetadata { checkpoint.metadata }

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

    /// Reads the settings from a run config's YAML text through the config reader
    /// (`RunConfig.DataSection.readSettings`): a key the config leaves out has the config's default,
    /// as it had in the run, and a value the reader rejects keeps it too; without a readable run
    /// config (or its `data` mapping) every setting stays nil.
    public init(configText: String?) {
        guard let text = configText, (try? ConfigText.check(text, path: "config.yaml")) != nil,
            let root = (try? Yams.compose(yaml: text)) ?? nil,
            let r = try? ConfigReader(file: "config.yaml", path: "", node: root),
            let d = try? r.section("data"), case .mapping? = d.node
        else { return }
        var data = RunConfig.DataSection(file: "")
        try? data.readSettings(d)  // problems are only recorded (in the reader's table): defaults stand
        switch d.value("file") {
        case .scalar(let s)?: dataFile = s.string
        case .sequence(let items)?: if case .scalar(let s)? = items.first { dataFile = s.string }  // its first shard
        default: break
        }
        seqLength = data.seqLength
        streamMode = data.streamMode
        testSplit = data.testSplit
        batchSize = data.batchSize
        valSplit = data.valSplit
        validationMaxBatches = try? (try? r.section("validation"))?.int("max_batches", min: 1)
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
    /// The split predicted on (the one asked for, else `test`, else the file's only split).
    public var split: String = ""
    /// The file format: `.hdf5` or `.csv` (from the name of `path`).
    public var format: PredictionFormat = .hdf5
    /// What was written besides the outputs: "class_ids", "values".
    public var extras: [String] = []
    /// Differences between the model's metadata and the data's that `acceptDataMismatch` let through.
    public var acceptedMismatches: [String] = []

    /// "wrote outputs float32 [8, 1] to pred.h5" (+ class ids, values, CSV rows).
    public var description: String {
        let dims = shape.map(String.init).joined(separator: ", ")
        var s: String
        switch format {
        case .hdf5:
            s = "wrote outputs float32 [\(dims)]"
            if !extras.isEmpty { s += " and " + extras.joined(separator: ", ") }
            s += " to \(path)"
        case .csv:
            s = "wrote CSV of outputs [\(dims)]"
            if !extras.isEmpty { s += " with " + extras.joined(separator: ", ") }
            s += " to \(path)"
        }
        return s + (denormalized ? " (denormalized: y·target_std + target_mean)" : "")
    }
}

/// The file `lstm predict` writes, chosen by the name given to `--out`.
public enum PredictionFormat: String, Sendable {
    /// `.h5`, `.hdf5`: datasets `outputs`, `class_ids`, `values`, `lengths` (docs/weights.md).
    case hdf5
    /// `.csv`: one row per sequence (head `last`) or per valid step (head `sequence`).
    case csv

    /// The format a file name asks for; any other suffix is refused naming the two.
    public init(path: String) throws {
        let name = (path as NSString).lastPathComponent.lowercased()
        if name.hasSuffix(".csv") {
            self = .csv
        } else if name.hasSuffix(".h5") || name.hasSuffix(".hdf5") {
            self = .hdf5
        } else {
            throw RunError(
                "--out \(path): predictions are written as HDF5 (a name ending in .h5 or .hdf5) or as CSV (a name ending in .csv); choose one of those"
            )
        }
    }
}

/// Evaluation and prediction over a dataset split (see `lstm evaluate` and `lstm predict`).
public enum Inference {
    /// Opens `data`, validates `split` and loads the weights at `weights` against it; checks the
    /// model against the split (`DatasetFile.check(against:split:)`) so a mismatch is reported
    /// in one message before anything runs.
    public static func open(weights: String, data: String, split: String, allowNonFinite: Bool = false) throws -> (
        InferenceModel, DatasetFile, DatasetSchema
    ) {
        let opened = try open(
            weights: weights, data: data, split: split, requireTargets: true, allowNonFinite: allowNonFinite)
        return (opened.model, opened.file, opened.schema)
    }

    /// A model and a split ready to run: what `open` found.
    struct Opened {
        let model: InferenceModel
        let file: DatasetFile
        let schema: DatasetSchema
        let split: String
        /// Metadata differences let through by `acceptDataMismatch`.
        let accepted: [String]
    }

    /// Opens `data` and `split` (nil: `test`, else the file's only split), loads the weights and
    /// checks them against the split: shapes (`DatasetFile.check(against:split:)`) and the
    /// metadata (vocabulary, class and feature names, statistics: `ModelMetadata.differences`),
    /// which `acceptDataMismatch` lets through. Without `requireTargets` a split holding only
    /// inputs is accepted (its targets are what the model predicts). Weights that are not finite
    /// are refused unless `allowNonFinite`.
    static func open(
        weights: String, data: String, split: String?, requireTargets: Bool, acceptDataMismatch: Bool = false,
        allowNonFinite: Bool = false
    ) throws -> Opened {
        let file = try DatasetFile.open(paths: dataPaths(data))
        let split = try resolveSplit(split, in: file)
        let labelled = requireTargets ? try file.schema(split) : try file.hasTargets(split) ? file.schema(split) : nil
        let model = try InferenceModel.load(weights, schema: labelled, allowNonFinite: allowNonFinite)
        for note in model.notes { FileHandle.standardError.write(Data("note: \(note)\n".utf8)) }
        let schema = try labelled ?? file.inputsSchema(split, assuming: model.predictedTarget)
        try file.check(against: model.config, split: split)
        let differences = model.metadata.differences(fromData: file.metadata)
        if !differences.isEmpty && !acceptDataMismatch {
            throw RunError(
                "\(data) does not match the data the model \(weights) was trained on: \(differences.joined(separator: "; ")). Use data prepared the same way, or pass --accept-data-mismatch to run anyway"
            )
        }
        for difference in differences {  // accepted: say what was let through
            FileHandle.standardError.write(Data("warning: --accept-data-mismatch: \(difference)\n".utf8))
        }
        return Opened(model: model, file: file, schema: schema, split: split, accepted: differences)
    }

    /// `split`, or `test` when the file has it, or the file's only split.
    static func resolveSplit(_ split: String?, in file: DatasetFile) throws -> String {
        if let split { return split }
        let splits = file.splits
        if splits.contains("test") || splits.isEmpty { return "test" }  // none: validation names the problem
        if splits.count == 1 { return splits[0] }
        throw RunError(
            "\(file.path) has no split `test`; choose one with --split (splits found: \(splits.joined(separator: ", ")))"
        )
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
    /// best.h5 is the run's best validation loss bit for bit (`reproducesRunValidation`). The
    /// split must hold targets (a split of inputs only is refused, suggesting `lstm predict`);
    /// data whose metadata differs from the model's is refused unless `acceptDataMismatch`.
    public static func evaluate(
        weights: String, data: String, split: String? = nil, batchSize: Int? = nil,
        seqLength: Int? = nil, streamMode: StreamMode? = nil, acceptDataMismatch: Bool = false,
        allowNonFinite: Bool = false
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
        let opened = try open(
            weights: weights, data: data, split: split, requireTargets: true, acceptDataMismatch: acceptDataMismatch,
            allowNonFinite: allowNonFinite)
        let (model, file, schema) = (opened.model, opened.file, opened.schema)
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
        try checkMemory(model.config, schema, batch: min(batch, loader.sampleCount), steps: loader.steps)
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

    /// Writes the model's outputs y = F(z) on `split` of `data` to a new file at `out`: HDF5 for
    /// a name ending in `.h5`/`.hdf5`, CSV for `.csv` (anything else is refused); atomically (a
    /// temporary file in the same directory, fsynced and renamed when complete).
    ///
    /// The split may hold inputs only (new data: `inputs`, optionally `lengths`); `split` nil
    /// takes `test`, else the file's only split. The HDF5 file holds float32 `outputs` [N, T, O]
    /// (head `sequence`) or [N, O] (head `last`), in the split's sample order; steps past a
    /// sequence's length are 0 and the split's `lengths` is copied. A classifier (cross_entropy)
    /// also gets int32 `class_ids` (argmax over O; −1 past a length). A regression model that
    /// knows its target statistics (copied from the data by training) also gets `values`, the
    /// outputs in the data's original units (y·target_std + target_mean); `denormalize` maps
    /// `outputs` itself back too (with the model's statistics, else the data's). A token stream is
    /// cut into its ⌊(L−1)/T⌋ non-overlapping windows of `seqLength` T (default: the run's), each
    /// run from a zero state, giving [W, T, O] (row w predicts tokens w·T+1 … w·T+T). Root
    /// attributes record the model config (JSON), the weights, the data file and split. The CSV
    /// layout is documented in docs/weights.md. Minibatches are streamed, so memory is one
    /// minibatch whatever N is. Data whose metadata differs from the model's is refused unless
    /// `acceptDataMismatch`.
    @discardableResult
    public static func predict(
        weights: String, data: String, split: String? = "test", out: String,
        batchSize: Int = 64, seqLength: Int? = nil,
        denormalize: Bool = false, acceptDataMismatch: Bool = false, allowNonFinite: Bool = false
    ) throws -> PredictionSummary {
        try checkBatchSize(batchSize)
        let format = try PredictionFormat(path: out)
        let inputs: [(what: String, path: String)] =
            try dataPaths(data).map { (what: "dataset", path: $0) } + [(what: "weights file", path: weights)]
        try AtomicFile.checkOutput(out, isNotAnyOf: inputs, role: .predictions)
        let opened = try open(
            weights: weights, data: data, split: split, requireTargets: false, acceptDataMismatch: acceptDataMismatch,
            allowNonFinite: allowNonFinite)
        let (model, file, schema, split) = (opened.model, opened.file, opened.schema, opened.split)
        let config = model.config
        let classifier = config.loss == .crossEntropy
        // The statistics the outputs map back with: the model's own, else (older models) the data's.
        let known = classifier ? nil : model.metadata.targetStatistics ?? schema.targetStatistics
        if denormalize {
            guard !config.loss.usesClassTargets else {
                throw RunError(
                    "--denormalize applies to regression outputs (float targets); the model \(weights) predicts class ids (loss \(config.loss.rawValue))"
                )
            }
            guard known != nil else {
                throw RunError(
                    "--denormalize: no target_mean/target_std root attributes in the model \(weights) or in \(data) to denormalize with (see docs/datasets.md)"
                )
            }
        }
        if let known, known.mean.count != config.outputSize {
            throw RunError(
                "the target statistics have \(known.mean.count) columns but the model has O = \(config.outputSize) outputs"
            )
        }
        let statistics = known
        let isStream = schema.form == .tokenStream
        let t = isStream ? (seqLength ?? model.run.seqLength ?? 50) : seqLength  // the loader rejects a wrong T
        let loader = try BatchLoader(
            file: file, split: split, batchSize: batchSize, shuffle: false,
            seqLength: t, mode: .windows, inputsOnly: schema.hasTargets ? nil : schema.target)
        let n = loader.sampleCount
        let steps = loader.steps
        let o = config.outputSize
        let perStep = config.head == .sequence
        let shape = perStep ? [n, steps, o] : [n, o]
        try checkMemory(config, schema, batch: min(batchSize, n), steps: steps)
        let ws = Workspace<Float>(config: config, maxBatch: min(batchSize, n), maxSteps: steps)
        let layout = isStream ? "[W, T, O]" : perStep ? "[N, T, O]" : "[N, O]"

        /// Runs every minibatch and hands its rows to `emit`.
        func run(_ emit: (PredictionRows) throws -> Void) throws {
            var row = 0
            while let batch = try loader.next() {
                batch.withView { _ = model.network.forward(model.parameters, $0, workspace: ws) }
                let rows = PredictionRows(
                    first: row, count: batch.batchSize, steps: perStep ? steps : 1, width: o, outputs: ws.outputs(),
                    lengths: batch.lengths, classifier: classifier, statistics: statistics,
                    denormalizeOutputs: denormalize)
                try emit(rows)
                row += batch.batchSize
            }
            guard row == n else { throw RunError("internal: wrote \(row) of \(n) rows") }
        }

        var extras: [String] = []
        if classifier { extras.append("class_ids") }
        if statistics != nil { extras.append("values") }
        // A language model's classes are its vocabulary.
        let vocabulary = model.metadata.vocabulary ?? schema.vocabulary
        let tokenClasses = schema.input == .tokens && vocabulary?.count == o ? vocabulary : nil
        let names = PredictionColumns(
            classNames: classifier ? model.metadata.classNames ?? schema.classNames ?? tokenClasses : nil,
            targetNames: statistics?.names ?? model.metadata.targetNames, width: o)
        switch format {
        case .csv:
            try PredictionCSV.write(
                to: out, columns: names, perStep: perStep, classifier: classifier, values: statistics != nil, run)
        case .hdf5:
            try PredictionFile.write(
                to: out, config: config, shape: shape, layout: layout, hasLengths: schema.hasLengths,
                classIDs: classifier, values: statistics != nil
            ) { file in
                try run { rows in
                    try file.append(
                        outputs: rows.outputs, classIDs: rows.classIDs, values: rows.values,
                        lengths: rows.lengths, rows: rows.count)
                }
                try file.setAttribute("weights", weights)
                try file.setAttribute("source_data", data)
                try file.setAttribute("split", split)
                try file.setAttribute("denormalized", denormalize ? 1 : 0)
                try file.setAttribute(
                    "units",
                    denormalize
                        ? "original units of the data: y·target_std + target_mean (the model's target statistics)"
                        : "model outputs y = F(z), as the model was trained")
                if let statistics { try file.setAttribute("target_names", statistics.names) }
                if let classNames = names.classNames { try file.setAttribute("class_names", classNames) }
                if isStream {
                    try file.setAttribute("seq_length", steps)
                    try file.setAttribute(
                        "windows",
                        "row w holds the predictions for tokens w·T+1 … w·T+T of the stream, each window from a zero state"
                    )
                }
            }
        }
        return PredictionSummary(
            path: out, shape: shape, denormalized: denormalize, split: split, format: format, extras: extras,
            acceptedMismatches: opened.accepted)
    }

    /// The inference plan for minibatches of `batch` × `steps`, checked against the memory and
    /// limits of the process (one prefetch thread still to start) before anything large is made.
    static func checkMemory(_ model: ModelConfig, _ schema: DatasetSchema, batch: Int, steps: Int) throws {
        let room = MemoryPlan.available(threads: 1)
        try MemoryPlan.inference(model: model, schema: schema, batch: batch, steps: steps).check(
            available: room?.bytes, limit: room?.limit, reduce: "--batch-size (or --seq-length)")
    }

    static func checkBatchSize(_ b: Int) throws {
        if b < 1 { throw RunError("--batch-size must be ≥ 1 (got \(b))") }
    }
}

extension InferenceModel {
    /// The targets this model predicts, as a dataset would store them: class ids or values, per
    /// step (head `sequence`) or per sequence (head `last`).
    public var predictedTarget: DatasetSchema.TargetKind {
        switch (config.head, config.loss.usesClassTargets) {
        case (.sequence, true): .classesPerStep
        case (.last, true): .classesPerSequence
        case (.sequence, false): .valuesPerStep(width: config.outputSize)
        case (.last, false): .valuesPerSequence(width: config.outputSize)
        }
    }
}
