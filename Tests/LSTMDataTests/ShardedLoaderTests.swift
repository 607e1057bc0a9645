import HDF5Kit
import LSTMData
import LSTMKit
import XCTest

/// A loader over the shards of `DatasetFile.open(paths:)` returns the minibatches of one file
/// holding their concatenation, whole and as each rank's rows, and reads each rank's rows only.
final class ShardedLoaderTests: DataTestCase {
    /// Rows `rows` of 23 sequences (features I = 3, T = 2, lengths, one class per sequence).
    func write(_ name: String, _ rows: Range<Int>) throws -> String {
        let p = path(name)
        let writer = try DatasetWriter(path: p)
        try writer.writeSequences(
            split: "train", count: rows.count, steps: 2,
            inputs: .features(rows.flatMap { r in (0..<6).map { Float(r * 6 + $0) } }, width: 3),
            targets: .classesPerSequence(rows.map { Int32($0 % 4) }), lengths: rows.map { Int32(1 + $0 % 2) })
        try writer.commit()
        return p
    }

    func loader(_ file: DatasetFile, partition: ShardPartition? = nil) throws -> BatchLoader {
        try BatchLoader(file: file, split: "train", batchSize: 10, seed: 3, partition: partition)
    }

    func testShardsReadLikeTheConcatenatedFileWholeAndPerRank() throws {
        let whole = try DatasetFile(path: write("whole.h5", 0..<23))
        // Three shards, one of a single row, so minibatches span all three.
        let shards = try DatasetFile.open(paths: [write("a.h5", 0..<7), write("b.h5", 7..<8), write("c.h5", 8..<23)])
        XCTAssertEqual(shards.shards.count, 3)
        XCTAssertEqual(try shards.schema("train"), try whole.schema("train"))
        XCTAssertEqual(shards.splits, ["train"])
        let expected = try epoch(loader(whole))
        let got = try epoch(loader(shards))
        XCTAssertEqual(got.count, 3)
        XCTAssertEqual(got.count, expected.count)
        for (a, b) in zip(got, expected) { XCTAssertTrue(sameMinibatch(a, b)) }
        for r in 0..<2 {
            let p = ShardPartition(shards: 5, rank: r, worldSize: 2)
            let mine = try epoch(loader(shards, partition: p))
            let reference = try epoch(loader(whole, partition: p))
            XCTAssertEqual(mine.count, reference.count)
            for (k, (a, b)) in zip(mine, reference).enumerated() {
                XCTAssertTrue(sameMinibatch(a, b), "rank \(r), minibatch \(k)")
                XCTAssertEqual(a.rowOffset, b.rowOffset)
                XCTAssertEqual(a.globalBatchSize, b.globalBatchSize)
            }
        }
    }

    func testOnePathOpensThatFile() throws {
        let file = try DatasetFile.open(paths: [write("one.h5", 0..<4)])
        XCTAssertTrue(file.shards.isEmpty)
        XCTAssertEqual(file.path, path("one.h5"))
        XCTAssertThrowsError(try DatasetFile.open(paths: []))
    }
}
