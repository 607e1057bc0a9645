import ArgumentParser
import Foundation
import LSTMFiles
import LSTMRun

/// `lstm plot RUN_DIR --out loss.svg`: train and validation curves as an SVG.
struct Plot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw a run's train and validation loss (and accuracy) as an SVG.",
        discussion: """
            Example:
              lstm plot runs/adding --out adding-loss.svg
            """)

    @Argument(help: "The run directory holding metrics.jsonl.") var directory: String
    @Option(help: "The SVG to write.") var out: String?

    func run() throws {
        let metrics = (directory as NSString).appendingPathComponent("metrics.jsonl")
        guard FileManager.default.fileExists(atPath: metrics) else {
            throw RunError("\(metrics) does not exist: is \(directory) a run directory?")
        }
        let records = try MetricsRecord.read(metrics)
        let path = out ?? (directory as NSString).appendingPathComponent("loss.svg")
        try AtomicFile.write(LossPlot.svg(records, title: directory), to: path, role: .run)
        print("wrote \(path) (\(records.count) records)")
    }
}
