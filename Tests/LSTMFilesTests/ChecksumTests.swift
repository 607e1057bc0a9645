import Foundation
import HDF5Kit
import LSTMFiles
import XCTest

/// XXH64 against the reference implementation, and the checksum list of an HDF5 file finding
/// (and naming) every kind of change: a value, a type, an added or a removed object or attribute.
final class ChecksumTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory =
            FileManager.default.temporaryDirectory
            .appendingPathComponent("lstm-checksums-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Values from the reference implementation (python-xxhash 3.x, `xxhash.xxh64(data, seed).hexdigest()`).
    func testXXH64MatchesTheReferenceImplementation() {
        XCTAssertEqual(XXH64.hash([UInt8]()), 0xef46_db37_51d8_e999)
        XCTAssertEqual(XXH64.hash(Array("a".utf8)), 0xd24e_c4f1_a98c_6e5b)
        XCTAssertEqual(XXH64.hash(Array("abc".utf8)), 0x44bc_2cf5_ad77_0999)
        XCTAssertEqual(XXH64.hash(Array("Nobody inspects the spammish repetition".utf8)), 0xfbce_a83c_8a37_8bf1)
        let data = (0..<1000).map { UInt8(($0 * 7 + 3) % 256) }
        let expected: [(Int, UInt64, UInt64)] = [
            (1, 0x1f25_c8d0_bc1f_4bb6, 0x7982_6bcd_749d_267a), (3, 0x31d2_363f_52e5_64c9, 0x78ef_d775_75e2_6575),
            (4, 0x9bb6_4b7d_66ee_9fda, 0x6f0a_6c97_d68b_f353), (8, 0xdab9_9d95_c6f9_0092, 0xa2f1_e284_37a7_8a1b),
            (31, 0xa2aa_5f33_cc4a_6119, 0x7554_3727_1d1d_0a84), (32, 0x23c3_c17e_f790_fd97, 0xbf62_4b93_2c09_0428),
            (33, 0x50a7_cfc7_ba58_8784, 0x7ace_af1e_9d34_ea35), (63, 0x5e3e_54b4_31c7_493c, 0x2c8d_dce5_c85d_0d9d),
            (64, 0x0eb6_4b3e_f6ee_b01f, 0x4af3_41f1_4e3a_6fc9), (100, 0xa61f_8d4c_170f_e531, 0xf6d8_f65c_625a_bb4f),
            (1000, 0x5f23_5fa0_33f1_a3fb, 0x442a_cd0a_822e_86f6)
        ]
        for (n, unseeded, seeded) in expected {
            XCTAssertEqual(XXH64.hash(data.prefix(n)), unseeded, "\(n) bytes")
            XCTAssertEqual(XXH64.hash(data.prefix(n), seed: 0x9E37_79B9_7F4A_7C15), seeded, "\(n) bytes, seeded")
            // Fed in uneven pieces, the hash is the same.
            for piece in [1, 5, 31, 33] {
                var h = XXH64()
                var i = 0
                while i < n {
                    h.update(Array(data[i..<min(n, i + piece)]))
                    i += piece
                }
                XCTAssertEqual(h.finalize(), unseeded, "\(n) bytes in pieces of \(piece)")
            }
        }
    }

    /// A small file like ours: attributes on the root, a group, datasets with attributes.
    private func makeFile(_ name: String, sealed: Bool = true) throws -> String {
        let path = directory + "/" + name
        let f = try HDF5File.create(path)
        try f.root.setAttribute("format", "test")
        try f.root.setAttribute("count", 3)
        let g = try f.root.createGroup("params")
        try g.setAttribute("rate", 0.5)
        try g.write("w", [Float](repeating: 0.25, count: 12), shape: [3, 4])
        let d = try g.write("ids", [Int64(1), 2, 3])
        try d.setAttribute("note", "ids")
        if sealed { try Checksums.seal(f.root, role: .checkpoint, file: path) }
        try f.close()
        return path
    }

    private func verify(_ path: String) throws -> Checksums.Status {
        let f = try HDF5File.open(path)
        defer { try? f.close() }
        return try Checksums.verify(f.root, role: .checkpoint, file: path)
    }

    private func assertCorrupted(_ path: String, object: String, mentions: String, line: UInt = #line) {
        XCTAssertThrowsError(try verify(path), line: line) { error in
            guard let e = error as? FileError else { return XCTFail("\(error)", line: line) }
            XCTAssertEqual(e.kind, .corrupted, "\(e)", line: line)
            XCTAssertEqual(e.file, path, line: line)
            XCTAssertEqual(e.object, object, "\(e)", line: line)
            XCTAssertTrue(e.description.contains(mentions), "\(e)", line: line)
        }
    }

    func testASealedFileVerifiesAndEveryChangeIsFoundAndNamed() throws {
        XCTAssertEqual(try verify(try makeFile("ok.h5")), .verified(entries: 7))
        XCTAssertEqual(try verify(try makeFile("old.h5", sealed: false)), .absent)

        var path = try makeFile("value.h5")
        do {
            let f = try HDF5File.open(path, mode: .readWrite)
            try f.root.openDataset("params/w").write([Float](repeating: 0.25, count: 11) + [0.5])
            try f.close()
        }
        assertCorrupted(path, object: "/params/w", mentions: "checksum mismatch")

        path = try makeFile("attribute.h5")
        do {
            let f = try HDF5File.open(path, mode: .readWrite)
            try f.root.openGroup("params").setAttribute("rate", 0.25)
            try f.close()
        }
        assertCorrupted(path, object: "/params@rate", mentions: "checksum mismatch")

        path = try makeFile("same.h5")
        do {
            let f = try HDF5File.open(path, mode: .readWrite)
            try f.root.openGroup("params").openDataset("ids").write([Int64(1), 2, 3])
            try f.root.setAttribute("count", 3)
            try f.close()
        }
        XCTAssertEqual(try verify(path), .verified(entries: 7), "rewriting the same values changes nothing")

        path = try makeFile("added.h5")
        do {
            let f = try HDF5File.open(path, mode: .readWrite)
            try f.root.setAttribute("extra", 1)
            try f.close()
        }
        assertCorrupted(path, object: "/@extra", mentions: "not in the file's checksum list")

        path = try makeFile("removed.h5")
        do {
            let f = try HDF5File.open(path, mode: .readWrite)
            try f.root.openGroup("params").openDataset("ids").removeAttribute("note")
            try f.close()
        }
        assertCorrupted(path, object: "/params/ids@note", mentions: "missing")

        path = try makeFile("list.h5")
        do {
            let f = try HDF5File.open(path, mode: .readWrite)
            let list = try f.root.attribute(Checksums.attribute, as: String.self)
            try f.root.setAttribute(Checksums.attribute, list.replacingOccurrences(of: "/@count", with: "/@cOunt"))
            try f.close()
        }
        assertCorrupted(path, object: "/@checksums", mentions: "the checksum list is damaged")
    }
}
