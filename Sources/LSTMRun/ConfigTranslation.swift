import Foundation
import LSTMData
import LSTMKit

// Building LSTMKit's model from a parsed config: shared by the training
// run, `lstm gradcheck` and inference. Defaults and ranges come from LSTMKit's hyperparameter
// tables (`OptimizerConfig.hyperparameters`, `ScheduleConfig.hyperparameters`).

extension RunConfig {
    /// Fills the model's sizes from the data where the config leaves them out, and checks the
    /// ones it gives (`modelFits`): every input size, output size or loss that disagrees with the
    /// data, located at its key and reported together. The rest of the fit (id ranges, class
    /// counts, the head) is the run's check against the data once the model is complete.
    public func modelConfig(schema: DatasetSchema) throws -> ModelConfig {
        let c = self
        let input: InputKind
        switch schema.input {
        case .features(let width):
            input = .features(size: c.model.inputSize ?? width)
        case .tokens:
            guard let v = c.model.vocabSize ?? schema.vocabulary?.count ?? schema.tokenIDs.map({ Int($0.max) + 1 })
            else {
                throw c.error(at: "model.vocab_size", "is needed: \(c.data.file) has no vocabulary attribute")
            }
            input = .tokens(vocabulary: v, embedding: c.model.embeddingSize)
        }
        let o =
            schema.target.valueWidth.map { c.model.outputSize ?? $0 }
            ?? c.model.outputSize ?? schema.minimumClassCount ?? 2
        let head = c.model.head ?? (schema.target.isPerStep ? .sequence : .last)
        let loss = c.loss ?? (schema.target.isClasses ? .crossEntropy : .mse)
        let model = ModelConfig(
            input: input, hiddenSizes: c.model.layerWidths, outputSize: o,
            activation: c.model.activation, head: head, loss: loss, initialization: c.model.initialization,
            forgetGateBias: c.model.forgetBias, bidirectional: c.model.bidirectional, dropout: c.model.dropout,
            bias: c.model.bias)
        let mismatches = modelFits(model, schema).compactMap { problem -> ConfigError? in
            switch problem {
            case .inputWidth(let i, let width):
                c.error(at: problem.configKey, "is \(i) but \(c.data.file) has features of width \(width)")
            case .outputWidth(let given, let w):
                c.error(at: problem.configKey, "is \(given) but \(c.data.file) has targets of width \(w)")
            case .lossNeedsClassIDs, .lossNeedsValues:
                c.error(
                    at: problem.configKey,
                    "\(loss.rawValue) does not fit \(c.data.file), which has \(schema.target) "
                        + "(class ids need cross_entropy; float targets need mse or bce)")
            default: nil  // not a size the config gives: the run's check reports it
            }
        }
        if let error = ConfigError.combined(mismatches) { throw error }
        try model.validate()
        return model
    }

    /// `model` with every architecture key the config leaves out taken from `stored`, the model
    /// of a weights file or checkpoint (`--init`, resume): hidden_size/num_layers, bidirectional,
    /// embedding_size, bias, init, forget_bias, dropout. Keys the config gives stay as given, so a
    /// real mismatch still fails the caller's comparison.
    public func model(_ model: ModelConfig, inferringFrom stored: ModelConfig) -> ModelConfig {
        func given(_ key: String) -> Bool { gives("model.\(key)") }
        var m = model
        switch (given("hidden_size"), given("num_layers")) {
        case (false, false): m.hiddenSizes = stored.hiddenSizes
        case (false, true) where stored.uniformWidth: m.hiddenSize = stored.hiddenSize
        case (true, false) where self.model.hiddenSizes == nil:
            m.numLayers = stored.numLayers  // one width given: as many layers as the file has
        default: break
        }
        if !given("bidirectional") { m.bidirectional = stored.bidirectional }
        if !given("embedding_size"), case .tokens(let v, _) = m.input, case .tokens(_, let e) = stored.input {
            m.input = .tokens(vocabulary: v, embedding: e)
        }
        if !given("bias") { m.bias = stored.bias }
        if !given("init") { m.initialization = stored.initialization }
        if !given("forget_bias") { m.forgetGateBias = stored.forgetGateBias }
        if !given("dropout") { m.dropout = stored.dropout }
        return m
    }
}

extension ModelConfig {
    /// "tokens V=65 E=64, H=128 × 2 layer(s), O=65, head sequence, cross_entropy+softmax".
    public var summary: String {
        let m = self
        var s: String
        switch m.input {
        case .features(let i): s = "features I=\(i)"
        case .tokens(let v, let e): s = "tokens V=\(v) E=\(e)"
        }
        let widths = m.uniformWidth ? "H=\(m.hiddenSize) × \(m.numLayers) layer(s)" : "H=\(m.hiddenSizes) (per layer)"
        s += ", \(widths)\(m.bidirectional ? " bidirectional" : ""), O=\(m.outputSize)"
        if m.bias != .default { s += ", bias \(m.bias.rawValue)" }
        s += ", head \(m.head.rawValue), \(m.loss.rawValue)+\(m.activation.rawValue)"
        if m.dropout > 0 { s += ", dropout \(m.dropout)" }
        return s
    }
}
