import ArgumentParser
import Foundation
import LSTMData
import LSTMFiles
import LSTMIO

/// `lstm export`: writes a checkpoint's weights as PyTorch, Keras, safetensors or ONNX.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a checkpoint's weights as PyTorch (HDF5), Keras, safetensors or ONNX.",
        discussion: """
            The format follows --out's suffix unless --format is given: *.pt.h5 or *.h5 \
            pytorch (one HDF5 dataset per key of the equivalent PyTorch model's state_dict(); \
            --format torch is the same), *.weights.h5 keras (Keras 3 loads weights only from such \
            names), *.safetensors (the state_dict keys, for safetensors.torch.load_file) and *.onnx \
            (ONNX's LSTM operator plus the head, for onnxruntime and other runtimes). A --format \
            that disagrees with the suffix is refused. The model configuration is stored in the \
            file (root attributes, __metadata__ or metadata_props). See docs/weights.md for the \
            models to load into. The input may also be a PyTorch, Keras or safetensors file.

            Examples:
              lstm export runs/ckpt/best.h5 --out model.pt.h5
              lstm export runs/ckpt/best.h5 --out model.weights.h5
              lstm export runs/ckpt/best.h5 --out model.safetensors
              lstm export runs/ckpt/best.h5 --out model.onnx
            """)

    @Argument(help: "The checkpoint (or weights file) to read.") var checkpoint: String
    @Option(help: "Output format (default: from --out's suffix).") var format: ExportFormat?
    @Option(help: "The file to write (written atomically).") var out: String
    @Flag(help: "Accept weights that are not finite (NaN, ±inf), e.g. to inspect them; refused by default.")
    var allowNonFinite = false

    func run() throws {
        let format = try WeightsFormat.forExport(to: out, format: self.format?.format)
        try AtomicFile.checkOutput(out, isNotAnyOf: [("checkpoint", checkpoint)], role: .weights)
        let (source, notes) = try WeightsImporter.readNoting(
            checkpoint, options: WeightsImportOptions(allowNonFinite: allowNonFinite))
        for note in notes { printNote(note) }
        try WeightsExporter.export(source, format: format, to: out)
        let what = format == .onnx ? "model" : "weights"
        print("wrote \(format.displayName) \(what) (\(source.parameters.count) parameters) to \(out)")
        if format == .keras && source.config.bias == .pytorch {
            print("note: Keras has one bias per gate unit, so each layer's bias_ih + bias_hh was written as their sum")
        }
    }
}

/// Prints a note about an input file to stderr (once per note), so stdout stays the result.
func printNote(_ note: String) {
    FileHandle.standardError.write(Data("note: \(note)\n".utf8))
}
