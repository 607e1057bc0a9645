import HDF5Kit
import LSTMData
import LSTMKit
import XCTest

/// BatchLoader's rank/world view (multi-process training): each rank reads exactly its rows of
/// the minibatch one process would read, in the same order, with the row offset dropout needs.
final class LoaderPartitionTests: DataTestCase {
    /// Rows `range` of a whole minibatch, cut by hand.
    func cut(_ m: Minibatch<Float>, _ range: Range<Int>) -> (features: [Float], tokens: [Int32], classes: [Int32]) {
        func part<E>(_ a: [E]) -> [E] {
            guard m.batchSize > 0, !a.isEmpty else { return [] }
            let per = a.count / m.batchSize
            return Array(a[(range.lowerBound * per)..<(range.upperBound * per)])
        }
        return (part(m.featureValues), part(m.tokenValues), part(m.classValues))
    }

    func check(_ path: String, batch: Int, shards: Int, ranks: Int, seqLength: Int? = nil, mode: StreamMode = .windows)
        throws
    {
        let whole = try BatchLoader(
            path: path, split: "train", batchSize: batch, seed: 3, seqLength: seqLength, mode: mode)
        let batches = try epoch(whole)
        XCTAssertGreaterThan(batches.count, 1)
        for r in 0..<ranks {
            let p = ShardPartition(shards: shards, rank: r, worldSize: ranks)
            let mine = try epoch(
                BatchLoader(
                    path: path, split: "train", batchSize: batch, seed: 3, seqLength: seqLength, mode: mode,
                    partition: p))
            XCTAssertEqual(mine.count, batches.count)
            for (k, (a, b)) in zip(mine, batches).enumerated() {
                let rows = p.localRows(batch: b.batchSize)
                let expected = cut(b, rows)
                XCTAssertEqual(a.batchSize, rows.count, "rank \(r), minibatch \(k)")
                XCTAssertEqual(a.rowOffset, rows.lowerBound)
                XCTAssertEqual(a.globalBatchSize, b.batchSize)
                XCTAssertEqual(a.featureValues, expected.features, "rank \(r), minibatch \(k)")
                XCTAssertEqual(a.tokenValues, expected.tokens, "rank \(r), minibatch \(k)")
                XCTAssertEqual(a.classValues, expected.classes, "rank \(r), minibatch \(k)")
            }
        }
    }

    func testShuffledSequencesWithAnUnevenLastMinibatchAndAnEmptyRank() throws {
        let n = 23
        let p = path("seq.h5")
        let writer = try DatasetWriter(path: p)
        try writer.writeSequences(
            split: "train", count: n, steps: 2,
            inputs: .features((0..<(n * 2 * 3)).map { Float($0) }, width: 3),
            targets: .classesPerSequence((0..<n).map { Int32($0 % 4) }))
        try writer.commit()
        // B = 10: minibatches of 10, 10 and 3; S = 5 over 4 ranks: in the last, rank 0 gets no row.
        try check(p, batch: 10, shards: 5, ranks: 4)
        try check(p, batch: 10, shards: 5, ranks: 2)
        let last = try BatchLoader(
            path: p, split: "train", batchSize: 10, seed: 3, cursor: LoaderCursor(epoch: 0, position: 2),
            partition: ShardPartition(shards: 5, rank: 0, worldSize: 4))
        XCTAssertEqual(try last.next()?.batchSize, 0)
    }

    func testStatefulLanesAreDealtByShard() throws {
        let p = path("stream.h5")
        let writer = try DatasetWriter(path: p)
        try writer.writeTokenStream(split: "train", tokens: (0..<400).map { Int32($0 % 50) })
        try writer.commit()
        try check(p, batch: 8, shards: 4, ranks: 2, seqLength: 5, mode: .stateful)
        try check(p, batch: 8, shards: 4, ranks: 4, seqLength: 5, mode: .stateful)
    }
}
