import Foundation
import HDF5Kit
import LSTMFiles
import LSTMKit

/// The saved state of an optimizer: its torch.optim name, learning rate, step count,
/// hyperparameters and state buffers (each a `[Float]` mirroring the parameter arena).
public struct OptimizerSnapshot: Sendable, Equatable {
    /// torch.optim's class name in lower case, e.g. "adam".
    public var name: String
    /// The learning rate at the time of the snapshot.
    public var learningRate: Double
    /// Updates taken so far.
    public var stepCount: Int
    /// Scalar hyperparameters by torch.optim key (Adam: "betas.0", "betas.1", "eps", …).
    public var hyperparameters: [String: Double]
    /// State buffers by torch.optim name (Adam: "exp_avg", "exp_avg_sq"), arena order.
    public var stateBuffers: [String: [Float]]

    /// A snapshot from its parts.
    public init(
        name: String, learningRate: Double, stepCount: Int,
        hyperparameters: [String: Double] = [:], stateBuffers: [String: [Float]] = [:]
    ) {
        self.name = name
        self.learningRate = learningRate
        self.stepCount = stepCount
        self.hyperparameters = hyperparameters
        self.stateBuffers = stateBuffers
    }

    /// A copy of `optimizer`'s state; `hyperparameters` adds to (and overrides) the ones read
    /// from `optimizer.configuration`.
    public init(_ optimizer: any Optimizer<Float>, hyperparameters extra: [String: Double] = [:]) {
        var buffers: [String: [Float]] = [:]
        for (name, buffer) in optimizer.stateBuffers { buffers[name] = buffer.toArray() }
        self.init(
            name: optimizer.name, learningRate: optimizer.learningRate, stepCount: optimizer.stepCount,
            hyperparameters: Self.hyperparameters(of: optimizer).merging(extra) { _, new in new },
            stateBuffers: buffers)
    }

    /// `optimizer.configuration` as numbers by torch.optim key (e.g. Adam: "betas.0", "betas.1",
    /// "eps", "weight_decay", "amsgrad" as 0/1); "name" and "lr" are stored separately.
    public static func hyperparameters(of optimizer: any Optimizer<Float>) -> [String: Double] {
        guard let data = try? JSONEncoder().encode(optimizer.configuration),
            let object = try? JSONDecoder().decode([String: FlatJSON].self, from: data)
        else { return [:] }
        var out: [String: Double] = [:]
        for (key, value) in object where key != "name" && key != "lr" {
            switch value {
            case .number(let x): out[key] = x
            case .array(let xs): for (i, x) in xs.enumerated() { if case .number(let v) = x { out["\(key).\(i)"] = v } }
            case .other: break
            }
        }
        return out
    }

    /// Copies learning rate, step count and state buffers into `optimizer` after checking that
    /// its name and buffers (names and sizes) match; nothing is changed if they do not.
    /// Hyperparameters are not restored: they belong to the optimizer the caller built.
    public func restore(into optimizer: any Optimizer<Float>, file: String? = nil) throws {
        guard optimizer.name == name else {
            throw FileError(
                .incompatible, .checkpoint, file: file, object: "/optimizer",
                "the checkpoint holds \(name) state but the optimizer is \(optimizer.name)")
        }
        let targets = optimizer.stateBuffers
        let targetNames = Set(targets.map(\.name))
        let ourNames = Set(stateBuffers.keys)
        guard targetNames == ourNames else {
            throw FileError(
                .incompatible, .checkpoint, file: file, object: "/optimizer/state",
                "the checkpoint has state buffers \(ourNames.sorted()) but \(name) expects \(targetNames.sorted())")
        }
        // A sharded optimizer (one rank's slice, ZeRO stage 1) takes its slice of the whole-arena state.
        let slice = optimizer.slice
        func fits(_ saved: Int, _ held: Int) -> Bool {
            slice.map { saved >= $0.upperBound && held == $0.count } ?? (saved == held)
        }
        for (bufferName, buffer) in targets where !fits(stateBuffers[bufferName]!.count, buffer.count) {
            throw FileError(
                .incompatible, .checkpoint, file: file, object: "/optimizer/state/\(bufferName)",
                "\(stateBuffers[bufferName]!.count) values saved but the optimizer's buffer holds \(buffer.count)")
        }
        for (bufferName, buffer) in targets {
            let saved = stateBuffers[bufferName]!
            buffer.copy(from: slice.map { Array(saved[$0]) } ?? saved)
        }
        optimizer.learningRate = learningRate
        optimizer.stepCount = stepCount
    }
}

/// Everything needed to resume training or hand a model on: model config, parameters,
/// optimizer state, progress, RNG states, data cursor, the run's config text and metrics.
///
/// One HDF5 file per checkpoint, with one dataset per parameter tensor so it can be inspected
/// with any HDF5 tool; see docs/weights.md for the layout. Values round-trip bit for bit
/// (`==` compares Float values, so NaN ≠ NaN; compare bit patterns to check exactness).
public struct Checkpoint: Sendable, Equatable {
    /// The root `format` attribute that marks a file as a checkpoint.
    public static let formatName = "lstm-checkpoint"
    /// The root `format_version` attribute this code writes and reads.
    public static let formatVersion = 1

    /// The architecture; it fixes the parameter layout.
    public var config: ModelConfig
    /// The parameter arena, in `ParameterLayout(config)` order.
    public var parameters: [Float]
    /// The optimizer's state, or nil (e.g. for imported weights).
    public var optimizer: OptimizerSnapshot?
    /// Minibatches (optimizer steps) trained so far.
    public var globalStep: Int
    /// Epochs trained so far: whole epochs plus the part of the current one (`Epochs.trained`;
    /// 2.5 is halfway through the third). Checkpoints written before it was a fraction hold an integer.
    public var epoch: Double
    /// Named generator states (e.g. `RandomSource.state`), to resume random streams exactly.
    public var rngStates: [String: [UInt64]]
    /// Opaque JSON the trainer needs to resume exactly, or nil: `TrainingRun` stores its whole run state
    /// here (the loader cursor plus schedule, early-stopping and carried-state progress).
    public var dataCursor: String?
    /// The run's configuration file text (YAML), or nil.
    public var configText: String?
    /// Named scalar metrics, e.g. "best_validation_loss".
    public var metrics: [String: Double]
    /// What the model knows about its data (vocabulary, class, feature and target names,
    /// normalisation), stored as root attributes; empty for checkpoints written before them.
    public var metadata = ModelMetadata()
    /// How the run was started (JSON: `lstm_version`, the `--init` file and its SHA-256), or nil;
    /// the `run_provenance` root attribute (see `RunProvenance` in LSTMRun).
    public var runProvenance: String? = nil

    /// A checkpoint from its parts; `parameters` must follow `ParameterLayout(config)`.
    public init(
        config: ModelConfig, parameters: [Float], optimizer: OptimizerSnapshot? = nil,
        globalStep: Int = 0, epoch: Double = 0, rngStates: [String: [UInt64]] = [:],
        dataCursor: String? = nil, configText: String? = nil, metrics: [String: Double] = [:]
    ) {
        self.config = config
        self.parameters = parameters
        self.optimizer = optimizer
        self.globalStep = globalStep
        self.epoch = epoch
        self.rngStates = rngStates
        self.dataCursor = dataCursor
        self.configText = configText
        self.metrics = metrics
    }

    /// A checkpoint of a live model: copies the arena and (if given) the optimizer's state.
    public init(
        parameters: ParameterSet<Float>, optimizer: (any Optimizer<Float>)?,
        optimizerHyperparameters: [String: Double] = [:],
        globalStep: Int = 0, epoch: Double = 0, rngStates: [String: [UInt64]] = [:],
        dataCursor: String? = nil, configText: String? = nil, metrics: [String: Double] = [:]
    ) {
        self.init(
            config: parameters.config, parameters: parameters.storage.toArray(),
            optimizer: optimizer.map { OptimizerSnapshot($0, hyperparameters: optimizerHyperparameters) },
            globalStep: globalStep, epoch: epoch, rngStates: rngStates, dataCursor: dataCursor,
            configText: configText, metrics: metrics)
    }

    /// The layout `parameters` follows.
    public var layout: ParameterLayout { ParameterLayout(config) }

    /// The values of the tensor called `name` (a layout name), or nil if the layout has none.
    public func tensor(_ name: String) -> [Float]? {
        guard let e = layout.entry(name), e.offset + e.count <= parameters.count else { return nil }
        return Array(parameters[e.offset..<(e.offset + e.count)])
    }

    /// A new `ParameterSet` holding these parameters.
    public func makeParameterSet() throws -> ParameterSet<Float> {
        try validate()
        let set = ParameterSet<Float>(config: config)
        set.storage.copy(from: parameters)
        return set
    }

    /// Copies the parameters into `parameters` and, if given, the optimizer state into
    /// `optimizer`, after checking both fit; nothing is changed if either does not.
    public func restore(into parameters: ParameterSet<Float>, optimizer: (any Optimizer<Float>)? = nil) throws {
        try validate()
        let ours = layout
        let theirs = parameters.layout
        if ours != theirs {
            let names = Set(ours.entries.map(\.name)).symmetricDifference(theirs.entries.map(\.name))
            let detail: String
            if let name = names.sorted().first {
                detail =
                    ours.entry(name) == nil
                    ? "the model has tensor '\(name)' but the checkpoint does not"
                    : "the checkpoint has tensor '\(name)' but the model does not"
            } else if let pair = zip(ours.entries, theirs.entries).first(where: { $0.shape != $1.shape }) {
                detail = "tensor '\(pair.0.name)' is \(pair.0.shape) in the checkpoint but \(pair.1.shape) in the model"
            } else {
                detail = "the tensors are in a different order"
            }
            throw FileError(
                .incompatible, .checkpoint, file: nil, object: "/parameters",
                "the checkpoint's layout does not match the model's: \(detail)")
        }
        if let optimizer {
            guard let snapshot = self.optimizer else {
                throw FileError(
                    .incompatible, .checkpoint, file: nil, object: "/optimizer",
                    "the checkpoint has no optimizer state; restore with optimizer: nil to start a fresh \(optimizer.name)"
                )
            }
            try snapshot.restore(into: optimizer)  // validates before it changes anything
        }
        parameters.storage.copy(from: self.parameters)
    }

    /// The generator saved as `name`, if its state has the four words `RandomSource` needs.
    public func randomSource(_ name: String) -> RandomSource? {
        guard let state = rngStates[name], state.count == 4 else { return nil }
        return RandomSource(state: state)
    }

    /// Stores a loader's Codable cursor as JSON in `dataCursor` (non-finite numbers as "nan", "inf").
    public mutating func setDataCursor<Cursor: Encodable>(_ cursor: Cursor) throws {
        dataCursor = String(decoding: try JSONCoding.encoder().encode(cursor), as: UTF8.self)
    }

    /// Decodes `dataCursor` as `Cursor`, or nil if there is none; a cursor that does not decode
    /// is a FileError about `/@data_cursor` of `file` (the checkpoint it came from, if known).
    public func dataCursor<Cursor: Decodable>(as type: Cursor.Type, file: String? = nil) throws -> Cursor? {
        guard let dataCursor else { return nil }
        do { return try JSONCoding.decoder().decode(Cursor.self, from: Data(dataCursor.utf8)) } catch {
            throw FileError(
                .invalidValue, .checkpoint, file: file, object: "/@data_cursor",
                "not the training run state this version saves (\(CheckpointIO.describeDecodingError(error))), so training cannot resume from it"
            )
        }
    }

    /// Checks internal consistency: a valid config, arrays as long as the layout, usable names.
    public func validate(file: String? = nil) throws {
        do { try config.validate() } catch {
            throw FileError(.invalidValue, .checkpoint, file: file, object: "model_config", "\(error)")
        }
        let n = layout.count
        if parameters.count != n {
            throw FileError(
                .shapeMismatch, .checkpoint, file: file, object: "/parameters",
                "\(parameters.count) parameter values but the model's layout holds \(n)")
        }
        if let optimizer {
            try Self.checkName(optimizer.name, "optimizer name", file)
            for (name, values) in optimizer.stateBuffers {
                try Self.checkName(name, "optimizer state buffer name", file)
                if values.count != n {
                    throw FileError(
                        .shapeMismatch, .checkpoint, file: file, object: "/optimizer/state/\(name)",
                        "\(values.count) values but the model's layout holds \(n)")
                }
            }
            for name in optimizer.hyperparameters.keys { try Self.checkName(name, "hyperparameter name", file) }
        }
        for name in rngStates.keys { try Self.checkName(name, "RNG state name", file) }
        for (what, text) in [
            ("data cursor", dataCursor), ("config text", configText), ("run provenance", runProvenance)
        ]
        where text?.utf8.contains(0) == true {
            throw FileError(
                .invalidValue, .checkpoint, file: file, object: nil,
                "the \(what) contains a NUL character, which HDF5 strings cannot hold")
        }
        for name in metrics.keys { try Self.checkName(name, "metric name", file) }
        if globalStep < 0 || !(epoch >= 0) || !epoch.isFinite {
            throw FileError(
                .invalidValue, .checkpoint, file: file, object: nil,
                "global step and epoch must be ≥ 0 (got \(globalStep), \(epoch))")
        }
    }

    /// Names become HDF5 object or attribute names: non-empty, no "/", not "." or "..".
    static func checkName(_ name: String, _ what: String, _ file: String?) throws {
        if name.isEmpty || name.contains("/") || name == "." || name == ".." || name.utf8.contains(0) {
            throw FileError(
                .invalidValue, .checkpoint, file: file, object: nil,
                "\(what) '\(name)' cannot be stored: names must be non-empty and contain no '/' or NUL")
        }
    }
}

// MARK: - Saving and loading

extension Checkpoint {
    /// Writes the checkpoint to `path` atomically: a hidden temporary file in the same directory
    /// is written, flushed, closed and fsynced, then renamed over `path`. On failure `path` is
    /// untouched and no temporary file is left behind.
    public func save(to path: String) throws {
        try save(to: path, hook: nil)
    }

    /// `save(to:)` with a hook called at each stage (tests inject failures through it).
    func save(to path: String, hook: AtomicWriteHook?) throws {
        try validate(file: path)
        try FileError.mapping(.checkpoint, file: path) {
            try AtomicFile.writeHDF5(to: path, role: .checkpoint, hook: hook) { file in
                try write(into: file.root, hook: hook)
                try Checksums.seal(file.root, role: .checkpoint, file: path)
            }
        }
    }

    /// Reads and fully validates a checkpoint: its checksums first (docs/weights.md,
    /// "Checksums"; a file written before they existed loads with a one-line notice on standard
    /// error), then format and version, model config, every layout tensor present as float32 with
    /// the right shape and nothing extra, optimizer state likewise.
    public static func load(from path: String) throws -> Checkpoint {
        let (checkpoint, status) = try loadVerified(from: path)
        if status == .absent { Checksums.reportAbsent(.checkpoint, file: path) }
        return checkpoint
    }

    /// `load(from:)` without the notice: the checkpoint and what its checksums said.
    public static func loadVerified(from path: String) throws -> (Checkpoint, Checksums.Status) {
        try FileError.mapping(.checkpoint, file: path) {
            let file: HDF5File
            do { file = try HDF5File.open(path) } catch let error as HDF5Error where error.kind == .notHDF5 {
                throw FileError(
                    .wrongFormat, .checkpoint, file: path, object: nil,
                    "not an HDF5 file, so not a checkpoint (\(error.reason))")
            }
            defer { try? file.close() }
            let status = try Checksums.verify(file.root, role: .checkpoint, file: path)
            return (try read(from: file.root, path: path), status)
        }
    }

    /// Refuses parameters that are not finite (NaN, ±inf), naming the first tensor and element
    /// that is not: such weights evaluate to `loss nan` and cannot be trained.
    /// `object` is the group the tensors are named in ("/parameters" for a checkpoint).
    public func checkFinite(file: String?, role: FileError.Role = .checkpoint, group: String = "/parameters") throws {
        for e in layout.entries {
            let bad = parameters.withUnsafeBufferPointer { p in
                (e.offset..<(e.offset + e.count)).first { !p[$0].isFinite }
            }
            if let bad {
                throw FileError(
                    .invalidValue, role, file: file, object: "\(group)/\(e.name)",
                    "\(WeightsFile.nonFiniteMessage(Double(parameters[bad]), at: bad - e.offset, shape: e.shape))")
            }
        }
    }

    // MARK: Writing

    private func write(into root: HDF5Group, hook: AtomicWriteHook?) throws {
        try root.setAttribute("format", Self.formatName)
        try root.setAttribute("format_version", Self.formatVersion)
        try root.setAttribute("model_config", try CheckpointIO.modelConfigJSON(config))
        try root.setAttribute("parameter_count", parameters.count)
        try root.setAttribute("global_step", globalStep)
        try root.setAttribute("epoch", epoch)

        let layout = self.layout
        try Self.writeTensors(parameters, layout, into: try root.createGroup("parameters"))
        try hook?(.writing)

        if let optimizer {
            let group = try root.createGroup("optimizer")
            try group.setAttribute("name", optimizer.name)
            try group.setAttribute("learning_rate", optimizer.learningRate)
            try group.setAttribute("step_count", optimizer.stepCount)
            let hyper = try group.createGroup("hyperparameters")
            for (name, value) in optimizer.hyperparameters { try hyper.setAttribute(name, value) }
            let state = try group.createGroup("state")
            for (name, values) in optimizer.stateBuffers.sorted(by: { $0.key < $1.key }) {
                try Self.writeTensors(values, layout, into: try state.createGroup(name))
            }
        }
        let rng = try root.createGroup("rng")
        for (name, words) in rngStates.sorted(by: { $0.key < $1.key }) {
            let dataset = try rng.write(name, words.map { Int64(bitPattern: $0) })
            try dataset.setAttribute("encoding", "uint64 bit patterns stored as int64")
        }
        let metricsGroup = try root.createGroup("metrics")
        for (name, value) in metrics { try metricsGroup.setAttribute(name, value) }
        if let dataCursor { try root.setAttribute("data_cursor", dataCursor) }
        if let configText { try root.setAttribute("config_text", configText) }
        try writeModelMetadata(into: root)
        if let runProvenance { try root.setAttribute("run_provenance", runProvenance) }
    }

    /// One float32 dataset per layout entry, named and shaped as the layout says.
    private static func writeTensors(_ values: [Float], _ layout: ParameterLayout, into group: HDF5Group) throws {
        for e in layout.entries {
            try group.write(e.name, Array(values[e.offset..<(e.offset + e.count)]), shape: e.shape)
        }
    }

    // MARK: Reading

    private static func read(from root: HDF5Group, path: String) throws -> Checkpoint {
        func fail(_ kind: FileError.Kind, _ object: String?, _ message: String) -> FileError {
            FileError(kind, .checkpoint, file: path, object: object, message)
        }
        guard root.hasAttribute("format"),
            let format = try? root.attribute("format", as: String.self), format == formatName
        else {
            let hint =
                WeightsFormat.detect(root).map {
                    " (it looks like \($0.displayName) weights; read it with `lstm import --format \($0.rawValue)`)"
                } ?? ""
            throw fail(
                .wrongFormat, "/@format",
                "not a checkpoint: the root attribute 'format' must be \"\(formatName)\"\(hint)")
        }
        guard root.hasAttribute("format_version") else {
            throw fail(.missing, "/@format_version", "missing the format version attribute (expected \(formatVersion))")
        }
        let version = try root.attribute("format_version", as: Int.self)
        guard version == formatVersion else {
            throw fail(
                .unsupportedVersion, "/@format_version",
                "format version \(version) is not supported (this build reads version \(formatVersion))")
        }
        let config = try readModelConfig(root, path: path)
        let layout = ParameterLayout(config)

        func intAttribute(_ name: String) throws -> Int {
            guard root.hasAttribute(name) else { throw fail(.missing, "/@\(name)", "missing the '\(name)' attribute") }
            return try root.attribute(name, as: Int.self)
        }
        /// The epoch count: a float64, or an integer in checkpoints written before epochs had fractions.
        func epochAttribute() throws -> Double {
            guard root.hasAttribute("epoch") else { throw fail(.missing, "/@epoch", "missing the 'epoch' attribute") }
            if case .int(let i) = try root.attribute("epoch") { return Double(i) }
            return try root.attribute("epoch", as: Double.self)
        }
        func optionalString(_ name: String) throws -> String? {
            root.hasAttribute(name) ? try root.attribute(name, as: String.self) : nil
        }

        // Members are looked up in the group's link list, so a member that is listed but cannot be
        // opened (a damaged object header) is an error naming it, not taken for absent.
        let members = Set(try root.memberNames())
        guard members.contains("parameters") else {
            throw fail(
                .missing, "/parameters", "missing the parameters group (expected \(layout.entries.count) tensors)")
        }
        let parameters = try readTensors(try root.openGroup("parameters"), layout, path: path)

        var optimizer: OptimizerSnapshot?
        if members.contains("optimizer") {
            let group = try root.openGroup("optimizer")
            let groupMembers = Set(try group.memberNames())
            for name in ["name", "learning_rate", "step_count"] where !group.hasAttribute(name) {
                throw fail(.missing, "/optimizer@\(name)", "missing the optimizer's '\(name)' attribute")
            }
            var hyperparameters: [String: Double] = [:]
            if groupMembers.contains("hyperparameters") {
                let hyper = try group.openGroup("hyperparameters")
                for name in try hyper.attributeNames() {
                    hyperparameters[name] = try hyper.attribute(name, as: Double.self)
                }
            }
            var buffers: [String: [Float]] = [:]
            if groupMembers.contains("state") {
                let state = try group.openGroup("state")
                for name in try state.memberNames() {
                    buffers[name] = try readTensors(try state.openGroup(name), layout, path: path)
                }
            }
            optimizer = OptimizerSnapshot(
                name: try group.attribute("name", as: String.self),
                learningRate: try group.attribute("learning_rate", as: Double.self),
                stepCount: try group.attribute("step_count", as: Int.self),
                hyperparameters: hyperparameters, stateBuffers: buffers)
        }

        var rngStates: [String: [UInt64]] = [:]
        if members.contains("rng") {
            let rng = try root.openGroup("rng")
            for name in try rng.memberNames() {
                let dataset = try rng.openDataset(name)
                guard dataset.elementType == .int64, dataset.rank == 1 else {
                    throw fail(
                        .typeMismatch, dataset.path,
                        "an RNG state must be a 1-D int64 dataset (got \(dataset.elementType) of shape \(dataset.shape))"
                    )
                }
                try dataset.checkStoredSize(.checkpoint, file: path, object: dataset.path)
                rngStates[name] = try dataset.read(as: Int64.self).map { UInt64(bitPattern: $0) }
            }
        }
        var metrics: [String: Double] = [:]
        if members.contains("metrics") {
            let group = try root.openGroup("metrics")
            for name in try group.attributeNames() { metrics[name] = try group.attribute(name, as: Double.self) }
        }

        let dataCursor = try optionalString("data_cursor")
        if let dataCursor, (try? JSONSerialization.jsonObject(with: Data(dataCursor.utf8), options: [])) == nil {
            throw fail(
                .invalidValue, "/@data_cursor",
                "the training run's saved state is not valid JSON (damaged?), so training cannot resume from this checkpoint: \(dataCursor.prefix(80))\(dataCursor.count > 80 ? "…" : "")"
            )
        }
        var checkpoint = Checkpoint(
            config: config, parameters: parameters, optimizer: optimizer,
            globalStep: try intAttribute("global_step"), epoch: try epochAttribute(),
            rngStates: rngStates, dataCursor: dataCursor,
            configText: try optionalString("config_text"), metrics: metrics)
        checkpoint.metadata = try readModelMetadata(root, path: path)
        checkpoint.runProvenance = try optionalString("run_provenance")
        try checkpoint.validate(file: path)
        return checkpoint
    }

    /// Reads the `model_config` root attribute (JSON) and validates it.
    static func readModelConfig(_ root: HDF5Group, path: String) throws -> ModelConfig {
        guard root.hasAttribute("model_config") else {
            throw FileError(
                .missing, .checkpoint, file: path, object: "/@model_config",
                "missing the model_config attribute (the model's JSON configuration)")
        }
        let json = try root.attribute("model_config", as: String.self)
        let config: ModelConfig
        do {
            config = try JSONDecoder().decode(ModelConfig.self, from: Data(json.utf8))
            try config.validate()
        } catch {
            throw FileError(
                .invalidValue, .checkpoint, file: path, object: "/@model_config",
                "not a valid model configuration (\(CheckpointIO.describeDecodingError(error))): \(json)")
        }
        return config
    }

    /// Reads exactly the layout's tensors from `group` (float32, exact shapes, nothing extra),
    /// as one arena-ordered array.
    private static func readTensors(_ group: HDF5Group, _ layout: ParameterLayout, path: String) throws -> [Float] {
        let members = Set(try group.memberNames())
        let expected = Set(layout.entries.map(\.name))
        if let extra = members.subtracting(expected).sorted().first {
            throw FileError(
                .unexpected, .checkpoint, file: path, object: "\(group.path)/\(extra)",
                "unexpected tensor: the model's layout has only \(layout.entries.map(\.name).joined(separator: ", "))")
        }
        var values = [Float](repeating: 0, count: layout.count)
        for e in layout.entries {
            let object = "\(group.path)/\(e.name)"
            guard members.contains(e.name) else {
                throw FileError(
                    .missing, .checkpoint, file: path, object: object,
                    "missing tensor (expected float32 of shape \(e.shape))")
            }
            let dataset: HDF5Dataset
            do { dataset = try group.openDataset(e.name) } catch let error as HDF5Error
                where error.kind == .typeMismatch
            {
                throw FileError(
                    .typeMismatch, .checkpoint, file: path, object: object,
                    "expected a float32 dataset of shape \(e.shape), found a group")
            }
            guard dataset.shape == e.shape else {
                throw FileError(
                    .shapeMismatch, .checkpoint, file: path, object: object,
                    "shape \(dataset.shape) does not match the expected \(e.shape)")
            }
            guard dataset.elementType == .float32 else {
                throw FileError(
                    .typeMismatch, .checkpoint, file: path, object: object,
                    "stores \(dataset.elementType) values, expected float32 (IEEE 754 binary32, little-endian)")
            }
            try dataset.checkStoredSize(.checkpoint, file: path, object: object)
            let data = try dataset.read(as: Float.self)
            values.withUnsafeMutableBufferPointer { buffer in
                data.withUnsafeBufferPointer {
                    (buffer.baseAddress! + e.offset).update(from: $0.baseAddress!, count: e.count)
                }
            }
        }
        return values
    }
}

/// Helpers shared by checkpoint, weights and prediction-file reading and writing.
enum CheckpointIO {
    /// The model config as compact JSON with sorted keys (the form stored in files).
    static func modelConfigJSON(_ config: ModelConfig) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(config), as: UTF8.self)
    }

    /// A short explanation of a decoding (or validation) error.
    static func describeDecodingError(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): return "missing key '\(key.stringValue)'"
        case DecodingError.typeMismatch(_, let ctx), DecodingError.valueNotFound(_, let ctx),
            DecodingError.dataCorrupted(let ctx):
            let path = ctx.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? ctx.debugDescription : "\(path): \(ctx.debugDescription)"
        default: return "\(error)"
        }
    }
}

/// A JSON value as far as hyperparameters need it: numbers (booleans as 0/1) and arrays of them.
private indirect enum FlatJSON: Decodable {
    case number(Double)
    case array([FlatJSON])
    case other

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let b = try? c.decode(Bool.self) {
            self = .number(b ? 1 : 0)
        } else if let x = try? c.decode(Double.self) {
            self = .number(x)
        } else if let a = try? c.decode([FlatJSON].self) {
            self = .array(a)
        } else {
            self = .other
        }
    }
}

// MARK: - Model metadata (issue 20: self-contained models)

extension Checkpoint {
    /// The root attributes that make a checkpoint self-contained for a Python user: the task
    /// (`head`, `loss`, `activation`, as in `model_config`) and the data's `ModelMetadata`
    /// (vocabulary, class names, feature and target names and statistics). docs/weights.md.
    func writeModelMetadata(into root: HDF5Group) throws {
        try root.setAttribute("head", config.head.rawValue)
        try root.setAttribute("loss", config.loss.rawValue)
        try root.setAttribute("activation", config.activation.rawValue)
        try metadata.write(to: root)
    }

    /// The metadata attributes of a checkpoint (or weights file); none in older files.
    static func readModelMetadata(
        _ root: HDF5Group, path: String, role: FileError.Role = .checkpoint
    ) throws -> ModelMetadata {
        try ModelMetadata.read(from: root, role: role, file: path)
    }
}
