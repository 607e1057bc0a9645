import HDF5Kit
import XCTest

@testable import LSTMData

/// A dataset stored in very many tiny chunks is named with its layout and the h5repack command
/// that stores it contiguous; other layouts say nothing.
final class ChunkLayoutTests: DataTestCase {
    func testManyOneRowChunksGetANoteWithTheRepackCommand() throws {
        let p = try makeFile("chunks.h5") { f in
            let g = try f.root.createGroup("train")
            let values = [Float](repeating: 0.5, count: 300 * 2)
            try g.write("one", values, shape: [300, 2], chunks: [1, 2])
            try g.write("wide", values, shape: [300, 2], chunks: [100, 2])
            try g.write("flat", values, shape: [300, 2])
        }
        let file = try HDF5File.open(p)
        func note(_ name: String) throws -> String? {
            DatasetScanner.manyChunksNote(
                try file.root.openDataset("train/\(name)"), object: "train/\(name)", file: p, threshold: 200)
        }
        let one = try XCTUnwrap(try note("one"))
        XCTAssertTrue(one.hasPrefix("note: \(p): train/one is stored in 300 chunks of 1 row,"), one)
        XCTAssertTrue(
            one.hasSuffix("h5repack -l CONTI \(p) \(p.dropLast(3))-contiguous.h5 (Debian package hdf5-tools)"), one)
        XCTAssertNil(try note("wide"), "3 chunks of 100 rows are not many")
        XCTAssertNil(try note("flat"), "contiguous storage has no chunks")
        XCTAssertNil(
            DatasetScanner.manyChunksNote(try file.root.openDataset("train/one"), object: "train/one", file: p),
            "300 chunks are under the default threshold")
    }
}
