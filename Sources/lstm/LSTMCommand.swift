import ArgumentParser
import Foundation
import LSTMKit

/// `lstm`: train, inspect and hand on LSTM models from the command line.
@main
struct LSTMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lstm",
        abstract: "A multithreaded, batch-parallel LSTM training runtime.",
        discussion: "Start with: lstm train configs/adding.yaml (every key in docs/config.md).",
        subcommands: [
            Train.self, Resume.self, Evaluate.self, Predict.self, Sample.self,
            Prepare.self, Export.self, Import.self, Inspect.self,
            Gradcheck.self, Plot.self, Bench.self
        ])
}
