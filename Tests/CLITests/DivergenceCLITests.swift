import Foundation
import XCTest

/// A run whose loss turns NaN (lr = 1e308) never crashes: the non-finite guard skips the steps,
/// checkpoints and metrics are written with non-finite figures as "nan", and the run ends normally.
final class DivergenceCLITests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws { dir = try makeTemporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testADivergingRunSkipsStepsAndWritesCheckpointsAndMetricsWithNaN() throws {
        let run = dir.appendingPathComponent("run")
        let adding = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("configs/adding.yaml").path
        let r = try lstm([
            "train", adding,
            "--set", "data.file=\(dir.appendingPathComponent("a.h5").path)",
            "--set", "data.generate={task: adding, steps: 10, train: 256, val: 64, test: 64, seed: 1}",
            "--set", "optimizer.lr=1e308", "--set", "training.steps=30", "--set", "validation.every=10",
            "--set", "checkpoint.dir=\(run.path)", "--set", "checkpoint.every=10", "--set", "logging.every=10",
            "--set", "logging.progress=plain"
        ])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertFalse(r.output.contains("EncodingError"), r.output)
        XCTAssertTrue(r.output.contains("non-finite steps skipped"), r.output)
        let metrics = try String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        XCTAssertTrue(metrics.contains("\"val_loss\":\"nan\""), metrics)
        XCTAssertTrue(FileManager.default.fileExists(atPath: run.appendingPathComponent("latest.h5").path))
    }
}
