import Foundation
import HDF5Kit
import LSTMKit
import XCTest

@testable import LSTMIO

final class CheckpointInspectTests: XCTestCase {
    typealias F = CheckpointFixtures

    func testCheckpointReportShowsModelTensorsOptimizerProgressAndMetrics() throws {
        let dir = try F.temporaryDirectory(self)
        try F.fullCheckpoint(F.tokens).save(to: dir + "/c.h5")
        let report = try Inspection.report(path: dir + "/c.h5")
        XCTAssertTrue(report.contains("input: tokens, vocabulary 7, embedding 3"), report)
        XCTAssertTrue(report.contains("lstm: 2 layer(s), hidden size 4"), report)
        XCTAssertTrue(report.contains("parameters: \(ParameterLayout(F.tokens).count) in 9 tensors"), report)
        XCTAssertTrue(report.contains("lstm.weight_ih_l1  [16, 4]"), report)
        XCTAssertTrue(report.contains("optimizer: adam, learning rate 0.01, 17 steps"), report)
        XCTAssertTrue(report.contains("global step 1234, epoch 5"), report)
        XCTAssertTrue(report.contains("best_validation_loss = 0.123456789012345"), report)
    }

    func testTreeOfAnyHDF5FileShowsGroupsShapesDtypesAndAttributes() throws {
        let dir = try F.temporaryDirectory(self)
        let file = try HDF5File.create(dir + "/data.h5")
        try file.root.setAttribute("schema", "sequences")
        let inputs = try file.root.write("train/inputs", [Int32](repeating: 1, count: 6), shape: [2, 3])
        try inputs.setAttribute("vocabulary", [Int](0..<20))
        try file.close()
        let tree = try Inspection.report(path: dir + "/data.h5")
        XCTAssertEqual(
            tree,
            """
            /
              @schema = "sequences"
              train/
                inputs  [2, 3] int32
                  @vocabulary = [0, 1, 2, 3, 4, 5, 6, 7, … (20 values)]

            """)
    }

    func testWeightsReportNamesTheFormatAndModel() throws {
        let dir = try F.temporaryDirectory(self)
        try WeightsExporter.export(F.fullCheckpoint(F.features), format: .keras, to: dir + "/k.weights.h5")
        let report = try Inspection.report(path: dir + "/k.weights.h5")
        XCTAssertTrue(report.hasPrefix("Keras weights: "), report)
        XCTAssertTrue(report.contains("input: features, size 3"), report)
        XCTAssertTrue(report.contains("layers/") && report.contains("0  [3, 16] float32"), report)
    }
}
