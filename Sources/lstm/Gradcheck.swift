import ArgumentParser
import Foundation
import LSTMKit
import LSTMRun

/// `lstm gradcheck CONFIG.yaml`: the backward pass checked by central differences on the config's model.
struct Gradcheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the backward pass against central differences on a config's own model.",
        discussion: """
            Builds the model `lstm train` would build from the config (sizes inferred from its \
            data, same initialisation and seed) in Double precision, takes the first --sequences \
            sequences of the train split cut to --steps steps (windows of --steps tokens for text), \
            and compares the gradient of every parameter tensor, and of the input for feature \
            models, with central differences (ε = 1e-5). Tensors with more than --max-per-tensor \
            elements are checked on a random subset of that many. Prints one line per tensor with \
            its maximum relative error, max|a−n| / max(|a|,|n|), and PASS or FAIL; exits non-zero \
            on any FAIL. Dropout is off (the model is checked as it evaluates).

            Examples:
              lstm gradcheck configs/adding.yaml
              lstm gradcheck configs/adding.yaml --set model.num_layers=2 --steps 8
            """)

    @Argument(help: "The YAML config file.") var config: String
    @Option(name: .customLong("set"), help: "Override a key: section.key=value (repeatable).") var overrides: [String] =
        []
    @Option(help: "Sequences in the checked minibatch.") var sequences = 2
    @Option(help: "Steps per sequence (at most the data's T).") var steps = 5
    @Option(help: "Largest maximum relative error that passes.") var tolerance = 1e-6
    @Option(help: "Check at most this many random elements per tensor.") var maxPerTensor = 20

    func run() throws {
        let cfg = try RunConfig.load(path: config, overrides: overrides)
        let report = try GradientCheck.run(
            config: cfg, sequences: sequences, steps: steps, tolerance: tolerance,
            maxPerTensor: maxPerTensor)
        print("gradcheck \(config): \(report.modelSummary)")
        print("on \(report.source), in Double, no dropout, ε = \(CentralDifferences.defaultEpsilon)")
        if cfg.training.precision != .float32 {
            print(
                "training.precision: \(cfg.training.precision) is not what is checked here: it rounds the "
                    + "LSTM layers' GEMM operands during training only (docs/config.md, Mixed precision)")
        }
        for tensor in report.tensors { print(tensor.line) }
        let failed = report.tensors.filter { !$0.passed }
        if failed.isEmpty {
            print(
                String(
                    format: "PASS: %d tensors, max relative error %.3e ≤ tolerance %.1e",
                    report.tensors.count, report.worst, report.tolerance))
        } else {
            throw RunError(
                String(
                    format: "gradient check failed for %d of %d tensors (%@): max relative error %.3e > tolerance %.1e",
                    failed.count, report.tensors.count, failed.map(\.name).joined(separator: ", "),
                    report.worst, report.tolerance))
        }
    }
}
