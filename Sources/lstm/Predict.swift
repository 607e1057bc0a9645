import ArgumentParser
import Foundation
import LSTMRun

/// `lstm predict CKPT --data DATA.h5 --out PRED.h5`: the model's outputs on a split, as HDF5.
struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a model's predictions on a dataset split (inputs alone suffice) to HDF5 or CSV.",
        discussion: """
            The split may hold inputs only (`inputs`, optionally `lengths`): new data needs no \
            targets. --out FILE.h5 (or .hdf5) writes HDF5: float32 `outputs` [N, T, O] for head \
            `sequence`, [N, O] for head `last`, y = F(z) (probabilities for softmax/sigmoid \
            models), in the split's sample order; steps past a sequence's length are 0 and the \
            split's `lengths` is copied. A classifier (cross_entropy) also gets int32 `class_ids` \
            (the most likely class; -1 past a length); a regression model that knows its target \
            statistics (training copies them from the data) also gets `values` in the data's \
            original units (y·target_std + target_mean). Root attributes: model_config (JSON), \
            weights, source_data, split, head, activation, denormalized, units, class_names, \
            target_names. --out FILE.csv writes CSV: one row per sequence (head `last`) or per \
            valid step (head `sequence`), columns sequence[,step], then class_id[,class_name], \
            prob_<class>… for classifiers or output_<name>…[, value_<name>…] for regression. Any \
            other name is refused. A token stream is cut into its non-overlapping windows of \
            --seq-length tokens (default: the run's), each from a zero state: outputs [W, T, O], \
            row w predicting tokens w·T+1 … w·T+T. --denormalize maps `outputs` themselves back to \
            the data's units with the model's target statistics (else the data's). Data whose \
            vocabulary, class or feature names or statistics differ from the model's is refused \
            with both listed (--accept-data-mismatch runs anyway). Minibatches are streamed \
            (memory stays flat); the file is written atomically.

            Examples:
              lstm predict runs/waves/best.h5 --data new.h5 --out pred.csv
              lstm predict runs/adding/best.h5 --data data/adding.h5 --out pred.h5
              lstm predict runs/w/best.h5 --data w.h5 --out pred.h5 --denormalize
            """)

    @OptionGroup var options: InferenceOptions
    @Option(help: "The file to write: NAME.h5 (HDF5) or NAME.csv (CSV).") var out: String
    @Flag(help: "Map regression outputs back to original units with the model's target statistics.")
    var denormalize = false

    func run() throws {
        let o = options
        let summary = try Inference.predict(
            weights: o.checkpoint, data: o.data, split: o.split, out: out,
            batchSize: o.batchSize ?? 64, seqLength: o.seqLength, denormalize: denormalize,
            acceptDataMismatch: o.acceptDataMismatch)
        print(summary.description)
    }
}
