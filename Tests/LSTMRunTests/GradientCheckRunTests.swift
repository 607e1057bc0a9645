import Foundation
import LSTMData
import LSTMKit
import XCTest

@testable import LSTMRun

/// `GradientCheck` on a config's own model: it passes on correct gradients, catches a wrong one,
/// samples big tensors, and builds the same model `lstm train` would.
final class GradientCheckRunTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lstm-gradcheck-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func config(_ body: String) throws -> RunConfig {
        let data = dir.appendingPathComponent("adding.h5").path
        return try RunConfig.parse(
            """
            data: {file: \(data), generate: {task: adding, steps: 6, train: 8, val: 2, test: 2}}
            checkpoint: {dir: \(dir.appendingPathComponent("run").path)}
            \(body)
            """, path: "job.yaml")
    }

    func testTheConfigsModelPassesWithEveryTensorAndTheInputChecked() throws {
        let report = try GradientCheck.run(
            config: try config("model: {hidden_size: 3, num_layers: 2, head: last}"),
            sequences: 2, steps: 4, tolerance: 1e-6, maxPerTensor: 1000)
        XCTAssertTrue(report.passed, report.tensors.map(\.line).joined(separator: "\n"))
        XCTAssertEqual(report.tensors.map(\.name), ParameterLayout(report.model).entries.map(\.name) + ["input"])
        XCTAssertEqual(report.tensors.last?.shape, [2, 4, 2])
        XCTAssertTrue(report.tensors.allSatisfy { $0.checked == $0.total })
        XCTAssertEqual(report.model.inputWidth, 2, "sizes come from the data, as in training")
        XCTAssertLessThan(report.worst, 1e-6)
    }

    func testBigTensorsAreCheckedOnARandomSubset() throws {
        let report = try GradientCheck.run(
            config: try config("model: {hidden_size: 4, head: last}"),
            sequences: 1, steps: 3, maxPerTensor: 5)
        let hh = try XCTUnwrap(report.tensors.first { $0.name == "lstm.weight_hh_l0" })
        XCTAssertEqual(hh.checked, 5)
        XCTAssertEqual(hh.total, 64)
        XCTAssertEqual(report.tensors.first { $0.name == "head.bias" }?.checked, 1)
        XCTAssertTrue(report.passed)
    }

    func testAWrongGradientFails() throws {
        let model = ModelConfig(input: .features(size: 2), hiddenSize: 3, outputSize: 1, head: .last, loss: .mse)
        let network = try LSTMNetwork<Double>(config: model)
        let parameters = ParameterSet<Double>(config: model, seed: 4)
        var rng = RandomSource(seed: 5)
        let batch = Minibatch<Double>(
            batchSize: 2, steps: 3, inputs: .features((0..<12).map { _ in rng.normal() }),
            targets: .values([0.5, -0.5]))
        var analytic = GradientCheck.analyticGradients(network: network, parameters: parameters, batch: batch)
        let right = GradientCheck.compare(
            network: network, parameters: parameters, batch: batch,
            analytic: analytic.parameters, inputGradient: analytic.input,
            tolerance: 1e-6, maxPerTensor: 100)
        XCTAssertTrue(right.allSatisfy(\.passed), right.map(\.line).joined(separator: "\n"))

        let bias = analytic.parameters.tensor("lstm.bias_l0")!
        bias[5] *= 1.01  // one element 1 % off
        analytic.input![0] = -analytic.input![0] + 1e-3
        let wrong = GradientCheck.compare(
            network: network, parameters: parameters, batch: batch,
            analytic: analytic.parameters, inputGradient: analytic.input,
            tolerance: 1e-6, maxPerTensor: 100)
        XCTAssertEqual(wrong.filter { !$0.passed }.map(\.name), ["lstm.bias_l0", "input"])
        XCTAssertTrue(wrong.first { $0.name == "lstm.bias_l0" }!.line.hasSuffix("FAIL"))
    }

    func testRelativeErrorIsTheMaxDifferenceOverTheMaxMagnitude() {
        XCTAssertEqual(relativeError([1, 2], [1, 2.5]), 0.5 / 2.5, accuracy: 1e-15)
        XCTAssertEqual(relativeError([0, 0], [0, 0]), 0)
        XCTAssertTrue(relativeError([.nan], [1]).isNaN)
    }

    func testANaNTensorMakesTheWorstErrorNaNAndTheReportFail() {
        func tensor(_ name: String, _ err: Double) -> TensorGradientCheck {
            TensorGradientCheck(
                name: name, shape: [2], checked: 2, total: 2, maxRelativeError: err, passed: err <= 1e-6)
        }
        for order in [["a", "b", "c"], ["c", "b", "a"], ["b", "a", "c"]] {
            let errors = ["a": 1e-9, "b": Double.nan, "c": 1e-8]
            let report = GradientCheckReport(
                model: ModelConfig(input: .features(size: 1), hiddenSize: 1, outputSize: 1, loss: .mse),
                source: "test", tolerance: 1e-6,
                tensors: order.map { tensor($0, errors[$0]!) })
            XCTAssertTrue(report.worst.isNaN, "\(order): \(report.worst)")
            XCTAssertFalse(report.passed, "\(order)")
        }
    }

    func testFirstSequencesAreCutToTheRequestedSteps() throws {
        let cfg = try config("")
        _ = try GradientCheck.run(config: cfg, sequences: 1, steps: 1)  // generates the data
        let file = try DatasetFile(path: cfg.data.file)
        let b = try GradientCheck.firstSequences(file: file, split: "train", sequences: 3, steps: 4)
        XCTAssertEqual(b.batchSize, 3)
        XCTAssertEqual(b.steps, 4)
        guard case .features(let x) = b.inputs, case .values(let y)? = b.targets else { return XCTFail("kinds") }
        XCTAssertEqual(x.count, 3 * 4 * 2)
        XCTAssertEqual(y.count, 3, "one target per sequence for the last head")
        let loader = try BatchLoader(file: file, split: "train", batchSize: 3, shuffle: false)
        guard case .features(let full)? = try loader.next().map(\.inputs) else { return XCTFail("features") }
        XCTAssertEqual(x[0..<8].map(Float.init), Array(full[0..<8]), "the first steps of sequence 0, in file order")
    }
}
