import Foundation
import HDF5Kit
import XCTest

final class DatasetRoundTripTests: HDF5TestCase {

    /// Writes `values` with `shape` [4, 3], reopens the file, and checks whole and row reads.
    private func assertRoundTrip<T: HDF5Scalar & Equatable>(
        _ values: [T], expectedType: HDF5ElementType,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let p = path("\(T.self).h5")
        do {
            let f = try HDF5File.create(p)
            try f.root.createDataset("data", of: T.self, shape: [4, 3]).write(values)
        }
        let f = try HDF5File.open(p)
        let ds = try f.root.openDataset("data")
        XCTAssertEqual(ds.shape, [4, 3], file: file, line: line)
        XCTAssertEqual(ds.elementType, expectedType, file: file, line: line)
        XCTAssertEqual(try ds.read(as: T.self), values, file: file, line: line)
        XCTAssertEqual(try ds.readRows(1..<3, as: T.self), Array(values[3..<9]), file: file, line: line)
        XCTAssertEqual(try ds.readRows(3..<4, as: T.self), Array(values[9..<12]), file: file, line: line)
    }

    func testFloatRoundTripsWholeAndByRows() throws {
        try assertRoundTrip((0..<12).map { Float($0) * 0.5 - 2 }, expectedType: .float32)
    }

    func testDoubleRoundTripsWholeAndByRows() throws {
        try assertRoundTrip((0..<12).map { Double($0) / 3 + 1e-12 }, expectedType: .float64)
    }

    func testInt32RoundTripsWholeAndByRows() throws {
        try assertRoundTrip((0..<12).map { Int32($0 * 1000 - 5000) }, expectedType: .int32)
    }

    func testInt64RoundTripsWholeAndByRows() throws {
        try assertRoundTrip((0..<12).map { Int64($0) * 10_000_000_000 - 7 }, expectedType: .int64)
    }

    func testUInt8RoundTripsWholeAndByRows() throws {
        try assertRoundTrip((0..<12).map { UInt8($0 * 21) }, expectedType: .uint8)
    }

    func testScalarDatasetRoundTrips() throws {
        let f = try HDF5File.create(path("scalar.h5"))
        try f.root.write("pi", [Double.pi], shape: [])
        let ds = try f.root.openDataset("pi")
        XCTAssertEqual(ds.shape, [])
        XCTAssertEqual(ds.elementCount, 1)
        XCTAssertEqual(try ds.read(as: Double.self), [Double.pi])
    }

    func testConvenienceWriteAndReadByNestedPath() throws {
        let f = try HDF5File.create(path("conv.h5"))
        let values: [Float] = [1, 2, 3, 4, 5, 6]
        let ds = try f.root.write("train/inputs", values, shape: [2, 3])
        XCTAssertEqual(ds.path, "/train/inputs")
        XCTAssertEqual(try f.root.read("train/inputs", as: Float.self), values)
        XCTAssertEqual(try f.root.openGroup("train").read("inputs", as: Float.self), values)
        XCTAssertEqual(try f.root.read("/train/inputs", as: Float.self), values)
    }

    func testChunkedGzipDatasetRoundTripsAndCompresses() throws {
        let p = path("gzip.h5")
        let rows = 100
        let cols = 50
        // Highly compressible: a short repeating pattern.
        let values = (0..<(rows * cols)).map { Float($0 % 7) }
        do {
            let f = try HDF5File.create(p)
            let ds = try f.root.createDataset(
                "x", of: Float.self, shape: [rows, cols], chunks: [10, cols], compression: 6)
            try ds.write(values)
            try f.flush()
        }
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: p)[.size] as? Int)
        XCTAssertLessThan(size, rows * cols * 4 / 2, "gzip should shrink 20 kB of repeating floats")
        let f = try HDF5File.open(p)
        let ds = try f.root.openDataset("x")
        XCTAssertEqual(try ds.read(as: Float.self), values)
        XCTAssertEqual(try ds.readRows(37..<42, as: Float.self), Array(values[(37 * cols)..<(42 * cols)]))
    }

    func testCompressionWithoutExplicitChunksStillRoundTrips() throws {
        let f = try HDF5File.create(path("autochunk.h5"))
        let values = (0..<30).map { Int32($0) }
        try f.root.write("x", values, shape: [10, 3], compression: 4)
        XCTAssertEqual(try f.root.read("x", as: Int32.self), values)
    }

    func testInvalidChunkShapeAndCompressionLevelAreRejected() throws {
        let f = try HDF5File.create(path("badchunk.h5"))
        assertHDF5Error(.invalidArgument, mentions: ["/x", "[20, 3]", "[10, 3]"]) {
            try f.root.createDataset("x", of: Float.self, shape: [10, 3], chunks: [20, 3])
        }
        assertHDF5Error(.invalidArgument, mentions: ["/y", "gzip level 12"]) {
            try f.root.createDataset("y", of: Float.self, shape: [10, 3], compression: 12)
        }
        XCTAssertFalse(f.root.exists("x"))
    }

    func testWriteRowsReplacesOnlyThoseRows() throws {
        let f = try HDF5File.create(path("rows.h5"))
        let ds = try f.root.createDataset("m", of: Double.self, shape: [5, 2])
        try ds.write([Double](repeating: 0, count: 10))
        try ds.writeRows([1, 2, 3, 4], at: 2)
        XCTAssertEqual(try ds.read(as: Double.self), [0, 0, 0, 0, 1, 2, 3, 4, 0, 0])
    }

    func testZeroRowDatasetReadsEmpty() throws {
        let f = try HDF5File.create(path("empty.h5"))
        let ds = try f.root.createDataset("e", of: Float.self, shape: [0, 4])
        try ds.write([Float]())
        XCTAssertEqual(try ds.read(as: Float.self), [])
        XCTAssertEqual(try ds.readRows(0..<0, as: Float.self), [])
        XCTAssertEqual(ds.rowSize, 4)
    }

    func testDataPersistsAfterExplicitCloseAndReopenReadWrite() throws {
        let p = path("reopen.h5")
        let f = try HDF5File.create(p)
        try f.root.write("a", [UInt8(1), 2, 3])
        try f.close()
        XCTAssertFalse(f.isOpen)
        let g = try HDF5File.open(p, mode: .readWrite)
        try g.root.openDataset("a").write([UInt8(7), 8, 9])
        try g.close()
        XCTAssertEqual(try HDF5File.open(p).root.read("a", as: UInt8.self), [7, 8, 9])
    }
}
