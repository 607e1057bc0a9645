import Foundation
import LSTMData
import LSTMIO
import LSTMKit
import XCTest

@testable import LSTMRun

/// A non-finite loss or gradient is caught before the update: `skip` drops the step and goes
/// on, `stop` ends the run with the last good checkpoint intact; no weight ever turns non-finite.
final class NonFiniteGuardTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lstm-nan-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        // 32 sequences of 4 steps × 2 features; sequence 13 has a finite target so large (3e38)
        // that its squared error overflows to inf, so with batch 8 and no shuffling the second
        // minibatch of every epoch is poisoned. (A NaN in the data itself is refused by dataset
        // validation, naming where it is, before training starts.)
        var rng = RandomSource(seed: 1)
        let x = (0..<(32 * 4 * 2)).map { _ in Float(rng.uniform(-1, 1)) }
        var y = (0..<32).map { _ in Float(rng.uniform(0, 1)) }
        let clean = y
        y[13] = 3e38
        let w = try DatasetWriter(path: dir.appendingPathComponent("nan.h5").path)
        for split in ["train", "val"] {
            try w.writeSequences(
                split: split, count: 32, steps: 4,
                inputs: .features(x, width: 2),
                targets: .valuesPerSequence(split == "train" ? y : clean, width: 1))
        }
        _ = try w.commit()
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func config(_ policy: String) throws -> RunConfig {
        try RunConfig.parse(
            """
            model: {hidden_size: 4, head: last}
            loss: mse
            data: {file: \(dir.appendingPathComponent("nan.h5").path), batch_size: 8, shuffle: false}
            training: {steps: 8, nan_policy: \(policy)}
            validation: {every: 4}
            checkpoint: {dir: \(dir.appendingPathComponent(policy).path), every: 1, keep: 20}
            logging: {every: 1, progress: none}
            """, path: "\(policy).yaml")
    }

    func checkpointsAreFinite(_ policy: String) throws -> [Int] {
        let store = try CheckpointStore(directory: dir.appendingPathComponent(policy).path, keepLast: 20)
        let steps = try store.steps()
        for s in steps {
            let c = try Checkpoint.load(from: store.path(forStep: s))
            XCTAssertTrue(c.parameters.allSatisfy(\.isFinite), "checkpoint of step \(s) holds a non-finite weight")
        }
        return steps
    }

    func testSkipPolicyDropsThePoisonedStepsAndGoesOn() throws {
        let run = try TrainingRun(config: config("skip"))
        var skipped: [Int] = []
        run.onStep = { if $0.skipped { skipped.append($0.step) } }
        let summary = try run.run()
        XCTAssertEqual(summary.steps, 8)
        XCTAssertEqual(skipped, [2, 6])  // the second minibatch of each epoch (4 per epoch)
        XCTAssertEqual(summary.skippedSteps, 2)
        XCTAssertTrue(run.parameters.storage.toArray().allSatisfy(\.isFinite))
        XCTAssertEqual(try checkpointsAreFinite("skip").count, 8)
        let records = try MetricsRecord.read(dir.appendingPathComponent("skip/metrics.jsonl").path)
        XCTAssertEqual(records.last?.skippedSteps, 2)
    }

    func testStopPolicyEndsTheRunAndKeepsTheLastGoodCheckpoint() throws {
        let run = try TrainingRun(config: config("stop"))
        var weightsBefore: [Float] = []
        run.onStep = { _ in weightsBefore = run.parameters.storage.toArray() }
        XCTAssertThrowsError(try run.run()) { error in
            guard case TrainingError.nonFinite(let step, _, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(step, 2)
            XCTAssertTrue("\(error)".contains("weights are unchanged"))
        }
        XCTAssertEqual(run.parameters.storage.toArray(), weightsBefore, "the bad update must not be applied")
        XCTAssertEqual(try checkpointsAreFinite("stop"), [1])
        let last = try Checkpoint.load(from: dir.appendingPathComponent("stop/latest.h5").path)
        XCTAssertEqual(last.globalStep, 1)
        XCTAssertEqual(last.parameters, weightsBefore)
    }
}
