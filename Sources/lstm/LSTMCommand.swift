import ArgumentParser
import Foundation
import LSTMBuildInfo
import LSTMData
import LSTMFiles
import LSTMKit
import LSTMRun

/// `lstm`: train, inspect and hand on LSTM models from the command line.
@main
struct LSTMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lstm",
        abstract: "A multithreaded, batch-parallel LSTM training runtime.",
        discussion: "Start with: lstm train configs/adding.yaml (every key in docs/config.md).",
        version: versionText,
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

/// What `lstm --version` prints: the version and the commit built from, the OpenBLAS kernel in use
/// and its build configuration, and the HDF5 library.
let versionText = """
    lstm \(RunProvenance.currentVersion) (commit \(BuildInfo.commit))
    OpenBLAS kernel \(BLASThreads.coreName) (\(BLASThreads.config.trimmingCharacters(in: .whitespaces)))
    HDF5 \(LSTMData.hdf5Version)
    """
