import Foundation
import HDF5Kit
import LSTMFiles
import LSTMKit
import XCTest

@testable import LSTMIO

final class WeightsTests: XCTestCase {
    typealias F = CheckpointFixtures

    /// Every dataset of an HDF5 file (path → shape, bit patterns), for exact file comparisons.
    private func contents(_ path: String) throws -> [String: ([Int], [UInt32])] {
        let file = try HDF5File.open(path)
        defer { try? file.close() }
        return try HDF5Tree.datasets(in: file.root).mapValues { ($0.shape, F.bits(try $0.read(as: Float.self))) }
    }

    private func assertSameContents(_ a: String, _ b: String, file: StaticString = #filePath, line: UInt = #line) throws
    {
        let ca = try contents(a)
        let cb = try contents(b)
        XCTAssertEqual(ca.keys.sorted(), cb.keys.sorted(), file: file, line: line)
        for (key, (shape, bits)) in ca {
            XCTAssertEqual(cb[key]?.0, shape, key, file: file, line: line)
            XCTAssertEqual(cb[key]?.1, bits, key, file: file, line: line)
        }
    }

    // MARK: PyTorch layout

    func testPyTorchExportHasStateDictNamesAndShapes() throws {
        let dir = try F.temporaryDirectory(self)
        let checkpoint = F.fullCheckpoint(F.tokens)
        try WeightsExporter.export(checkpoint, format: .pytorch, to: dir + "/w.h5")
        let c = try contents(dir + "/w.h5")
        let expected: [String: [Int]] = [
            "embedding.weight": [7, 3],
            "lstm.weight_ih_l0": [16, 3], "lstm.weight_hh_l0": [16, 4], "lstm.bias_ih_l0": [16],
            "lstm.bias_hh_l0": [16],
            "lstm.weight_ih_l1": [16, 4], "lstm.weight_hh_l1": [16, 4], "lstm.bias_ih_l1": [16],
            "lstm.bias_hh_l1": [16],
            "head.weight": [5, 4], "head.bias": [5]
        ]
        XCTAssertEqual(c.mapValues(\.0), expected)
        XCTAssertEqual(c["lstm.bias_ih_l1"]?.1, F.bits(checkpoint.tensor("lstm.bias_l1")!))
        XCTAssertEqual(c["lstm.bias_hh_l1"]?.1, [UInt32](repeating: 0, count: 16))
        XCTAssertEqual(c["lstm.weight_ih_l0"]?.1, F.bits(checkpoint.tensor("lstm.weight_ih_l0")!))
    }

    func testPyTorchExportStoresTheModelAsRootAttributes() throws {
        let dir = try F.temporaryDirectory(self)
        try WeightsExporter.export(F.fullCheckpoint(F.tokens), format: .pytorch, to: dir + "/w.h5")
        let root = try HDF5File.open(dir + "/w.h5").root
        XCTAssertEqual(try root.attribute("num_layers", as: Int.self), 2)
        XCTAssertEqual(try root.attribute("hidden_size", as: Int.self), 4)
        XCTAssertEqual(try root.attribute("head", as: String.self), "sequence")
        XCTAssertEqual(try root.attribute("activation", as: String.self), "softmax")
        XCTAssertEqual(try root.attribute("loss", as: String.self), "cross_entropy")
        let json = try root.attribute("model_config", as: String.self)
        XCTAssertEqual(try JSONDecoder().decode(ModelConfig.self, from: Data(json.utf8)), F.tokens)
    }

    func testPyTorchExportImportExportIsBitwiseForTokensAndFeatures() throws {
        for config in [F.tokens, F.features] {
            let dir = try F.temporaryDirectory(self)
            let original = F.fullCheckpoint(config)
            try WeightsExporter.export(original, format: .pytorch, to: dir + "/a.h5")
            let imported = try WeightsImporter.read(dir + "/a.h5", format: .pytorch, options: .anyValues)
            XCTAssertEqual(imported.config, config)
            XCTAssertEqual(F.bits(imported.parameters), F.bits(original.parameters), "\(config.input)")
            XCTAssertNil(imported.optimizer)
            try WeightsExporter.export(imported, format: .pytorch, to: dir + "/b.h5")
            try assertSameContents(dir + "/a.h5", dir + "/b.h5")
        }
    }

    func testPyTorchImportSumsTheTwoBiases() throws {
        let dir = try F.temporaryDirectory(self)
        let config = F.features
        let source = F.fullCheckpoint(config)
        let tensors = WeightsExporter.fileTensors(source, .pytorch).map { name, shape, values in
            name.hasPrefix("lstm.bias_hh_l")
                ? (name, shape, values.indices.map { Float($0) * 0.25 }) : (name, shape, values)
        }
        try F.writeWeights(dir + "/w.h5", tensors, config: config)
        let imported = try WeightsImporter.read(dir + "/w.h5", format: .pytorch, options: .anyValues)
        let ih = source.tensor("lstm.bias_l1")!
        XCTAssertEqual(imported.tensor("lstm.bias_l1")!, ih.indices.map { ih[$0] + Float($0) * 0.25 })
    }

    // MARK: Keras layout

    func testKerasExportMatchesTheLayoutKerasWrites() throws {
        let dir = try F.temporaryDirectory(self)
        let checkpoint = F.fullCheckpoint(F.tokens)
        try WeightsExporter.export(checkpoint, format: .keras, to: dir + "/w.weights.h5")
        let c = try contents(dir + "/w.weights.h5")
        let expected: [String: [Int]] = [
            "layers/embedding/vars/0": [7, 3],
            "layers/lstm/cell/vars/0": [3, 16], "layers/lstm/cell/vars/1": [4, 16], "layers/lstm/cell/vars/2": [16],
            "layers/lstm_1/cell/vars/0": [4, 16], "layers/lstm_1/cell/vars/1": [4, 16],
            "layers/lstm_1/cell/vars/2": [16],
            "layers/dense/vars/0": [4, 5], "layers/dense/vars/1": [5]
        ]
        XCTAssertEqual(c.mapValues(\.0), expected)
        let root = try HDF5File.open(dir + "/w.weights.h5").root
        XCTAssertEqual(try root.openGroup("vars").attribute("name", as: String.self), "sequential")
        XCTAssertEqual(try root.openGroup("layers/lstm/vars").attribute("name", as: String.self), "lstm")
        XCTAssertEqual(try root.openGroup("layers/lstm_1/vars").attribute("name", as: String.self), "lstm_1")
        XCTAssertEqual(try root.openGroup("layers/lstm_1/cell/vars").attribute("name", as: String.self), "lstm_cell")
        XCTAssertEqual(try root.openGroup("layers/dense/vars").attribute("name", as: String.self), "dense")
        XCTAssertEqual(try root.openGroup("layers/embedding/vars").attribute("name", as: String.self), "embedding")
        XCTAssertEqual(try root.openGroup("layers/lstm/vars").memberNames(), [])
    }

    func testKerasKernelsAreTransposedWeights() throws {
        let dir = try F.temporaryDirectory(self)
        let checkpoint = F.fullCheckpoint(F.features)
        try WeightsExporter.export(checkpoint, format: .keras, to: dir + "/w.weights.h5")
        let file = try HDF5File.open(dir + "/w.weights.h5")
        let kernel = try file.root.read("layers/lstm/cell/vars/0", as: Float.self)  // [I=3, 4H=16]
        let w = checkpoint.tensor("lstm.weight_ih_l0")!  // [16, 3]
        for r in 0..<16 { for c in 0..<3 { XCTAssertEqual(kernel[c * 16 + r].bitPattern, w[r * 3 + c].bitPattern) } }
        let dense = try file.root.read("layers/dense/vars/0", as: Float.self)  // [H=4, O=2]
        let y = checkpoint.tensor("head.weight")!  // [2, 4]
        for o in 0..<2 { for h in 0..<4 { XCTAssertEqual(dense[h * 2 + o].bitPattern, y[o * 4 + h].bitPattern) } }
        XCTAssertEqual(
            F.bits(try file.root.read("layers/lstm_1/cell/vars/2", as: Float.self)),
            F.bits(checkpoint.tensor("lstm.bias_l1")!))
    }

    func testKerasExportImportExportIsBitwiseForTokensAndFeatures() throws {
        let threeLayers = ModelConfig(
            input: .features(size: 2), hiddenSize: 3, numLayers: 3, outputSize: 1,
            activation: .sigmoid, head: .sequence, loss: .bce)
        for config in [F.tokens, F.features, threeLayers] {
            let dir = try F.temporaryDirectory(self)
            let original = F.fullCheckpoint(config)
            try WeightsExporter.export(original, format: .keras, to: dir + "/a.weights.h5")
            let imported = try WeightsImporter.read(dir + "/a.weights.h5", format: .keras, options: .anyValues)
            XCTAssertEqual(imported.config, config)
            XCTAssertEqual(F.bits(imported.parameters), F.bits(original.parameters), "\(config)")
            try WeightsExporter.export(imported, format: .keras, to: dir + "/b.weights.h5")
            try assertSameContents(dir + "/a.weights.h5", dir + "/b.weights.h5")
        }
    }

    func testBidirectionalExportImportExportIsBitwiseInBothFormats() throws {
        let config = ModelConfig(
            input: .tokens(vocabulary: 5, embedding: 2), hiddenSize: 3, numLayers: 2, outputSize: 2,
            head: .last, loss: .crossEntropy, bidirectional: true)
        for format in [WeightsFormat.pytorch, .keras] {
            let dir = try F.temporaryDirectory(self)
            let original = F.fullCheckpoint(config)
            try WeightsExporter.export(original, format: format, to: dir + "/a.weights.h5")
            let imported = try WeightsImporter.read(dir + "/a.weights.h5", format: format, options: .anyValues)
            XCTAssertEqual(imported.config, config)
            XCTAssertEqual(F.bits(imported.parameters), F.bits(original.parameters), "\(format)")
            try WeightsExporter.export(imported, format: format, to: dir + "/b.weights.h5")
            try assertSameContents(dir + "/a.weights.h5", dir + "/b.weights.h5")
        }
    }

    func testBidirectionalExportsUseReverseKeysAndKerasWrapperGroups() throws {
        let config = ModelConfig(
            input: .features(size: 3), hiddenSize: 4, numLayers: 2, outputSize: 2,
            head: .sequence, loss: .mse, bidirectional: true)
        let dir = try F.temporaryDirectory(self)
        try WeightsExporter.export(F.fullCheckpoint(config), format: .pytorch, to: dir + "/p.h5")
        try WeightsExporter.export(F.fullCheckpoint(config), format: .keras, to: dir + "/k.weights.h5")
        let p = try contents(dir + "/p.h5").mapValues(\.0)
        XCTAssertEqual(p["lstm.weight_ih_l1_reverse"], [16, 8])
        XCTAssertEqual(p["lstm.bias_hh_l0_reverse"], [16])
        XCTAssertEqual(p["head.weight"], [2, 8])
        let k = try contents(dir + "/k.weights.h5").mapValues(\.0)
        XCTAssertEqual(k["layers/bidirectional/forward_layer/cell/vars/0"], [3, 16])
        XCTAssertEqual(k["layers/bidirectional_1/backward_layer/cell/vars/0"], [8, 16])
        XCTAssertEqual(k["layers/dense/vars/0"], [8, 2])
        let root = try HDF5File.open(dir + "/k.weights.h5").root
        XCTAssertEqual(
            try root.openGroup("layers/bidirectional_1/backward_layer/vars").attribute("name", as: String.self),
            "backward_lstm_1")
        XCTAssertEqual(
            try root.openGroup("layers/bidirectional/vars").attribute("name", as: String.self), "bidirectional")
    }

    func testKerasFileWithoutModelAttributesNeedsHeadAndLoss() throws {
        let dir = try F.temporaryDirectory(self)
        let path = dir + "/bare.weights.h5"
        try WeightsExporter.export(F.fullCheckpoint(F.tokens), format: .keras, to: path)
        try stripRootAttributes(path)
        F.assertFileError(.invalidConfig, .weights, mentioning: "--head") {
            _ = try WeightsImporter.read(path, format: .keras, options: .anyValues)
        }
    }

    func testKerasFileWithoutModelAttributesInfersSizesFromShapes() throws {
        let dir = try F.temporaryDirectory(self)
        let path = dir + "/bare.weights.h5"
        let original = F.fullCheckpoint(F.tokens)
        try WeightsExporter.export(original, format: .keras, to: path)
        try stripRootAttributes(path)
        let imported = try WeightsImporter.read(
            path, options: WeightsImportOptions(head: .sequence, loss: .crossEntropy, allowNonFinite: true))
        XCTAssertEqual(imported.config, F.tokens)  // V, E, H, layers, O from shapes; softmax from the loss
        XCTAssertEqual(F.bits(imported.parameters), F.bits(original.parameters))
    }

    private func stripRootAttributes(_ path: String) throws {
        let file = try HDF5File.open(path, mode: .readWrite)
        for name in try file.root.attributeNames() { try file.root.removeAttribute(name) }
        try file.close()
    }

    // MARK: Import options and formats

    func testImportOptionsOverrideTheFile() throws {
        let dir = try F.temporaryDirectory(self)
        try WeightsExporter.export(F.fullCheckpoint(F.features), format: .pytorch, to: dir + "/w.h5")
        let imported = try WeightsImporter.read(
            dir + "/w.h5", options: WeightsImportOptions(head: .sequence, activation: .tanh, allowNonFinite: true))
        XCTAssertEqual(imported.config.head, .sequence)
        XCTAssertEqual(imported.config.activation, .tanh)
        XCTAssertEqual(imported.config.loss, .mse)
    }

    func testImportAcceptsACheckpointWhateverTheFormat() throws {
        let dir = try F.temporaryDirectory(self)
        let original = F.fullCheckpoint()
        try original.save(to: dir + "/c.h5")
        for format in [nil, WeightsFormat.pytorch, .keras, .checkpoint] {
            F.assertBitwiseEqual(original, try WeightsImporter.read(dir + "/c.h5", format: format, options: .anyValues))
        }
    }

    func testFormatIsDetected() throws {
        let dir = try F.temporaryDirectory(self)
        let checkpoint = F.fullCheckpoint()
        try checkpoint.save(to: dir + "/c.h5")
        try WeightsExporter.export(checkpoint, format: .pytorch, to: dir + "/p.h5")
        try WeightsExporter.export(checkpoint, format: .keras, to: dir + "/k.weights.h5")
        XCTAssertEqual(try WeightsFormat.detect(path: dir + "/c.h5"), .checkpoint)
        XCTAssertEqual(try WeightsFormat.detect(path: dir + "/p.h5"), .pytorch)
        XCTAssertEqual(try WeightsFormat.detect(path: dir + "/k.weights.h5"), .keras)
    }

    func testExportLeavesNoTemporaryFiles() throws {
        let dir = try F.temporaryDirectory(self)
        try WeightsExporter.export(F.fullCheckpoint(), format: .pytorch, to: dir + "/p.h5")
        try WeightsExporter.export(F.fullCheckpoint(), format: .keras, to: dir + "/k.weights.h5")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), ["k.weights.h5", "p.h5"])
    }

    // MARK: Import errors

    func testImportWithTheWrongFormatNamesTheRightOne() throws {
        let dir = try F.temporaryDirectory(self)
        try WeightsExporter.export(F.fullCheckpoint(), format: .keras, to: dir + "/k.weights.h5")
        F.assertFileError(.wrongFormat, .weights, mentioning: "--format keras") {
            _ = try WeightsImporter.read(dir + "/k.weights.h5", format: .pytorch, options: .anyValues)
        }
    }

    func testImportRejectsMissingKey() throws {
        let dir = try F.temporaryDirectory(self)
        let source = F.fullCheckpoint(F.tokens)
        let tensors = WeightsExporter.fileTensors(source, .pytorch).filter { $0.0 != "lstm.bias_hh_l1" }
        try F.writeWeights(dir + "/w.h5", tensors, config: F.tokens)
        F.assertFileError(.missing, .weights, mentioning: "/lstm.bias_hh_l1") {
            _ = try WeightsImporter.read(dir + "/w.h5", options: .anyValues)
        }
    }

    func testImportRejectsWrongShape() throws {
        let dir = try F.temporaryDirectory(self)
        let tensors = WeightsExporter.fileTensors(F.fullCheckpoint(F.tokens), .pytorch).map { name, shape, values in
            name == "head.weight" ? (name, [4, 5], values) : (name, shape, values)
        }
        try F.writeWeights(dir + "/w.h5", tensors, config: F.tokens)
        F.assertFileError(.shapeMismatch, .weights, mentioning: "[5, 4]") {
            _ = try WeightsImporter.read(dir + "/w.h5", options: .anyValues)
        }
    }

    func testImportRejectsUnexpectedKey() throws {
        let dir = try F.temporaryDirectory(self)
        let tensors =
            WeightsExporter.fileTensors(F.fullCheckpoint(F.tokens), .pytorch) + [
                ("lstm.weight_ih_l0_reverse", [16, 3], [Float](repeating: 0, count: 48))
            ]
        try F.writeWeights(dir + "/w.h5", tensors, config: F.tokens)
        F.assertFileError(.unexpected, .weights, mentioning: "lstm.weight_ih_l0_reverse") {
            _ = try WeightsImporter.read(dir + "/w.h5", options: .anyValues)
        }
    }

    func testImportRejectsKerasFileWithMissingVariable() throws {
        let dir = try F.temporaryDirectory(self)
        let tensors = WeightsExporter.fileTensors(F.fullCheckpoint(F.features), .keras).filter {
            $0.0 != "layers/lstm_1/cell/vars/1"
        }
        try F.writeWeights(dir + "/k.weights.h5", tensors, config: F.features, format: .keras)
        F.assertFileError(.missing, .weights, mentioning: "/layers/lstm_1/cell/vars/1") {
            _ = try WeightsImporter.read(dir + "/k.weights.h5", format: .keras, options: .anyValues)
        }
    }

    func testImportRejectsFileOfNoKnownFormat() throws {
        let dir = try F.temporaryDirectory(self)
        try F.writeWeights(dir + "/d.h5", [("inputs", [2, 2], [1, 2, 3, 4])])
        F.assertFileError(.wrongFormat, .weights, mentioning: "cannot tell the format") {
            _ = try WeightsImporter.read(dir + "/d.h5", options: .anyValues)
        }
        try "not hdf5".write(toFile: dir + "/t.h5", atomically: true, encoding: .utf8)
        F.assertFileError(.wrongFormat, .weights, mentioning: "not a weights file: expected HDF5") {
            _ = try WeightsImporter.read(dir + "/t.h5", options: .anyValues)
        }
    }

    func testImportRejectsInvalidOverride() throws {
        let dir = try F.temporaryDirectory(self)
        try WeightsExporter.export(F.fullCheckpoint(F.tokens), format: .pytorch, to: dir + "/w.h5")
        F.assertFileError(.invalidConfig, .weights, mentioning: "cross_entropy needs activation softmax") {
            _ = try WeightsImporter.read(
                dir + "/w.h5", options: WeightsImportOptions(activation: .identity, allowNonFinite: true))
        }
    }

    func testBiasSumKeepsNegativeZeroExact() {
        XCTAssertEqual(WeightsFile.sumBiases(-0.0, 0).bitPattern, Float(-0.0).bitPattern)
        XCTAssertEqual(WeightsFile.sumBiases(0, -0.0).bitPattern, Float(0).bitPattern)
        XCTAssertEqual(WeightsFile.sumBiases(0.5, 0.25), 0.75)
    }
}

extension WeightsImportOptions {
    /// The fixtures hold NaN, ±inf on purpose (bit-exact round trips), so these reads allow them.
    static let anyValues = WeightsImportOptions(allowNonFinite: true)
}
