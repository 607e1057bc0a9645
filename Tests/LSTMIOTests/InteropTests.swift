import Foundation
import HDF5Kit
import LSTMKit
import XCTest

@testable import LSTMIO

/// Optional checks against real PyTorch and Keras: export a random model, run the equivalent
/// Python model (Tests/LSTMIOTests/Interop/*.py) on the same inputs, compare predictions.
/// Skipped when python3 with torch/keras and h5py is not available.
final class InteropTests: XCTestCase {
    typealias F = CheckpointFixtures

    /// A 3-layer features model with a sequence head and softmax over 3 classes.
    static let featuresSequence = ModelConfig(
        input: .features(size: 3), hiddenSize: 5, numLayers: 3, outputSize: 3,
        head: .sequence, loss: .crossEntropy)
    /// A 2-layer token model with a last head and identity outputs (MSE).
    static let tokensLast = ModelConfig(
        input: .tokens(vocabulary: 11, embedding: 4), hiddenSize: 6, numLayers: 2,
        outputSize: 2, head: .last, loss: .mse)

    /// A 2-layer bidirectional features model with a last head and tanh outputs (MSE).
    static let bidirectionalLast = ModelConfig(
        input: .features(size: 3), hiddenSize: 4, numLayers: 2, outputSize: 2,
        activation: .tanh, head: .last, loss: .mse, bidirectional: true)

    /// Per-layer widths [5, 5, 3] (two nn.LSTM in the PyTorch layout), sequence head, softmax.
    static let widthsSequence = ModelConfig(
        input: .features(size: 3), hiddenSizes: [5, 5, 3], outputSize: 3, head: .sequence, loss: .crossEntropy)
    /// Per-layer widths [4, 6], bidirectional, last head, PyTorch's two biases.
    static let widthsBidirectionalTwoBias = ModelConfig(
        input: .features(size: 3), hiddenSizes: [4, 6], outputSize: 2, activation: .tanh, head: .last, loss: .mse,
        bidirectional: true, bias: .pytorch)

    static let tolerance: Float = 1e-5

    // MARK: Per-layer widths, two biases

    func testPyTorchPerWidthModulesMatchSwiftForward() throws {
        try requirePython("torch, h5py")
        try compare(Self.widthsSequence, format: .pytorch, script: "pytorch_forward.py")
        try compare(Self.widthsBidirectionalTwoBias, format: .pytorch, script: "pytorch_forward.py")
    }

    func testKerasPerWidthModelMatchesSwiftForward() throws {
        try requirePython("keras, h5py")
        try compare(Self.widthsSequence, format: .keras, script: "keras_forward.py")
    }

    // MARK: PyTorch

    func testPyTorchModelMatchesSwiftForwardForThreeLayerFeaturesSequence() throws {
        try requirePython("torch, h5py")
        try compare(Self.featuresSequence, format: .pytorch, script: "pytorch_forward.py")
    }

    func testPyTorchModelMatchesSwiftForwardForTwoLayerTokensLast() throws {
        try requirePython("torch, h5py")
        try compare(Self.tokensLast, format: .pytorch, script: "pytorch_forward.py")
    }

    func testPyTorchModelMatchesSwiftForwardForBidirectionalLast() throws {
        try requirePython("torch, h5py")
        try compare(Self.bidirectionalLast, format: .pytorch, script: "pytorch_forward.py")
    }

    // MARK: Keras

    func testKerasModelMatchesSwiftForwardForThreeLayerFeaturesSequence() throws {
        try requirePython("keras, h5py")
        try compare(Self.featuresSequence, format: .keras, script: "keras_forward.py")
    }

    func testKerasModelMatchesSwiftForwardForTwoLayerTokensLast() throws {
        try requirePython("keras, h5py")
        try compare(Self.tokensLast, format: .keras, script: "keras_forward.py")
    }

    func testKerasModelMatchesSwiftForwardForBidirectionalLast() throws {
        try requirePython("keras, h5py")
        try compare(Self.bidirectionalLast, format: .keras, script: "keras_forward.py")
    }

    // MARK: - Helpers

    private static let scriptDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Interop")

    /// Exports a random model, runs `script` on random inputs and compares with Swift's forward.
    private func compare(
        _ config: ModelConfig, format: WeightsFormat, script: String,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let dir = try F.temporaryDirectory(self)
        let (batch, steps) = (3, 5)
        let params = ParameterSet<Float>(config: config, seed: 42)
        // Larger-than-default weights so the gates saturate differently and mistakes show.
        var rng = RandomSource(seed: 43)
        for i in 0..<params.count { params.storage[i] = Float(rng.uniform(-0.8, 0.8)) }

        let weights = dir + (format == .keras ? "/model.weights.h5" : "/model.h5")
        try WeightsExporter.export(Checkpoint(parameters: params, optimizer: nil), format: format, to: weights)

        let inputs: Minibatch<Float>.Inputs
        let inputFile = try HDF5File.create(dir + "/inputs.h5")
        switch config.input {
        case .features(let size):
            let x = (0..<(batch * steps * size)).map { _ in Float(rng.uniform(-1, 1)) }
            try inputFile.root.write("inputs", x, shape: [batch, steps, size])
            inputs = .features(x)
        case .tokens(let v, _):
            let ids = (0..<(batch * steps)).map { _ in Int32(rng.index(below: v)) }
            try inputFile.root.write("inputs", ids, shape: [batch, steps])
            inputs = .tokens(ids)
        }
        try inputFile.close()

        let network = try LSTMNetwork<Float>(config: config)
        let workspace = Workspace<Float>(config: config, maxBatch: batch, maxSteps: steps)
        _ = Minibatch<Float>(batchSize: batch, steps: steps, inputs: inputs, targets: nil).withView {
            network.forward(params, $0, workspace: workspace)
        }
        let expected = workspace.outputs()

        let script = Self.scriptDirectory.appendingPathComponent(script).path
        let resaved = dir + "/resaved.weights.h5"
        try runPython([script, weights, dir + "/inputs.h5", dir + "/outputs.h5"] + (format == .keras ? [resaved] : []))
        let outputs = try HDF5File.open(dir + "/outputs.h5").root.openDataset("outputs")
        let rows = config.head == .sequence ? [batch, steps] : [batch]
        XCTAssertEqual(outputs.shape, rows + [config.outputSize], file: file, line: line)
        let actual = try outputs.read(as: Float.self)
        XCTAssertEqual(actual.count, expected.count, file: file, line: line)
        let maxDiff = maxAbsDifference(actual, expected)
        print(
            "interop \(format.rawValue) \(config.input) layers=\(config.numLayers) bidirectional=\(config.bidirectional) head=\(config.head.rawValue): max |Δ| = \(maxDiff)"
        )
        XCTAssertLessThan(maxDiff, Self.tolerance, file: file, line: line)

        if format == .keras {
            try checkKerasResave(resaved, matches: weights, params: params, file: file, line: line)
        }
    }

    /// The file Keras itself saved after loading ours has the same datasets (paths, shapes,
    /// values) and `vars` group names, and imports (with head/loss given) to the same parameters.
    private func checkKerasResave(
        _ resaved: String, matches ours: String, params: ParameterSet<Float>,
        file: StaticString, line: UInt
    ) throws {
        func describe(_ path: String) throws -> [String: String] {
            let h5 = try HDF5File.open(path)
            defer { try? h5.close() }
            var out = try HDF5Tree.datasets(in: h5.root).mapValues { dataset in
                "\(dataset.shape) \(dataset.elementType) \(F.bits(try dataset.read(as: Float.self)))"
            }
            for (group, _) in WeightsFile.kerasVarsGroupNames(params.config) {
                out[group + "@name"] = try h5.root.openGroup(group).attribute("name", as: String.self)
            }
            return out
        }
        let theirs = try describe(resaved)
        let mine = try describe(ours)
        for key in Set(theirs.keys).union(mine.keys).sorted() {
            XCTAssertEqual(theirs[key], mine[key], key, file: file, line: line)
        }
        let imported = try WeightsImporter.read(
            resaved, format: .keras,
            options: WeightsImportOptions(
                head: params.config.head, activation: params.config.activation,
                loss: params.config.loss))
        XCTAssertEqual(imported.config, params.config, file: file, line: line)
        XCTAssertEqual(F.bits(imported.parameters), F.bits(params.storage.toArray()), file: file, line: line)
    }

    /// Skips the test unless `python3 -c 'import MODULES'` succeeds.
    private func requirePython(_ modules: String) throws {
        let status = try? run(["-c", "import \(modules)"]).status
        if status != 0 { throw XCTSkip("python3 with \(modules) is not available") }
    }

    private func runPython(_ arguments: [String]) throws {
        let result = try run(arguments)
        if result.status != 0 {
            throw PythonFailure(
                description:
                    "python3 \(arguments.joined(separator: " ")) exited with \(result.status):\n\(result.stderr)")
        }
    }

    private struct PythonFailure: Error, CustomStringConvertible { let description: String }

    /// Runs python3 (found on PATH) with KERAS_BACKEND=torch.
    private func run(_ arguments: [String]) throws -> (status: Int32, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["KERAS_BACKEND"] = "torch"
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
        process.environment = environment
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let data = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
