import Foundation
import HDF5Kit
import XCTest

/// `lstm train` with `data.file` a glob of shards trains exactly as on the one concatenated file,
/// and `lstm evaluate --data GLOB` evaluates as on that file.
final class ShardedDataCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try makeTemporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// Rows `rows` of a deterministic set: features [n, 3, 2], class ids [n, 3] in 0..<3.
    func write(_ name: String, train: Range<Int>, val: Range<Int>) throws {
        let f = try HDF5File.create(dir.appendingPathComponent(name).path)
        for (split, rows) in [("train", train), ("val", val)] {
            let g = try f.root.createGroup(split)
            let shift = split == "val" ? 50 : 0
            var x: [Float] = []
            var y: [Int32] = []
            for r in rows {
                for k in 0..<6 { x.append(Float(((r + shift) * 7 + k * 3) % 11) * 0.2 - 1) }
                for s in 0..<3 { y.append(Int32((r * 5 + s) % 3)) }
            }
            try g.write("inputs", x, shape: [rows.count, 3, 2])
            try g.write("targets", y, shape: [rows.count, 3])
        }
        try f.close()
    }

    func train(_ file: String, run: String) throws -> CLIResult {
        let yaml = """
            data:
              file: \(file)
              batch_size: 4
            model:
              hidden_size: 3
            loss: cross_entropy
            training:
              steps: 6
            validation:
              every: 3
            checkpoint:
              dir: \(run)
            logging:
              progress: none
            seed: 3

            """
        try yaml.write(to: dir.appendingPathComponent("\(run).yaml"), atomically: true, encoding: .utf8)
        return try lstm(["train", "\(run).yaml"], in: dir)
    }

    func finalLoss(_ r: CLIResult, file: StaticString = #filePath, line: UInt = #line) -> String? {
        XCTAssertEqual(r.status, 0, r.output, file: file, line: line)
        return r.stdout.split(separator: "\n").first { $0.hasPrefix("final validation loss") }.map(String.init)
    }

    func testTrainOnAGlobMatchesTheConcatenatedFile() throws {
        try write("whole.h5", train: 0..<14, val: 0..<6)
        try FileManager.default.createDirectory(
            at: dir.appendingPathComponent("shards"), withIntermediateDirectories: true)
        try write("shards/part-0.h5", train: 0..<5, val: 0..<2)
        try write("shards/part-1.h5", train: 5..<14, val: 2..<6)
        let expected = finalLoss(try train("whole.h5", run: "whole"))
        XCTAssertNotNil(expected)
        let got = finalLoss(try train("\"shards/part-*.h5\"", run: "glob"))
        XCTAssertEqual(got, expected)

        // `lstm evaluate --data` takes a glob too, through the same opening code.
        let onWhole = try lstm(["evaluate", "glob/latest.h5", "--data", "whole.h5", "--split", "val"], in: dir)
        XCTAssertEqual(onWhole.status, 0, onWhole.output)
        let onShards = try lstm(["evaluate", "glob/latest.h5", "--data", "shards/part-*.h5", "--split", "val"], in: dir)
        XCTAssertEqual(onShards.status, 0, onShards.output)
        XCTAssertTrue(onWhole.stdout.contains("loss"), onWhole.output)
        XCTAssertEqual(onShards.stdout.replacingOccurrences(of: "shards/part-*.h5", with: "whole.h5"), onWhole.stdout)

        let none = try train("\"shards/none-*.h5\"", run: "none")
        XCTAssertNotEqual(none.status, 0)
        XCTAssertTrue(none.stderr.contains("data.file") && none.stderr.contains("matches no file"), none.output)
    }
}
