import ArgumentParser
import Foundation
import LSTMData
import LSTMFiles
import LSTMIO
import LSTMKit

/// `lstm import`: turns a PyTorch, safetensors or Keras weights file into a checkpoint (no optimizer state).
struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read a PyTorch, safetensors or Keras weights file into a checkpoint (weights only).",
        discussion: """
            Reads PyTorch state_dicts saved as HDF5 (*.pt.h5) or safetensors, Keras 3 \
            *.weights.h5 files (a compiled model's /optimizer group is ignored) and .keras \
            archives, and checkpoints. A pickled torch.save file is refused with the one-line \
            command that converts it to safetensors. The model configuration is read from the \
            file's attributes when present (files written by `lstm export` have them); otherwise \
            sizes are inferred from the tensor shapes and --head and --loss must be given (a \
            .keras archive's config.json supplies them; --activation defaults to the loss's usual \
            one). Options given always override the file. --rename FROM=TO maps tensor names \
            first (fc=head turns fc.weight into head.weight; repeatable). PyTorch's bias_ih and \
            bias_hh are summed into the model's single bias, or kept as they are with --bias \
            pytorch (nn.LSTM's two-bias form). Without --format the format is detected.

            Examples:
              lstm import model.pt.h5 --out ckpt/imported.h5
              lstm import model.safetensors --head last --loss cross_entropy --rename fc=head --out c.h5
              lstm import m.weights.h5 --head last --loss mse --out c.h5
              lstm import model.keras --out c.h5
              lstm import state_dict.h5 --head sequence --loss mse --bias pytorch --out c.h5
            """)

    @Argument(help: "The weights file to read.") var weights: String
    @Option(help: "Input format (default: detect).") var format: ImportFormat?
    @Option(help: "The checkpoint to write (written atomically).") var out: String
    @Option(help: "Head: sequence or last (overrides the file).") var head: Head?
    @Option(help: "Output activation F: identity, softmax, sigmoid or tanh (overrides the file).")
    var activation: OutputActivation?
    @Option(help: "Loss: cross_entropy, mse or bce (overrides the file).") var loss: LossKind?
    @Option(help: "Bias form: single (sum PyTorch's bias_ih + bias_hh) or pytorch (keep both) (overrides the file).")
    var bias: BiasForm?
    @Option(
        name: .customLong("rename"),
        help: ArgumentHelp("Rename tensors before reading: FROM=TO, e.g. fc=head (repeatable).", valueName: "from=to"))
    var renames: [WeightsRename] = []
    @Flag(help: "Accept weights that are not finite (NaN, ±inf), e.g. to inspect them; refused by default.")
    var allowNonFinite = false

    func run() throws {
        try AtomicFile.checkOutput(out, isNotAnyOf: [("weights file", weights)], role: .checkpoint)
        let options = WeightsImportOptions(
            head: head, activation: activation, loss: loss, bias: bias, allowNonFinite: allowNonFinite,
            renames: renames)
        let (checkpoint, notes) = try WeightsImporter.readNoting(weights, format: format?.format, options: options)
        for note in notes { printNote(note) }
        try checkpoint.save(to: out)
        print("wrote checkpoint (\(checkpoint.parameters.count) parameters, no optimizer state) to \(out)")
    }
}
