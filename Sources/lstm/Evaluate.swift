import ArgumentParser
import Foundation
import LSTMData
import LSTMRun

/// `lstm evaluate CKPT --data DATA.h5`: loss and metrics of trained weights on a split.
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Loss and metrics of a checkpoint (or imported weights) on a dataset split.",
        discussion: """
            The model is checked against the split first, and every mismatch is reported at once. \
            Metrics: loss always; accuracy for class targets; perplexity for token models; MSE and \
            MAE for float targets. Runs without dropout, minibatches in file order. A token stream \
            is cut like validation during training: --seq-length and --stream-mode default to the \
            run's settings stored in the checkpoint (else 50 and stateful, which carries h and c \
            across minibatches over --batch-size lanes).

            Examples:
              lstm evaluate runs/adding/best.h5 --data data/adding.h5
              lstm evaluate runs/charlm/best.h5 --data text.h5 --split val --json
            """)

    @Argument(help: "The weights: a checkpoint, or a PyTorch/Keras file written by `lstm export`.") var checkpoint: String
    @Option(help: "The HDF5 dataset.") var data: String
    @Option(help: "The split to evaluate.") var split = "test"
    @Option(help: "Sequences (or lanes) per minibatch.") var batchSize = 64
    @Option(help: "Token streams: steps per window (default: the run's seq_length, else 50).") var seqLength: Int?
    @Option(help: "Token streams: stateful or windows (default: the run's, else stateful).",
            transform: parseStreamMode) var streamMode: StreamMode?
    @Flag(help: "Print one JSON object instead of one line per metric.") var json = false

    func run() throws {
        let report = try Inference.evaluate(weights: checkpoint, data: data, split: split, batchSize: batchSize,
                                            seqLength: seqLength, streamMode: streamMode)
        if json {
            print(try report.json())
        } else {
            report.lines.forEach { print($0) }
        }
    }
}

/// Parses `--stream-mode`: stateful or windows.
func parseStreamMode(_ text: String) throws -> StreamMode {
    guard let mode = StreamMode(rawValue: text) else {
        throw ValidationError("unknown stream mode '\(text)' (expected stateful or windows)")
    }
    return mode
}
