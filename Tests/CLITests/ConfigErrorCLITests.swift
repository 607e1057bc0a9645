import Foundation
import XCTest

/// Each class of config error, through the command line: one message naming the file, line,
/// column and key; a non-zero exit; nothing written.
final class ConfigErrorCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = try makeTemporaryDirectory()
        _ = try lstm(
            [
                "prepare", "adding", "--steps", "6", "--train", "8", "--val", "4", "--test", "4",
                "--out", "data.h5"
            ], in: dir)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func assertRejected(_ yaml: String, _ expected: String, file: StaticString = #filePath, line: UInt = #line) throws {
        try yaml.write(to: dir.appendingPathComponent("job.yaml"), atomically: true, encoding: .utf8)
        let before = filesBelow(dir)
        let r = try lstm(["train", "job.yaml"], in: dir)
        XCTAssertNotEqual(r.status, 0, file: file, line: line)
        XCTAssertTrue(r.stderr.contains(expected), "stderr: \(r.stderr)", file: file, line: line)
        XCTAssertEqual(filesBelow(dir), before, "a rejected config must write nothing", file: file, line: line)
    }

    func testUnknownKey() throws {
        try assertRejected(
            "data:\n  file: data.h5\nmodel:\n  hiden_size: 4\n",
            "job.yaml:4:3: model.hiden_size: unknown key (did you mean hidden_size?)")
    }

    func testWrongType() throws {
        try assertRejected(
            "data:\n  file: data.h5\n  batch_size: [1, 2]\n",
            "job.yaml:3:15: data.batch_size: expected an integer, found a list")
    }

    func testOutOfRange() throws {
        try assertRejected(
            "data:\n  file: data.h5\nmodel:\n  num_layers: 0\n",
            "job.yaml:4:15: model.num_layers: must be ≥ 1 (got 0)")
    }

    func testMissingFile() throws {
        try assertRejected(
            "data:\n  file: missing.h5\n",
            "job.yaml:2:9: data.file: no such file: missing.h5")
    }

    func testModelDoesNotMatchTheData() throws {
        try assertRejected(
            "data:\n  file: data.h5\nmodel:\n  input_size: 5\n",
            "job.yaml:4:15: model.input_size: is 5 but data.h5 has features of width 2")
        try assertRejected(
            "data:\n  file: data.h5\nloss: cross_entropy\n",
            "job.yaml:3:7: loss: cross_entropy does not fit data.h5")
        try assertRejected(
            "data:\n  file: data.h5\n  val_split: dev\n",
            "job.yaml:3:14: data.val_split: data.h5 has no split 'dev'")
    }

    func testEveryMismatchWithTheDataIsReportedNotOnlyTheFirst() throws {
        try assertRejected(
            "data:\n  file: data.h5\nmodel:\n  input_size: 5\n  output_size: 3\n",
            "job.yaml:4:15: model.input_size: is 5 but data.h5 has features of width 2\n"
                + "job.yaml:5:16: model.output_size: is 3 but data.h5 has targets of width 1")
    }

    func testHelpShowsExamples() throws {
        let r = try lstm(["train", "--help"])
        XCTAssertEqual(r.status, 0)
        XCTAssertTrue(r.stdout.contains("lstm train configs/adding.yaml"), r.stdout)
    }
}
