import Foundation
import HDF5Kit
import XCTest

/// Issue 20, problems 1 and 2: inference on new data (inputs only, class ids, CSV) and models
/// that carry what they were trained on (vocabulary, feature names and statistics, the task).
/// Tiny datasets written as numpy/h5py would (float64 inputs, int64 class ids, feature names) and
/// with `lstm prepare`, tiny models trained once for the whole class.
final class ModelHandOffCLITests: XCTestCase {
    nonisolated(unsafe) static var dir: URL!
    nonisolated(unsafe) static var setupError: Error?

    struct CommandFailed: Error, CustomStringConvertible {
        let description: String
    }

    @discardableResult
    static func ok(_ args: [String], in directory: URL? = nil) throws -> CLIResult {
        let r = try lstm(args, in: directory ?? dir)
        if r.status != 0 {
            throw CommandFailed(description: "lstm \(args.joined(separator: " ")) exited \(r.status): \(r.output)")
        }
        return r
    }

    static func write(_ text: String, _ name: String) throws {
        try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }

    static func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// N sequences of T = 5 steps of I = 2 float64 features (what numpy writes by default), a
    /// deterministic function of `seed`.
    static func features(_ n: Int, seed: Int) -> [Double] {
        (0..<(n * 5 * 2)).map { sin(Double($0 * 7 + seed * 13) * 0.37) }
    }

    /// A classification dataset as h5py writes it from numpy defaults: float64 inputs [N, 5, 2],
    /// int64 class ids [N], root attributes feature_names and class_names.
    static func writeNumpyStyleClasses(_ name: String) throws {
        let file = try HDF5File.create(path(name))
        defer { try? file.close() }
        for (split, n, seed) in [("train", 24, 1), ("val", 8, 2)] {
            let g = try file.root.createGroup(split)
            let x = features(n, seed: seed)
            try g.write("inputs", x, shape: [n, 5, 2])
            try g.write("targets", (0..<n).map { Int64(x[$0 * 10] > 0 ? 1 : x[$0 * 10 + 1] > 0 ? 2 : 0) }, shape: [n])
        }
        try file.root.setAttribute("feature_names", ["temperature", "pressure"])
        try file.root.setAttribute("class_names", ["calm", "rain", "storm"])
    }

    /// New data: only `new/inputs` (float64 [N, 5, 2]), feature names as in training.
    static func writeInputsOnly(_ name: String, n: Int, featureNames: [String] = ["temperature", "pressure"]) throws {
        let file = try HDF5File.create(path(name))
        defer { try? file.close() }
        try file.root.createGroup("new").write("inputs", features(n, seed: 9), shape: [n, 5, 2])
        try file.root.setAttribute("feature_names", featureNames)
    }

    static func trainConfig(model: String, loss: String, data: String, run: String) -> String {
        """
        model: {\(model)}
        loss: \(loss)
        data: {\(data)}
        training: {steps: 4}
        checkpoint: {dir: \(run)}
        logging: {progress: none}
        seed: 3
        """
    }

    override class func setUp() {
        super.setUp()
        do {
            dir = try makeTemporaryDirectory()
            try writeNumpyStyleClasses("classes.h5")
            try write(
                trainConfig(
                    model: "hidden_size: 4, head: last", loss: "cross_entropy",
                    data: "file: classes.h5, batch_size: 8, test_split: val", run: "run-classes"), "classes.yaml")
            try ok(["train", "classes.yaml"])
            try writeInputsOnly("new.h5", n: 7)
            // A character-level language model.
            try write(String(repeating: "the cat sat on the mat. the dog ate the hat.\n", count: 6), "input.txt")
            try ok(["prepare", "text", "input.txt", "--out", "text.h5"])
            try write(
                trainConfig(
                    model: "hidden_size: 8, embedding_size: 4", loss: "cross_entropy",
                    data: "file: text.h5, batch_size: 2, seq_length: 8", run: "run-text"), "text.yaml")
            try ok(["train", "text.yaml"])
            // Forecasting from a CSV: feature and target statistics.
            func csv(_ offset: Double, scale: Double) -> String {
                var text = "temp,wind\n"
                for i in 0..<60 {
                    let t = offset + scale * sin(Double(i) / 3)
                    text += String(format: "%.3f,%.3f\n", t, 3 + cos(Double(i) / 2))
                }
                return text
            }
            try write(csv(20, scale: 5), "co2.csv")
            try write(csv(80, scale: 40), "sunspots.csv")
            for name in ["co2", "sunspots"] {
                try ok([
                    "prepare", "csv", "\(name).csv", "--window", "3", "--target", "temp", "--val-frac", "0.2",
                    "--test-frac", "0.2", "--out", "\(name).h5"
                ])
            }
            try write(
                trainConfig(
                    model: "hidden_size: 4", loss: "mse", data: "file: co2.h5, batch_size: 8", run: "run-co2"),
                "co2.yaml")
            try ok(["train", "co2.yaml"])
        } catch {
            setupError = error
        }
    }

    override class func tearDown() {
        if let dir { try? FileManager.default.removeItem(at: dir) }
        super.tearDown()
    }

    override func setUpWithError() throws {
        if let e = Self.setupError { throw e }
    }

    @discardableResult
    func run(_ args: [String], in directory: URL? = nil) throws -> CLIResult { try Self.ok(args, in: directory) }

    func fails(_ args: [String], saying expected: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try lstm(args, in: Self.dir)
        XCTAssertNotEqual(
            r.status, 0, "lstm \(args.joined(separator: " ")) should fail: \(r.output)", file: file, line: line)
        for e in expected {
            XCTAssertTrue(r.stderr.contains(e), "expected '\(e)' in stderr: \(r.stderr)", file: file, line: line)
        }
    }

    func path(_ name: String) -> String { Self.path(name) }

    // MARK: - Problem 1: inference on new data

    func testPredictRunsOnAFileOfInputsOnlyAndWritesClassIDsBesideTheProbabilities() throws {
        // new.h5 holds only new/inputs: no targets, no lengths, a split that is not `test`.
        let r = try run(["predict", "run-classes/best.h5", "--data", "new.h5", "--out", "p.h5"])
        XCTAssertTrue(r.stdout.contains("class_ids"), r.stdout)
        let file = try HDF5File.open(path("p.h5"))
        defer { try? file.close() }
        let outputs = try file.root.openDataset("outputs")
        XCTAssertEqual(outputs.shape, [7, 3])
        let p = try outputs.read(as: Float.self)
        let ids = try file.root.openDataset("class_ids")
        XCTAssertEqual(ids.elementType, .int32)
        XCTAssertEqual(ids.shape, [7])
        let classIDs = try ids.read(as: Int32.self)
        for row in 0..<7 {
            let probabilities = Array(p[(row * 3)..<(row * 3 + 3)])
            XCTAssertEqual(probabilities.reduce(0, +), 1, accuracy: 1e-5)
            XCTAssertEqual(Int(classIDs[row]), probabilities.indices.max { probabilities[$0] < probabilities[$1] })
        }
        XCTAssertEqual(try file.root.attribute("split", as: String.self), "new")
        XCTAssertEqual(try file.root.attribute("class_names", as: [String].self), ["calm", "rain", "storm"])
    }

    func testPredictToCSVWritesOneRowPerSequenceWithTheClassIDAndName() throws {
        try run(["predict", "run-classes/best.h5", "--data", "new.h5", "--out", "p.csv"])
        try run(["predict", "run-classes/best.h5", "--data", "new.h5", "--out", "p-same.h5"])
        let text = try String(contentsOfFile: path("p.csv"), encoding: .utf8)
        XCTAssertFalse(text.hasPrefix("\u{89}HDF"), "the .csv must be text, not HDF5")
        let lines = text.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, "sequence,class_id,class_name,prob_calm,prob_rain,prob_storm")
        XCTAssertEqual(lines.count, 8)
        let h5 = try HDF5File.open(path("p-same.h5"))
        defer { try? h5.close() }
        let ids = try h5.root.read("class_ids", as: Int32.self)
        let p = try h5.root.read("outputs", as: Float.self)
        let names = ["calm", "rain", "storm"]
        for (row, line) in lines.dropFirst().enumerated() {
            let f = line.split(separator: ",").map(String.init)
            XCTAssertEqual(f.count, 6, line)
            XCTAssertEqual(f[0], String(row))
            XCTAssertEqual(f[1], String(ids[row]))
            XCTAssertEqual(f[2], names[Int(ids[row])])
            for k in 0..<3 { XCTAssertEqual(Float(f[3 + k]), p[row * 3 + k], line) }
        }
    }

    func testPredictToCSVWithATargetPerStepWritesOneRowPerValidStep() throws {
        // Variable-length inputs-only token data for the language model: rows past a length are left out.
        let file = try HDF5File.create(path("tokens-new.h5"))
        try file.root.createGroup("new").write("inputs", (0..<12).map { Int64($0 % 5) }, shape: [3, 4])
        try file.root.openGroup("new").write("lengths", [Int64]([4, 1, 2]), shape: [3])
        try file.close()
        try run(["predict", "run-text/best.h5", "--data", "tokens-new.h5", "--out", "steps.csv"])
        let lines = try String(contentsOfFile: path("steps.csv"), encoding: .utf8).split(separator: "\n")
        XCTAssertTrue(lines[0].hasPrefix("sequence,step,class_id,class_name,prob_"), String(lines[0]))
        XCTAssertEqual(
            lines.dropFirst().map { $0.split(separator: ",").prefix(2).joined(separator: ",") },
            ["0,0", "0,1", "0,2", "0,3", "1,0", "2,0", "2,1"])
    }

    func testPredictRefusesAnOutputNameThatIsNeitherHDF5NorCSVAndWritesNothing() throws {
        try fails(
            ["predict", "run-classes/best.h5", "--data", "new.h5", "--split", "new", "--out", "p.txt"],
            saying: ["--out p.txt", ".h5", ".csv"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("p.txt")))
    }

    func testEvaluateOnInputsOnlyDataNamesTheMissingTargetsAndSuggestsPredict() throws {
        try fails(
            ["evaluate", "run-classes/best.h5", "--data", "new.h5", "--split", "new"],
            saying: ["new.h5: new/targets: no such dataset", "lstm predict"])
    }

    func testPredictWritesValuesInTheDataUnitsForARegressionModelThatKnowsItsStatistics() throws {
        try run(["predict", "run-co2/best.h5", "--data", "co2.h5", "--out", "co2-pred.h5"])
        let file = try HDF5File.open(path("co2-pred.h5"))
        defer { try? file.close() }
        let y = try file.root.read("outputs", as: Float.self)
        let values = try file.root.read("values", as: Float.self)
        let ckpt = try HDF5File.open(path("run-co2/best.h5"))
        defer { try? ckpt.close() }
        let mean = try ckpt.root.attribute("target_mean", as: [Float].self)[0]
        let std = try ckpt.root.attribute("target_std", as: [Float].self)[0]
        XCTAssertEqual(values.count, y.count)
        for (v, z) in zip(values, y) { XCTAssertEqual(v, z * std + mean, accuracy: 1e-3) }
        XCTAssertFalse(file.root.exists("class_ids"))
    }

    // MARK: - Problem 2: self-contained models

    func testCheckpointsAndExportsCarryTheDataDescriptionAndTheTask() throws {
        try run(["export", "run-co2/best.h5", "--format", "pytorch", "--out", "co2.pt.h5"])
        try run(["export", "run-co2/best.h5", "--format", "keras", "--out", "co2.weights.h5"])
        let data = try HDF5File.open(path("co2.h5"))
        defer { try? data.close() }
        for name in ["run-co2/best.h5", "co2.pt.h5", "co2.weights.h5"] {
            let f = try HDF5File.open(path(name))
            defer { try? f.close() }
            XCTAssertEqual(try f.root.attribute("feature_names", as: [String].self), ["temp", "wind"], name)
            XCTAssertEqual(try f.root.attribute("target_names", as: [String].self), ["temp"], name)
            for a in ["mean", "std", "target_mean", "target_std"] {
                XCTAssertEqual(
                    try f.root.attribute(a, as: [Float].self), try data.root.attribute(a, as: [Float].self),
                    "\(name) \(a)")
            }
            XCTAssertEqual(try f.root.attribute("head", as: String.self), "last", name)
            XCTAssertEqual(try f.root.attribute("loss", as: String.self), "mse", name)
            XCTAssertEqual(try f.root.attribute("activation", as: String.self), "identity", name)
        }
        let classes = try HDF5File.open(path("run-classes/best.h5"))
        defer { try? classes.close() }
        XCTAssertEqual(try classes.root.attribute("class_names", as: [String].self), ["calm", "rain", "storm"])
        XCTAssertEqual(try classes.root.attribute("feature_names", as: [String].self), ["temperature", "pressure"])
    }

    func testSampleWorksFromAnEmptyDirectoryAndFromAnExportedFile() throws {
        let reference = try run(["sample", "run-text/best.h5", "--length", "30", "--seed", "4"]).stdout
        try run(["export", "run-text/best.h5", "--format", "pytorch", "--out", "text.pt.h5"])
        try run(["export", "run-text/best.h5", "--format", "keras", "--out", "text.weights.h5"])
        let elsewhere = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: elsewhere) }
        for name in ["run-text/best.h5", "text.pt.h5", "text.weights.h5"] {
            let r = try run(["sample", path(name), "--length", "30", "--seed", "4"], in: elsewhere)
            XCTAssertEqual(r.stdout, reference, name)
        }
        XCTAssertEqual(filesBelow(elsewhere), [])
    }

    func testPredictRefusesDataWithOtherStatisticsListingBothAndTheFlagAcceptsIt() throws {
        // Same columns and width, another series: the statistics differ.
        try fails(
            ["predict", "run-co2/best.h5", "--data", "sunspots.h5", "--out", "s.h5"],
            saying: ["mean: the model has [", "the data [", "--accept-data-mismatch"])
        try fails(["evaluate", "run-co2/best.h5", "--data", "sunspots.h5"], saying: ["mean: the model has ["])
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("s.h5")))
        let r = try run([
            "predict", "run-co2/best.h5", "--data", "sunspots.h5", "--out", "s.h5", "--accept-data-mismatch",
            "--denormalize"
        ])
        XCTAssertTrue(r.stderr.contains("warning: --accept-data-mismatch: mean:"), r.stderr)
        // --denormalize uses the model's statistics, not the sunspots file's.
        let pred = try HDF5File.open(path("s.h5"))
        defer { try? pred.close() }
        let ckpt = try HDF5File.open(path("run-co2/best.h5"))
        defer { try? ckpt.close() }
        let mean = try ckpt.root.attribute("target_mean", as: [Float].self)[0]
        let std = try ckpt.root.attribute("target_std", as: [Float].self)[0]
        try run([
            "predict", "run-co2/best.h5", "--data", "sunspots.h5", "--out", "s-z.h5", "--accept-data-mismatch"
        ])
        let z = try HDF5File.open(path("s-z.h5"))
        defer { try? z.close() }
        let raw = try z.root.read("outputs", as: Float.self)
        let units = try pred.root.read("outputs", as: Float.self)
        XCTAssertEqual(units.count, raw.count)
        for (u, y) in zip(units, raw) { XCTAssertEqual(u, y * std + mean, accuracy: 1e-3) }
    }

    func testNewCSVDataPreparedWithTheModelsStatisticsIsAcceptedByPredict() throws {
        try run([
            "prepare", "csv", "sunspots.csv", "--window", "3", "--target", "temp", "--statistics-from",
            "run-co2/best.h5", "--val-frac", "0", "--test-frac", "0", "--out", "sun-like-co2.h5"
        ])
        let prepared = try HDF5File.open(path("sun-like-co2.h5"))
        let model = try HDF5File.open(path("run-co2/best.h5"))
        for a in ["mean", "std", "target_mean", "target_std"] {
            XCTAssertEqual(
                try prepared.root.attribute(a, as: [Float].self), try model.root.attribute(a, as: [Float].self))
        }
        try prepared.close()
        try model.close()
        // Its only split (train) is taken, and nothing differs from the model.
        let r = try run(["predict", "run-co2/best.h5", "--data", "sun-like-co2.h5", "--out", "sun.csv"])
        XCTAssertFalse(r.stderr.contains("warning"), r.stderr)
        let header = try String(contentsOfFile: path("sun.csv"), encoding: .utf8).split(separator: "\n")[0]
        XCTAssertEqual(header, "sequence,output_temp,value_temp")
        try fails(
            [
                "prepare", "csv", "sunspots.csv", "--window", "3", "--target", "wind", "--statistics-from",
                "run-co2/best.h5", "--out", "bad.h5"
            ], saying: ["the given statistics are for the target columns [temp], the chosen target columns are [wind]"])
    }

    func testPredictRefusesDataWhoseFeatureNamesDifferFromTheModels() throws {
        try Self.writeInputsOnly("renamed.h5", n: 3, featureNames: ["humidity", "pressure"])
        try fails(
            ["predict", "run-classes/best.h5", "--data", "renamed.h5", "--split", "new", "--out", "r.h5"],
            saying: ["feature_names: the model has [temperature, pressure], the data [humidity, pressure]"])
        try run(["predict", "run-classes/best.h5", "--data", "renamed.h5", "--out", "r.h5", "--accept-data-mismatch"])
    }

    func testSampleRefusesADataFileWhoseVocabularyDiffersFromTheModels() throws {
        try Self.write(String(repeating: "xyz xyz zyx\n", count: 10), "other.txt")
        try run(["prepare", "text", "other.txt", "--out", "other.h5"])
        try fails(["sample", "run-text/best.h5", "--data", "other.h5"], saying: ["vocabulary: the model has ["])
    }

    func testCheckpointsWithoutTheAttributesStillLoad() throws {
        // A checkpoint as written before models carried metadata (and checksums): the attributes removed.
        try FileManager.default.copyItem(atPath: path("run-co2/best.h5"), toPath: path("old.h5"))
        let file = try HDF5File.open(path("old.h5"), mode: .readWrite)
        for name in [
            "feature_names", "mean", "std", "target_names", "target_mean", "target_std", "head", "loss", "checksums"
        ]
        where file.root.hasAttribute(name) {
            try file.root.removeAttribute(name)
        }
        try file.close()
        try run(["evaluate", "old.h5", "--data", "co2.h5"])
        try run(["predict", "old.h5", "--data", "co2.h5", "--out", "old-pred.h5", "--denormalize"])
        try run(["predict", "old.h5", "--data", "sunspots.h5", "--out", "old-sun.h5"])  // nothing to compare
    }
}
