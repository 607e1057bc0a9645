import Foundation
import LSTMFiles
import XCTest

/// SHA-256 against the FIPS 180-4 example vectors (one block, two blocks, a million bytes across
/// many reads) and, for a file, against the coreutils `sha256sum` of the same bytes.
final class SHA256Tests: XCTestCase {
    func testTheFIPSExampleMessagesHashToTheirPublishedDigests() {
        XCTAssertEqual(SHA256.hex([]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(
            SHA256.hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(
            SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        var s = SHA256()
        for _ in 0..<1000 { s.update(repeatElement(UInt8(ascii: "a"), count: 1000)) }
        XCTAssertEqual(s.hexDigest(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testAFilesDigestIsSha256sumsAndAMissingFileIsNamed() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lstm-sha-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        // 2.5 MiB: several 1 MiB reads and a partial last block.
        let bytes = (0..<(5 << 19)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let ours = try SHA256.hex(ofFileAt: path, role: .weights)
        XCTAssertEqual(ours, SHA256.hex(bytes))
        let tool = Process()
        tool.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        tool.arguments = [path]
        let pipe = Pipe()
        tool.standardOutput = pipe
        try tool.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        tool.waitUntilExit()
        XCTAssertEqual(ours, String(output.prefix(64)))
        XCTAssertThrowsError(try SHA256.hex(ofFileAt: path + ".missing", role: .weights)) { error in
            XCTAssertEqual((error as? FileError)?.kind, .notFound)
            XCTAssertTrue("\(error)".contains(path + ".missing"), "\(error)")
        }
    }
}
