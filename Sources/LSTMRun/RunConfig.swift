import Foundation
import LSTMData
import LSTMKit
import Yams

/// A whole training job as written in a YAML file; every key is documented in docs/config.md.
///
/// Sizes the dataset already knows (input width, vocabulary, outputs, head) may be left out
/// and are filled in from the data when the run starts.
public struct RunConfig: Sendable, Equatable {
    public struct Model: Sendable, Equatable {
        public var hiddenSize = 128
        public var numLayers = 1
        public var bidirectional = false
        public var dropout = 0.0
        /// Token models: embedding width E.
        public var embeddingSize = 64
        /// Features width I (nil: from the data).
        public var inputSize: Int?
        /// Vocabulary size V for token input (nil: from the data).
        public var vocabSize: Int?
        /// O (nil: from the data: class count or target width).
        public var outputSize: Int?
        public var activation: OutputActivation?
        /// nil: `last` when the data has one target per sequence, else `sequence`.
        public var head: Head?
        public var initialization: Initialization = .pytorch
        public var forgetBias = false
        /// `hidden_size` given as a list: one width per layer (then `hiddenSize` is the widest).
        public var hiddenSizes: [Int]?
        /// One or two bias vectors per gate block (`model.bias`).
        public var bias: BiasForm = .default

        /// H_k of every layer: the list, or `hidden_size` repeated `num_layers` times.
        public var layerWidths: [Int] { hiddenSizes ?? Array(repeating: hiddenSize, count: numLayers) }
    }

    public struct Generate: Sendable, Equatable {
        /// `adding`, `copy` or `waves`.
        public var task: String
        public var steps = 50
        public var train = 20_000, val = 1_000, test = 1_000
        public var seed: UInt64 = 1
        /// Copy task: symbols to remember, alphabet size, delay of blanks.
        public var symbols = 10, alphabet = 8, delay = 20
        /// Waves task: shape classes, length range, noise level (defaults: the generator's).
        public var classes = Generators.WaveSettings().classes
        public var minLength = Generators.WaveSettings().minLength
        public var maxLength = Generators.WaveSettings().maxLength
        public var noise = Generators.WaveSettings().noise

        /// Every field's default, which the reader and `lstm prepare` use.
        public static let defaults = Generate(task: "adding")
    }

    public struct DataSection: Sendable, Equatable {
        /// `data.file` as given: one path, a glob, or a list shown as "a.h5, b.h5".
        public var file: String
        /// The shard files of a list or glob `data.file`, in order (a glob's matches sorted by
        /// name); empty for a single path.
        public var files: [String] = []
        /// The files the data is read from: `files`, or `file` alone.
        public var paths: [String] { files.isEmpty ? [file] : files }
        public var generate: Generate?
        public var trainSplit = "train"
        /// nil: no validation.
        public var valSplit: String? = "val"
        public var testSplit = "test"
        public var batchSize = 32
        /// Window length for token streams.
        public var seqLength = 50
        /// `stateful` (lanes, state carried: torch-rnn) or `windows` (shuffled windows).
        public var streamMode: StreamMode = .stateful
        public var shuffle = true
        public var dropLast = false
    }

    public struct EarlyStopping: Sendable, Equatable {
        public var metric = "val_loss"
        public var patience = 10
        public var minDelta = 0.0
        /// Stop as soon as the metric is better than this.
        public var target: Double?
    }

    public struct Training: Sendable, Equatable {
        public var epochs = 10
        /// Total optimizer steps; overrides `epochs` when set.
        public var steps: Int?
        /// Global-norm clipping threshold; nil (the default, as in torch) means no clipping.
        public var clipNorm: Double?
        public var clipValue: Double?
        public var nanPolicy: NonFinitePolicy = .skip
        /// Under `nan_policy: skip`, this many non-finite steps in a row end the run with an error.
        public var maxNonFiniteSteps = 10
        public var earlyStopping: EarlyStopping?
        /// K: micro-batches of `data.batch_size` per optimizer step (gradient accumulation); the
        /// step's minibatch is K × batch_size sequences, with the bits of that one minibatch.
        public var accumulate = 1
        /// The LSTM layers' GEMM arithmetic: float32, or bf16 mixed precision (`Precision`; refused
        /// before training where the CPU or the GEMM kernel cannot run it, `RunPlan.resolve`).
        public var precision: Precision = .float32
    }

    public struct Validation: Sendable, Equatable {
        /// Validate every N steps (0: at the end of every epoch).
        public var every = 0
        public var maxBatches: Int?
    }

    public struct Checkpointing: Sendable, Equatable {
        public var dir: String
        /// Save every N steps (0: at the end of every epoch).
        public var every = 0
        public var keep = 3
    }

    public struct Logging: Sendable, Equatable {
        /// A plain progress line every N steps when output is not a terminal.
        public var every = 50
        /// auto, bar, plain or none.
        public var progress = "auto"
        /// TensorBoard event files: nil (off), in the run directory, or in a directory of their own.
        public var tensorBoard: TensorBoardPlace?
    }

    /// Where `logging.tensorboard` puts the event files.
    public enum TensorBoardPlace: Sendable, Equatable {
        /// `true`: `tensorboard/` in the run directory (checkpoint.dir).
        case runDirectory
        /// A directory (relative to the working directory, like every path of a config).
        case directory(String)
    }

    public struct Parallel: Sendable, Equatable {
        public var shards: Int?
        public var workers: Int?
        /// Overlap the gradient exchange with backpropagation under mpirun (nil: the default,
        /// `ShardWorkers.defaultOverlap`).
        public var overlap: Bool?
    }

    public var model = Model()
    /// nil: cross_entropy for class-id targets, mse for float targets.
    public var loss: LossKind?
    public var data: DataSection
    /// torch.optim's name and keyword arguments (lr, momentum, betas, eps, weight_decay, …).
    public var optimizer = defaultOptimizer
    /// The optimizer of a config without an `optimizer` section (or without `optimizer.name`).
    public static let defaultOptimizer = OptimizerConfig(name: "adam")
    /// torch.optim.lr_scheduler's name and keyword arguments (step_size, gamma, t_max, warmup_steps, …).
    public var schedule = ScheduleConfig()
    public var training = Training()
    public var validation = Validation()
    public var checkpoint: Checkpointing
    public var logging = Logging()
    public var parallel = Parallel()
    public var seed: UInt64 = 1

    /// Where the config came from and its text after `--set` overrides (stored with the run).
    public var sourcePath: String
    public var sourceText: String
    /// Line and column of every key given in the file ("model.hidden_size", "data", …).
    public var locations: [String: ConfigLocation] = [:]
    /// Every key path the config gives a value (in the file or by `--set`), as the reader found them;
    /// `--init` and resume take the model keys left out from the weights.
    public var givenKeys: Set<String> = []

    /// Whether the config gives `key` ("model.bias"), in the file or by `--set`.
    public func gives(_ key: String) -> Bool { givenKeys.contains(key) }

    /// A problem found later (e.g. against the data), located at `key` or its nearest given parent.
    public func error(at key: String, _ message: String) -> ConfigError {
        var k = key
        while locations[k] == nil, let dot = k.lastIndex(of: ".") { k = String(k[..<dot]) }
        let loc = locations[k]
        return ConfigError(file: sourcePath, line: loc?.line, column: loc?.column, key: key, message: message)
    }
}

// MARK: - Parsing

extension RunConfig {
    /// Reads and validates a YAML config; `overrides` are `section.key=value` strings applied first.
    ///
    /// - Throws: `ConfigError` naming the file, line and column of the first problem.
    public static func load(path: String, overrides: [String] = []) throws -> RunConfig {
        try parse(ConfigText.contents(path: path), path: path, overrides: overrides)
    }

    /// Parses YAML text (see `load`).
    public static func parse(_ text: String, path: String, overrides: [String] = []) throws -> RunConfig {
        do {
            return try parseUnlocated(text, path: path, overrides: overrides)
        } catch let e as ConfigError {
            // A problem in a value that came from --set has no line: name the override instead.
            func located(_ e: ConfigError) -> ConfigError {
                guard e.line == nil, let o = overrides.first(where: { $0.hasPrefix(e.key + "=") }) else { return e }
                return ConfigError(
                    file: "\(path) (--set \(shown(o)))", line: nil, column: nil, key: e.key, message: e.message)
            }
            throw ConfigError.combined(
                ([e] + e.more).map { e in
                    var one = e
                    one.more = []
                    return located(one)
                })!
        }
    }

    /// The key paths the reader accepts in a config like `text` (the chosen optimizer's and
    /// schedule's keys, and those of the sections given), for checking docs/config.md against.
    static func acceptedKeys(readingAConfigLike text: String, path: String) throws -> Set<String> {
        let table = LocationTable()
        _ = try parseUnlocated(text, path: path, overrides: [], table: table)
        return table.asked
    }

    private static func parseUnlocated(
        _ text: String, path: String, overrides: [String],
        table: LocationTable = LocationTable()
    ) throws -> RunConfig {
        var root: Node
        do {
            try ConfigText.check(text, path: path)  // limits, duplicate keys, syntax: before Yams builds a tree
            root = try Yams.compose(yaml: text) ?? Node.Mapping([]).asNode
        } catch let e as YamlError {
            throw configError(e, path: path)
        }
        var effectiveText = text
        if !overrides.isEmpty {
            for o in overrides {
                do { root = try applyOverride(o, to: root, file: path) } catch let e as ConfigError { table.report(e) }
            }
            root = oneRunLength(root, overrides: overrides)
            effectiveText = (try? Yams.serialize(node: root)) ?? text
        }
        let r = try ConfigReader(file: path, path: "", node: root, table: table)
        let configName = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent

        // model
        let m = try r.section("model")
        var model = Model()
        if let widths = try m.ints("hidden_size", min: 1, max: SizeBounds.hiddenSize) {  // a list: one width per layer
            if let n = try m.int("num_layers", min: 1, max: SizeBounds.numLayers), n != widths.count {
                m.report(
                    m.error(
                        "num_layers",
                        "is \(n) but model.hidden_size lists \(widths.count) width(s) \(widths); give one width per layer or leave num_layers out",
                        at: m.value("num_layers")))
            }
            model.hiddenSizes = widths
            model.hiddenSize = widths.max()!
            model.numLayers = widths.count
        } else {
            model.hiddenSize = try m.int("hidden_size", default: model.hiddenSize, min: 1, max: SizeBounds.hiddenSize)
            model.numLayers = try m.int("num_layers", default: model.numLayers, min: 1, max: SizeBounds.numLayers)
        }
        model.bias = try m.choice("bias", BiasForm.allCases.map(\.rawValue)).flatMap(BiasForm.init) ?? model.bias
        model.bidirectional = try m.bool("bidirectional", default: model.bidirectional)
        model.dropout = try m.double("dropout", default: model.dropout, min: 0, max: 1, openMax: true)
        model.embeddingSize = try m.int(
            "embedding_size", default: model.embeddingSize, min: 1, max: SizeBounds.embeddingSize)
        model.inputSize = try m.int("input_size", min: 1, max: SizeBounds.inputSize)
        model.vocabSize = try m.int("vocab_size", min: 1, max: SizeBounds.vocabularySize)
        model.outputSize = try m.int("output_size", min: 1, max: SizeBounds.outputSize)
        model.activation = try m.choice("activation", OutputActivation.allCases.map(\.rawValue)).flatMap(
            OutputActivation.init)
        model.head = try m.choice("head", Head.allCases.map(\.rawValue)).flatMap(Head.init)
        model.initialization =
            try m.choice("init", Initialization.allCases.map(\.rawValue))
            .flatMap(Initialization.init) ?? model.initialization
        model.forgetBias = try m.bool("forget_bias", default: model.forgetBias)
        try m.rejectUnknownKeys()

        let loss = try r.choice("loss", LossKind.allCases.map(\.rawValue)).flatMap(LossKind.init)
        if let a = model.activation, let loss, let need = loss.requiredActivation, a != need {
            r.report(
                r.error(
                    "loss", "\(loss.rawValue) needs model.activation \(need.rawValue) (got \(a.rawValue))",
                    at: r.value("loss")))
        }

        // data
        let d = try r.section("data")
        var data: DataSection
        do { data = try dataFiles(d) } catch let e as ConfigError {
            d.report(e)
            data = DataSection(file: "")  // reported; the rest is still checked
        }
        if d.has("generate") {
            let g = try d.section("generate")
            let task = try g.choice("task", ["adding", "copy", "waves"])
            if task == nil, !g.has("task") { g.report(g.error("task", "missing: adding, copy or waves")) }
            var gen = Generate(task: task ?? "adding")
            let most = SizeBounds.generatedSamples
            gen.steps = try g.int("steps", default: gen.steps, min: 2, max: SizeBounds.seqLength)
            gen.train = try g.int("train", default: gen.train, min: 1, max: most)
            gen.val = try g.int("val", default: gen.val, min: 1, max: most)
            gen.test = try g.int("test", default: gen.test, min: 1, max: most)
            gen.seed = UInt64(try g.int("seed", default: Int(gen.seed), min: 0))
            gen.symbols = try g.int("symbols", default: gen.symbols, min: 1, max: SizeBounds.seqLength)
            gen.alphabet = try g.int("alphabet", default: gen.alphabet, min: 2, max: SizeBounds.vocabularySize)
            gen.delay = try g.int("delay", default: gen.delay, min: 0, max: SizeBounds.seqLength)
            gen.classes = try g.int("classes", default: gen.classes, min: 2, max: 6)
            gen.minLength = try g.int("min_length", default: gen.minLength, min: 2, max: SizeBounds.seqLength)
            gen.maxLength = try g.int(
                "max_length", default: gen.maxLength, min: gen.minLength, max: SizeBounds.seqLength)
            gen.noise = try g.double("noise", default: gen.noise, min: 0)
            let length = max(gen.steps, gen.maxLength, 2 * gen.symbols + gen.delay + 1)
            for (split, n) in [("train", gen.train), ("val", gen.val), ("test", gen.test)]
            where n > SizeBounds.generatedSamples / length {
                g.report(
                    g.error(
                        split,
                        "\(n) sequences of \(length) steps are more than \(SizeBounds.generatedSamples) values to generate",
                        at: g.value(split)))
            }
            try g.rejectUnknownKeys()
            if !data.files.isEmpty {
                d.report(
                    d.error(
                        "file",
                        "is a list or glob of \(data.files.count) file(s), but data.generate writes one file; give a single path",
                        at: d.value("file")))
            }
            data.generate = gen
        } else if !data.file.isEmpty,
            let missing = data.paths.first(where: { !FileManager.default.fileExists(atPath: $0) })
        {
            d.report(
                d.error(
                    "file",
                    "no such file: \(shown(missing)) (prepare it with `lstm prepare`, or add a data.generate section)",
                    at: d.value("file")))
        }
        try data.readSettings(d)
        try d.rejectUnknownKeys()

        // optimizer
        let o = try r.section("optimizer")
        var opt = defaultOptimizer
        opt.name = try o.choice("name", OptimizerConfig.hyperparameters.keys.sorted()) ?? opt.name
        for h in OptimizerConfig.hyperparameters[opt.name]! {
            if let v = try o.read(h) { opt.values[h.key] = v }
        }
        try o.rejectUnknownKeys()

        // schedule
        let s = try r.section("schedule")
        var sched = ScheduleConfig()
        sched.name = try s.choice("name", ScheduleConfig.names) ?? sched.name
        for h in ScheduleConfig.rows(sched.name)! {
            if case .choice = h.kind {
                if let v = try s.string(h) { sched.choices[h.key] = v }
            } else if let v = try s.read(h) {
                sched.values[h.key] = v
            }
        }
        try s.rejectUnknownKeys()

        // training
        let t = try r.section("training")
        var training = Training()
        training.epochs = try t.int("epochs", default: training.epochs, min: 1)
        training.steps = try t.int("steps", min: 1)
        if t.has("epochs"), t.has("steps") {
            let e = r.table.locations["training.epochs"].map { " (line \($0.line))" } ?? " (--set)"
            t.report(
                t.error(
                    "steps",
                    "and training.epochs\(e) are both given, but a run's length is one or the other: "
                        + "keep epochs (passes over the training split) or steps (optimizer steps) and remove the other",
                    at: t.value("steps")))
        }
        if case .scalar(let off)? = t.value("clip_norm"), ["none", "off"].contains(off.string) {
            training.clipNorm = nil  // clipping off
        } else {
            training.clipNorm =
                t.has("clip_norm") ? try t.double("clip_norm", min: 0, openMin: true) : training.clipNorm
        }
        training.clipValue = try t.double("clip_value", min: 0, openMin: true)
        training.nanPolicy =
            try t.choice("nan_policy", NonFinitePolicy.allCases.map(\.rawValue))
            .flatMap(NonFinitePolicy.init) ?? training.nanPolicy
        training.maxNonFiniteSteps = try t.int(
            "max_nonfinite_steps", default: training.maxNonFiniteSteps, min: 1)
        training.accumulate = try t.int("accumulate", default: training.accumulate, min: 1, max: SizeBounds.shards)
        training.precision =
            try t.choice("precision", Precision.spellings.keys.sorted()).flatMap { Precision.spellings[$0] }
            ?? training.precision
        if t.has("early_stopping") {
            let e = try t.section("early_stopping")
            var es = EarlyStopping()
            es.metric = try e.choice("metric", metricNames) ?? es.metric
            es.patience = try e.int("patience", default: es.patience, min: 1)
            es.minDelta = try e.double("min_delta", default: es.minDelta, min: 0)
            es.target = try e.double("target")
            try e.rejectUnknownKeys()
            training.earlyStopping = es
        }
        try t.rejectUnknownKeys()

        let v = try r.section("validation")
        var validation = Validation()
        validation.every = try v.int("every", default: validation.every, min: 0)
        validation.maxBatches = try v.int("max_batches", min: 1)
        try v.rejectUnknownKeys()

        let c = try r.section("checkpoint")
        var ckpt = Checkpointing(dir: expandingTilde(try c.string("dir") ?? "runs/\(configName)"))
        ckpt.every = try c.int("every", default: ckpt.every, min: 0)
        ckpt.keep = try c.int("keep", default: ckpt.keep, min: 1)
        try c.rejectUnknownKeys()

        let l = try r.section("logging")
        var logging = Logging()
        logging.every = try l.int("every", default: logging.every, min: 1)
        logging.progress = try l.choice("progress", ["auto", "bar", "plain", "none"]) ?? logging.progress
        if let tb = try l.string("tensorboard") {
            switch tb.lowercased() {
            case "true", "yes", "on": logging.tensorBoard = .runDirectory
            case "false", "no", "off": logging.tensorBoard = nil
            default: logging.tensorBoard = .directory(expandingTilde(tb))
            }
        }
        try l.rejectUnknownKeys()

        let p = try r.section("parallel")
        var parallel = Parallel()
        parallel.shards = try p.int("shards", min: 1, max: SizeBounds.shards)
        parallel.workers = try p.int("workers", min: 1, max: SizeBounds.shards)
        parallel.overlap = try p.bool("overlap")
        try p.rejectUnknownKeys()

        let seed = UInt64(try r.int("seed", default: 1, min: 0))
        try r.rejectUnknownKeys()
        table.reportUnknownKeys(file: path)
        // Every problem, in the order of the file (those of --set values, which have no line, last).
        let problems = table.errors.enumerated().sorted { a, b in
            let x = (a.element.line ?? Int.max, a.element.column ?? 0, a.offset)
            let y = (b.element.line ?? Int.max, b.element.column ?? 0, b.offset)
            return x < y
        }
        if let e = ConfigError.combined(problems.map(\.element)) { throw e }

        return RunConfig(
            model: model, loss: loss, data: data, optimizer: opt, schedule: sched, training: training,
            validation: validation, checkpoint: ckpt, logging: logging, parallel: parallel, seed: seed,
            sourcePath: path, sourceText: effectiveText, locations: r.table.locations, givenKeys: r.table.given)
    }

    /// Every key path a config may hold (every optimizer's and schedule's keys, every optional
    /// section's): where an unknown key looks for what was meant.
    static let everyKey: Set<String> = {
        var keys: Set<String> = []
        for optimizer in OptimizerConfig.hyperparameters.keys {
            for schedule in ScheduleConfig.names {
                let text = """
                    data: {file: d.h5, generate: {task: adding}}
                    optimizer: {name: \(optimizer)}
                    schedule: {name: \(schedule)}
                    training: {early_stopping: {metric: val_loss}}
                    """
                keys.formUnion((try? acceptedKeys(readingAConfigLike: text, path: "keys.yaml")) ?? [])
            }
        }
        return keys
    }()

    /// What PyTorch, Keras and other tools call some keys (lower case, `_` for `-`), for the
    /// did-you-mean of an unknown key (each target is a key of `everyKey`; ConfigTests checks).
    static let keyAliases: [String: String] = [
        "learning_rate": "optimizer.lr", "lr_rate": "optimizer.lr", "optim": "optimizer.name",
        "units": "model.hidden_size", "hidden_units": "model.hidden_size", "hidden_dim": "model.hidden_size",
        "n_hidden": "model.hidden_size", "hidden": "model.hidden_size",
        "layers": "model.num_layers", "n_layers": "model.num_layers", "num_layer": "model.num_layers",
        "embedding_dim": "model.embedding_size", "embed_dim": "model.embedding_size",
        "vocab": "model.vocab_size", "batch": "data.batch_size", "batchsize": "data.batch_size",
        "seq_len": "data.seq_length", "sequence_length": "data.seq_length", "bptt": "data.seq_length",
        "max_steps": "training.steps", "num_steps": "training.steps", "total_steps": "training.steps",
        "num_epochs": "training.epochs", "n_epochs": "training.epochs", "max_epochs": "training.epochs",
        "grad_clip": "training.clip_norm", "clip_grad_norm": "training.clip_norm",
        "max_grad_norm": "training.clip_norm", "clipnorm": "training.clip_norm",
        "gradient_clip_val": "training.clip_norm", "clipvalue": "training.clip_value",
        "accumulate_grad_batches": "training.accumulate", "gradient_accumulation_steps": "training.accumulate",
        "patience": "training.early_stopping.patience", "log_every": "logging.every",
        "log_interval": "logging.every", "save_every": "checkpoint.every", "eval_every": "validation.every",
        "val_every": "validation.every", "checkpoint_dir": "checkpoint.dir", "save_dir": "checkpoint.dir",
        "output_dir": "checkpoint.dir", "random_seed": "seed", "num_workers": "parallel.workers",
        "threads": "parallel.workers"
    ]

    /// Metric names usable for early stopping and plots.
    static let metricNames = ["val_loss", "val_accuracy", "val_perplexity", "val_mse", "val_mae"]
}

extension RunConfig.DataSection {
    /// Reads the data section's keys besides `file` and `generate` (splits, batch, windows): what
    /// training and `StoredRunSettings` (inference's defaults from a stored config) both read.
    mutating func readSettings(_ d: ConfigReader) throws {
        trainSplit = try d.string("train_split", default: trainSplit)
        if d.has("val_split") { valSplit = try d.string("val_split") }
        if valSplit == "" || valSplit == "none" { valSplit = nil }
        testSplit = try d.string("test_split", default: testSplit)
        batchSize = try d.int("batch_size", default: batchSize, min: 1, max: SizeBounds.batchSize)
        seqLength = try d.int("seq_length", default: seqLength, min: 1, max: SizeBounds.seqLength)
        streamMode = try d.choice("stream_mode", ["stateful", "windows"]).flatMap(StreamMode.init) ?? streamMode
        shuffle = try d.bool("shuffle", default: shuffle)
        dropLast = try d.bool("drop_last", default: dropLast)
    }
}

/// A run's length is `training.epochs` or `training.steps`: `--set` of one removes the other from the
/// config it overrides (both in the file, or both set, is an error the reader reports).
func oneRunLength(_ root: Node, overrides: [String]) -> Node {
    let set = Set(overrides.compactMap { $0.split(separator: "=", maxSplits: 1).first.map(String.init) })
    let given = ["epochs", "steps"].filter { set.contains("training.\($0)") }
    guard given.count == 1, case .mapping(var top) = root, case .mapping(var t)? = top[Node("training")] else {
        return root
    }
    t[Node(given[0] == "steps" ? "epochs" : "steps")] = nil
    top[Node("training")] = .mapping(t)
    return .mapping(top)
}

/// `a.b=value`: sets key b of section a (creating it) to the YAML scalar `value`.
func applyOverride(_ text: String, to root: Node, file: String) throws -> Node {
    guard let eq = text.firstIndex(of: "=") else {
        throw ConfigError(
            file: file, line: nil, column: nil, key: shown(text), message: "--set needs section.key=value")
    }
    let path = text[..<eq].split(separator: ".").map(String.init)
    let valueText = String(text[text.index(after: eq)...])
    guard !path.isEmpty, path.allSatisfy({ !$0.isEmpty }) else {
        throw ConfigError(
            file: file, line: nil, column: nil, key: shown(text), message: "--set needs section.key=value")
    }
    // The value parsed as YAML (so lists and numbers work), without line marks: it has no line
    // in the config file.
    func unmarked(_ n: Node) -> Node {
        switch n {
        case .scalar(let s): return Node(s.string)
        case .sequence(let q): return Node(q.map(unmarked))
        case .mapping(let m): return Node(m.map { (unmarked($0.key), unmarked($0.value)) })
        case .alias: return n
        }
    }
    // A value that is not YAML within the limits (syntax, an alias bomb) stays a plain string.
    let checked = (try? ConfigText.check(valueText, path: file)) != nil
    var value = (checked ? ((try? Yams.compose(yaml: valueText)) ?? nil) : nil).map(unmarked) ?? Node(valueText)
    // YAML folds a line break in a plain scalar into a space and trims tabs at its ends: a value
    // holding them (a run directory named "a\nb") is taken exactly as given.
    if case .scalar = value, valueText.contains(where: { $0 == "\n" || $0 == "\r" || $0 == "\t" }) {
        value = Node(valueText)
    }
    func set(_ node: Node?, _ keys: ArraySlice<String>) throws -> Node {
        guard let k = keys.first else { return value }
        var mapping: Node.Mapping
        switch node {
        case .some(.mapping(let m)): mapping = m
        case .none: mapping = Node.Mapping([])
        case .some(let n):
            if case .scalar(let s) = n, ["", "~", "null"].contains(s.string) {
                mapping = Node.Mapping([])
            } else {
                throw ConfigError(
                    file: "\(file) (--set \(shown(text)))", line: nil, column: nil, key: path.joined(separator: "."),
                    message: "\(k) is inside a value that is not a mapping")
            }
        }
        mapping[Node(k)] = try set(mapping[Node(k)], keys.dropFirst())
        return Node.mapping(mapping)
    }
    return try set(root, path[...])
}

/// `data.file`: one path, a list of paths, or a glob (a path with `*`, `?` or `[`) expanded with
/// glob(3) and sorted by name; a list or glob must name at least one file.
func dataFiles(_ d: ConfigReader) throws -> RunConfig.DataSection {
    guard let node = d.value("file") else {
        throw d.error("file", "missing: the HDF5 dataset to train on (see docs/datasets.md)")
    }
    if case .sequence(let items) = node {
        if items.isEmpty { throw d.error("file", "expected a path or a non-empty list of paths, found []", at: node) }
        let paths = try items.enumerated().map { k, item in
            guard case .scalar(let s) = item, !s.string.isEmpty else {
                throw d.error("file", "element \(k): expected a path, found \(describe(item))", at: item)
            }
            return expandingTilde(s.string)
        }
        var data = RunConfig.DataSection(file: paths.joined(separator: ", "))
        if paths.count > 1 { data.files = paths }
        return data
    }
    guard let given = try d.string("file") else {
        throw d.error("file", "missing: the HDF5 dataset to train on (see docs/datasets.md)")
    }
    let file = expandingTilde(given)
    var data = RunConfig.DataSection(file: file)
    guard DatasetFile.isGlob(file) else { return data }
    let matches: [String]
    do { matches = try DatasetFile.paths(matching: file) } catch { throw d.error("file", "\(error)", at: node) }
    if matches.isEmpty {
        let generating = d.has("generate")
        throw d.error(
            "file",
            generating
                ? "is a glob, but data.generate writes one file; give a single path"
                : "the glob \(shown(file)) matches no file", at: node)
    }
    data.files = matches
    return data
}

/// Paths in a config are relative to the working directory (as a user types them, like the
/// README's commands run from the repository root); absolute paths are kept, `~` expanded.
func expandingTilde(_ path: String) -> String {
    (path as NSString).expandingTildeInPath
}

/// A Yams error as a located ConfigError, quoting no more of the text than `quoted` allows
/// (most YAML problems are caught first by `ConfigText.check`, with their own messages).
func configError(_ e: YamlError, path: String) -> ConfigError {
    switch e {
    case .scanner(let c, let problem, let mark, _), .parser(let c, let problem, let mark, _),
        .composer(let c, let problem, let mark, _):
        let context = c.map { " (\(shown($0.text)))" } ?? ""
        return ConfigError(
            file: path, line: mark.line, column: mark.column, key: "",
            message: "not valid YAML: \(shown(problem))\(context)")
    case .duplicatedKeysInMapping(let duplicates, let context):
        return ConfigError(
            file: path, line: context.mark.line, column: context.mark.column,
            key: duplicates.first.map { shown($0) } ?? "", message: "duplicate key")
    default:
        return ConfigError(file: path, line: nil, column: nil, key: "", message: "not valid YAML: \(shown("\(e)"))")
    }
}

extension Node.Mapping {
    var asNode: Node { .mapping(self) }
}

extension ConfigReader {
    /// Reads the hyperparameter `h` (nil when left out), checked against its type and range.
    func read(_ h: Hyperparameter) throws -> [Double]? {
        let b = h.bounds
        switch h.kind {
        case .real:
            return try double(
                h.key, min: b?.lower, max: b?.upper, openMax: b?.upperOpen ?? false,
                openMin: b?.lowerOpen ?? false
            ).map { [$0] }
        case .integer:
            return try int(h.key, min: b?.lower.map { Int($0) }, max: b?.upper.map { Int($0) }).map { [Double($0)] }
        case .flag:
            return try bool(h.key).map { [$0 ? 1 : 0] }
        case .pair:
            guard let v = try doubles(h.key, count: 2) else { return nil }
            for x in v where !(b.map { x.isIn($0) } ?? true) {
                report(error(h.key, "each \(h.key.dropLast()) must be in \(b!) (got \(x))", at: value(h.key)))
                return nil
            }
            return v
        case .choice:
            preconditionFailure("\(h.key) is a choice: read it with string(_:)")
        }
    }

    /// Reads the choice hyperparameter `h` (nil when left out).
    func string(_ h: Hyperparameter) throws -> String? {
        guard case .choice(let allowed) = h.kind else { preconditionFailure("\(h.key) is not a choice") }
        return try choice(h.key, allowed)
    }
}

extension Double {
    /// Whether the number lies in `b`.
    func isIn(_ b: Hyperparameter.Bounds) -> Bool {
        if let lo = b.lower, b.lowerOpen ? self <= lo : self < lo { return false }
        if let hi = b.upper, b.upperOpen ? self >= hi : self > hi { return false }
        return true
    }
}
