import Foundation
import LSTMData
import LSTMIO
import LSTMKit
import XCTest

@testable import LSTMRun

/// A run stopped mid-epoch and resumed logs the same losses and ends with the same weights,
/// bit for bit, as a run that never stopped.
final class ResumeTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lstm-resume-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func config(
        _ run: String, extra: String = "", validation: String = "{every: 4}", checkpointEvery: Int = 3,
        training: String = ""
    ) throws -> RunConfig {
        let data = dir.appendingPathComponent("adding.h5").path
        let text = """
            model: {hidden_size: 6, num_layers: 2, dropout: 0.2, head: last}
            loss: mse
            data:
              file: \(data)
              generate: {task: adding, steps: 5, train: 44, val: 8, test: 8, seed: 3}
              batch_size: 8
            optimizer: {name: adam, lr: 0.01}
            schedule: {name: cosine, t_max: 30, warmup_steps: 3}
            training: {steps: 14, clip_norm: 0.5\(training)}
            validation: \(validation)
            checkpoint: {dir: \(dir.appendingPathComponent(run).path), every: \(checkpointEvery), keep: 2}
            logging: {every: 1, progress: none}
            parallel: {shards: 2, workers: 2}
            seed: 5
            \(extra)
            """
        return try RunConfig.parse(text, path: dir.appendingPathComponent("\(run).yaml").path)
    }

    /// metrics.jsonl without the wall-clock fields.
    func losses(_ run: String) throws -> [String] {
        try MetricsRecord.read(dir.appendingPathComponent(run).appendingPathComponent("metrics.jsonl").path).map { r in
            var r = r
            r.wallTime = 0
            r.tokensPerSecond = nil
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            return String(decoding: try encoder.encode(r), as: UTF8.self)
        }
    }

    func finalWeights(_ run: String) throws -> [Float] {
        try Checkpoint.load(from: dir.appendingPathComponent(run).appendingPathComponent("latest.h5").path).parameters
    }

    func uninterrupted() throws -> ([String], [Float]) {
        let a = try TrainingRun(config: config("a"))
        let summary = try a.run()
        XCTAssertEqual(summary.steps, 14)
        return (try losses("a"), try finalWeights("a"))
    }

    func testKilledMidEpochAndResumedMatchesTheUninterruptedRunBitForBit() throws {
        let (referenceLosses, referenceWeights) = try uninterrupted()
        // 44 sequences / 8 = 6 minibatches per epoch: step 7 is the first of epoch 2.
        // Killed at step 7 without saving: the latest checkpoint is step 6, step 7 is redone.
        let b = try TrainingRun(config: config("b"))
        b.onStep = { report in if report.step == 7 { b.requestStop(saveCheckpoint: false) } }
        XCTAssertEqual(try b.run().steps, 7)
        let resumed = try TrainingRun.resume(directory: dir.appendingPathComponent("b").path)
        XCTAssertEqual(resumed.trainer.step, 6)
        XCTAssertEqual(try resumed.run().steps, 14)
        XCTAssertEqual(try losses("b"), referenceLosses)
        XCTAssertEqual(try finalWeights("b"), referenceWeights)
    }

    func testStopRequestSavesThatStepAndResumeContinuesExactly() throws {
        let (referenceLosses, referenceWeights) = try uninterrupted()
        // Stopped at step 10, mid-epoch 2 (6 minibatches per epoch), between checkpoints.
        let c = try TrainingRun(config: config("c"))
        c.onStep = { report in if report.step == 10 { c.requestStop() } }
        XCTAssertEqual(try c.run().steps, 10)
        let atStop = try finalWeights("c")
        XCTAssertNotEqual(atStop, referenceWeights)
        let resumed = try TrainingRun.resume(directory: dir.appendingPathComponent("c").path)
        XCTAssertEqual(resumed.trainer.step, 10)
        try resumed.run()
        XCTAssertEqual(try losses("c"), referenceLosses)
        XCTAssertEqual(try finalWeights("c"), referenceWeights)
    }

    func testAMovedRunDirectoryResumesInItsNewPlace() throws {
        let (referenceLosses, referenceWeights) = try uninterrupted()
        let m = try TrainingRun(config: config("m"))
        m.onStep = { report in if report.step == 10 { m.requestStop() } }
        XCTAssertEqual(try m.run().steps, 10)
        let moved = dir.appendingPathComponent("moved")
        try FileManager.default.moveItem(at: dir.appendingPathComponent("m"), to: moved)
        let resumed = try TrainingRun.resume(directory: moved.path)
        XCTAssertEqual(resumed.directory, moved.path)
        try resumed.run()
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("m").path))
        XCTAssertEqual(try losses("moved"), referenceLosses)
        XCTAssertEqual(try finalWeights("moved"), referenceWeights)
    }

    func testResumeBeforeTheFirstCheckpointStartsAgainFromTheSavedConfig() throws {
        let (referenceLosses, referenceWeights) = try uninterrupted()
        let k = try TrainingRun(config: config("k"))
        k.onStep = { report in if report.step == 2 { k.requestStop(saveCheckpoint: false) } }  // first checkpoint: 3
        XCTAssertEqual(try k.run().steps, 2)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("k/latest.h5").path))
        let again = try TrainingRun.resume(directory: dir.appendingPathComponent("k").path)
        XCTAssertFalse(again.resumedFromCheckpoint)
        XCTAssertEqual(again.trainer.step, 0)
        XCTAssertEqual(try again.run().steps, 14)
        XCTAssertEqual(try losses("k"), referenceLosses, "the killed attempt's records are gone")
        XCTAssertEqual(try finalWeights("k"), referenceWeights)
    }

    func testTrainingAgainInTheSameDirectoryStartsFreshMetricsAndCheckpoints() throws {
        let (referenceLosses, referenceWeights) = try uninterrupted()
        let t = try TrainingRun(config: config("t"))
        t.onStep = { report in if report.step == 5 { t.requestStop(saveCheckpoint: false) } }
        XCTAssertEqual(try t.run().steps, 5)
        XCTAssertThrowsError(try TrainingRun(config: config("t"))) { error in
            XCTAssertTrue("\(error)".contains("holds another run's checkpoints"), "\(error)")
        }
        let second = try TrainingRun(config: config("t"), overwrite: true)
        XCTAssertEqual(try second.run().steps, 14)
        XCTAssertEqual(try losses("t"), referenceLosses, "no record of the first attempt is kept")
        XCTAssertEqual(try finalWeights("t"), referenceWeights)
    }

    /// Validation at the end of each epoch (validation.every: 0) comes after the checkpoint of the
    /// epoch's last step: a run killed after that validation (one that is not a new best, so no
    /// checkpoint follows it) resumes from that checkpoint and must not log the validation twice.
    func testAValidationLoggedAfterTheCheckpointIsNotLoggedTwice() throws {
        func cfg(_ run: String) throws -> RunConfig {
            // min_delta 100: only the first validation is a "best" (and saves a checkpoint).
            try config(
                run, validation: "{every: 0}", checkpointEvery: 6,
                training: ", early_stopping: {metric: val_loss, patience: 100, min_delta: 100}")
        }
        try TrainingRun(config: cfg("v1")).run()
        let v2 = try TrainingRun(config: cfg("v2"))
        var stopAt: Int?
        v2.onValidation = { r in if r.step == 12 { stopAt = 12 } }
        v2.onStep = { r in if stopAt != nil && r.step == 13 { v2.requestStop(saveCheckpoint: false) } }
        XCTAssertEqual(try v2.run().steps, 13)
        XCTAssertEqual(try losses("v2").filter { $0.contains("\"step\":12,") && $0.contains("val_loss") }.count, 1)
        let resumed = try TrainingRun.resume(directory: dir.appendingPathComponent("v2").path)
        XCTAssertEqual(resumed.trainer.step, 12)
        try resumed.run()
        XCTAssertEqual(try losses("v2"), try losses("v1"))
        XCTAssertEqual(try finalWeights("v2"), try finalWeights("v1"))
    }

    func testResumingAFinishedRunLogsNothingTwice() throws {
        let (referenceLosses, referenceWeights) = try uninterrupted()
        let resumed = try TrainingRun.resume(directory: dir.appendingPathComponent("a").path)
        XCTAssertEqual(resumed.trainer.step, 14)
        try resumed.run()
        XCTAssertEqual(try losses("a"), referenceLosses)
        XCTAssertEqual(try finalWeights("a"), referenceWeights)
    }

    /// A stateful character stream (carried h and c across minibatches) resumes exactly too.
    func testStatefulStreamResumesWithItsCarriedState() throws {
        let data = dir.appendingPathComponent("text.h5").path
        let text = String(repeating: "the quick brown fox jumps over the lazy dog. ", count: 12)
        _ = try TextPreparer(valFraction: 0.1, testFraction: 0.1).prepare(text: text, to: data)
        func cfg(_ run: String) throws -> RunConfig {
            try RunConfig.parse(
                """
                model: {hidden_size: 5, num_layers: 2, embedding_size: 3}
                loss: cross_entropy
                data: {file: \(data), batch_size: 4, seq_length: 6, stream_mode: stateful}
                optimizer: {name: rmsprop, lr: 0.01, momentum: 0.5}
                training: {steps: 12}
                validation: {every: 5}
                checkpoint: {dir: \(dir.appendingPathComponent(run).path), every: 4}
                logging: {every: 1, progress: none}
                parallel: {shards: 2, workers: 1}
                """, path: "\(run).yaml")
        }
        try TrainingRun(config: cfg("s1")).run()
        let s2 = try TrainingRun(config: cfg("s2"))
        s2.onStep = { r in if r.step == 6 { s2.requestStop(saveCheckpoint: false) } }
        try s2.run()
        let resumed = try TrainingRun.resume(directory: dir.appendingPathComponent("s2").path)
        XCTAssertEqual(resumed.trainer.step, 5)  // the best checkpoint written at the step-5 validation
        try resumed.run()
        XCTAssertEqual(try losses("s2"), try losses("s1"))
        XCTAssertEqual(try finalWeights("s2"), try finalWeights("s1"))
    }
}

final class StatefulStreamRuleTests: XCTestCase {
    func testBidirectionalModelsCannotCarryStateAlongAStream() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lstm-bidi-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = dir.appendingPathComponent("t.h5").path
        _ = try TextPreparer().prepare(text: String(repeating: "abc def ghi ", count: 40), to: data)
        let text = """
            model: {hidden_size: 4, bidirectional: true}
            data: {file: \(data), batch_size: 2, seq_length: 5}
            checkpoint: {dir: \(dir.appendingPathComponent("run").path)}
            """
        XCTAssertThrowsError(try TrainingRun(config: RunConfig.parse(text, path: "bidi.yaml"))) { e in
            XCTAssertTrue("\(e)".hasPrefix("bidi.yaml:2:7: data.stream_mode: stateful lanes"), "\(e)")
        }
        XCTAssertFalse(
            FileManager.default.fileExists(atPath: dir.appendingPathComponent("run").path), "nothing written")
        let windows = try TrainingRun(
            config: RunConfig.parse(
                text + "\n", path: "bidi.yaml",
                overrides: ["data.stream_mode=windows"]))
        XCTAssertTrue(windows.model.bidirectional)
    }
}
