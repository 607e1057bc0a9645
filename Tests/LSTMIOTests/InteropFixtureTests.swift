import Foundation
import HDF5Kit
import LSTMKit
import XCTest

@testable import LSTMIO

/// Gate order (i, f, g, o) and weight layout (W [4H, I], R [4H, H]) pinned without Python: weights
/// files written by PyTorch and by Keras themselves (Interop/Fixtures, made by make_fixtures.py
/// there) are imported, run forward and compared with the framework's recorded outputs.
final class InteropFixtureTests: XCTestCase {
    typealias F = CheckpointFixtures

    static let tolerance: Float = 1e-5

    /// Interop/Fixtures next to this file (excluded from the target in Package.swift with Interop/).
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Interop/Fixtures")

    /// The models make_fixtures.py writes: name, import options, and the config import must infer.
    static let oneLayer = (
        name: "one_layer_sequence", options: WeightsImportOptions(head: .sequence, loss: .crossEntropy),
        config: ModelConfig(
            input: .features(size: 3), hiddenSize: 4, numLayers: 1, outputSize: 3,
            activation: .softmax, head: .sequence, loss: .crossEntropy)
    )
    static let bidirectional = (
        name: "two_layer_bidir_last", options: WeightsImportOptions(head: .last, loss: .mse),
        config: ModelConfig(
            input: .features(size: 3), hiddenSize: 3, numLayers: 2, outputSize: 2,
            activation: .identity, head: .last, loss: .mse, bidirectional: true)
    )

    /// widths_16_8: Sequential([Input((12, 3)), LSTM(16, return_sequences=True), LSTM(8),
    /// Dense(4, softmax)]) in Keras, and the docs/weights.md per-width layout in PyTorch.
    static let widths = (
        name: "widths_16_8", options: WeightsImportOptions(head: .last, loss: .crossEntropy),
        config: ModelConfig(
            input: .features(size: 3), hiddenSizes: [16, 8], outputSize: 4,
            activation: .softmax, head: .last, loss: .crossEntropy)
    )

    // MARK: Per-layer widths

    func testKerasPerLayerWidthsFixtureImportsAndMatchesKerasOutputs() throws {
        let m = Self.widths
        try checkForward(
            weights: m.name + ".weights.h5", io: m.name + ".keras.io.h5", format: .keras,
            options: m.options, config: m.config)
    }

    func testPyTorchPerLayerWidthsFixtureImportsAndMatchesTorchOutputs() throws {
        let m = Self.widths
        try checkForward(
            weights: m.name + ".pt.h5", io: m.name + ".pt.io.h5", format: .pytorch,
            options: m.options, config: m.config)
    }

    /// PyTorch's per-width state_dict (one nn.LSTM per run of equal widths) imported as a
    /// two-bias model and exported again: the same keys, shapes and bits; and every per-width
    /// export imports back to the same arena bit for bit, in both formats and both bias forms.
    func testPerLayerWidthsExportImportRoundTripsBitForBit() throws {
        let m = Self.widths
        let source = Self.fixtures.appendingPathComponent(m.name + ".pt.h5").path
        var options = m.options
        options.bias = .pytorch
        XCTAssertEqual(try WeightsFormat.detect(path: source), .pytorch)  // keys lstm.0.*, no attributes
        let imported = try WeightsImporter.read(source, options: options)
        XCTAssertEqual(imported.config.hiddenSizes, [16, 8])
        XCTAssertEqual(imported.config.bias, .pytorch)
        let dir = try F.temporaryDirectory(self)
        let exported = dir + "/exported.pt.h5"
        try WeightsExporter.export(imported, format: .pytorch, to: exported)
        let theirs = try Self.tensors(source)
        let ours = try Self.tensors(exported)
        XCTAssertEqual(Set(ours.keys), Set(theirs.keys))
        XCTAssertTrue(ours.keys.contains("lstm.1.weight_hh_l0"), "\(ours.keys.sorted())")
        for (key, t) in theirs {
            XCTAssertEqual(ours[key]?.shape, t.shape, key)
            XCTAssertEqual(F.bits(try XCTUnwrap(ours[key]).values), F.bits(t.values), key)
        }
        var rng = RandomSource(seed: 9)
        for bias in BiasForm.allCases {
            for bidirectional in [false, true] {
                var config = ModelConfig(
                    input: .features(size: 3), hiddenSizes: [5, 5, 3], outputSize: 2, head: .sequence, loss: .mse,
                    bidirectional: bidirectional, bias: bias)
                config.dropout = 0
                let params = ParameterSet<Float>(config: config)
                for i in 0..<params.count { params.storage[i] = Float(rng.uniform(-1, 1)) }
                let checkpoint = Checkpoint(parameters: params, optimizer: nil)
                for format in [WeightsFormat.pytorch, .keras] where !(format == .keras && bias == .pytorch) {
                    let path = dir + "/rt-\(bias)-\(bidirectional)-\(format).h5"
                    try WeightsExporter.export(checkpoint, format: format, to: path)
                    let back = try WeightsImporter.read(path, format: format)
                    XCTAssertEqual(back.config, config, "\(format) \(bias)")
                    XCTAssertEqual(F.bits(back.parameters), F.bits(checkpoint.parameters), "\(format) \(bias)")
                }
                if bias == .pytorch {  // two runs of widths (5, 5) and (3): keys lstm.0.*_l0, _l1 and lstm.1.*_l0
                    let keys = Set(try Self.tensors(dir + "/rt-\(bias)-\(bidirectional)-pytorch.h5").keys)
                    XCTAssertTrue(keys.isSuperset(of: ["lstm.0.weight_ih_l1", "lstm.1.bias_hh_l0"]), "\(keys.sorted())")
                    XCTAssertFalse(keys.contains("lstm.weight_ih_l0"))
                }
            }
        }
    }

    /// Keras has one bias: a two-bias model exports b_ih + b_hh, and Keras' bias imports into a
    /// two-bias model as b_ih with b_hh zero (the same function).
    func testTwoBiasModelExportsSummedBiasToKeras() throws {
        let config = ModelConfig(
            input: .features(size: 3), hiddenSizes: [4, 3], outputSize: 2, head: .sequence, loss: .mse, bias: .pytorch)
        let params = ParameterSet<Float>(config: config, seed: 3)
        let dir = try F.temporaryDirectory(self)
        try WeightsExporter.export(
            Checkpoint(parameters: params, optimizer: nil), format: .keras, to: dir + "/k.weights.h5")
        let keras = try Self.tensors(dir + "/k.weights.h5")
        let ih = Array(params.tensor("lstm.bias_ih_l1")!)
        let hh = Array(params.tensor("lstm.bias_hh_l1")!)
        XCTAssertEqual(F.bits(try XCTUnwrap(keras["layers/lstm_1/cell/vars/2"]).values), F.bits(zip(ih, hh).map(+)))
        let back = try WeightsImporter.read(dir + "/k.weights.h5")
        XCTAssertEqual(back.config.bias, .pytorch)
        XCTAssertEqual(F.bits(try XCTUnwrap(back.tensor("lstm.bias_ih_l1"))), F.bits(zip(ih, hh).map(+)))
        XCTAssertEqual(try XCTUnwrap(back.tensor("lstm.bias_hh_l1")), [Float](repeating: 0, count: 12))
    }

    // MARK: PyTorch

    func testPyTorchOneLayerFixtureImportsAndMatchesTorchOutputs() throws {
        let m = Self.oneLayer
        try checkForward(
            weights: m.name + ".pt.h5", io: m.name + ".pt.io.h5", format: .pytorch,
            options: m.options, config: m.config)
    }

    func testPyTorchTwoLayerBidirectionalFixtureImportsAndMatchesTorchOutputs() throws {
        let m = Self.bidirectional
        try checkForward(
            weights: m.name + ".pt.h5", io: m.name + ".pt.io.h5", format: .pytorch,
            options: m.options, config: m.config)
    }

    func testPyTorchFixtureWeightsLandInTheArenaUnchangedAndExportBack() throws {
        for m in [Self.oneLayer, Self.bidirectional] {
            let source = Self.fixtures.appendingPathComponent(m.name + ".pt.h5").path
            let imported = try WeightsImporter.read(source, format: .pytorch, options: m.options)
            let theirs = try Self.tensors(source)
            let params = Self.parameters(imported)
            // The arena is PyTorch's layout: W and R copied as they are, the two biases summed.
            for entry in params.layout.entries {
                let got = Array(params.tensor(entry.name)!)
                if entry.name.hasPrefix("lstm.bias_") {
                    let sfx = entry.name.dropFirst("lstm.bias_".count)
                    let ih = try XCTUnwrap(theirs["lstm.bias_ih_\(sfx)"])
                    let hh = try XCTUnwrap(theirs["lstm.bias_hh_\(sfx)"])
                    XCTAssertEqual(F.bits(got), F.bits(zip(ih.values, hh.values).map(+)), entry.name)
                } else {
                    let t = try XCTUnwrap(theirs[entry.name], entry.name)
                    XCTAssertEqual(t.shape, entry.shape, entry.name)
                    XCTAssertEqual(F.bits(got), F.bits(t.values), entry.name)
                }
            }

            let dir = try F.temporaryDirectory(self)
            let exported = dir + "/exported.pt.h5"
            try WeightsExporter.export(imported, format: .pytorch, to: exported)
            let ours = try Self.tensors(exported)
            XCTAssertEqual(Set(ours.keys), Set(theirs.keys), m.name)
            for (key, t) in theirs {
                let o = try XCTUnwrap(ours[key], key)
                XCTAssertEqual(o.shape, t.shape, key)
                if key.contains("bias_hh") {
                    XCTAssertEqual(o.values, [Float](repeating: 0, count: t.values.count), key)
                } else if key.contains("bias_ih") {
                    let hh = theirs[key.replacingOccurrences(of: "bias_ih", with: "bias_hh")]!
                    XCTAssertEqual(F.bits(o.values), F.bits(zip(t.values, hh.values).map(+)), key)
                } else {
                    XCTAssertEqual(F.bits(o.values), F.bits(t.values), key)
                }
            }
        }
    }

    // MARK: Keras

    func testKerasOneLayerFixtureImportsAndMatchesKerasOutputs() throws {
        let m = Self.oneLayer
        try checkForward(
            weights: m.name + ".weights.h5", io: m.name + ".keras.io.h5", format: .keras,
            options: m.options, config: m.config)
    }

    func testKerasTwoLayerBidirectionalFixtureImportsAndMatchesKerasOutputs() throws {
        let m = Self.bidirectional
        try checkForward(
            weights: m.name + ".weights.h5", io: m.name + ".keras.io.h5", format: .keras,
            options: m.options, config: m.config)
    }

    func testKerasFixtureKernelsAreTransposedIntoTheArenaAndExportBackAsKerasWroteThem() throws {
        for m in [Self.oneLayer, Self.bidirectional] {
            let source = Self.fixtures.appendingPathComponent(m.name + ".weights.h5").path
            let imported = try WeightsImporter.read(source, format: .keras, options: m.options)
            let theirs = try Self.tensors(source)
            let params = Self.parameters(imported)
            // Keras' kernel [I, 4H] (gate columns i, f, c, o) is our W [4H, I] transposed.
            let kernel = try XCTUnwrap(
                theirs[WeightsFile.kerasLSTM(0, bidirectional: m.config.bidirectional) + "/cell/vars/0"])
            XCTAssertEqual(kernel.shape, [3, 4 * m.config.hiddenSize])
            let w = Array(params.tensor("lstm.weight_ih_l0")!)
            XCTAssertEqual(
                F.bits(w), F.bits(WeightsFile.transpose(kernel.values, rows: kernel.shape[0], cols: kernel.shape[1])))

            let dir = try F.temporaryDirectory(self)
            let exported = dir + "/exported.weights.h5"
            try WeightsExporter.export(imported, format: .keras, to: exported)
            let ours = try Self.tensors(exported)
            XCTAssertEqual(Set(ours.keys), Set(theirs.keys), m.name)
            for (key, t) in theirs {
                let o = try XCTUnwrap(ours[key], key)
                XCTAssertEqual(o.shape, t.shape, key)
                XCTAssertEqual(F.bits(o.values), F.bits(t.values), key)
            }
            let (kerasFile, ourFile) = (try HDF5File.open(source), try HDF5File.open(exported))
            defer {
                try? kerasFile.close()
                try? ourFile.close()
            }
            for (group, _) in WeightsFile.kerasVarsGroupNames(m.config) {
                XCTAssertEqual(
                    try ourFile.root.openGroup(group).attribute("name", as: String.self),
                    try kerasFile.root.openGroup(group).attribute("name", as: String.self), group)
            }
        }
    }

    // MARK: - Helpers

    /// The checkpoint's arena as a ParameterSet.
    static func parameters(_ checkpoint: Checkpoint) -> ParameterSet<Float> {
        let params = ParameterSet<Float>(config: checkpoint.config)
        for (i, v) in checkpoint.parameters.enumerated() { params.storage[i] = v }
        return params
    }

    /// Every float32 dataset of an HDF5 file by path, with its shape.
    static func tensors(_ path: String) throws -> [String: (shape: [Int], values: [Float])] {
        let file = try HDF5File.open(path)
        defer { try? file.close() }
        return try HDF5Tree.datasets(in: file.root).mapValues { ($0.shape, try $0.read(as: Float.self)) }
    }

    /// Imports `weights`, checks the inferred config, runs forward on the recorded inputs and
    /// compares with the recorded outputs.
    private func checkForward(
        weights: String, io: String, format: WeightsFormat, options: WeightsImportOptions,
        config: ModelConfig, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let path = Self.fixtures.appendingPathComponent(weights).path
        let imported = try WeightsImporter.read(path, format: format, options: options)
        XCTAssertEqual(imported.config, config, file: file, line: line)
        let params = Self.parameters(imported)

        let ioFile = try HDF5File.open(Self.fixtures.appendingPathComponent(io).path)
        defer { try? ioFile.close() }
        let inputs = try ioFile.root.openDataset("inputs")
        let outputs = try ioFile.root.openDataset("outputs")
        let (b, t) = (inputs.shape[0], inputs.shape[1])
        XCTAssertEqual(
            outputs.shape, (config.head == .sequence ? [b, t] : [b]) + [config.outputSize],
            file: file, line: line)
        let network = try LSTMNetwork<Float>(config: config)
        let workspace = Workspace<Float>(config: config, maxBatch: b, maxSteps: t)
        let batch = Minibatch<Float>(
            batchSize: b, steps: t, inputs: .features(try inputs.read(as: Float.self)),
            targets: nil)
        batch.withView { _ = network.forward(params, $0, workspace: workspace) }
        let diff = maxAbsDifference(workspace.outputs(), try outputs.read(as: Float.self))
        XCTAssertLessThanOrEqual(
            diff, Self.tolerance, "\(weights): max |Δ| against the recorded outputs",
            file: file, line: line)
    }
}
