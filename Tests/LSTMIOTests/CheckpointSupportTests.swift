import Foundation
import HDF5Kit
import LSTMFiles
import LSTMKit
import XCTest

@testable import LSTMIO

// Shared fixtures for the checkpoint, weights and interop tests (no test cases here).

enum CheckpointFixtures {
    /// A token model: V=7, E=3, two layers of H=4, O=5 classes, sequence head.
    static let tokens = ModelConfig(
        input: .tokens(vocabulary: 7, embedding: 3), hiddenSize: 4, numLayers: 2,
        outputSize: 5, head: .sequence, loss: .crossEntropy)
    /// A feature model: I=3, two layers of H=4, O=2, last head, MSE.
    static let features = ModelConfig(
        input: .features(size: 3), hiddenSize: 4, numLayers: 2, outputSize: 2,
        head: .last, loss: .mse)

    /// A fresh, empty temporary directory removed when the test ends.
    static func temporaryDirectory(_ test: XCTestCase) throws -> String {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("lstm-ckpt-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url.path
    }

    /// Random parameters for `config` (seeded), as a ParameterSet.
    static func parameters(_ config: ModelConfig, seed: UInt64 = 7) -> ParameterSet<Float> {
        ParameterSet<Float>(config: config, seed: seed)
    }

    /// A checkpoint with every field set, including awkward float values in the arena and
    /// optimizer state (−0, NaN with a payload, infinities, subnormals).
    static func fullCheckpoint(_ config: ModelConfig = tokens, seed: UInt64 = 3) -> Checkpoint {
        let params = parameters(config, seed: seed)
        let adam = Adam<Float>(layout: params.layout, learningRate: 0.01)
        var rng = RandomSource(seed: seed &+ 100)
        for (_, buffer) in adam.stateBuffers {
            for i in 0..<buffer.count { buffer[i] = Float(rng.normal()) }
        }
        adam.stepCount = 17
        let specials: [Float] = [
            -0.0, Float(bitPattern: 0x7FC0_1234), .infinity, -.infinity,
            .leastNonzeroMagnitude, -Float.leastNormalMagnitude / 2
        ]
        for (i, v) in specials.enumerated() { params.storage[i * 3] = v }
        adam.m[1] = Float(bitPattern: 0xFFC0_0001)
        var checkpoint = Checkpoint(
            parameters: params, optimizer: adam, globalStep: 1234, epoch: 5,
            rngStates: ["init": RandomSource(seed: 1).state, "shuffle": [0, 1, UInt64.max, 1 << 63]],
            configText: "model:\n  hidden_size: 4\n  layers: 2\n# ünïcode ✓\n",
            metrics: ["best_validation_loss": 0.123456789012345, "train_loss": 1.5])
        try! checkpoint.setDataCursor(["epoch": 5, "position": 96])
        return checkpoint
    }

    /// Bit patterns, so NaN payloads and −0.0 compare exactly.
    static func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

    /// Asserts that two checkpoints are identical bit for bit.
    static func assertBitwiseEqual(_ a: Checkpoint, _ b: Checkpoint, file: StaticString = #filePath, line: UInt = #line)
    {
        XCTAssertEqual(a.config, b.config, file: file, line: line)
        XCTAssertEqual(bits(a.parameters), bits(b.parameters), "parameters", file: file, line: line)
        XCTAssertEqual(a.optimizer?.name, b.optimizer?.name, file: file, line: line)
        XCTAssertEqual(
            a.optimizer?.learningRate.bitPattern, b.optimizer?.learningRate.bitPattern, file: file, line: line)
        XCTAssertEqual(a.optimizer?.stepCount, b.optimizer?.stepCount, file: file, line: line)
        XCTAssertEqual(a.optimizer?.hyperparameters, b.optimizer?.hyperparameters, file: file, line: line)
        XCTAssertEqual(
            a.optimizer?.stateBuffers.mapValues(bits), b.optimizer?.stateBuffers.mapValues(bits),
            "optimizer state", file: file, line: line)
        XCTAssertEqual(a.globalStep, b.globalStep, file: file, line: line)
        XCTAssertEqual(a.epoch, b.epoch, file: file, line: line)
        XCTAssertEqual(a.rngStates, b.rngStates, file: file, line: line)
        XCTAssertEqual(a.dataCursor, b.dataCursor, file: file, line: line)
        XCTAssertEqual(a.configText, b.configText, file: file, line: line)
        XCTAssertEqual(a.metrics.mapValues(\.bitPattern), b.metrics.mapValues(\.bitPattern), file: file, line: line)
    }

    /// Writes an HDF5 file with `tensors` (name → shape, values) at the root and, if given,
    /// the exporter's model attributes — for hand-made (and broken) weights files.
    static func writeWeights(
        _ path: String, _ tensors: [(String, [Int], [Float])],
        config: ModelConfig? = nil, format: WeightsFormat = .pytorch
    ) throws {
        let file = try HDF5File.create(path)
        for (name, shape, values) in tensors { try file.root.write(name, values, shape: shape) }
        if let config { try WeightsFile.writeModelAttributes(config, format: format, to: file.root) }
        try file.close()
    }

    /// Writes a checkpoint-like file by hand: the root attributes a checkpoint has and
    /// `/parameters/<name>` for each of `tensors` — for broken checkpoints.
    static func writeCheckpointLike(
        _ path: String, config: ModelConfig, tensors: [(String, [Int], [Float])],
        version: Int = Checkpoint.formatVersion
    ) throws {
        let file = try HDF5File.create(path)
        try file.root.setAttribute("format", Checkpoint.formatName)
        try file.root.setAttribute("format_version", version)
        try file.root.setAttribute("model_config", try CheckpointIO.modelConfigJSON(config))
        try file.root.setAttribute("global_step", 0)
        try file.root.setAttribute("epoch", 0)
        let group = try file.root.createGroup("parameters")
        for (name, shape, values) in tensors { try group.write(name, values, shape: shape) }
        try file.close()
    }

    /// The layout's tensors of `checkpoint` as (name, shape, values).
    static func layoutTensors(_ checkpoint: Checkpoint) -> [(String, [Int], [Float])] {
        checkpoint.layout.entries.map { ($0.name, $0.shape, checkpoint.tensor($0.name)!) }
    }

    /// Names in `directory` that look like temporary files of an atomic write.
    static func temporaryFiles(in directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.contains(".tmp-") }
    }

    /// Asserts that `body` throws a `FileError` of `kind` about a file of `role` whose message mentions `mention`.
    static func assertFileError(
        _ kind: FileError.Kind, _ role: FileError.Role, mentioning mention: String,
        file: StaticString = #filePath, line: UInt = #line,
        _ body: () throws -> Void
    ) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            guard let error = error as? FileError else {
                return XCTFail("expected a FileError, got \(error)", file: file, line: line)
            }
            XCTAssertEqual(error.kind, kind, "\(error)", file: file, line: line)
            XCTAssertEqual(error.role, role, "\(error)", file: file, line: line)
            XCTAssertTrue(
                error.description.contains(mention), "'\(error)' does not mention '\(mention)'",
                file: file, line: line)
        }
    }
}

/// max_i |a_i − b_i|, or +∞ when the counts differ or any value is NaN (a NaN must never pass).
func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    guard a.count == b.count else { return .infinity }
    var worst: Float = 0
    for (x, y) in zip(a, b) {
        let d = abs(x - y)
        if d.isNaN { return .infinity }
        worst = Swift.max(worst, d)
    }
    return worst
}
