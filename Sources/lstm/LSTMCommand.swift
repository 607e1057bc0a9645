import ArgumentParser
import Foundation
import LSTMBuildInfo
import LSTMData
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
}

/// What `lstm --version` prints: the version and the commit built from, the OpenBLAS kernel in use
/// and its build configuration, and the HDF5 library.
let versionText = """
    lstm \(RunProvenance.currentVersion) (commit \(BuildInfo.commit))
    OpenBLAS kernel \(BLASThreads.coreName) (\(BLASThreads.config.trimmingCharacters(in: .whitespaces)))
    HDF5 \(LSTMData.hdf5Version)
    """
