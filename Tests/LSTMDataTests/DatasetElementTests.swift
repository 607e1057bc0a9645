import Foundation
import HDF5Kit
import LSTMData
import LSTMFiles
import XCTest

/// Element types per role, where a bad element is, datasets that claim more than the file holds,
/// and progress on long validation scans.
final class DatasetElementTests: DataTestCase {
    func testIntegerFeaturesAndNarrowIdsAreAccepted() throws {
        let p = try makeFile("d.h5") { f in
            try f.root.write("train/inputs", (0..<24).map { UInt8($0) }, shape: [4, 3, 2])
            try f.root.write("train/targets", (0..<12).map { Int16($0 % 3) }, shape: [4, 3])
            try f.root.write("train/lengths", [UInt32(1), 2, 3, 3])
        }
        let schema = try DatasetFile(path: p, progress: .silent).schema("train")
        XCTAssertEqual(schema.input, .features(width: 2))
        XCTAssertEqual(schema.target, .classesPerStep)
        XCTAssertEqual(schema.classIDs?.max, 2)
        XCTAssertTrue(schema.hasLengths)
    }

    func testIntegerTokenInputsAndStreamsAreAccepted() throws {
        let p = try makeFile("d.h5") { f in
            try f.root.write("train/inputs", (0..<12).map { Int64($0 % 5) }, shape: [4, 3])
            try f.root.write("train/targets", (0..<4).map { UInt8($0 % 2) }, shape: [4])
            try f.root.write("stream/tokens", (0..<9).map { UInt16($0 % 4) })
        }
        let file = try DatasetFile(path: p, progress: .silent)
        XCTAssertEqual(try file.schema("train").input, .tokens)
        XCTAssertEqual(try file.schema("train").tokenIDs?.max, 4)
        XCTAssertEqual(try file.schema("stream").classIDs?.max, 3)
    }

    func testLoaderConvertsEveryRoleOnRead() throws {
        let (n, t) = (5, 3)
        let p = try makeFile("d.h5") { f in
            try f.root.write(
                "train/inputs", (0..<(n * t * 2)).map { Double($0) * 0.5 }, shape: [n, t, 2], storing: .float16)
            try f.root.write("train/targets", (0..<(n * t)).map { UInt8($0 % 4) }, shape: [n, t])
            try f.root.write("train/lengths", (0..<n).map { Int64(1 + $0 % t) })
            try f.root.write("stream/tokens", (0..<23).map { Int16($0) })
        }
        let batches = try epoch(BatchLoader(path: p, split: "train", batchSize: 2, shuffle: false))
        XCTAssertEqual(batches.flatMap(\.featureValues), (0..<(n * t * 2)).map { Float($0) * 0.5 })
        XCTAssertEqual(batches.flatMap(\.classValues), (0..<(n * t)).map { Int32($0 % 4) })
        XCTAssertEqual(batches.flatMap { $0.lengths ?? [] }, (0..<n).map { Int32(1 + $0 % t) })

        let stream = try BatchLoader(path: p, split: "stream", batchSize: 5, shuffle: false, seqLength: 4)
        let batch = try XCTUnwrap(try stream.next())
        XCTAssertEqual(Array(batch.tokenValues.prefix(4)), [0, 1, 2, 3])
        XCTAssertEqual(Array(batch.classValues.prefix(4)), [1, 2, 3, 4])
    }

    func testTokenIDThatDoesNotFitInt32IsNamedWhereItIs() throws {
        let p = try makeFile("d.h5") { f in
            var x = (0..<12).map { UInt32($0 % 5) }
            x[7] = 3_000_000_000
            try f.root.write("train/inputs", x, shape: [4, 3])
            try f.root.write("train/targets", [Int32](repeating: 0, count: 4), shape: [4])
        }
        assertDatasetError(
            .invalidValue, file: p, object: "train/inputs",
            mentions: ["token id 3000000000 at sequence 2, step 1", "int32"]
        ) { try DatasetFile(path: p, progress: .silent).schema("train") }
    }

    func testNonFiniteFeatureIsNamedBySequenceStepAndFeature() throws {
        for (type, bad) in [(HDF5ElementType.float16, Double.infinity), (.float32, -.infinity), (.float64, .nan)] {
            let p = try makeFile("\(type).h5") { f in
                var x = [Double](repeating: 0.5, count: 5 * 4 * 3)
                x[(3 * 4 + 2) * 3 + 1] = bad  // sequence 3, step 2, feature 1
                try f.root.write("train/inputs", x, shape: [5, 4, 3], storing: type)
                try f.root.write("train/targets", [Int32](repeating: 0, count: 5), shape: [5])
            }
            assertDatasetError(
                .invalidValue, file: p, object: "train/inputs",
                mentions: ["expected finite input values, found \(Float(bad)) at sequence 3, step 2, feature 1"]
            ) { try DatasetFile(path: p, progress: .silent).schema("train") }
        }
    }

    func testFloat64TargetBeyondFloat32IsNamed() throws {
        let p = try makeFile("d.h5") { f in
            try f.root.write("train/inputs", [Float](repeating: 0, count: 12), shape: [2, 3, 2])
            try f.root.write("train/targets", [0, 1, -1e39, 2], shape: [2, 2], storing: .float64)
        }
        assertDatasetError(
            .invalidValue, file: p, object: "train/targets",
            mentions: ["float64 target value -1e+39 at sequence 1, output 0", "beyond float32", "-inf"]
        ) { try DatasetFile(path: p, progress: .silent).schema("train") }
    }

    func testDatasetClaimingMoreRowsThanTheFileHoldsIsRefusedBeforeAnyScan() throws {
        let p = try makeFile("d.h5") { f in
            try f.root.createDataset("train/inputs", of: Float.self, shape: [1 << 40, 10, 3], chunks: [64, 10, 3])
            try f.root.createDataset("train/targets", of: Int32.self, shape: [1 << 40, 10], chunks: [64, 10])
        }
        let error = assertDatasetError(
            .shapeMismatch, file: p, object: "train/inputs",
            mentions: ["shape [1099511627776, 10, 3]", "17179869184 chunks of [64, 10, 3]", "stores only 0", "bytes"]
        ) { try DatasetFile(path: p, progress: .silent).schema("train") }
        XCTAssertNotNil(error)
    }

    func testPartlyWrittenChunkedTargetsAreRefused() throws {
        let p = try makeFile("d.h5") { f in
            try f.root.write("train/inputs", [Float](repeating: 0, count: 600), shape: [100, 3, 2], chunks: [10, 3, 2])
            let y = try f.root.createDataset("train/targets", of: Int32.self, shape: [100, 3], chunks: [10, 3])
            try y.writeRows([Int32](repeating: 1, count: 30), at: 0)
        }
        assertDatasetError(
            .shapeMismatch, file: p, object: "train/targets", mentions: ["in 10 chunks", "only 1 of those chunks"]
        ) { try DatasetFile(path: p, progress: .silent).schema("train") }
    }

    func testUnwrittenContiguousDatasetIsRefused() throws {
        let p = try makeFile("d.h5") { f in
            try f.root.write("train/inputs", [Float](repeating: 0, count: 12), shape: [2, 3, 2])
            try f.root.createDataset("train/targets", of: Int32.self, shape: [2, 3])
        }
        assertDatasetError(.shapeMismatch, file: p, object: "train/targets", mentions: ["stores only 0 bytes"]) {
            try DatasetFile(path: p, progress: .silent).schema("train")
        }
    }

    func testLongScansReportProgress() throws {
        // Rows of 1024 × 512 features: two rows per 1 Mi-element block, so three rows take two blocks.
        let p = try makeFile("d.h5") { f in
            try f.root.write("train/inputs", [Float](repeating: 0.25, count: 3 * 1024 * 512), shape: [3, 1024, 512])
            try f.root.write("train/targets", [Int32](repeating: 0, count: 3), shape: [3])
        }
        let lines = Lines()
        let progress = ValidationProgress(interval: 0) { lines.append($0) }
        _ = try DatasetFile(path: p, progress: progress).schema("train")
        XCTAssertEqual(lines.all, ["validating \(p): train/inputs: 66% (2 of 3 rows, 0 s)"])

        let quiet = Lines()
        _ = try DatasetFile(path: p, progress: ValidationProgress(interval: 60) { quiet.append($0) }).schema("train")
        XCTAssertEqual(quiet.all, [], "a scan shorter than the interval reports nothing")
    }
}

/// Collects report lines from any thread.
final class Lines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.withLock { lines.append(line) } }
    var all: [String] { lock.withLock { lines } }
}
