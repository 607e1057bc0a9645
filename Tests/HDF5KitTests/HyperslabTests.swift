import Foundation
import HDF5Kit
import XCTest

final class HyperslabTests: HDF5TestCase {
    /// A [6, 4] Float dataset whose element (r, c) is 10 * r + c.
    private func makeMatrix(chunked: Bool = false) throws -> (HDF5File, HDF5Dataset) {
        let f = try HDF5File.create(path("m.h5"))
        let values = (0..<6).flatMap { r in (0..<4).map { c in Float(10 * r + c) } }
        let ds = try f.root.write(
            "m", values, shape: [6, 4],
            chunks: chunked ? [2, 4] : nil, compression: chunked ? 1 : nil)
        return (f, ds)
    }

    private func row(_ r: Int) -> [Float] { (0..<4).map { Float(10 * r + $0) } }

    func testReadAtOffsetReturnsTheRequestedBlockOf3DDataset() throws {
        let f = try HDF5File.create(path("cube.h5"))
        let shape = [4, 5, 6]
        let values = (0..<120).map { Int32($0) }
        let ds = try f.root.write("cube", values, shape: shape)
        let block = try ds.read(offset: [1, 2, 3], count: [2, 2, 3], as: Int32.self)
        var expected: [Int32] = []
        for i in 1..<3 { for j in 2..<4 { for k in 3..<6 { expected.append(Int32(i * 30 + j * 6 + k)) } } }
        XCTAssertEqual(block, expected)
    }

    func testReadRowsAtOffsetReturnsThoseRows() throws {
        let (_, ds) = try makeMatrix()
        XCTAssertEqual(try ds.readRows(2..<4, as: Float.self), row(2) + row(3))
        XCTAssertEqual(try ds.readRows(5..<6, as: Float.self), row(5))
    }

    func testReadRowsIntoBufferFillsOnlyThePrefix() throws {
        let (_, ds) = try makeMatrix()
        var buffer = [Float](repeating: -1, count: 12)
        let written = try buffer.withUnsafeMutableBufferPointer { try ds.readRows(into: $0, rows: 3..<5) }
        XCTAssertEqual(written, 8)
        XCTAssertEqual(Array(buffer[0..<8]), row(3) + row(4))
        XCTAssertEqual(Array(buffer[8...]), [-1, -1, -1, -1], "elements past the rows must be untouched")
    }

    func testReadRowsIntoTooSmallBufferThrows() throws {
        let (_, ds) = try makeMatrix()
        var buffer = [Float](repeating: 0, count: 7)
        assertHDF5Error(.shapeMismatch, mentions: ["/m", "7", "8"]) {
            try buffer.withUnsafeMutableBufferPointer { try ds.readRows(into: $0, rows: 0..<2) }
        }
    }

    func testReadRowsByUnsortedIndicesKeepsRequestedOrder() throws {
        let (_, ds) = try makeMatrix()
        let indices = [5, 0, 3, 4, 4, 1, 2]
        let result = try ds.readRows(indices: indices, as: Float.self)
        XCTAssertEqual(result, indices.flatMap(row))
    }

    func testReadRowsByIndicesIntoBufferOnChunkedCompressedDataset() throws {
        let (_, ds) = try makeMatrix(chunked: true)
        let indices = [4, 1, 2, 3, 0]
        var buffer = [Float](repeating: .nan, count: indices.count * 4 + 1)
        let written = try buffer.withUnsafeMutableBufferPointer { try ds.readRows(indices: indices, into: $0) }
        XCTAssertEqual(written, 20)
        XCTAssertEqual(Array(buffer[0..<20]), indices.flatMap(row))
        XCTAssertTrue(buffer[20].isNaN)
    }

    func testGeneralSlabIntoBufferAndSlabWrite() throws {
        let (_, ds) = try makeMatrix()
        try ds.write([Float](repeating: 99, count: 4), offset: [1, 1], count: [2, 2])
        var buffer = [Float](repeating: 0, count: 6)
        try buffer.withUnsafeMutableBufferPointer { _ = try ds.read(offset: [1, 0], count: [2, 3], into: $0) }
        XCTAssertEqual(buffer, [10, 99, 99, 20, 99, 99])
    }
}

final class BlockReadTests: HDF5TestCase {
    func testABlockReadTouchesAtMostChunksPerReadChunks() throws {
        let f = try HDF5File.create(path("chunks.h5"))
        let rows = 5000
        let values = [Float](repeating: 1, count: rows * 3)
        let oneRow = try f.root.write("one", values, shape: [rows, 3], chunks: [1, 3])
        let sevenRows = try f.root.write("seven", values, shape: [rows, 3], chunks: [7, 3])
        let contiguous = try f.root.write("flat", values, shape: [rows, 3])
        let cap = HDF5Dataset.chunksPerRead
        XCTAssertEqual(oneRow.rowsPerRead(1 << 20), cap, "one-row chunks: one chunk per row")
        XCTAssertEqual(sevenRows.rowsPerRead(1 << 20), 7 * cap)
        XCTAssertEqual(oneRow.rowsPerRead(10), 10, "fewer rows than the cap are left as asked")
        XCTAssertEqual(oneRow.rowsPerRead(0), 1, "at least one row")
        XCTAssertEqual(contiguous.rowsPerRead(1 << 20), 1 << 20, "contiguous storage has no chunks to count")
        // The raw block walk (checksums) goes through the same cap and still sees every byte once.
        var bytes = 0
        var blocks = 0
        try oneRow.forEachStoredBlock(blockBytes: 1 << 20) {
            bytes += $0.count
            blocks += 1
        }
        XCTAssertEqual(bytes, rows * 3 * 4)
        XCTAssertEqual(blocks, (rows + cap - 1) / cap)
    }
}
