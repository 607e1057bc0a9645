import ArgumentParser
import Foundation
import LSTMData
import LSTMFiles
import LSTMIO

/// `lstm export`: writes a checkpoint's weights as a PyTorch or Keras HDF5 file.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a checkpoint's weights as a PyTorch or Keras HDF5 weights file.",
        discussion: """
            pytorch: one dataset per key of the equivalent PyTorch model's state_dict() \
            (embedding.weight, lstm.weight_ih_l0, …, head.bias), the model's single bias in \
            lstm.bias_ih_lK and zeros in lstm.bias_hh_lK. keras: a Keras 3 .weights.h5 file for \
            the equivalent keras.Sequential model (name the output *.weights.h5 for Keras to load \
            it). The model configuration is stored in root attributes. See docs/weights.md for the \
            models to build. The input may also be a PyTorch or Keras weights file.

            Examples:
              lstm export runs/ckpt/best.h5 --format pytorch --out model.pt.h5
              lstm export runs/ckpt/latest.h5 --format keras --out model.weights.h5
            """)

    @Argument(help: "The checkpoint (or weights file) to read.") var checkpoint: String
    @Option(help: "Output format: pytorch or keras.") var format: WeightsFormat
    @Option(help: "The weights file to write (written atomically).") var out: String

    func validate() throws {
        if format == .checkpoint {
            throw ValidationError("unknown export format 'checkpoint' (expected pytorch or keras)")
        }
    }

    func run() throws {
        try AtomicFile.checkOutput(out, isNotAnyOf: [("checkpoint", checkpoint)], role: .weights)
        let source = try WeightsImporter.read(checkpoint)
        try WeightsExporter.export(source, format: format, to: out)
        print("wrote \(format.displayName) weights (\(source.parameters.count) parameters) to \(out)")
        if format == .keras && source.config.bias == .pytorch {
            print("note: Keras has one bias per gate unit, so each layer's bias_ih + bias_hh was written as their sum")
        }
    }
}
