import Foundation
import HDF5Kit
import XCTest

/// Every numeric element type numpy/h5py write, stored and read back through HDF5's conversion;
/// storage() telling written from unwritten data.
final class ConversionTests: HDF5TestCase {
    /// Values exactly representable in every type: small non-negative integers.
    let values: [Double] = [0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 127]

    func testEveryNumericTypeIsStoredAsItselfAndReadConverted() throws {
        let f = try HDF5File.create(path("types.h5"))
        for type in HDF5ElementType.numeric {
            try f.root.write("\(type)", values, shape: [3, 4], storing: type)
        }
        try f.close()
        let g = try HDF5File.open(path("types.h5"))
        for type in HDF5ElementType.numeric {
            let d = try g.root.openDataset("\(type)")
            XCTAssertEqual(d.elementType, type, "stored type of \(type)")
            XCTAssertEqual(try d.read(as: Float.self, converting: true), values.map(Float.init), "\(type) as Float")
            XCTAssertEqual(try d.read(as: Int32.self, converting: true), values.map { Int32($0) }, "\(type) as Int32")
            var rows = [Float](repeating: -1, count: 8)
            try rows.withUnsafeMutableBufferPointer { _ = try d.readRows(indices: [2, 0], into: $0, converting: true) }
            XCTAssertEqual(rows, (Array(values[8..<12]) + Array(values[0..<4])).map(Float.init), "\(type) rows")
        }
    }

    func testFloat16IsStoredAsHalfPrecision() throws {
        let f = try HDF5File.create(path("half.h5"))
        let d = try f.root.write("h", [Float(0.5), -2.25, 65504, 1e-3], storing: .float16)
        XCTAssertEqual(d.elementType, .float16)
        let back = try d.read(as: Float.self, converting: true)
        XCTAssertEqual(Array(back.prefix(3)), [0.5, -2.25, 65504])
        XCTAssertEqual(back[3], 0.0010004, accuracy: 1e-7, "1e-3 rounds to the nearest half")
        XCTAssertEqual(try d.storage().storedBytes, 8, "2 bytes per element")
    }

    func testReadingWithoutConversionStillRequiresTheExactType() throws {
        let f = try HDF5File.create(path("x.h5"))
        let d = try f.root.write("x", [Int16(1), 2, 3])
        assertHDF5Error(.typeMismatch, mentions: ["/x", "int16", "without conversion"]) { try d.read(as: Int32.self) }
        XCTAssertEqual(try d.read(as: Int32.self, converting: true), [1, 2, 3])
    }

    func testStringsDoNotConvertToNumbers() throws {
        let f = try HDF5File.create(path("s.h5"))
        let d = try f.root.writeStrings("s", ["ab", "c"])
        XCTAssertEqual(d.elementType, .other("string"))
        XCTAssertEqual(try f.root.openDataset("s").shape, [2])
        assertHDF5Error(.typeMismatch, mentions: ["/s", "string", "only numeric types convert"]) {
            try d.read(as: Float.self, converting: true)
        }
    }

    func testStorageTellsUnwrittenChunksFromWrittenOnes() throws {
        let f = try HDF5File.create(path("c.h5"))
        let lying = try f.root.createDataset("lying", of: Float.self, shape: [1 << 40, 3], chunks: [64, 3])
        let info = try lying.storage()
        XCTAssertEqual(info.layout, .chunked)
        XCTAssertEqual(info.chunkShape, [64, 3])
        XCTAssertEqual(info.allocatedChunks, 0)
        XCTAssertEqual(info.storedBytes, 0)

        let written = try f.root.write("written", [Float](repeating: 1, count: 300), shape: [100, 3], chunks: [64, 3])
        XCTAssertEqual(try written.storage().allocatedChunks, 2)
        let contiguous = try f.root.write("contiguous", [Float](repeating: 1, count: 6), shape: [2, 3])
        XCTAssertEqual(try contiguous.storage().layout, .contiguous)
        XCTAssertEqual(try contiguous.storage().storedBytes, 24)
        let unwritten = try f.root.createDataset("unwritten", of: Double.self, shape: [5])
        XCTAssertEqual(try unwritten.storage().storedBytes, 0)
    }
}
