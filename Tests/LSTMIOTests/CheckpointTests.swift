import Foundation
import HDF5Kit
import LSTMFiles
import LSTMKit
import XCTest

@testable import LSTMIO

final class CheckpointTests: XCTestCase {
    typealias F = CheckpointFixtures

    // MARK: Round trip

    func testSaveThenLoadReturnsEveryFieldBitForBit() throws {
        let dir = try F.temporaryDirectory(self)
        let original = F.fullCheckpoint()
        let path = dir + "/ckpt.h5"
        try original.save(to: path)
        let loaded = try Checkpoint.load(from: path)
        F.assertBitwiseEqual(original, loaded)
        XCTAssertEqual(loaded.optimizer?.stateBuffers.keys.sorted(), ["exp_avg", "exp_avg_sq"])
        XCTAssertTrue(loaded.parameters[0].sign == .minus && loaded.parameters[0] == 0, "−0.0 kept its sign")
    }

    func testCheckpointWithoutOptimizerOrExtrasRoundTrips() throws {
        let dir = try F.temporaryDirectory(self)
        let params = F.parameters(F.features)
        let original = Checkpoint(parameters: params, optimizer: nil)
        try original.save(to: dir + "/plain.h5")
        let loaded = try Checkpoint.load(from: dir + "/plain.h5")
        F.assertBitwiseEqual(original, loaded)
        XCTAssertNil(loaded.optimizer)
        XCTAssertNil(loaded.dataCursor)
        XCTAssertNil(loaded.configText)
    }

    func testMegabyteDataCursorAndConfigTextRoundTrip() throws {
        // e.g. a cursor carrying LSTM state between chunks: far above HDF5's 64 KiB header limit
        let dir = try F.temporaryDirectory(self)
        var checkpoint = F.fullCheckpoint(F.features)
        checkpoint.dataCursor = "[" + (0..<200_000).map { "\($0 % 977).25" }.joined(separator: ",") + "]"
        checkpoint.configText = String(repeating: "# comment line\n", count: 70_000)
        try checkpoint.save(to: dir + "/big.h5")
        let loaded = try Checkpoint.load(from: dir + "/big.h5")
        XCTAssertEqual(loaded.dataCursor, checkpoint.dataCursor)
        XCTAssertEqual(loaded.configText, checkpoint.configText)
    }

    func testFileHasOneDatasetPerLayoutTensorUnderParameters() throws {
        let dir = try F.temporaryDirectory(self)
        let checkpoint = F.fullCheckpoint()
        try checkpoint.save(to: dir + "/c.h5")
        let file = try HDF5File.open(dir + "/c.h5")
        let group = try file.root.openGroup("parameters")
        XCTAssertEqual(try group.memberNames(), checkpoint.layout.entries.map(\.name).sorted())
        let w = try group.openDataset("lstm.weight_ih_l1")
        XCTAssertEqual(w.shape, [16, 4])
        XCTAssertEqual(w.elementType, .float32)
        XCTAssertEqual(try file.root.attribute("format", as: String.self), "lstm-checkpoint")
        XCTAssertEqual(try file.root.attribute("format_version", as: Int.self), 1)
        XCTAssertEqual(try file.root.openDataset("optimizer/state/exp_avg/head.bias").shape, [5])
        XCTAssertEqual(try file.root.openGroup("optimizer").attribute("name", as: String.self), "adam")
    }

    func testRestoreIntoModelAndOptimizerCopiesEverything() throws {
        let checkpoint = F.fullCheckpoint(F.features)
        let params = ParameterSet<Float>(config: F.features)
        let adam = Adam<Float>(layout: params.layout)
        try checkpoint.restore(into: params, optimizer: adam)
        XCTAssertEqual(F.bits(params.storage.toArray()), F.bits(checkpoint.parameters))
        XCTAssertEqual(F.bits(adam.m.toArray()), F.bits(checkpoint.optimizer!.stateBuffers["exp_avg"]!))
        XCTAssertEqual(F.bits(adam.v.toArray()), F.bits(checkpoint.optimizer!.stateBuffers["exp_avg_sq"]!))
        XCTAssertEqual(adam.stepCount, 17)
        XCTAssertEqual(adam.learningRate, 0.01)
    }

    func testSnapshotRecordsAdamHyperparameters() {
        let params = F.parameters(F.features)
        let adam = Adam<Float>(layout: params.layout, learningRate: 0.5, beta1: 0.8, beta2: 0.95, epsilon: 1e-6)
        let snapshot = OptimizerSnapshot(adam)
        XCTAssertEqual(snapshot.name, "adam")
        XCTAssertEqual(snapshot.learningRate, 0.5)
        XCTAssertEqual(snapshot.hyperparameters["betas.0"], 0.8)
        XCTAssertEqual(snapshot.hyperparameters["betas.1"], 0.95)
        XCTAssertEqual(snapshot.hyperparameters["eps"], 1e-6)
    }

    func testRandomSourceResumesTheSavedStream() throws {
        var rng = RandomSource(seed: 99)
        _ = rng.next()
        var checkpoint = Checkpoint(parameters: F.parameters(F.features), optimizer: nil)
        checkpoint.rngStates["shuffle"] = rng.state
        var resumed = try XCTUnwrap(checkpoint.randomSource("shuffle"))
        XCTAssertEqual(resumed.next(), rng.next())
        XCTAssertNil(checkpoint.randomSource("missing"))
    }

    func testDataCursorDecodesAsTheLoadersType() throws {
        struct Cursor: Codable, Equatable {
            var epoch: Int
            var order: [Int]
        }
        var checkpoint = Checkpoint(parameters: F.parameters(F.features), optimizer: nil)
        try checkpoint.setDataCursor(Cursor(epoch: 2, order: [3, 1, 2]))
        XCTAssertEqual(try checkpoint.dataCursor(as: Cursor.self), Cursor(epoch: 2, order: [3, 1, 2]))
    }

    // MARK: Restore errors

    func testRestoreIntoDifferentLayoutFailsWithoutChangingIt() throws {
        let checkpoint = F.fullCheckpoint(F.tokens)
        let other = ParameterSet<Float>(config: F.features)
        F.assertFileError(.incompatible, .checkpoint, mentioning: "embedding.weight") {
            try checkpoint.restore(into: other)
        }
        XCTAssertTrue(other.storage.toArray().allSatisfy { $0 == 0 })
    }

    func testRestoreIntoOtherOptimizerFailsWithoutChangingTheModel() throws {
        let checkpoint = F.fullCheckpoint(F.features)
        let params = ParameterSet<Float>(config: F.features)
        F.assertFileError(.incompatible, .checkpoint, mentioning: "sgd") {
            try checkpoint.restore(into: params, optimizer: SGD<Float>(learningRate: 0.1))
        }
        XCTAssertTrue(params.storage.toArray().allSatisfy { $0 == 0 })
    }

    func testRestoreIntoOptimizerNeedsOptimizerState() throws {
        let checkpoint = Checkpoint(parameters: F.parameters(F.features), optimizer: nil)
        let params = ParameterSet<Float>(config: F.features)
        F.assertFileError(.incompatible, .checkpoint, mentioning: "no optimizer state") {
            try checkpoint.restore(into: params, optimizer: Adam<Float>(layout: params.layout))
        }
    }

    // MARK: Atomic save

    func testSaveLeavesNoTemporaryFiles() throws {
        let dir = try F.temporaryDirectory(self)
        try F.fullCheckpoint().save(to: dir + "/a.h5")
        try F.fullCheckpoint(seed: 9).save(to: dir + "/a.h5")  // overwrite
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["a.h5"])
    }

    func testFailureWhileWritingKeepsThePreviousCheckpointIntact() throws {
        let dir = try F.temporaryDirectory(self)
        let path = dir + "/ckpt.h5"
        let old = F.fullCheckpoint(seed: 1)
        try old.save(to: path)
        struct Injected: Error {}
        XCTAssertThrowsError(
            try F.fullCheckpoint(seed: 2).save(to: path) { stage in
                if stage == .writing { throw Injected() }  // after the parameters, before the rest
            }
        ) { XCTAssertTrue($0 is Injected) }
        F.assertBitwiseEqual(old, try Checkpoint.load(from: path))
        XCTAssertEqual(try F.temporaryFiles(in: dir), [])
    }

    func testFailureJustBeforeRenameKeepsThePreviousCheckpointIntact() throws {
        let dir = try F.temporaryDirectory(self)
        let path = dir + "/ckpt.h5"
        let old = F.fullCheckpoint(seed: 1)
        try old.save(to: path)
        var sawTemporaryFile = false
        struct Injected: Error {}
        XCTAssertThrowsError(
            try F.fullCheckpoint(seed: 2).save(to: path) { stage in
                if stage == .beforeRename {
                    sawTemporaryFile = (try F.temporaryFiles(in: dir)).count == 1
                    throw Injected()
                }
            })
        XCTAssertTrue(sawTemporaryFile, "the new checkpoint was written next to the old one first")
        F.assertBitwiseEqual(old, try Checkpoint.load(from: path))
        XCTAssertEqual(try F.temporaryFiles(in: dir), [])
    }

    func testSaveOfInvalidCheckpointWritesNothing() throws {
        let dir = try F.temporaryDirectory(self)
        var checkpoint = F.fullCheckpoint()
        checkpoint.parameters.removeLast()
        F.assertFileError(.shapeMismatch, .checkpoint, mentioning: "layout holds") {
            try checkpoint.save(to: dir + "/x.h5")
        }
        checkpoint = F.fullCheckpoint()
        checkpoint.metrics["a/b"] = 1
        F.assertFileError(.invalidValue, .checkpoint, mentioning: "a/b") { try checkpoint.save(to: dir + "/x.h5") }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [])
    }

    func testSaveIntoMissingDirectoryFailsCleanly() throws {
        let dir = try F.temporaryDirectory(self)
        F.assertFileError(.io, .checkpoint, mentioning: "does not exist") {
            try F.fullCheckpoint().save(to: dir + "/no/such/dir/c.h5")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [])
    }

    // MARK: Load errors

    func testLoadOfMissingFileSaysNotFound() throws {
        let dir = try F.temporaryDirectory(self)
        F.assertFileError(.notFound, .checkpoint, mentioning: "nothing.h5") {
            _ = try Checkpoint.load(from: dir + "/nothing.h5")
        }
    }

    func testLoadRejectsFileThatIsNotHDF5() throws {
        let dir = try F.temporaryDirectory(self)
        try "hello".write(toFile: dir + "/text.h5", atomically: true, encoding: .utf8)
        F.assertFileError(.wrongFormat, .checkpoint, mentioning: "not an HDF5 file") {
            _ = try Checkpoint.load(from: dir + "/text.h5")
        }
    }

    func testLoadRejectsHDF5FileThatIsNotACheckpoint() throws {
        let dir = try F.temporaryDirectory(self)
        let file = try HDF5File.create(dir + "/data.h5")
        try file.root.write("inputs", [Float](repeating: 1, count: 6), shape: [2, 3])
        try file.close()
        F.assertFileError(.wrongFormat, .checkpoint, mentioning: "'format'") {
            _ = try Checkpoint.load(from: dir + "/data.h5")
        }
    }

    func testLoadOfExportedWeightsPointsToImport() throws {
        let dir = try F.temporaryDirectory(self)
        try WeightsExporter.export(F.fullCheckpoint(), format: .pytorch, to: dir + "/w.h5")
        F.assertFileError(.wrongFormat, .checkpoint, mentioning: "lstm import --format pytorch") {
            _ = try Checkpoint.load(from: dir + "/w.h5")
        }
    }

    func testLoadRejectsMissingTensor() throws {
        let dir = try F.temporaryDirectory(self)
        let tensors = F.layoutTensors(F.fullCheckpoint()).filter { $0.0 != "lstm.bias_l1" }
        try F.writeCheckpointLike(dir + "/c.h5", config: F.tokens, tensors: tensors)
        F.assertFileError(.missing, .checkpoint, mentioning: "/parameters/lstm.bias_l1") {
            _ = try Checkpoint.load(from: dir + "/c.h5")
        }
    }

    func testLoadRejectsTensorWithWrongShape() throws {
        let dir = try F.temporaryDirectory(self)
        let tensors = F.layoutTensors(F.fullCheckpoint()).map { name, shape, values in
            name == "lstm.weight_hh_l0" ? (name, [4, 16], values) : (name, shape, values)
        }
        try F.writeCheckpointLike(dir + "/c.h5", config: F.tokens, tensors: tensors)
        F.assertFileError(.shapeMismatch, .checkpoint, mentioning: "[16, 4]") {
            _ = try Checkpoint.load(from: dir + "/c.h5")
        }
    }

    func testLoadRejectsExtraTensor() throws {
        let dir = try F.temporaryDirectory(self)
        let tensors =
            F.layoutTensors(F.fullCheckpoint()) + [("lstm.weight_ih_l2", [16, 4], [Float](repeating: 0, count: 64))]
        try F.writeCheckpointLike(dir + "/c.h5", config: F.tokens, tensors: tensors)
        F.assertFileError(.unexpected, .checkpoint, mentioning: "lstm.weight_ih_l2") {
            _ = try Checkpoint.load(from: dir + "/c.h5")
        }
    }

    func testLoadRejectsUnsupportedFormatVersion() throws {
        let dir = try F.temporaryDirectory(self)
        try F.writeCheckpointLike(
            dir + "/c.h5", config: F.tokens, tensors: F.layoutTensors(F.fullCheckpoint()), version: 2)
        F.assertFileError(.unsupportedVersion, .checkpoint, mentioning: "version 2") {
            _ = try Checkpoint.load(from: dir + "/c.h5")
        }
    }

    func testLoadRejectsFloat64Tensor() throws {
        let dir = try F.temporaryDirectory(self)
        let tensors = F.layoutTensors(F.fullCheckpoint())
        try F.writeCheckpointLike(dir + "/c.h5", config: F.tokens, tensors: tensors.filter { $0.0 != "head.bias" })
        let file = try HDF5File.open(dir + "/c.h5", mode: .readWrite)
        try file.root.openGroup("parameters").write("head.bias", [Double](repeating: 0.5, count: 5), shape: [5])
        try file.close()
        F.assertFileError(.typeMismatch, .checkpoint, mentioning: "float32") {
            _ = try Checkpoint.load(from: dir + "/c.h5")
        }
    }

    func testHandMadeCheckpointWithAllTensorsLoads() throws {
        // The negative tests above differ from this one only in the defect they introduce.
        let dir = try F.temporaryDirectory(self)
        let source = F.fullCheckpoint()
        try F.writeCheckpointLike(dir + "/c.h5", config: F.tokens, tensors: F.layoutTensors(source))
        XCTAssertEqual(F.bits(try Checkpoint.load(from: dir + "/c.h5").parameters), F.bits(source.parameters))
    }
}
