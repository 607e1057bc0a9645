import Foundation
import HDF5Kit
import LSTMData
import LSTMFiles
import LSTMKit
import XCTest

/// Splits of new data (inputs only) for inference, and names without statistics.
final class InputsOnlyTests: DataTestCase {
    private func inputsOnly(_ name: String, lengths: [Int32]? = nil) throws -> String {
        try makeFile(name) { f in
            let g = try f.root.createGroup("new")
            try g.write("inputs", (0..<30).map { Double($0) / 10 }, shape: [5, 3, 2])  // float64, as numpy writes
            if let lengths { try g.write("lengths", lengths) }
        }
    }

    func testSchemaRefusesASplitWithoutTargetsNamingThemAndPredict() throws {
        let p = try inputsOnly("new.h5")
        assertDatasetError(.missing, file: p, object: "new/targets", mentions: ["lstm predict"]) {
            try DatasetFile(path: p).schema("new")
        }
        assertDatasetError(.missing, file: p, object: "new/targets") {
            try BatchLoader(path: p, split: "new", batchSize: 2)
        }
    }

    func testTheLoaderStreamsInputsOnlyWithZeroTargetsOfTheModelsKind() throws {
        let p = try inputsOnly("new.h5", lengths: [3, 1, 2, 3, 3])
        let file = try DatasetFile(path: p)
        XCTAssertFalse(try file.hasTargets("new"))
        let schema = try file.inputsSchema("new", assuming: .classesPerSequence)
        XCTAssertFalse(schema.hasTargets)
        XCTAssertEqual(schema.target, .classesPerSequence)
        XCTAssertTrue(schema.hasLengths)
        let loader = try BatchLoader(
            file: file, split: "new", batchSize: 2, shuffle: false, inputsOnly: .valuesPerStep(width: 4))
        var rows = 0
        var inputs: [Float] = []
        while let batch = try loader.next() {
            guard case .values(let y) = batch.targets, case .features(let x) = batch.inputs else {
                return XCTFail("expected features and float targets")
            }
            XCTAssertEqual(y, [Float](repeating: 0, count: batch.batchSize * 3 * 4))
            XCTAssertEqual(batch.lengths?.count, batch.batchSize)
            inputs += x
            rows += batch.batchSize
        }
        XCTAssertEqual(rows, 5)
        XCTAssertEqual(inputs, (0..<30).map { Float(Double($0) / 10) })
        // A split with targets is read as it is.
        let labelled = try makeFile("labelled.h5") { f in
            let g = try f.root.createGroup("train")
            try g.write("inputs", [Float](repeating: 0, count: 12), shape: [2, 3, 2])
            try g.write("targets", [Int32]([1, 0]))
        }
        XCTAssertTrue(try DatasetFile(path: labelled).inputsSchema("train", assuming: .classesPerStep).hasTargets)
    }

    func testFeatureNamesWithoutStatisticsAreAcceptedAndMustMatchTheWidth() throws {
        let p = try makeFile("named.h5") { f in
            let g = try f.root.createGroup("train")
            try g.write("inputs", [Float](repeating: 0, count: 12), shape: [2, 3, 2])
            try g.write("targets", [Int32]([1, 0]))
            try f.root.setAttribute("feature_names", ["temperature", "pressure"])
        }
        let file = try DatasetFile(path: p)
        XCTAssertEqual(file.metadata.featureNames, ["temperature", "pressure"])
        XCTAssertNil(file.featureStatistics)
        XCTAssertNoThrow(try file.schema("train"))
        let wrong = try makeFile("wrong.h5") { f in
            let g = try f.root.createGroup("train")
            try g.write("inputs", [Float](repeating: 0, count: 12), shape: [2, 3, 2])
            try g.write("targets", [Int32]([1, 0]))
            try f.root.setAttribute("feature_names", ["temperature"])
        }
        assertDatasetError(.shapeMismatch, file: wrong, object: "feature_names (root attribute)", mentions: ["I = 2"]) {
            try DatasetFile(path: wrong).schema("train")
        }
    }
}
