import ArgumentParser
import Foundation
import LSTMKit

/// `lstm`: train, inspect and hand on LSTM models from the command line.
@main
struct LSTMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lstm",
        abstract: "A multithreaded, batch-parallel LSTM training runtime.",
        subcommands: [
            Train.self, Resume.self,
            Demo.self,
            Prepare.self,
            Export.self, Import.self, Inspect.self,
            Plot.self,
            Evaluate.self, Predict.self, Sample.self, Gradcheck.self, Bench.self,
        ])
}
