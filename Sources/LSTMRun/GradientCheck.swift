import Foundation
import LSTMData
import LSTMKit

/// The result of checking one tensor's gradient against central differences.
public struct TensorGradientCheck: Sendable, Equatable {
    /// The parameter's layout name (e.g. `lstm.weight_ih_l0`), or `input` for ∂L/∂x.
    public var name: String
    /// The tensor's shape.
    public var shape: [Int]
    /// Elements compared (all of them, or a random subset for big tensors).
    public var checked: Int
    /// Elements in the tensor.
    public var total: Int
    /// max|a − n| / max(|a|, |n|) over the checked elements (0 when both are all zero).
    public var maxRelativeError: Double
    /// Whether `maxRelativeError` is within the tolerance.
    public var passed: Bool

    /// "lstm.weight_ih_l0  [16, 2]  20 of 32  max relative error 1.2e-10  PASS".
    public var line: String {
        let shapeText = "[" + shape.map(String.init).joined(separator: ", ") + "]"
        return name.padding(toLength: max(20, name.count + 1), withPad: " ", startingAt: 0)
            + shapeText.padding(toLength: max(12, shapeText.count + 1), withPad: " ", startingAt: 0)
            + "\(checked) of \(total)".padding(toLength: 14, withPad: " ", startingAt: 0)
            + String(format: "max relative error %.3e  ", maxRelativeError) + (passed ? "PASS" : "FAIL")
    }
}

/// What `GradientCheck.run` checked and found.
public struct GradientCheckReport: Sendable {
    /// The model checked (sizes as training would infer them from the data).
    public var model: ModelConfig
    /// Where the sequences came from, e.g. "data.h5 train: 2 sequences × 5 steps".
    public var source: String
    /// The tolerance on the maximum relative error.
    public var tolerance: Double
    /// One entry per parameter tensor, then the input (feature models).
    public var tensors: [TensorGradientCheck]

    /// "features I=2, H=64 × 1 layer(s), O=1, head last, mse+identity".
    public var modelSummary: String { model.summary }
    /// Whether every tensor passed.
    public var passed: Bool { tensors.allSatisfy(\.passed) }
    /// The largest relative error over all tensors; NaN if any tensor's is NaN (max() would drop it).
    public var worst: Double {
        tensors.contains { $0.maxRelativeError.isNaN } ? .nan : tensors.map(\.maxRelativeError).max() ?? 0
    }
}

/// The backward pass (eqs. 8–25) checked against central differences on a user's own model shape,
/// in Double precision, without dropout (masks are a fixed multiplication and are differentiated
/// in LSTMKit's own gradient tests; here the model is checked as it evaluates).
public enum GradientCheck {
    /// The model a training run of `config` would build on data of `schema` (sizes filled in from
    /// the data, as `lstm train` does).
    public static func modelConfig(_ config: RunConfig, schema: DatasetSchema) throws -> ModelConfig {
        try config.modelConfig(schema: schema)
    }

    /// Builds `config`'s model in Double with its initialisation and seed, takes the first
    /// `sequences` sequences of the train split cut to `steps` steps (windows of `steps` tokens
    /// for a token stream), and compares every parameter tensor's gradient (and the input's,
    /// for features) with central differences, on at most `maxPerTensor` random elements of each.
    /// A dataset the config generates is generated first if missing, as `lstm train` would.
    public static func run(
        config: RunConfig, sequences: Int = 2, steps: Int = 5, tolerance: Double = 1e-6,
        maxPerTensor: Int = 20
    ) throws -> GradientCheckReport {
        if sequences < 1 { throw RunError("--sequences must be ≥ 1 (got \(sequences))") }
        if steps < 1 { throw RunError("--steps must be ≥ 1 (got \(steps))") }
        if !(tolerance > 0) { throw RunError("--tolerance must be > 0 (got \(tolerance))") }
        if maxPerTensor < 1 { throw RunError("--max-per-tensor must be ≥ 1 (got \(maxPerTensor))") }
        if let g = config.data.generate, !FileManager.default.fileExists(atPath: config.data.file) {
            try g.write(to: config.data.file)
        }
        let file = try DatasetFile.open(paths: config.data.paths)
        defer { file.close() }
        let split = config.data.trainSplit
        let schema = try file.schema(split)
        let model = try modelConfig(config, schema: schema)
        try file.check(against: model, split: split)
        let batch = try firstSequences(file: file, split: split, sequences: sequences, steps: steps)
        let network = try LSTMNetwork<Double>(config: model)
        let parameters = ParameterSet<Double>(config: model, seed: config.seed)
        let analytic = analyticGradients(network: network, parameters: parameters, batch: batch)
        let tensors = compare(
            network: network, parameters: parameters, batch: batch, analytic: analytic.parameters,
            inputGradient: analytic.input, tolerance: tolerance, maxPerTensor: maxPerTensor,
            seed: config.seed)
        let source = "\(config.data.file) \(split): \(batch.batchSize) sequence(s) × \(batch.steps) step(s)"
        return GradientCheckReport(model: model, source: source, tolerance: tolerance, tensors: tensors)
    }

    /// The first `sequences` samples of `split` in file order, cut to at most `steps` steps
    /// (lengths clipped too), in Double; a token stream gives its first windows of `steps` tokens.
    public static func firstSequences(file: DatasetFile, split: String, sequences: Int, steps: Int) throws -> Minibatch<
        Double
    > {
        let schema = try file.schema(split)
        let isStream = schema.form == .tokenStream
        let loader = try BatchLoader(
            file: file, split: split, batchSize: sequences, shuffle: false,
            seqLength: isStream ? steps : nil, mode: .windows, prefetch: false)
        guard let f = try loader.next() else { throw RunError("\(file.path): split '\(split)' has no sequence") }
        let b = f.batchSize
        let t = f.steps
        let t2 = min(t, steps)
        /// Rows of `width` values per step, cut from t to t2 steps.
        func cut<E>(_ a: [E], width: Int) -> [E] {
            (0..<b).flatMap { r in a[(r * t * width)..<((r * t + t2) * width)] }
        }
        let inputs: Minibatch<Double>.Inputs
        switch f.inputs {
        case .features(let x): inputs = .features(cut(x, width: x.count / (b * t)).map(Double.init))
        case .tokens(let ids): inputs = .tokens(cut(ids, width: 1))
        }
        var targets: Minibatch<Double>.Targets?
        let perStep = schema.target.isPerStep
        switch f.targets {
        case .classes(let ids): targets = .classes(perStep ? cut(ids, width: 1) : ids)
        case .values(let v):
            let o = perStep ? v.count / (b * t) : v.count / b
            targets = .values((perStep ? cut(v, width: o) : v).map(Double.init))
        case .none: targets = nil
        }
        let lengths = f.lengths.map { $0.map { min($0, Int32(t2)) } }
        return Minibatch(batchSize: b, steps: t2, inputs: inputs, targets: targets, lengths: lengths)
    }

    /// The backward pass's gradient of the mean loss (a fresh arena) and, for feature inputs, ∂L/∂x
    /// batch-major [B, T, I]; evaluated without dropout.
    public static func analyticGradients(
        network: LSTMNetwork<Double>, parameters: ParameterSet<Double>,
        batch: Minibatch<Double>
    ) -> (parameters: ParameterSet<Double>, input: [Double]?) {
        let isFeatures = { if case .features = network.config.input { return true } else { return false } }()
        let ws = Workspace<Double>(
            config: network.config, maxBatch: batch.batchSize, maxSteps: batch.steps,
            computesInputGradient: isFeatures)
        let grads = ParameterSet<Double>(config: network.config)
        batch.withView { _ = network.lossAndGradient(parameters, $0, workspace: ws, into: grads) }
        return (grads, isFeatures ? ws.inputGradient() : nil)
    }

    /// Compares `analytic` (and `inputGradient`, if given) with central differences of the mean
    /// loss (LSTMKit's `CentralDifferences`), tensor by tensor in layout order, by `relativeError`;
    /// tensors larger than `maxPerTensor` are checked on a random subset of that many elements
    /// drawn from `seed`.
    public static func compare(
        network: LSTMNetwork<Double>, parameters: ParameterSet<Double>, batch: Minibatch<Double>,
        analytic: ParameterSet<Double>, inputGradient: [Double]?, tolerance: Double,
        maxPerTensor: Int, seed: UInt64 = 1, epsilon eps: Double = CentralDifferences.defaultEpsilon
    ) -> [TensorGradientCheck] {
        let numeric = CentralDifferences(network: network, parameters: parameters, batch: batch, epsilon: eps)
        var rng = RandomSource(seed: seed ^ 0x6772_6164_6368_6B21)  // "gradchk!"
        func subset(_ n: Int) -> [Int] {
            guard n > maxPerTensor else { return Array(0..<n) }
            var idx = Array(0..<n)
            for i in 0..<maxPerTensor { idx.swapAt(i, i + rng.index(below: n - i)) }
            return idx[..<maxPerTensor].sorted()
        }
        func result(_ name: String, _ shape: [Int], _ a: [Double], _ n: [Double], total: Int) -> TensorGradientCheck {
            let err = relativeError(a, n)
            return TensorGradientCheck(
                name: name, shape: shape, checked: a.count, total: total,
                maxRelativeError: err, passed: err <= tolerance)
        }

        var out: [TensorGradientCheck] = []
        for entry in parameters.layout.entries {
            let g = analytic.tensor(entry.name)!
            let indices = subset(entry.count)
            let n = numeric.parameterGradient(entry.name, at: indices)
            out.append(result(entry.name, entry.shape, indices.map { g[$0] }, n, total: entry.count))
        }
        if let inputGradient, case .features(let x) = batch.inputs {
            let indices = subset(x.count)
            let n = numeric.inputGradient(at: indices)
            out.append(
                result(
                    "input", [batch.batchSize, batch.steps, x.count / max(1, batch.batchSize * batch.steps)],
                    indices.map { inputGradient[$0] }, n, total: x.count))
        }
        return out
    }
}
