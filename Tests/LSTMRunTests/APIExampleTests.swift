import Foundation
import LSTMData
import LSTMKit
import LSTMRun
import XCTest

/// The README's Swift API examples, kept compiling and working.
final class APIExampleTests: XCTestCase {
    func testLibraryExampleLearnsTheAddingProblem() throws {
        // As in README.md, at a smaller size for a debug build.
        let config = ModelConfig(input: .features(size: 2), hiddenSize: 8, outputSize: 1, head: .last, loss: .mse)
        let network = try LSTMNetwork<Float>(config: config)
        let parameters = ParameterSet<Float>(config: config, seed: 1)
        let trainer = Trainer(
            network: network, parameters: parameters,
            optimizer: Adam<Float>(layout: parameters.layout, learningRate: 0.01),
            maxBatch: 16, maxSteps: 6)
        let data = AddingProblem.generate(count: 16 * 40, steps: 6, seed: 2)
        var losses: [Double] = []
        for step in 0..<40 {
            let report = try trainer.train(data.minibatch((step * 16)..<(step * 16 + 16)))
            losses.append(report.loss)
        }
        let first = losses.prefix(5).reduce(0, +) / 5
        let last = losses.suffix(5).reduce(0, +) / 5
        XCTAssertLessThan(last, first * 0.7, "training should lower the loss: \(first) → \(last)")
    }

    func testConfigExampleRunsWithAPerStepCallback() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lstm-api-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let run = try TrainingRun(
            config: RunConfig.load(
                path: root.appendingPathComponent("configs/adding.yaml").path,
                overrides: [
                    "training.steps=6", "model.hidden_size=4", "data.batch_size=8",
                    "data.file=\(dir.path)/adding.h5", "data.generate.steps=6", "data.generate.train=32",
                    "data.generate.val=8", "data.generate.test=8", "checkpoint.dir=\(dir.path)/run",
                    "logging.progress=none", "validation.every=3"
                ]))
        var seen: [Int] = []
        run.onStep = { report in seen.append(report.step) }
        let summary = try run.run()
        XCTAssertEqual(seen, [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(summary.steps, 6)
        XCTAssertNotNil(summary.lastValidation?.valLoss)
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(dir.path)/run/latest.h5"))
    }
}
