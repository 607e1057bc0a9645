import Foundation
import HDF5Kit
import XCTest

/// A learning rate of 1e308 turns the weights infinite in one update although loss and gradient are
/// finite. The non-finite guard checks the updated weights and optimizer state too: under `skip`
/// each such update is undone and counted, and the run ends normally with finite weights and
/// metrics; under `stop` it ends with a clear error naming the step. Either way no NaN reaches
/// best.h5, latest.h5 or metrics.jsonl.
final class DivergenceCLITests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws { dir = try makeTemporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    private func train(_ run: URL, _ extra: [String]) throws -> CLIResult {
        let adding = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("configs/adding.yaml").path
        return try lstm(
            [
                "train", adding,
                "--set", "data.file=\(dir.appendingPathComponent("a.h5").path)",
                "--set", "data.generate={task: adding, steps: 10, train: 256, val: 64, test: 64, seed: 1}",
                "--set", "model.hidden_size=8", "--set", "optimizer.lr=1e308", "--set", "training.steps=30", "--set",
                "validation.every=10",
                "--set", "checkpoint.dir=\(run.path)", "--set", "checkpoint.every=10", "--set", "logging.every=10",
                "--set", "logging.progress=plain"
            ] + extra)
    }

    func testUnderSkipEveryOverflowingUpdateIsUndoneAndTheFilesStayFinite() throws {
        let run = dir.appendingPathComponent("run")
        let r = try train(run, ["--set", "training.max_nonfinite_steps=100"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertFalse(r.output.contains("EncodingError"), r.output)
        XCTAssertTrue(r.output.contains("30 non-finite steps skipped"), r.output)
        let metrics = try String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        XCTAssertFalse(metrics.contains("nan") || metrics.contains("inf"), metrics)
        XCTAssertTrue(metrics.contains("\"val_loss\":"), metrics)
        for name in ["latest.h5", "best.h5"] {
            let values = try parameters(run.appendingPathComponent(name))
            XCTAssertFalse(values.isEmpty)
            XCTAssertTrue(values.allSatisfy(\.isFinite), "\(name) holds non-finite weights")
        }
    }

    func testUnderStopTheRunEndsWithTheStepAndWritesNoPoisonedFile() throws {
        let run = dir.appendingPathComponent("run")
        let r = try train(run, ["--set", "training.nan_policy=stop"])
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.stderr.contains("the update at step 1 made the weights"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: run.appendingPathComponent("latest.h5").path))
        let metrics = (try? String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8)) ?? ""
        XCTAssertFalse(metrics.contains("nan") || metrics.contains("inf"), metrics)
    }

    /// Every parameter tensor of a checkpoint, read with HDF5Kit (so the file must parse).
    private func parameters(_ path: URL) throws -> [Float] {
        let file = try HDF5File.open(path.path)
        defer { try? file.close() }
        let group = try file.root.openGroup("parameters")
        return try group.memberNames().flatMap { try group.openDataset($0).read(as: Float.self) }
    }
}
