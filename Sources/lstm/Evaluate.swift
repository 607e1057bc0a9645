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
            MAE for float targets. Runs without dropout, minibatches in file order. By default it \
            is the run's own validation, cut the same way: --split, --batch-size, --seq-length and \
            --stream-mode default to the run's data.test_split, data.batch_size, seq_length and \
            stream_mode stored in the checkpoint (weights from elsewhere: test, 64, 50 and stateful, \
            which carries h and c across minibatches over --batch-size lanes); the first line says \
            which were used (on stderr; stdout has one line per metric). On the run's validation split \
            (--split val) the loss of best.h5 is the run's best validation loss, bit for bit, and \
            it says so.

            Examples:
              lstm evaluate runs/adding/best.h5 --data data/adding.h5
              lstm evaluate runs/charlm/best.h5 --data text.h5 --split val --json
            """)

    @OptionGroup var options: InferenceOptions
    @Option(help: "Token streams: stateful or windows (default: the run's, else stateful).") var streamMode: StreamMode?
    @Flag(help: "Print one JSON object instead of one line per metric.") var json = false

    func run() throws {
        let o = options
        let report = try Inference.evaluate(
            weights: o.checkpoint, data: o.data, split: o.split, batchSize: o.batchSize,
            seqLength: o.seqLength, streamMode: streamMode)
        if json {
            print(try report.json())
        } else {
            // What was evaluated goes to stderr: stdout stays one "name value" line per metric.
            FileHandle.standardError.write(Data("evaluating \(o.checkpoint) on \(o.data): \(report.settings)\n".utf8))
            for line in report.lines { print(line) }
            if report.reproducesRunValidation == true {
                FileHandle.standardError.write(
                    Data(
                        "the run's best validation loss (best_val_loss of the checkpoint), bit for bit: \(report.result.loss)\n"
                            .utf8))
            }
        }
    }
}
