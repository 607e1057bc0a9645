import Foundation
import HDF5Kit
import XCTest

/// `lstm evaluate`, `predict`, `sample`, `gradcheck` and `bench` end to end, on tiny datasets made
/// with `lstm prepare` and tiny models trained with `lstm train` once for the whole class.
final class InferenceCLITests: XCTestCase {
    nonisolated(unsafe) static var dir: URL!
    nonisolated(unsafe) static var setupError: Error?

    /// A command that should have succeeded, with what it printed.
    struct CommandFailed: Error, CustomStringConvertible {
        let description: String
    }

    /// Runs a command in the shared directory; throws (with its output) unless it exits 0.
    @discardableResult
    static func ok(_ args: [String]) throws -> CLIResult {
        let r = try lstm(args, in: dir)
        if r.status != 0 {
            throw CommandFailed(description: "lstm \(args.joined(separator: " ")) exited \(r.status): \(r.output)")
        }
        return r
    }

    static func write(_ text: String, _ name: String) throws {
        try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
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
            // Regression with a `last` head: the adding problem.
            try ok([
                "prepare", "adding", "--steps", "6", "--train", "32", "--val", "8", "--test", "10", "--out", "adding.h5"
            ])
            try write(
                trainConfig(
                    model: "hidden_size: 6, head: last", loss: "mse", data: "file: adding.h5, batch_size: 8",
                    run: "run-adding"), "adding.yaml")
            try ok(["train", "adding.yaml"])
            // A character-level language model on a token stream.
            try write(String(repeating: "the cat sat on the mat. the dog ate the hat.\n", count: 6), "input.txt")
            try ok(["prepare", "text", "input.txt", "--out", "text.h5"])
            try write(
                trainConfig(
                    model: "hidden_size: 8, embedding_size: 4", loss: "cross_entropy",
                    data: "file: text.h5, batch_size: 2, seq_length: 8", run: "run-text"), "text.yaml")
            try ok(["train", "text.yaml"])
            // Classification per step with token inputs whose classes are not the vocabulary.
            try ok([
                "prepare", "copy", "--symbols", "2", "--alphabet", "3", "--delay", "2", "--train", "16", "--val", "4",
                "--test", "4", "--out", "copy.h5"
            ])
            try write(
                trainConfig(
                    model: "hidden_size: 5, embedding_size: 3", loss: "cross_entropy",
                    data: "file: copy.h5, batch_size: 4", run: "run-copy"), "copy.yaml")
            try ok(["train", "copy.yaml"])
            // Forecasting from a CSV, whose targets carry target_mean/target_std.
            var csv = "temp,wind\n"
            for i in 0..<60 {
                csv += String(format: "%.3f,%.3f\n", 20 + 5 * sin(Double(i) / 3), 3 + cos(Double(i) / 2))
            }
            try write(csv, "weather.csv")
            try ok([
                "prepare", "csv", "weather.csv", "--window", "3", "--target", "temp", "--val-frac", "0.2",
                "--test-frac", "0.2", "--out", "weather.h5"
            ])
            try write(
                trainConfig(
                    model: "hidden_size: 4", loss: "mse", data: "file: weather.h5, batch_size: 8",
                    run: "run-weather"), "weather.yaml")
            try ok(["train", "weather.yaml"])
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
    func run(_ args: [String]) throws -> CLIResult { try Self.ok(args) }

    func fails(_ args: [String], saying expected: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try lstm(args, in: Self.dir)
        XCTAssertNotEqual(
            r.status, 0, "lstm \(args.joined(separator: " ")) should fail: \(r.output)", file: file, line: line)
        XCTAssertTrue(r.stderr.contains(expected), "stderr: \(r.stderr)", file: file, line: line)
    }

    func path(_ name: String) -> String { Self.dir.appendingPathComponent(name).path }

    func jsonObject(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
    }

    /// `outputs` of a prediction file, with its shape.
    func outputs(_ name: String) throws -> (values: [Float], shape: [Int], file: HDF5File) {
        let file = try HDF5File.open(path(name))
        let d = try file.root.openDataset("outputs")
        XCTAssertEqual(d.elementType, .float32)
        return (try d.read(as: Float.self), d.shape, file)
    }

    // MARK: - evaluate

    func testEvaluatePrintsOneLinePerMetricOfARegressionModelAndIsDeterministic() throws {
        let a = try run(["evaluate", "run-adding/latest.h5", "--data", "adding.h5"])
        let b = try run(["evaluate", "run-adding/latest.h5", "--data", "adding.h5"])
        XCTAssertEqual(a.stdout, b.stdout)
        let names = a.stdout.split(separator: "\n").map { String($0.split(separator: " ")[0]) }
        XCTAssertEqual(names, ["loss", "mse", "mae", "targets"], a.stdout)
        XCTAssertTrue(a.stdout.contains("targets     10"), a.stdout)
    }

    func testEvaluateJSONIsOneObjectAgreeingWithTheTextLines() throws {
        let text = try run(["evaluate", "run-adding/latest.h5", "--data", "adding.h5", "--split", "val"]).stdout
        let out = try run(["evaluate", "run-adding/latest.h5", "--data", "adding.h5", "--split", "val", "--json"])
            .stdout
        XCTAssertEqual(out.split(separator: "\n").count, 1)
        let j = try jsonObject(out)
        XCTAssertEqual(j["split"] as? String, "val")
        XCTAssertEqual(j["count"] as? Int, 8)
        let loss = try XCTUnwrap(j["loss"] as? Double)
        XCTAssertEqual(loss, try XCTUnwrap(j["mse"] as? Double), accuracy: 1e-12, "mse loss is the MSE")
        XCTAssertTrue(text.contains(String(format: "loss        %.6f", loss)), text)
        XCTAssertNil(j["accuracy"])
    }

    func testEvaluateReportsAccuracyForClassesAndPerplexityForTokenModels() throws {
        let copy = try jsonObject(try run(["evaluate", "run-copy/latest.h5", "--data", "copy.h5", "--json"]).stdout)
        let accuracy = try XCTUnwrap(copy["accuracy"] as? Double)
        XCTAssertTrue((0...1).contains(accuracy))
        XCTAssertEqual(copy["count"] as? Int, 4 * 7)

        let text = try jsonObject(
            try run([
                "evaluate", "run-text/latest.h5", "--data", "text.h5", "--split", "val",
                "--batch-size", "2", "--json"
            ]).stdout)
        let loss = try XCTUnwrap(text["loss"] as? Double)
        XCTAssertEqual(try XCTUnwrap(text["perplexity"] as? Double), exp(loss), accuracy: 1e-9 * exp(loss))
        XCTAssertEqual(text["seq_length"] as? Int, 8, "the run's seq_length is the default")
        XCTAssertEqual(text["stream_mode"] as? String, "stateful")
        // windows of 4: ⌊(27 − 1) / 4⌋ = 6 windows of 4 targets
        let windows = try jsonObject(
            try run([
                "evaluate", "run-text/latest.h5", "--data", "text.h5", "--split", "val",
                "--seq-length", "4", "--stream-mode", "windows", "--json"
            ]).stdout)
        XCTAssertEqual(windows["count"] as? Int, 24)
    }

    func testEvaluateOnAMissingSplitIsOneClearError() throws {
        try fails(
            ["evaluate", "run-adding/latest.h5", "--data", "adding.h5", "--split", "tset"],
            saying: "no split group `tset` in the file (splits found: train, val, test)")
        try fails(
            ["predict", "run-adding/latest.h5", "--data", "adding.h5", "--split", "tset", "--out", "p.h5"],
            saying: "no split group `tset`")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("p.h5")))
    }

    // MARK: - predict

    func testPredictOutputsReproduceEvaluatesMSEInTheSplitsOrder() throws {
        let r = try run([
            "predict", "run-adding/latest.h5", "--data", "adding.h5", "--split", "test",
            "--out", "pred-adding.h5", "--batch-size", "4"
        ])  // 4 + 4 + 2: a short last minibatch
        XCTAssertTrue(r.stdout.contains("wrote outputs float32 [10, 1]"), r.stdout)
        let (y, shape, file) = try outputs("pred-adding.h5")
        defer { try? file.close() }
        XCTAssertEqual(shape, [10, 1])
        XCTAssertEqual(try file.root.attribute("split", as: String.self), "test")
        XCTAssertEqual(try file.root.attribute("source_data", as: String.self), "adding.h5")
        XCTAssertEqual(try file.root.attribute("denormalized", as: Int.self), 0)
        let config = try jsonObject(try file.root.attribute("model_config", as: String.self))
        XCTAssertEqual(config["hidden_size"] as? Int, 6)
        XCTAssertEqual(config["head"] as? String, "last")

        let data = try HDF5File.open(path("adding.h5"))
        defer { try? data.close() }
        let targets = try data.root.read("test/targets", as: Float.self)
        var mse = 0.0
        for (a, b) in zip(y, targets) {
            let d = Double(a) - Double(b)
            mse += d * d / Double(y.count)
        }
        let evaluated = try jsonObject(
            try run(["evaluate", "run-adding/latest.h5", "--data", "adding.h5", "--json"]).stdout)
        XCTAssertEqual(mse, try XCTUnwrap(evaluated["mse"] as? Double), accuracy: 1e-6 * mse)
    }

    func testPredictOnATokenStreamWritesWindowsOfProbabilities() throws {
        try run(["predict", "run-text/latest.h5", "--data", "text.h5", "--split", "val", "--out", "pred-text.h5"])
        let (y, shape, file) = try outputs("pred-text.h5")
        defer { try? file.close() }
        let data = try HDF5File.open(path("text.h5"))
        defer { try? data.close() }
        let l = try data.root.openDataset("val/tokens").shape[0]
        let v = try data.root.attribute("vocabulary", as: [String].self).count
        XCTAssertEqual(shape, [(l - 1) / 8, 8, v], "[W, T, O] with the run's seq_length 8")
        XCTAssertEqual(try file.root.attribute("seq_length", as: Int.self), 8)
        for row in stride(from: 0, to: y.count, by: v) {
            XCTAssertEqual(y[row..<(row + v)].reduce(0, +), 1, accuracy: 1e-5, "softmax rows sum to 1")
        }
    }

    func testPredictDenormalizeMapsRegressionOutputsBackToTheDataUnits() throws {
        try run(["predict", "run-weather/latest.h5", "--data", "weather.h5", "--out", "pred-z.h5"])
        try run(["predict", "run-weather/latest.h5", "--data", "weather.h5", "--out", "pred-units.h5", "--denormalize"])
        let (z, _, fz) = try outputs("pred-z.h5")
        let (u, shape, fu) = try outputs("pred-units.h5")
        defer {
            try? fz.close()
            try? fu.close()
        }
        XCTAssertEqual(shape, [9, 1])
        XCTAssertEqual(try fu.root.attribute("denormalized", as: Int.self), 1)
        XCTAssertTrue(try fu.root.attribute("units", as: String.self).contains("target_std"))
        let data = try HDF5File.open(path("weather.h5"))
        defer { try? data.close() }
        let mean = try data.root.attribute("target_mean", as: [Float].self)[0]
        let std = try data.root.attribute("target_std", as: [Float].self)[0]
        for (a, b) in zip(z, u) { XCTAssertEqual(b, a * std + mean, accuracy: 1e-4) }

        try fails(
            ["predict", "run-adding/latest.h5", "--data", "adding.h5", "--out", "p.h5", "--denormalize"],
            saying: "no target_mean/target_std root attributes")
    }

    func testPredictZerosTheStepsPastEachLengthAndCopiesTheLengths() throws {
        // Variable-length sequences with a target per step, written directly (N = 3, T = 4, I = 2, O = 2).
        let file = try HDF5File.create(path("lengths.h5"))
        for split in ["train", "val"] {
            let g = try file.root.createGroup(split)
            try g.write("inputs", (0..<24).map { Float($0 % 5) / 5 }, shape: [3, 4, 2])
            try g.write("targets", (0..<24).map { Float($0 % 3) / 3 }, shape: [3, 4, 2])
            try g.write("lengths", [Int32(4), 1, 3], shape: [3])
        }
        try file.close()
        try Self.write(
            Self.trainConfig(
                model: "hidden_size: 3", loss: "mse", data: "file: lengths.h5, batch_size: 2",
                run: "run-lengths"), "lengths.yaml")
        try run(["train", "lengths.yaml"])
        try run([
            "predict", "run-lengths/latest.h5", "--data", "lengths.h5", "--split", "val", "--out", "pred-l.h5",
            "--batch-size", "2"
        ])
        let (y, shape, out) = try outputs("pred-l.h5")
        defer { try? out.close() }
        XCTAssertEqual(shape, [3, 4, 2])
        XCTAssertEqual(try out.root.read("lengths", as: Int32.self), [4, 1, 3])
        let zero: [Float] = [0, 0]
        for (sequence, length) in [(0, 4), (1, 1), (2, 3)] {
            for step in 0..<4 {
                let at = (sequence * 4 + step) * 2
                if step < length {
                    XCTAssertNotEqual(Array(y[at..<(at + 2)]), zero, "sequence \(sequence), step \(step)")
                } else {
                    XCTAssertEqual(Array(y[at..<(at + 2)]), zero, "padding of sequence \(sequence), step \(step)")
                }
            }
        }
    }

    func testPredictWithExportedPyTorchWeightsMatchesTheCheckpoint() throws {
        try run(["export", "run-adding/latest.h5", "--format", "pytorch", "--out", "adding.pt.h5"])
        try run(["predict", "run-adding/latest.h5", "--data", "adding.h5", "--out", "pred-ckpt.h5"])
        try run(["predict", "adding.pt.h5", "--data", "adding.h5", "--out", "pred-pt.h5"])
        let (a, _, fa) = try outputs("pred-ckpt.h5")
        let (b, _, fb) = try outputs("pred-pt.h5")
        defer {
            try? fa.close()
            try? fb.close()
        }
        XCTAssertEqual(a, b)
    }

    func testPredictRefusesAModelThatDoesNotFitTheDataAndWritesNothing() throws {
        let before = filesBelow(Self.dir)
        try fails(
            ["predict", "run-text/latest.h5", "--data", "adding.h5", "--out", "mismatch.h5"],
            saying: "the model does not fit the data: the model reads token ids (vocabulary")
        try fails(
            ["predict", "run-adding/latest.h5", "--data", "adding.h5", "--out", "./adding.h5"],
            saying: "./adding.h5: --out is the dataset 'adding.h5': writing it would replace the input")
        XCTAssertEqual(filesBelow(Self.dir), before)
    }

    // MARK: - sample

    func sample(_ extra: [String]) throws -> String {
        let out = try run(["sample", "run-text/latest.h5", "--length", "40"] + extra).stdout
        XCTAssertTrue(out.hasSuffix("\n"))
        return String(out.dropLast())
    }

    func testSampleIsDeterministicPerSeedStartsWithThePrimerAndUsesTheVocabulary() throws {
        let a = try sample(["--primer", "the ", "--seed", "3"])
        XCTAssertEqual(a, try sample(["--primer", "the ", "--seed", "3"]))
        XCTAssertNotEqual(a, try sample(["--primer", "the ", "--seed", "4"]))
        XCTAssertTrue(a.hasPrefix("the "), a)
        XCTAssertEqual(a.count, 4 + 40)
        let vocabulary = Set("the cat sat on the mat. the dog ate the hat.\n")
        XCTAssertTrue(a.allSatisfy(vocabulary.contains), a)
        XCTAssertEqual(
            try sample(["--primer", "a", "--seed", "3", "--top-k", "1"]),
            try sample(["--primer", "a", "--seed", "9", "--argmax"]),
            "top-k 1 is greedy")
    }

    func testSampleArgmaxIgnoresTheSeed() throws {
        let a = try sample(["--primer", "th", "--argmax", "--seed", "1"])
        XCTAssertEqual(a, try sample(["--primer", "th", "--argmax", "--seed", "2"]))
        XCTAssertTrue(a.hasPrefix("th"))
    }

    func testSampleWritesTheTextToOut() throws {
        let r = try run([
            "sample", "run-text/latest.h5", "--data", "text.h5", "--primer", "cat", "--length", "10",
            "--seed", "5", "--out", "sample.txt"
        ])
        XCTAssertTrue(r.stdout.contains("wrote 13 characters"), r.stdout)
        let text = try String(contentsOfFile: path("sample.txt"), encoding: .utf8)
        XCTAssertEqual(text, String(try sample(["--primer", "cat", "--seed", "5"]).prefix(13)))
    }

    func testSampleRefusesModelsThatAreNotLanguageModels() throws {
        try fails(["sample", "run-adding/latest.h5"], saying: "sample needs a token model")
        try fails(["sample", "run-copy/latest.h5"], saying: "predicts the next token (O = V)")
    }

    func testSampleRefusesAPrimerCharacterOutsideTheVocabulary() throws {
        try fails(
            ["sample", "run-text/latest.h5", "--primer", "thez"],
            saying: "the primer's character 'z' at position 3 is not in the model's vocabulary")
    }

    // MARK: - gradcheck

    func testGradcheckPassesOnATinyConfigWithALinePerTensor() throws {
        let r = try run(["gradcheck", "adding.yaml", "--sequences", "2", "--steps", "4"])
        let lines = r.stdout.split(separator: "\n").map(String.init)
        for name in ["lstm.weight_ih_l0", "lstm.weight_hh_l0", "lstm.bias_l0", "head.weight", "head.bias", "input"] {
            let line = try XCTUnwrap(lines.first { $0.hasPrefix(name + " ") }, r.stdout)
            XCTAssertTrue(line.hasSuffix("PASS"), line)
        }
        XCTAssertTrue(r.stdout.contains("lstm.weight_hh_l0   [24, 6]     20 of 144"), r.stdout)
        XCTAssertTrue(lines.last!.hasPrefix("PASS: 6 tensors"), r.stdout)
    }

    func testGradcheckSaysItChecksDoubleWhenTheConfigTrainsInBF16() throws {
        let r = try run(["gradcheck", "adding.yaml", "--set", "training.precision=bf16", "--steps", "3"])
        XCTAssertTrue(r.stdout.contains("training.precision: bf16 is not what is checked here"), r.stdout)
        XCTAssertTrue(r.stdout.split(separator: "\n").last!.hasPrefix("PASS"), r.stdout)
        let plain = try run(["gradcheck", "adding.yaml", "--steps", "3"])
        XCTAssertFalse(plain.stdout.contains("training.precision"), plain.stdout)
    }

    func testGradcheckFailsAndExitsNonZeroWhenErrorsExceedTheTolerance() throws {
        // Central differences are never exact: a tolerance far below their error must fail.
        let r = try lstm(
            ["gradcheck", "text.yaml", "--set", "model.num_layers=2", "--tolerance", "1e-15"], in: Self.dir)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stdout.contains("FAIL"), r.stdout)
        XCTAssertTrue(r.stdout.contains("embedding.weight"), r.stdout)
        XCTAssertTrue(r.stderr.contains("gradient check failed for"), r.stderr)
    }

    func testGradcheckRejectsAMalformedConfig() throws {
        try Self.write("data:\n  file: adding.h5\nmodel:\n  hiden_size: 4\n", "bad.yaml")
        try fails(["gradcheck", "bad.yaml"], saying: "bad.yaml:4:3: model.hiden_size: unknown key")
        try fails(["gradcheck", "adding.yaml", "--steps", "0"], saying: "--steps must be ≥ 1")
    }

    // MARK: - bench and help

    func testBenchPrintsTokensPerSecondAndTheSgemmCeiling() throws {
        let r = try run([
            "bench", "--batch", "4", "--steps", "3", "--input", "2", "--hidden", "4", "--output", "3",
            "--iterations", "2", "--gemm-size", "64"
        ])
        let line = try XCTUnwrap(r.stdout.split(separator: "\n").first { $0.contains("tokens/s") }, r.stdout)
        let tokensPerSecond = try XCTUnwrap(Double(line.split(separator: " ")[0]), String(line))
        XCTAssertGreaterThan(tokensPerSecond, 0)
        XCTAssertTrue(line.contains("GFLOP/s"))
        XCTAssertTrue(r.stdout.contains("sgemm ceiling"), r.stdout)
        try fails(["bench", "--hidden", "0"], saying: "--hidden must be ≥ 1")
    }

    func testEveryNewCommandsHelpShowsAnExample() throws {
        for (command, example) in [
            ("evaluate", "lstm evaluate runs/"), ("predict", "lstm predict runs/"),
            ("sample", "lstm sample runs/"), ("gradcheck", "lstm gradcheck configs/"),
            ("bench", "lstm bench")
        ] {
            let r = try lstm([command, "--help"])
            XCTAssertEqual(r.status, 0)
            XCTAssertTrue(r.stdout.contains("Example"), r.stdout)
            XCTAssertTrue(r.stdout.contains(example), r.stdout)
        }
    }
}
