import Foundation
import LSTMData
import LSTMFiles
import LSTMIO
import XCTest

@testable import LSTMRun

/// `data.file` as a list or glob of shards: one split is the concatenation of the files' rows, so
/// training on [a, b] is bit for bit training on one file c = a ++ b.
final class ShardedDataTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lstm-shards-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// Writes rows `train` of the train split and `val` of the val split of one deterministic
    /// sequence set (features I = 2, T steps, one float target per sequence).
    func write(_ name: String, train: Range<Int>, val: Range<Int>, steps t: Int = 4, classNames: [String]? = nil)
        throws
    {
        let w = try DatasetWriter(path: path(name))
        for (split, rows, base) in [("train", train, 0), ("val", val, 1000)] {
            var x: [Float] = []
            var y: [Float] = []
            for r in rows {
                var sum: Float = 0
                for s in 0..<t {
                    for i in 0..<2 {
                        let v = sin(Float((base + r) * 7 + s * 3 + i) * 0.37)
                        x.append(v)
                        sum += v * Float(i + 1)
                    }
                }
                y.append(sum / Float(t))
            }
            try w.writeSequences(
                split: split, count: rows.count, steps: t, inputs: .features(x, width: 2),
                targets: .valuesPerSequence(y, width: 1))
        }
        if let classNames { try w.setClassNames(classNames) }
        _ = try w.commit()
    }

    func config(_ run: String, file: String, extra: String = "") throws -> RunConfig {
        let text = """
            model: {hidden_size: 5, num_layers: 1, head: last}
            loss: mse
            data:
              file: \(file)
              batch_size: 8
            \(extra)
            optimizer: {name: adam, lr: 0.01}
            training: {steps: 9}
            validation: {every: 4}
            checkpoint: {dir: \(path(run)), every: 5, keep: 1}
            logging: {every: 1, progress: none}
            parallel: {shards: 2, workers: 2}
            seed: 11
            """
        return try RunConfig.parse(text, path: path("\(run).yaml"))
    }

    func metrics(_ run: String) throws -> [String] {
        try MetricsRecord.read(path(run) + "/metrics.jsonl").map { r in
            var r = r
            r.wallTime = 0
            r.tokensPerSecond = nil
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            return String(decoding: try encoder.encode(r), as: UTF8.self)
        }
    }

    func weights(_ run: String) throws -> [Float] {
        try Checkpoint.load(from: path(run) + "/latest.h5").parameters
    }

    /// 30 train rows in 13 + 17 (minibatches of 8 straddle the files), 8 val rows in 3 + 5.
    func writeShards() throws {
        try write("part-1.h5", train: 0..<13, val: 0..<3)
        try write("part-2.h5", train: 13..<30, val: 3..<8)
        try write("whole.h5", train: 0..<30, val: 0..<8)
    }

    func testTrainingOnAListIsBitwiseTrainingOnTheConcatenatedFile() throws {
        try writeShards()
        let whole = try TrainingRun(config: config("whole", file: path("whole.h5")))
        XCTAssertEqual(try whole.run().steps, 9)
        let listed = try config("listed", file: "[\(path("part-1.h5")), \(path("part-2.h5"))]")
        XCTAssertEqual(listed.data.files, [path("part-1.h5"), path("part-2.h5")])
        let sharded = try TrainingRun(config: listed)
        XCTAssertEqual(sharded.trainLoader.sampleCount, 30)
        XCTAssertEqual(try sharded.run().steps, 9)
        let reference = try metrics("whole")
        XCTAssertGreaterThan(reference.count, 9)
        XCTAssertEqual(try metrics("listed"), reference)
        XCTAssertEqual(try weights("listed"), try weights("whole"))

        // The order matters: [b, a] is another dataset, so other bits.
        let swapped = try TrainingRun(
            config: config("swapped", file: "[\(path("part-2.h5")), \(path("part-1.h5"))]"))
        _ = try swapped.run()
        XCTAssertNotEqual(try weights("swapped"), try weights("whole"))
    }

    func testResumeFromAGlobRunMatchesTheUninterruptedRun() throws {
        try writeShards()
        let glob = "\"\(path("part-*.h5"))\""
        let a = try TrainingRun(config: config("a", file: glob))
        _ = try a.run()
        let b = try TrainingRun(config: config("b", file: glob))
        b.onStep = { report in if report.step == 7 { b.requestStop(saveCheckpoint: false) } }
        _ = try b.run()
        let resumed = try TrainingRun.resume(directory: path("b"))
        XCTAssertEqual(resumed.config.data.files, [path("part-1.h5"), path("part-2.h5")])
        XCTAssertEqual(try resumed.run().steps, 9)
        XCTAssertEqual(try weights("b"), try weights("a"))
    }

    func testAGlobExpandsSortedByName() throws {
        try write("part-10.h5", train: 0..<2, val: 0..<1)
        try write("part-02.h5", train: 0..<2, val: 0..<1)
        try write("part-01.h5", train: 0..<2, val: 0..<1)
        let c = try config("g", file: "\"\(path("part-*.h5"))\"")
        XCTAssertEqual(c.data.files, ["part-01.h5", "part-02.h5", "part-10.h5"].map(path))
        XCTAssertEqual(c.data.file, path("part-*.h5"))
    }

    func testAGlobMatchingNothingIsALocatedError() throws {
        XCTAssertThrowsError(try config("e", file: "\"\(path("none-*.h5"))\"")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("data.file"), text)
            XCTAssertTrue(text.contains("matches no file"), text)
            XCTAssertTrue(text.contains(":4:"), text)  // the line of data.file
        }
    }

    func testAnEmptyListAndAMissingShardAreErrors() throws {
        try write("part-1.h5", train: 0..<3, val: 0..<1)
        XCTAssertThrowsError(try config("e", file: "[]")) { XCTAssertTrue("\($0)".contains("non-empty list"), "\($0)") }
        XCTAssertThrowsError(try config("e", file: "[\(path("part-1.h5")), \(path("gone.h5"))]")) {
            XCTAssertTrue("\($0)".contains("no such file: \(path("gone.h5"))"), "\($0)")
        }
    }

    func testGeneratingIntoAListIsRefused() throws {
        try write("part-1.h5", train: 0..<3, val: 0..<1)
        try write("part-2.h5", train: 0..<3, val: 0..<1)
        XCTAssertThrowsError(
            try config(
                "e", file: "[\(path("part-1.h5")), \(path("part-2.h5"))]",
                extra: "  generate: {task: adding, steps: 4}")
        ) { error in
            XCTAssertTrue("\(error)".contains("data.generate writes one file"), "\(error)")
        }
        XCTAssertThrowsError(
            try config("e", file: "\"\(path("new-*.h5"))\"", extra: "  generate: {task: adding, steps: 4}")
        ) { error in
            XCTAssertTrue("\(error)".contains("is a glob, but data.generate writes one file"), "\(error)")
        }
    }

    func testShardsWithDifferentLayoutsAreOneErrorNamingBothFiles() throws {
        try write("part-1.h5", train: 0..<9, val: 0..<2)
        try write("part-2.h5", train: 0..<9, val: 0..<2, steps: 5)
        XCTAssertThrowsError(
            try TrainingRun(config: config("e", file: "[\(path("part-1.h5")), \(path("part-2.h5"))]"))
        ) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(path("part-1.h5")) && text.contains(path("part-2.h5")), text)
            XCTAssertTrue(text.contains("T = 5 vs 4"), text)
        }
        try write("part-3.h5", train: 0..<9, val: 0..<2, classNames: ["a", "b"])
        XCTAssertThrowsError(
            try TrainingRun(config: config("e", file: "[\(path("part-1.h5")), \(path("part-3.h5"))]"))
        ) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(path("part-1.h5")) && text.contains(path("part-3.h5")), text)
            XCTAssertTrue(text.contains("class_names"), text)
        }
    }

    func testTokenStreamShardsAreRefused() throws {
        for name in ["s1.h5", "s2.h5"] {
            let w = try DatasetWriter(path: path(name))
            try w.writeTokenStream(split: "train", tokens: (0..<40).map { Int32($0 % 5) })
            _ = try w.commit()
        }
        let data = try DatasetFile.open(paths: [path("s1.h5"), path("s2.h5")])
        XCTAssertThrowsError(try data.schema("train")) { error in
            XCTAssertTrue("\(error)".contains("token stream cannot be read from several files"), "\(error)")
        }
    }
}
