import ArgumentParser
import Foundation
import LSTMFiles
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

    /// Every command: SIGINT/SIGTERM remove the temporary files of unfinished writes and exit
    /// with 128 + the signal (`Interruption`; train and resume stop gracefully on the first).
    static func main() {
        if let problem = FileDescriptors.ensureMinimum() {  // before Dispatch needs any
            FileHandle.standardError.write(Data("Error: \(problem)\n".utf8))
            Foundation.exit(1)
        }
        Allocation.onFailure = { message in  // out of memory: say so, leave no temporary file
            FileHandle.standardError.write(Data("Error: \(message)\n".utf8))
            TemporaryFiles.removeAllAndExit(1)
        }
        Interruption.install()
        ProcessPriority.applyToAllThreads()  // `nice lstm …` reaches libdispatch's threads too
        main(nil)
    }
}
