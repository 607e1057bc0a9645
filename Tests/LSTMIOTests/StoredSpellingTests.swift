import Foundation
import HDF5Kit
import LSTMFiles
import LSTMKit
import XCTest

@testable import LSTMIO

/// One spelling per concept: the files we write name the model's keys as the config file does
/// (`vocab_size`, `init`, `forget_bias`, docs/config.md), and files written before, which say
/// `vocabulary_size`, `initialization` and `forget_gate_bias`, still load.
final class StoredSpellingTests: XCTestCase {
    typealias F = CheckpointFixtures

    /// A token model with a non-default initialisation and forget-gate bias, so all three keys matter.
    static let model = ModelConfig(
        input: .tokens(vocabulary: 7, embedding: 3), hiddenSize: 4, numLayers: 2, outputSize: 5, head: .sequence,
        loss: .crossEntropy, initialization: .orthogonal, forgetGateBias: true)

    /// `model`'s `model_config` as the build before this change wrote it (sorted keys).
    static let olderModelConfig =
        #"{"activation":"softmax","bidirectional":false,"dropout":0,"embedding_size":3,"forget_gate_bias":true,"#
        + #""head":"sequence","hidden_size":4,"initialization":"orthogonal","input_kind":"tokens","loss":"cross_entropy","#
        + #""num_layers":2,"output_size":5,"vocabulary_size":7}"#

    static let newKeys = ["\"vocab_size\"", "\"init\"", "\"forget_bias\""]
    static let olderKeys = ["\"vocabulary_size\"", "\"initialization\"", "\"forget_gate_bias\""]

    func assertConfigSpellings(_ json: String, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        for k in Self.newKeys { XCTAssertTrue(json.contains(k), "\(what) lacks \(k): \(json)", file: file, line: line) }
        for k in Self.olderKeys {
            XCTAssertFalse(json.contains(k), "\(what) still writes \(k): \(json)", file: file, line: line)
        }
    }

    func testCheckpointsAndExportedFilesWriteTheConfigFileSpellings() throws {
        let dir = try F.temporaryDirectory(self)
        let checkpoint = F.fullCheckpoint(Self.model)
        try checkpoint.save(to: dir + "/c.h5")
        assertConfigSpellings(
            try HDF5File.open(dir + "/c.h5").root.attribute("model_config", as: String.self), "checkpoint")

        try WeightsExporter.export(checkpoint, format: .pytorch, to: dir + "/w.pt.h5")
        let root = try HDF5File.open(dir + "/w.pt.h5").root
        assertConfigSpellings(try root.attribute("model_config", as: String.self), "PyTorch export")
        XCTAssertEqual(try root.attribute("vocab_size", as: Int.self), 7)
        XCTAssertFalse(root.hasAttribute("vocabulary_size"))

        try WeightsExporter.export(checkpoint, format: .safetensors, to: dir + "/w.safetensors")
        let metadata = try SafeTensorsFile(path: dir + "/w.safetensors").metadata
        assertConfigSpellings(try XCTUnwrap(metadata["model_config"]), "safetensors export")
        XCTAssertEqual(metadata["vocab_size"], "7")
        XCTAssertNil(metadata["vocabulary_size"])
    }

    func testACheckpointWrittenWithTheOlderSpellingsLoadsAsTheSameModel() throws {
        let dir = try F.temporaryDirectory(self)
        let path = dir + "/old.h5"
        try F.fullCheckpoint(Self.model).save(to: path)
        // The file as the older build wrote it: its model_config, sealed by its checksums.
        let file = try HDF5File.open(path, mode: .readWrite)
        try file.root.setAttribute("model_config", Self.olderModelConfig)
        try Checksums.seal(file.root, role: .checkpoint, file: path)
        try file.close()
        XCTAssertEqual(
            try HDF5File.open(path).root.attribute("model_config", as: String.self), Self.olderModelConfig)

        let loaded = try Checkpoint.load(from: path)
        XCTAssertEqual(loaded.config, Self.model)
        XCTAssertEqual(F.bits(loaded.parameters), F.bits(F.fullCheckpoint(Self.model).parameters))
        // Saved again, it takes the new spellings.
        try loaded.save(to: dir + "/new.h5")
        assertConfigSpellings(
            try HDF5File.open(dir + "/new.h5").root.attribute("model_config", as: String.self), "re-saved checkpoint")
    }

    func testAPyTorchExportWrittenWithTheOlderSpellingsImportsAsTheSameModel() throws {
        let dir = try F.temporaryDirectory(self)
        let path = dir + "/old.pt.h5"
        try WeightsExporter.export(F.fullCheckpoint(Self.model), format: .pytorch, to: path)
        let file = try HDF5File.open(path, mode: .readWrite)
        try file.root.setAttribute("model_config", Self.olderModelConfig)
        try file.root.removeAttribute("vocab_size")
        try file.root.setAttribute("vocabulary_size", 7)
        try Checksums.seal(file.root, role: .weights, file: path)
        try file.close()

        let imported = try WeightsImporter.read(path, format: .pytorch, options: .anyValues)
        XCTAssertEqual(imported.config, Self.model)
    }
}
