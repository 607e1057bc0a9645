import ArgumentParser
import LSTMData
import LSTMIO
import LSTMKit

// Enum options parse through ArgumentParser, which lists the accepted values in help and errors.

extension StreamMode: ExpressibleByArgument {}
extension Head: ExpressibleByArgument {}
extension OutputActivation: ExpressibleByArgument {}
extension LossKind: ExpressibleByArgument {}
extension BiasForm: ExpressibleByArgument {}

/// `lstm export --format`: the formats export writes (help and errors list exactly these).
struct ExportFormat: ExpressibleByArgument {
    let format: WeightsFormat
    /// Case-insensitive; "torch" is PyTorch.
    init?(argument: String) {
        guard let f = WeightsFormat(name: argument), WeightsFormat.exportable.contains(f) else { return nil }
        format = f
    }
    static var allValueStrings: [String] { WeightsFormat.exportable.map(\.rawValue) }
    var defaultValueDescription: String { format.rawValue }
}

/// `--format` of the commands that read weights: the formats they read.
struct ImportFormat: ExpressibleByArgument {
    let format: WeightsFormat
    /// Case-insensitive; "torch" is PyTorch.
    init?(argument: String) {
        guard let f = WeightsFormat(name: argument), WeightsFormat.importable.contains(f) else { return nil }
        format = f
    }
    static var allValueStrings: [String] { WeightsFormat.importable.map(\.rawValue) }
    var defaultValueDescription: String { format.rawValue }
}

extension WeightsRename: ExpressibleByArgument {}

/// The options evaluate and predict share: which weights, on which split, cut how.
struct InferenceOptions: ParsableArguments {
    @Argument(help: "The weights: a checkpoint, or a PyTorch/Keras file written by `lstm export`.")
    var checkpoint: String
    @Option(help: "The HDF5 dataset, or a quoted glob of shards with the same layout.") var data: String
    @Option(
        help:
            "The split to use (default: the run's data.test_split, else test; predict: test, else the file's only split)."
    )
    var split: String?
    @Option(help: "Sequences (or lanes of a token stream) per minibatch (default: the run's data.batch_size, else 64).")
    var batchSize: Int?
    @Option(help: "Token streams: steps per window (default: the run's seq_length, else 50).") var seqLength: Int?
    @Flag(help: "Accept weights that are not finite (NaN, ±inf), e.g. to inspect them; refused by default.")
    var allowNonFinite = false
    @Flag(
        help:
            "Run even if the data's vocabulary, class or feature names or statistics differ from the model's (they are listed)."
    )
    var acceptDataMismatch = false

    /// An option value out of range is a usage error (exit 64), as in every command.
    func validate() throws {
        if let b = batchSize, b < 1 { throw ValidationError("--batch-size must be ≥ 1 (got \(b))") }
        if let t = seqLength, t < 1 { throw ValidationError("--seq-length must be ≥ 1 (got \(t))") }
    }
}
