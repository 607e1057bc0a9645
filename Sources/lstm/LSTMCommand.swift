import ArgumentParser
import LSTMKit

/// `lstm`: train, inspect and hand on LSTM models from the command line.
@main
struct LSTMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lstm",
        abstract: "A multithreaded, batch-parallel LSTM training runtime.",
        subcommands: [
            Demo.self,
        ])
}
