import ArgumentParser
import Foundation
import LSTMData
import LSTMFiles
import LSTMIO
import LSTMKit

/// `lstm import`: turns a PyTorch or Keras weights file into a checkpoint (no optimizer state).
struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read a PyTorch or Keras weights file into a checkpoint (weights only).",
        discussion: """
            The model configuration is read from the file's root attributes when present (files \
            written by `lstm export` have them). A Keras file saved by Keras itself has none: sizes \
            are then inferred from the tensor shapes and --head and --loss must be given \
            (--activation defaults to the loss's usual one). Options given always override the \
            file. PyTorch's bias_ih and bias_hh are summed into the model's single bias, or kept \
            as they are with --bias pytorch (nn.LSTM's two-bias form). \
            Without --format the format is detected; a checkpoint is accepted too.

            Examples:
              lstm import model.pt.h5 --format pytorch --out ckpt/imported.h5
              lstm import m.weights.h5 --format keras --head last --loss mse --out c.h5
              lstm import state_dict.h5 --head sequence --loss mse --bias pytorch --out c.h5
            """)

    @Argument(help: "The weights file to read.") var weights: String
    @Option(help: "Input format: pytorch, keras or checkpoint (default: detect).") var format: WeightsFormat?
    @Option(help: "The checkpoint to write (written atomically).") var out: String
    @Option(help: "Head: sequence or last (overrides the file).") var head: Head?
    @Option(help: "Output activation F: identity, softmax, sigmoid or tanh (overrides the file).")
    var activation: OutputActivation?
    @Option(help: "Loss: cross_entropy, mse or bce (overrides the file).") var loss: LossKind?
    @Option(help: "Bias form: single (sum PyTorch's bias_ih + bias_hh) or pytorch (keep both) (overrides the file).")
    var bias: BiasForm?

    func run() throws {
        try AtomicFile.checkOutput(out, isNotAnyOf: [("weights file", weights)], role: .checkpoint)
        let options = WeightsImportOptions(head: head, activation: activation, loss: loss, bias: bias)
        let checkpoint = try WeightsImporter.read(weights, format: format, options: options)
        try checkpoint.save(to: out)
        print("wrote checkpoint (\(checkpoint.parameters.count) parameters, no optimizer state) to \(out)")
    }
}
