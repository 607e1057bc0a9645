import Foundation
import HDF5Kit
import LSTMFiles
import XCTest

/// `ModelMetadata`: the root attributes datasets and models share (docs/weights.md, "Model metadata").
final class ModelMetadataTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory =
            FileManager.default.temporaryDirectory
            .appendingPathComponent("lstm-metadata-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private let full = ModelMetadata(
        vocabulary: ["\n", " ", "a", "é"], classNames: ["calm", "storm"], featureNames: ["temp", "wind"],
        featureStatistics: ColumnStatistics(names: ["temp", "wind"], mean: [20.5, 3], std: [4.25, 1]),
        targetNames: ["temp"], targetStatistics: ColumnStatistics(names: ["temp"], mean: [20.5], std: [4.25]))

    /// Writes `body`'s attributes to a new file's root and reads them back.
    private func roundTrip(_ body: (HDF5Group) throws -> Void) throws -> ModelMetadata {
        let path = directory + "/m-\(UUID().uuidString).h5"
        let file = try HDF5File.create(path)
        try body(file.root)
        try file.close()
        let again = try HDF5File.open(path)
        defer { try? again.close() }
        return try ModelMetadata.read(from: again.root, role: .checkpoint, file: path)
    }

    func testEveryAttributeRoundTripsThroughHDF5UnderItsDocumentedName() throws {
        let path = directory + "/m.h5"
        let file = try HDF5File.create(path)
        try full.write(to: file.root)
        XCTAssertEqual(try file.root.attributeNames().sorted(), ModelMetadata.attributeNames.sorted())
        try file.close()
        let read = try roundTrip { try full.write(to: $0) }
        XCTAssertEqual(read, full)
        XCTAssertTrue(try roundTrip { _ in }.isEmpty)
    }

    func testNamesAloneAreKeptWithoutStatistics() throws {
        let read = try roundTrip { try $0.setAttribute("feature_names", ["a", "b"]) }
        XCTAssertEqual(read.featureNames, ["a", "b"])
        XCTAssertNil(read.featureStatistics)
    }

    func testStatisticsAreCheckedAndErrorsNameTheAttribute() throws {
        XCTAssertThrowsError(try roundTrip { try $0.setAttribute("mean", [Float]([1])) }) { error in
            XCTAssertEqual((error as? FileError)?.object, "std (root attribute)")
        }
        XCTAssertThrowsError(
            try roundTrip {
                try $0.setAttribute("mean", [Float]([1, 2]))
                try $0.setAttribute("std", [Float]([1, 0]))
            }
        ) { error in
            XCTAssertEqual((error as? FileError)?.object, "std (root attribute)")
            XCTAssertTrue("\(error)".contains("found 0.0 for column column 1"), "\(error)")
        }
        XCTAssertThrowsError(try roundTrip { try $0.setAttribute("vocabulary", [Int]([1, 2])) }) { error in
            XCTAssertEqual((error as? FileError)?.kind, .typeMismatch)
        }
    }

    func testStringPropertiesRoundTripForFormatsWithStringMetadata() throws {
        let properties = Dictionary(uniqueKeysWithValues: full.properties.map { ($0.key, $0.value) })
        XCTAssertEqual(Set(properties.keys), Set(ModelMetadata.attributeNames))
        XCTAssertEqual(properties["feature_names"], #"["temp","wind"]"#)
        XCTAssertEqual(try ModelMetadata(properties: properties, role: .weights, file: "m.onnx"), full)
        XCTAssertThrowsError(
            try ModelMetadata(properties: ["vocabulary": "abc"], role: .weights, file: "m.onnx")
        ) { error in
            XCTAssertEqual((error as? FileError)?.object, "metadata 'vocabulary'")
        }
    }

    func testDifferencesListBothSidesAndIgnoreWhatOnlyOneSideHas() {
        XCTAssertEqual(full.differences(fromData: full), [])
        XCTAssertEqual(ModelMetadata().differences(fromData: full), [])  // an older model: nothing to compare
        var data = full
        data.featureNames = ["humidity", "wind"]
        data.featureStatistics!.mean = [80, 3]
        XCTAssertEqual(
            full.differences(fromData: data),
            [
                "feature_names: the model has [temp, wind], the data [humidity, wind] (first difference at entry 0: temp vs humidity)",
                "mean: the model has [20.5, 3.0], the data [80.0, 3.0] (first difference at entry 0: 20.5 vs 80.0)"
            ])
        var raw = full
        raw.featureStatistics = nil
        raw.vocabulary = nil  // token ids without a vocabulary: nothing to compare
        XCTAssertEqual(full.differences(fromData: raw).count, 1)
        XCTAssertTrue(
            full.differences(fromData: raw)[0].hasPrefix("mean/std: the model was trained on inputs normalised"))
    }
}
