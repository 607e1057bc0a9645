import Foundation
import LSTMData
import LSTMFiles
import LSTMKit

/// How `TextSampler` picks each next token (torch-rnn's sample.lua semantics).
public struct SamplingOptions: Sendable, Equatable {
    /// Divides the logits before the softmax: below 1 sharpens the distribution, above 1 flattens
    /// it; must be > 0 (use `argmax` for greedy decoding).
    public var temperature: Double
    /// Draw only among the k most likely tokens (renormalised); nil: all tokens.
    public var topK: Int?
    /// Always take the most likely token (greedy); the seed is then not used.
    public var argmax: Bool
    /// Seed of the draws: the same seed, model and primer give the same text.
    public var seed: UInt64

    /// Options with torch-rnn's defaults (temperature 1, sampling from the full distribution).
    public init(temperature: Double = 1, topK: Int? = nil, argmax: Bool = false, seed: UInt64 = 1) {
        self.temperature = temperature
        self.topK = topK
        self.argmax = argmax
        self.seed = seed
    }

    /// Checks the temperature and k; throws one message per problem.
    public func validate() throws {
        if !(temperature > 0 && temperature.isFinite) {
            throw RunError("--temperature must be > 0 (got \(temperature)); use --argmax for greedy decoding")
        }
        if let k = topK, k < 1 { throw RunError("--top-k must be ≥ 1 (got \(k))") }
    }
}

/// Turning logits into a token: softmax with temperature, optional top-k, seeded draws.
public enum TokenSampling {
    /// softmax(z / temperature) restricted to the `topK` largest logits (ties at the k-th value
    /// are all kept), computed stably in Double; tokens outside the top k get probability 0.
    public static func probabilities(logits z: [Double], temperature: Double, topK: Int? = nil) -> [Double] {
        precondition(!z.isEmpty && temperature > 0, "need logits and a positive temperature")
        var keep = [Bool](repeating: true, count: z.count)
        if let k = topK, k < z.count {
            let threshold = z.sorted(by: >)[max(0, k - 1)]
            for i in z.indices where z[i] < threshold { keep[i] = false }
        }
        let m = zip(z, keep).filter(\.1).map(\.0).max()!
        var p = z.indices.map { keep[$0] ? Foundation.exp((z[$0] - m) / temperature) : 0 }
        let sum = p.reduce(0, +)
        for i in p.indices { p[i] /= sum }
        return p
    }

    /// The index of the largest logit (the first one on ties).
    public static func argmax(_ z: [Double]) -> Int {
        var best = 0
        for i in z.indices where z[i] > z[best] { best = i }
        return best
    }

    /// One token chosen from `logits` as `options` say; draws one uniform from `rng` unless argmax.
    public static func choose(logits z: [Double], options: SamplingOptions, using rng: inout RandomSource) -> Int {
        if options.argmax { return argmax(z) }
        let p = probabilities(logits: z, temperature: options.temperature, topK: options.topK)
        let u = rng.nextUnit()
        var cumulative = 0.0
        var last = 0
        for (i, pi) in p.enumerated() where pi > 0 {
            cumulative += pi
            last = i
            if u < cumulative { return i }
        }
        return last  // u within rounding of 1
    }
}

/// Character-level (or token-level) text generation from a language model, one step at a time
/// with (h, c) carried between steps, like torch-rnn's sample.lua.
public final class TextSampler {
    /// Token id → text.
    public let vocabulary: [String]
    /// The model.
    public let model: InferenceModel

    private let workspace: Workspace<Float>
    private let entries: [[Character]]

    /// Prepares `model` for sampling; refuses models that do not predict the next token of the
    /// vocabulary: feature inputs, O ≠ V, a non-softmax output, bidirectional layers.
    public init(model: InferenceModel, vocabulary: [String]) throws {
        try Self.check(model)
        let c = model.config
        guard case .tokens(let v, _) = c.input else { preconditionFailure("checked above") }
        guard vocabulary.count == v else {
            throw RunError("the vocabulary has \(vocabulary.count) entries but the model's V = \(v)")
        }
        self.model = model
        self.vocabulary = vocabulary
        entries = vocabulary.map(Array.init)
        workspace = Workspace(config: c, maxBatch: 1, maxSteps: 1)
    }

    /// Throws unless `model` predicts the next token of its vocabulary: a token input, O = V,
    /// cross_entropy with softmax, one direction.
    public static func check(_ model: InferenceModel) throws {
        let c = model.config
        guard case .tokens(let v, _) = c.input else {
            throw RunError(
                "\(model.path): sample needs a token model (a language model trained on text), but this model reads float features (\(model.summary))"
            )
        }
        guard c.outputSize == v else {
            throw RunError(
                "\(model.path): sample needs a model that predicts the next token (O = V), but this one has O = \(c.outputSize) outputs for V = \(v) tokens"
            )
        }
        guard c.loss == .crossEntropy, c.activation == .softmax else {
            throw RunError(
                "\(model.path): sample draws from softmax(z/temperature) and needs a cross_entropy model (this one: \(c.loss.rawValue)+\(c.activation.rawValue))"
            )
        }
        guard !c.bidirectional else {
            throw RunError(
                "\(model.path): a bidirectional model reads the future and cannot generate text step by step")
        }
    }

    /// The token ids of `text`, matching the longest vocabulary entry at each position (one
    /// character per token for `lstm prepare text` data).
    public func tokens(of text: String) throws -> [Int] {
        let chars = Array(text)
        var ids: [Int] = []
        var i = 0
        while i < chars.count {
            var best: (id: Int, length: Int)?
            for (id, e) in entries.enumerated()
            where !e.isEmpty && e.count > (best?.length ?? 0) && i + e.count <= chars.count {
                if Array(chars[i..<(i + e.count)]) == e { best = (id, e.count) }
            }
            guard let best else {
                let shown = chars[i].unicodeScalars.map { $0.escaped(asASCII: false) }.joined()
                throw RunError(
                    "the primer's character '\(shown)' at position \(i) is not in the model's vocabulary of \(vocabulary.count) tokens"
                )
            }
            ids.append(best.id)
            i += best.length
        }
        return ids
    }

    /// The primer followed by `length` generated tokens.
    ///
    /// The primer runs through the model one token at a time (zero initial state); each next
    /// token is drawn from softmax(z / temperature) (top-k, or argmax, as `options` say) and fed
    /// back. Without a primer the first token is drawn uniformly (argmax: token 0), as in
    /// sample.lua. `onText` receives each generated token's text as it is produced.
    public func generate(
        primer: String = "", length: Int, options: SamplingOptions = SamplingOptions(),
        onText: ((String) -> Void)? = nil
    ) throws -> String {
        try options.validate()
        if length < 0 { throw RunError("--length must be ≥ 0 (got \(length))") }
        let primed = try tokens(of: primer)
        var rng = RandomSource(seed: options.seed)
        var state: LSTMState<Float>?
        var logits = [Double](repeating: 0, count: vocabulary.count)  // uniform before any input
        for id in primed { logits = step(id, &state) }
        var text = primer
        for k in 0..<length {
            let next = TokenSampling.choose(logits: logits, options: options, using: &rng)
            text += vocabulary[next]
            onText?(vocabulary[next])
            if k + 1 < length { logits = step(next, &state) }
        }
        return text
    }

    /// Feeds one token and returns the logits z = W^y h + b^y of the next one (in Double).
    private func step(_ token: Int, _ state: inout LSTMState<Float>?) -> [Double] {
        let c = model.config
        let p = model.parameters
        let batch = Minibatch<Float>(batchSize: 1, steps: 1, inputs: .tokens([Int32(token)]), targets: nil)
        batch.withView { _ = model.network.forward(p, $0, workspace: workspace, initialState: state) }
        let s = workspace.finalState()
        state = s
        let h = s.h[c.numLayers - 1]
        let w = p.headWeight
        let dh = c.layerOutputWidth
        return (0..<c.outputSize).map { j in
            var z = Double(p.headBias[j])
            for i in 0..<dh { z += Double(w.base[j * w.stride + i]) * Double(h[i]) }
            return z
        }
    }

    /// The vocabulary for a model: the model's own (the `vocabulary` attribute that training
    /// copies into checkpoints and exports carry), else the `vocabulary` root attribute of `data`
    /// when given, else of the data file named in the checkpoint's run config (older checkpoints).
    /// A `data` whose vocabulary differs from the model's is refused with both listed.
    public static func vocabulary(for model: InferenceModel, data: String?) throws -> [String] {
        if let own = model.metadata.vocabulary {
            if let data {
                let file = try DatasetFile(path: data)
                defer { file.close() }
                let differences = model.metadata.differences(fromData: ModelMetadata(vocabulary: file.vocabulary))
                if !differences.isEmpty {
                    throw RunError(
                        "\(data) does not match the model \(model.path): \(differences.joined(separator: "; ")); leave out --data to use the model's vocabulary"
                    )
                }
            }
            return own
        }
        let path: String
        if let data {
            path = data
        } else if var stored = model.run.dataFile {
            // The shards of a glob share their vocabulary: read the first.
            if DatasetFile.isGlob(stored), let first = try DatasetFile.paths(matching: stored).first { stored = first }
            guard FileManager.default.fileExists(atPath: stored) else {
                throw RunError(
                    "\(model.path) carries no vocabulary (written before models stored it) and its run read \(stored), which is not here; pass --data DATA.h5 to read the vocabulary from"
                )
            }
            path = stored
        } else {
            throw RunError(
                "\(model.path) carries no vocabulary and does not name its dataset; pass --data DATA.h5 to read the vocabulary from"
            )
        }
        let file = try DatasetFile(path: path)
        defer { file.close() }
        guard let vocabulary = file.vocabulary else {
            throw RunError("\(path) has no `vocabulary` root attribute (prepare text data with `lstm prepare text`)")
        }
        return vocabulary
    }
}
