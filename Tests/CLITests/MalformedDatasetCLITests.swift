import Foundation
import HDF5Kit
import XCTest

/// Malformed datasets through `lstm train` (issue 12): every case must end with exit code 1 (not a
/// signal or trap), a message naming the file and the dataset (or attribute) and what is wrong,
/// and nothing written (no run directory, no checkpoint). One tiny file and one CLI process per case.
final class MalformedDatasetCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try makeTemporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    static let n = 4
    static let t = 3

    /// One malformed dataset: how to make it and what the refusal must say.
    struct Case {
        let name: String
        /// The dataset or attribute the message must name (nil when the file itself is the problem).
        let object: String?
        let mentions: [String]
        var loss = "cross_entropy"
        /// Builds the file at the given path.
        let build: (String) throws -> Void
    }

    /// A well-formed split: inputs float32 [4, 3, 2], targets int32 class ids [4, 3].
    static func goodSplit(_ f: HDF5File, _ split: String) throws {
        try f.root.write("\(split)/inputs", (0..<(n * t * 2)).map { Float($0 % 5) * 0.5 }, shape: [n, t, 2])
        try f.root.write("\(split)/targets", (0..<(n * t)).map { Int32($0 % 3) }, shape: [n, t])
    }

    /// A file with a good `val` split and a `train` split built by `train`.
    static func file(_ train: @escaping (HDF5File) throws -> Void) -> (String) throws -> Void {
        { path in
            let f = try HDF5File.create(path)
            try goodSplit(f, "val")
            try train(f)
            try f.close()
        }
    }

    /// A good train split with `body` applied to the file afterwards (attributes, extra datasets).
    static func goodFile(_ body: @escaping (HDF5File) throws -> Void) -> (String) throws -> Void {
        file { f in
            try goodSplit(f, "train")
            try body(f)
        }
    }

    static let floats = (0..<(n * t * 2)).map { Float($0 % 5) * 0.5 }
    static let ids = (0..<(n * t)).map { Int32($0 % 3) }

    static var cases: [Case] {
        [
            Case(name: "inputs of rank 2", object: "train/inputs", mentions: ["float32 [4, 6]", "[N, T, I]"]) {
                try file { f in
                    try f.root.write("train/inputs", floats, shape: [n, 6])
                    try f.root.write("train/targets", ids, shape: [n, t])
                }($0)
            },
            Case(name: "inputs of rank 4", object: "train/inputs", mentions: ["float32 [4, 3, 2, 1]"]) {
                try file { f in
                    try f.root.write("train/inputs", floats, shape: [n, t, 2, 1])
                    try f.root.write("train/targets", ids, shape: [n, t])
                }($0)
            },
            Case(name: "scalar inputs", object: "train/inputs", mentions: ["float32 []"]) {
                try file { f in
                    try f.root.write("train/inputs", [Float(1)], shape: [])
                    try f.root.write("train/targets", ids, shape: [n, t])
                }($0)
            },
            Case(name: "strings as inputs", object: "train/inputs", mentions: ["string [4]"]) {
                try file { f in
                    try f.root.createGroup("train").writeStrings("inputs", ["a", "b", "c", "d"])
                    try f.root.write("train/targets", ids, shape: [n, t])
                }($0)
            },
            Case(name: "strings as targets", object: "train/targets", mentions: ["string [4]"]) {
                try file { f in
                    try f.root.write("train/inputs", floats, shape: [n, t, 2])
                    try f.root.openGroup("train").writeStrings("targets", ["0", "1", "2", "0"])
                }($0)
            },
            Case(name: "float class ids", object: nil, mentions: ["loss: cross_entropy", "float values per step"]) {
                try file { f in
                    try f.root.write("train/inputs", floats, shape: [n, t, 2])
                    try f.root.write("train/targets", ids.map(Float.init), shape: [n, t, 1])
                }($0)
            },
            Case(name: "targets with another N", object: "train/targets", mentions: ["N = 4", "int32 [3, 3]"]) {
                try file { f in
                    try f.root.write("train/inputs", floats, shape: [n, t, 2])
                    try f.root.write("train/targets", Array(ids.prefix(9)), shape: [3, t])
                }($0)
            },
            Case(name: "targets with another T", object: "train/targets", mentions: ["T = 3", "int32 [4, 4]"]) {
                try file { f in
                    try f.root.write("train/inputs", floats, shape: [n, t, 2])
                    try f.root.write("train/targets", [Int32](repeating: 0, count: 16), shape: [n, 4])
                }($0)
            },
            Case(name: "lengths longer than T", object: "train/lengths", mentions: ["1...3", "found 5"]) {
                try goodFile { f in try f.root.write("train/lengths", [Int32(1), 5, 2, 3]) }($0)
            },
            Case(name: "a length of 0", object: "train/lengths", mentions: ["1...3", "found 0"]) {
                try goodFile { f in try f.root.write("train/lengths", [Int32(1), 0, 2, 3]) }($0)
            },
            Case(name: "a negative int8 length", object: "train/lengths", mentions: ["found -1"]) {
                try goodFile { f in try f.root.write("train/lengths", [Int8(1), 2, -1, 3]) }($0)
            },
            Case(name: "float lengths", object: "train/lengths", mentions: ["integer lengths", "float32 [4]"]) {
                try goodFile { f in try f.root.write("train/lengths", [Float(1), 2, 3, 3]) }($0)
            },
            Case(name: "lengths with another N", object: "train/lengths", mentions: ["N = 4", "int32 [3]"]) {
                try goodFile { f in try f.root.write("train/lengths", [Int32(1), 2, 3]) }($0)
            },
            Case(name: "a negative class id", object: "train/targets", mentions: ["found -2 at sequence 1, step 1"]) {
                try file { f in
                    var y = ids
                    y[4] = -2
                    try f.root.write("train/inputs", floats, shape: [n, t, 2])
                    try f.root.write("train/targets", y, shape: [n, t])
                }($0)
            },
            Case(
                name: "a class id beyond class_names", object: "train/targets", mentions: ["class id 2", "class_names"]
            ) {
                try goodFile { f in try f.root.setAttribute("class_names", ["a", "b"]) }($0)
            },
            Case(name: "an int64 class id of 2^31", object: "train/targets", mentions: ["2147483648", "int32"]) {
                try file { f in
                    var y = ids.map(Int64.init)
                    y[11] = 1 << 31
                    try f.root.write("train/inputs", floats, shape: [n, t, 2])
                    try f.root.write("train/targets", y, shape: [n, t])
                }($0)
            },
            Case(name: "no train split", object: "train", mentions: ["no split group `train`", "val"]) {
                try file { _ in }($0)
            },
            Case(name: "no targets", object: "train/targets", mentions: ["no such dataset"]) {
                try file { f in try f.root.write("train/inputs", floats, shape: [n, t, 2]) }($0)
            },
            Case(name: "no inputs", object: "train/inputs", mentions: ["no such dataset", "only targets"]) {
                try file { f in try f.root.write("train/targets", ids, shape: [n, t]) }($0)
            },
            Case(name: "inputs and tokens", object: "train", mentions: ["found both"]) {
                try goodFile { f in try f.root.write("train/tokens", [Int32(0), 1, 2]) }($0)
            },
            Case(
                name: "an empty inputs dataset", object: "train/inputs",
                mentions: ["at least one sequence", "[0, 3, 2]"]
            ) {
                try file { f in
                    try f.root.write("train/inputs", [Float](), shape: [0, t, 2])
                    try f.root.write("train/targets", [Int32](), shape: [0, t])
                }($0)
            },
            Case(name: "zero features", object: "train/inputs", mentions: ["I ≥ 1", "[4, 3, 0]"]) {
                try file { f in
                    try f.root.write("train/inputs", [Float](), shape: [n, t, 0])
                    try f.root.write("train/targets", ids, shape: [n, t])
                }($0)
            },
            Case(
                name: "NaN in the features", object: "train/inputs", mentions: ["nan at sequence 2, step 1, feature 1"]
            ) {
                try file { f in
                    var x = floats
                    x[2 * t * 2 + 1 * 2 + 1] = .nan
                    try f.root.write("train/inputs", x, shape: [n, t, 2])
                    try f.root.write("train/targets", ids, shape: [n, t])
                }($0)
            },
            Case(
                name: "inf in float targets", object: "train/targets",
                mentions: ["inf at sequence 3, step 0, output 0"],
                loss: "mse"
            ) {
                path in
                let f = try HDF5File.create(path)
                for split in ["train", "val"] {
                    var y = (0..<(n * t)).map { Float($0) }
                    if split == "train" { y[9] = .infinity }
                    try f.root.write("\(split)/inputs", floats, shape: [n, t, 2])
                    try f.root.write("\(split)/targets", y, shape: [n, t, 1])
                }
                try f.close()
            },
            Case(name: "NaN in the val split", object: "val/inputs", mentions: ["nan at sequence 0, step 0, feature 0"])
            {
                path in
                let f = try HDF5File.create(path)
                try goodSplit(f, "train")
                var x = floats
                x[0] = .nan
                try f.root.write("val/inputs", x, shape: [n, t, 2])
                try f.root.write("val/targets", ids, shape: [n, t])
                try f.close()
            },
            Case(
                name: "2^40 rows claimed, nothing written", object: "train/inputs",
                mentions: ["1099511627776", "stores only 0 of those chunks"]
            ) {
                try file { f in
                    try f.root.createDataset("train/inputs", of: Float.self, shape: [1 << 40, t, 2], chunks: [64, t, 2])
                    try f.root.createDataset("train/targets", of: Int32.self, shape: [1 << 40, t], chunks: [64, t])
                }($0)
            },
            Case(name: "a vocabulary of floats", object: "vocabulary (root attribute)", mentions: ["array of strings"])
            {
                try goodFile { f in try f.root.setAttribute("vocabulary", [Float(1), 2]) }($0)
            },
            Case(
                name: "a mean of the wrong length", object: "mean (root attribute)",
                mentions: ["expected 2 feature statistics"]
            ) {
                try goodFile { f in
                    try f.root.setAttribute("mean", [Float(0), 0, 0])
                    try f.root.setAttribute("std", [Float(1), 1, 1])
                }($0)
            },
            Case(name: "a std of 0", object: "std (root attribute)", mentions: ["> 0"]) {
                try goodFile { f in
                    try f.root.setAttribute("mean", [Float(0), 0])
                    try f.root.setAttribute("std", [Float(1), 0])
                }($0)
            },
            Case(name: "a float token stream", object: "train/tokens", mentions: ["float32 [5]"]) {
                try file { f in try f.root.write("train/tokens", [Float(0), 1, 2, 3, 4]) }($0)
            },
            Case(name: "a one-token stream", object: "train/tokens", mentions: ["at least 2 tokens"]) {
                try file { f in try f.root.write("train/tokens", [Int32(0)]) }($0)
            },
            Case(name: "not an HDF5 file", object: nil, mentions: ["not an HDF5 file"]) { path in
                try "inputs,targets\n1,2\n".write(toFile: path, atomically: true, encoding: .utf8)
            },
            Case(name: "a truncated HDF5 file", object: nil, mentions: ["truncated file"]) { path in
                try goodFile { _ in }(path)
                let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
                try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path))
            },
            Case(name: "a directory", object: nil, mentions: ["is a directory"]) { path in
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
            }
        ]
    }

    func testEveryMalformedDatasetIsRefusedCleanly() throws {
        XCTAssertGreaterThanOrEqual(Self.cases.count, 25)
        let start = Date()
        for c in Self.cases {
            let caseDir = dir.appendingPathComponent("case-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: caseDir, withIntermediateDirectories: true)
            try c.build(caseDir.appendingPathComponent("d.h5").path)
            let yaml = """
                data:
                  file: d.h5
                  batch_size: 2
                model:
                  hidden_size: 3
                loss: \(c.loss)
                training:
                  steps: 2
                checkpoint:
                  dir: run
                logging:
                  progress: none

                """
            try yaml.write(to: caseDir.appendingPathComponent("job.yaml"), atomically: true, encoding: .utf8)
            let before = filesBelow(caseDir)
            let r = try lstm(["train", "job.yaml"], in: caseDir)
            let what = "case '\(c.name)'"
            XCTAssertFalse(r.signaled, "\(what): lstm died by signal \(r.status): \(r.output)")
            XCTAssertEqual(r.status, 1, "\(what): \(r.output)")
            for m in ["d.h5"] + (c.object.map { [$0] } ?? []) + c.mentions {
                XCTAssertTrue(r.stderr.contains(m), "\(what): stderr should mention '\(m)': \(r.stderr)")
            }
            XCTAssertEqual(filesBelow(caseDir), before, "\(what): nothing may be written")
            XCTAssertFalse(FileManager.default.fileExists(atPath: caseDir.appendingPathComponent("run").path), what)
        }
        print(
            "malformed-dataset suite: \(Self.cases.count) cases in \(String(format: "%.1f", Date().timeIntervalSince(start))) s"
        )
    }
}
