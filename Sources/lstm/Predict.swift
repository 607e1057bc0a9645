import ArgumentParser
import Foundation
import LSTMRun

/// `lstm predict CKPT --data DATA.h5 --out PRED.h5`: the model's outputs on a split, as HDF5.
struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a model's outputs on a dataset split to an HDF5 file.",
        discussion: """
            The file holds float32 `outputs`: [N, T, O] for head `sequence`, [N, O] for head `last`, \
            y = F(z) (probabilities for softmax/sigmoid models), in the split's sample order; steps \
            past a sequence's length are 0 and the split's `lengths` is copied. Root attributes: \
            model_config (JSON), weights, source_data, split, head, activation, denormalized, units. \
            A token stream is cut into its non-overlapping windows of --seq-length tokens (default: \
            the run's), each from a zero state: outputs [W, T, O], row w predicting tokens \
            w·T+1 … w·T+T. --denormalize maps regression outputs back to the data's units \
            (y·target_std + target_mean; needs those root attributes, e.g. from `lstm prepare csv`). \
            Minibatches are streamed (memory stays flat); the file is written atomically.

            Examples:
              lstm predict runs/adding/best.h5 --data data/adding.h5 --out pred.h5
              lstm predict runs/w/best.h5 --data w.h5 --out pred.h5 --denormalize
            """)

    @OptionGroup var options: InferenceOptions
    @Option(help: "The HDF5 file to write.") var out: String
    @Flag(help: "Map regression outputs back to original units with the data's target statistics.") var denormalize =
        false

    func run() throws {
        let o = options
        let summary = try Inference.predict(
            weights: o.checkpoint, data: o.data, split: o.split ?? "test", out: out,
            batchSize: o.batchSize ?? 64, seqLength: o.seqLength, denormalize: denormalize)
        print(summary.description)
    }
}
