import LSTMFiles
import LSTMKit

/// One way a model does not fit a dataset split: the one rule "does the model fit the data",
/// checked by `modelFits(_:_:)` and worded by each layer that reports it (the dataset file:
/// `message(inputObject:targetObject:)`; the config reader locates it at `configKey`).
public enum ModelFitProblem: Sendable, Equatable {
    /// The model reads I = `model` features; the data has I = `data`.
    case inputWidth(model: Int, data: Int)
    /// The model reads features (I = `model`); the data holds token ids.
    case featuresGivenTokens(model: Int)
    /// The model reads token ids (vocabulary `vocabulary`); the data holds features I = `width`.
    case tokensGivenFeatures(vocabulary: Int, width: Int)
    /// The model's vocabulary size differs from the entries of the file's `vocabulary`.
    case vocabularySize(model: Int, file: Int)
    /// A token id of the data is outside the model's vocabulary.
    case tokenOutsideVocabulary(id: Int32, vocabulary: Int)
    /// The model's class count differs from the classes the file names (in `source`:
    /// "class_names" or "vocabulary").
    case namedClassCount(model: Int, source: String, named: Int)
    /// A class id of the data is outside the model's O classes.
    case classOutsideOutputs(id: Int32, outputs: Int)
    /// The model's loss needs class ids; the data has float targets (or the other way round).
    case lossNeedsClassIDs(loss: LossKind, found: DatasetSchema.TargetKind)
    case lossNeedsValues(loss: LossKind, found: DatasetSchema.TargetKind)
    /// The model has O = `model` outputs; the data's float targets are `data` wide.
    case outputWidth(model: Int, data: Int)
    /// The `sequence` head on one target per sequence, or the `last` head on targets per step.
    case sequenceHeadGivenSequenceTargets
    case lastHeadGivenStepTargets

    /// The config key a problem is about: where the config layer locates it.
    public var configKey: String {
        switch self {
        case .inputWidth, .featuresGivenTokens, .tokensGivenFeatures: "model.input_size"
        case .vocabularySize, .tokenOutsideVocabulary: "model.vocab_size"
        case .namedClassCount, .classOutsideOutputs, .outputWidth: "model.output_size"
        case .lossNeedsClassIDs, .lossNeedsValues: "loss"
        case .sequenceHeadGivenSequenceTargets, .lastHeadGivenStepTargets: "model.head"
        }
    }

    /// The problem as a dataset file words it, naming the split's input and target datasets
    /// ("train/inputs", "train/targets").
    public func message(inputObject: String, targetObject: String) -> String {
        switch self {
        case .inputWidth(let size, let width):
            "the model reads I = \(size) features but \(inputObject) has I = \(width)"
        case .featuresGivenTokens(let size):
            "the model reads features (I = \(size)) but \(inputObject) holds integer token ids"
        case .tokensGivenFeatures(let v, let width):
            "the model reads token ids (vocabulary \(v)) but \(inputObject) holds features (I = \(width))"
        case .vocabularySize(let v, let count):
            "the model's vocabulary size is \(v) but the file's vocabulary has \(count) entries"
        case .tokenOutsideVocabulary(let id, let v):
            "\(inputObject) has token id \(id), outside the model's vocabulary 0..<\(v)"
        case .namedClassCount(let o, let source, let count):
            "the model has O = \(o) classes but the file's \(source) names \(count)"
        case .classOutsideOutputs(let id, let o):
            "\(targetObject) has class id \(id), outside the model's O = \(o) classes"
        case .lossNeedsClassIDs(let loss, let found):
            "the model's loss \(loss.rawValue) needs integer class ids but \(targetObject) holds \(found)"
        case .lossNeedsValues(let loss, let found):
            "the model's loss \(loss.rawValue) needs float values but \(targetObject) holds \(found)"
        case .outputWidth(let o, let width):
            "the model has O = \(o) outputs but \(targetObject) has O = \(width)"
        case .sequenceHeadGivenSequenceTargets:
            "the model's head `sequence` predicts every step but \(targetObject) has one target per sequence (use head `last`)"
        case .lastHeadGivenStepTargets:
            "the model's head `last` predicts once per sequence but \(targetObject) has a target per step (use head `sequence`)"
        }
    }
}

/// Every way `model` does not fit the split `schema` describes (input kind and width,
/// vocabulary, output size or class count, loss against the target kind, `sequence` vs `last`
/// head), in that order; empty when it fits. An inputs-only schema is checked on its inputs.
/// The one rule: `DatasetFile.check(against:split:)`, the config reader and the run plan call it.
public func modelFits(_ model: ModelConfig, _ schema: DatasetSchema) -> [ModelFitProblem] {
    var problems: [ModelFitProblem] = []
    switch (model.input, schema.input) {
    case (.features(let size), .features(let width)) where size != width:
        problems.append(.inputWidth(model: size, data: width))
    case (.features(let size), .tokens):
        problems.append(.featuresGivenTokens(model: size))
    case (.tokens(let v, _), .features(let width)):
        problems.append(.tokensGivenFeatures(vocabulary: v, width: width))
    case (.tokens(let v, _), .tokens):
        if let vocabulary = schema.vocabulary, vocabulary.count != v {
            problems.append(.vocabularySize(model: v, file: vocabulary.count))
        }
        if let ids = schema.tokenIDs, Int(ids.max) >= v {
            problems.append(.tokenOutsideVocabulary(id: ids.max, vocabulary: v))
        }
    default:
        break
    }
    guard schema.hasTargets else { return problems }  // inputs only: the targets are what the model predicts
    if let width = schema.target.valueWidth, width != model.outputSize {
        problems.append(.outputWidth(model: model.outputSize, data: width))
    }
    if model.loss.usesClassTargets {
        if let ids = schema.classIDs {
            if let named = schema.classNames ?? (schema.form == .tokenStream ? schema.vocabulary : nil),
                named.count != model.outputSize
            {
                let source = schema.classNames != nil ? "class_names" : "vocabulary"
                problems.append(.namedClassCount(model: model.outputSize, source: source, named: named.count))
            } else if Int(ids.max) >= model.outputSize {
                problems.append(.classOutsideOutputs(id: ids.max, outputs: model.outputSize))
            }
        } else {
            problems.append(.lossNeedsClassIDs(loss: model.loss, found: schema.target))
        }
    } else if schema.target.valueWidth == nil {
        problems.append(.lossNeedsValues(loss: model.loss, found: schema.target))
    }
    switch model.head {
    case .sequence where !schema.target.isPerStep: problems.append(.sequenceHeadGivenSequenceTargets)
    case .last where schema.target.isPerStep: problems.append(.lastHeadGivenStepTargets)
    default: break
    }
    return problems
}

extension DatasetSchema {
    /// The split's input dataset: "train/inputs", or "train/tokens" for a token stream.
    public var inputObject: String { "\(split)/\(form == .tokenStream ? "tokens" : "inputs")" }
    /// The split's target dataset: "train/targets", or "train/tokens" for a token stream.
    public var targetObject: String { "\(split)/\(form == .tokenStream ? "tokens" : "targets")" }

    /// `modelFits` as the dataset `file` reports it: every problem in one `FileError`, or nil
    /// when the model fits.
    public func fitError(_ model: ModelConfig, file: String) -> FileError? {
        let problems = modelFits(model, self)
        if problems.isEmpty { return nil }
        return FileError(
            .incompatible, .dataset, file: file, object: split,
            "the model does not fit the data: "
                + problems.map { $0.message(inputObject: inputObject, targetObject: targetObject) }
                .joined(separator: "; "))
    }
}
