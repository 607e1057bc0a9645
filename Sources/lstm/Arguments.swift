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
    @Option(help: "The split to use (default: the run's data.test_split, else test).") var split: String?
    @Option(help: "Sequences (or lanes of a token stream) per minibatch (default: the run's data.batch_size, else 64).")
    var batchSize: Int?
    @Option(help: "Token streams: steps per window (default: the run's seq_length, else 50).") var seqLength: Int?

    /// An option value out of range is a usage error (exit 64), as in every command.
    func validate() throws {
        if let b = batchSize, b < 1 { throw ValidationError("--batch-size must be ≥ 1 (got \(b))") }
        if let t = seqLength, t < 1 { throw ValidationError("--seq-length must be ≥ 1 (got \(t))") }
    }
}
