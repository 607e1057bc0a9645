import Foundation
import LSTMKit
import XCTest

@testable import LSTMRun

/// The summary `lstm train` prints from: steps and the epochs the run reached.
final class RunSummaryTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lstm-summary-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// 44 sequences in minibatches of 8: 6 steps per epoch.
    func summary(steps: Int) throws -> RunSummary {
        let text = """
            model: {hidden_size: 4, head: last}
            loss: mse
            data:
              file: \(dir.appendingPathComponent("adding.h5").path)
              generate: {task: adding, steps: 4, train: 44, val: 8, test: 8, seed: 3}
              batch_size: 8
              val_split: none
            training: {steps: \(steps)}
            checkpoint: {dir: \(dir.appendingPathComponent("run-\(steps)").path)}
            logging: {progress: none}
            """
        return try TrainingRun(config: RunConfig.parse(text, path: dir.appendingPathComponent("s.yaml").path)).run()
    }

    func testEpochsOfARunEndingMidEpochAreAFraction() throws {
        let s = try summary(steps: 14)  // two epochs and 2 of the third's 6 steps
        XCTAssertEqual(s.steps, 14)
        XCTAssertEqual(s.epochs, 2.3333)
        XCTAssertEqual(Epochs.text(s.epochs), "2.33")
    }

    func testEpochsOfARunEndingOnAnEpochBoundaryCountOnlyFinishedEpochs() throws {
        XCTAssertEqual(try summary(steps: 12).epochs, 2)
    }
}
