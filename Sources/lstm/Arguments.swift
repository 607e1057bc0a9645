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

extension WeightsFormat: ExpressibleByArgument {
    /// Case-insensitive, as `--format PyTorch` always worked.
    public init?(argument: String) { self.init(rawValue: argument.lowercased()) }
}

/// The options evaluate and predict share: which weights, on which split, cut how.
struct InferenceOptions: ParsableArguments {
    @Argument(help: "The weights: a checkpoint, or a PyTorch/Keras file written by `lstm export`.")
    var checkpoint: String
    @Option(help: "The HDF5 dataset, or a quoted glob of shards with the same layout.") var data: String
    @Option(help: "The split to use (default: test; predict: else the file's only split).") var split: String?
    @Option(help: "Sequences (or lanes of a token stream) per minibatch.") var batchSize = 64
    @Option(help: "Token streams: steps per window (default: the run's seq_length, else 50).") var seqLength: Int?
    @Flag(
        help:
            "Run even if the data's vocabulary, class or feature names or statistics differ from the model's (they are listed)."
    )
    var acceptDataMismatch = false
}
