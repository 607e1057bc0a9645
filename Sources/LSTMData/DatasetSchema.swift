import LSTMFiles

/// The validated description of one split of a dataset file (see docs/datasets.md for the layout).
/// Produced by `DatasetFile.schema(_:)` after every check passed, so loaders can trust it.
public struct DatasetSchema: Sendable, Equatable {
    /// How a split stores its samples.
    public enum Form: String, Sendable, Equatable {
        /// `inputs` [N, T, I] or [N, T] and `targets`, N independent sequences of T steps.
        case sequences
        /// `tokens` [L], one long token stream that a loader cuts into windows or lanes.
        case tokenStream
    }

    /// What the network reads at each step.
    public enum InputKind: Sendable, Equatable, CustomStringConvertible {
        /// float32 feature vectors of width I.
        case features(width: Int)
        /// int32 token ids.
        case tokens

        /// "features, I = 8" or "integer token ids" (read as float32 / int32 whatever the stored type).
        public var description: String {
            switch self {
            case .features(let width): "features, I = \(width)"
            case .tokens: "integer token ids"
            }
        }
    }

    /// What the network is trained to predict.
    public enum TargetKind: Sendable, Equatable, CustomStringConvertible {
        /// int32 class ids [N, T] (one per step; `sequence` head).
        case classesPerStep
        /// int32 class ids [N] (one per sequence; `last` head).
        case classesPerSequence
        /// float32 values [N, T, O] (`sequence` head).
        case valuesPerStep(width: Int)
        /// float32 values [N, O] (`last` head).
        case valuesPerSequence(width: Int)

        /// Whether the targets are class ids (else float values).
        public var isClasses: Bool {
            switch self {
            case .classesPerStep, .classesPerSequence: true
            case .valuesPerStep, .valuesPerSequence: false
            }
        }

        /// Whether there is one target per step (`sequence` head) rather than per sequence.
        public var isPerStep: Bool {
            switch self {
            case .classesPerStep, .valuesPerStep: true
            case .classesPerSequence, .valuesPerSequence: false
            }
        }

        /// O for float targets; nil for class ids (their count is not stored in the shape).
        public var valueWidth: Int? {
            switch self {
            case .valuesPerStep(let w), .valuesPerSequence(let w): w
            case .classesPerStep, .classesPerSequence: nil
            }
        }

        /// Elements per sequence: T or 1 class ids, T·O or O values.
        func rowSize(steps t: Int) -> Int {
            switch self {
            case .classesPerStep: t
            case .classesPerSequence: 1
            case .valuesPerStep(let w): t * w
            case .valuesPerSequence(let w): w
            }
        }

        /// E.g. "integer class ids per step" or "float values per sequence, O = 1".
        public var description: String {
            switch self {
            case .classesPerStep: "integer class ids per step"
            case .classesPerSequence: "integer class ids per sequence"
            case .valuesPerStep(let w): "float values per step, O = \(w)"
            case .valuesPerSequence(let w): "float values per sequence, O = \(w)"
            }
        }
    }

    /// The smallest and largest id found by the validation scan, with where they were found.
    public struct IDRange: Sendable, Equatable {
        /// Smallest id in the data.
        public var min: Int32
        /// Flat element index of the (first) smallest id.
        public var minIndex: Int
        /// Largest id in the data.
        public var max: Int32
        /// Flat element index of the (first) largest id.
        public var maxIndex: Int
    }

    /// The split's group name, e.g. "train".
    public let split: String
    /// Sequences or a token stream.
    public let form: Form
    /// N (sequences) for `.sequences`, L (tokens) for `.tokenStream`.
    public let count: Int
    /// T, steps per sequence; nil for a token stream (the loader's `seqLength` chooses it).
    public let steps: Int?
    /// Features of width I, or token ids.
    public let input: InputKind
    /// Targets; a token stream always has `.classesPerStep` (the next token).
    public let target: TargetKind
    /// Whether the split has a `lengths` [N] dataset (variable-length sequences).
    public let hasLengths: Bool
    /// The root `vocabulary` attribute (token id → string), if present.
    public let vocabulary: [String]?
    /// The root `class_names` attribute (class id → name), if present.
    public let classNames: [String]?
    /// Root normalisation statistics of the input features, if present.
    public let featureStatistics: FeatureStatistics?
    /// Root normalisation statistics of float targets, if present.
    public let targetStatistics: FeatureStatistics?
    /// Range of token ids (input tokens or the stream), nil for features.
    public let tokenIDs: IDRange?
    /// Range of class ids (class targets; the stream itself for a token stream), nil for float targets.
    public let classIDs: IDRange?
    /// Whether the split stores its targets. An inputs-only split (new data to predict on) has
    /// none: `DatasetFile.schema(_:)` refuses it, and `inputsSchema(_:assuming:)` gives it the
    /// `target` the model will predict so a loader can stream its inputs.
    public internal(set) var hasTargets = true

    /// The class count the data needs at least: classes named in `class_names`, else the
    /// vocabulary for a token stream, else the largest class id + 1; nil for float targets.
    public var minimumClassCount: Int? {
        guard let classIDs else { return nil }
        if let classNames { return classNames.count }
        if form == .tokenStream, let vocabulary { return vocabulary.count }
        return Int(classIDs.max) + 1
    }
}

/// Per-column z-score statistics stored as root attributes (`feature_names`/`mean`/`std`,
/// `target_names`/`target_mean`/`target_std`), so that data can be normalised the same way at
/// inference time and predictions mapped back (x = z · std + mean). The same type as the model
/// metadata's (`ColumnStatistics`, module LSTMFiles).
public typealias FeatureStatistics = ColumnStatistics
