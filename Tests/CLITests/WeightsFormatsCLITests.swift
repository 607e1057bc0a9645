import Foundation
import HDF5Kit
import XCTest

/// The files PyTorch, Keras and ONNX users have (issue 20, problems 3–5), through the command
/// line: Keras files of compiled models and .keras archives, safetensors, pickled .pt files,
/// head names, export by extension, ONNX. Fixtures: Tests/LSTMIOTests/Interop/Fixtures
/// (make_format_fixtures.py made them with Keras, PyTorch and safetensors themselves).
final class WeightsFormatsCLITests: XCTestCase {
    var dir: URL!

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("LSTMIOTests/Interop/Fixtures")
    static let scripts = fixtures.deletingLastPathComponent()

    override func setUpWithError() throws { dir = try makeTemporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
    func fixture(_ name: String) -> String { Self.fixtures.appendingPathComponent(name).path }

    @discardableResult
    func run(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> CLIResult {
        let r = try lstm(args, in: dir)
        XCTAssertEqual(r.status, 0, "lstm \(args.joined(separator: " ")) failed:\n\(r.output)", file: file, line: line)
        return r
    }

    /// Runs `args`, which must fail with exit status 1 and one error line; returns stderr.
    func refused(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let r = try lstm(args, in: dir)
        XCTAssertNotEqual(
            r.status, 0, "lstm \(args.joined(separator: " ")) succeeded:\n\(r.output)", file: file, line: line)
        return r.stderr
    }

    // MARK: Problem 3: Keras

    func testKerasWeightsOfACompiledModelImportIgnoringTheOptimizerGroupAndSayingSoOnce() throws {
        let r = try run(
            [
                "import", fixture("compiled.weights.h5"), "--head", "last", "--loss", "cross_entropy", "--out",
                path("k.h5")
            ])
        XCTAssertEqual(r.stderr.components(separatedBy: "ignored the /optimizer group").count - 1, 1, r.stderr)
        try checkPredictions(weights: path("k.h5"), io: "compiled.keras.io.h5", classTargets: true)
    }

    func testKerasArchiveImportsWithHeadActivationAndLossFromItsConfig() throws {
        try run(["import", fixture("compiled.keras"), "--out", path("k.h5")])
        let inspect = try run(["inspect", path("k.h5")])
        XCTAssertTrue(inspect.output.contains("cross_entropy"), inspect.output)
        try checkPredictions(weights: path("k.h5"), io: "compiled.keras.io.h5", classTargets: true)
    }

    /// evaluate and predict have no --head/--loss: on a Keras file without a model description
    /// they take both from the data, and never ask for options they do not accept.
    func testEvaluateAndPredictOnACompiledKerasFileNeedNoOptionsTheyDoNotAccept() throws {
        try makeData(io: "compiled.keras.io.h5", classTargets: true)
        let evaluate = try run(["evaluate", fixture("compiled.weights.h5"), "--data", path("data.h5")])
        XCTAssertFalse(evaluate.output.contains("--head"), evaluate.output)
        XCTAssertTrue(evaluate.stdout.contains("loss"), evaluate.output)
        let predict = try run(
            ["predict", fixture("compiled.weights.h5"), "--data", path("data.h5"), "--out", path("pred.h5")])
        XCTAssertTrue(predict.stderr.contains("took head last and loss cross_entropy from the data"), predict.output)
        try compare(path("pred.h5"), fixture("compiled.keras.io.h5"), tolerance: 1e-5)
    }

    // MARK: Problem 4: PyTorch

    func testPickledPyTorchFilesAreRefusedWithTheOneLineCommandThatConvertsThem() throws {
        for name in ["fc_head.pt", "fc_head_legacy.pt"] {
            try FileManager.default.copyItem(atPath: fixture(name), toPath: path(name))
            let error = try refused(["import", name, "--head", "sequence", "--loss", "cross_entropy", "--out", "c.h5"])
            XCTAssertEqual(error.split(separator: "\n").count, 1, error)
            XCTAssertTrue(error.contains("weights file '\(name)'"), error)
            XCTAssertTrue(error.contains("python3 -c \"import torch; from safetensors.torch import save_file"), error)
            XCTAssertFalse(error.contains("not an HDF5 file"), error)
            XCTAssertFalse(FileManager.default.fileExists(atPath: path("c.h5")))
        }
        guard pythonHas("torch, safetensors") else {
            print("SKIPPED part of \(name): python3 lacks torch or safetensors, so the printed command is not run")
            return
        }
        // The printed command works as printed, and its output imports.
        let error = try refused(["import", "fc_head.pt", "--out", "c.h5"])
        let start = try XCTUnwrap(error.range(of: "python3 -c "), error)
        let command = String(error[start.lowerBound...].prefix { $0 != "\n" }).components(separatedBy: " and import ")[
            0]
        let shell = try runProcess("/bin/sh", ["-c", command], in: dir)
        XCTAssertEqual(shell.status, 0, shell.stderr)
        try run(
            [
                "import", "fc_head.safetensors", "--head", "sequence", "--loss", "cross_entropy", "--rename", "fc=head",
                "--out", "c.h5"
            ])
        try checkPredictions(weights: path("c.h5"), io: "fc_head.pt.io.h5", classTargets: true)
    }

    func testAMissingHeadListsTheTensorsThatLookLikeAHeadAndRenameMapsThem() throws {
        let args = ["import", fixture("fc_head.safetensors"), "--head", "sequence", "--loss", "cross_entropy"]
        let error = try refused(args + ["--out", path("c.h5")])
        XCTAssertTrue(error.contains("/head.weight: missing tensor"), error)
        XCTAssertTrue(error.contains("fc.weight [3, 4]") && error.contains("fc.bias [3]"), error)
        XCTAssertTrue(error.contains("--rename fc=head"), error)
        let unmatched = try refused(args + ["--rename", "classifier=head", "--out", path("c.h5")])
        XCTAssertTrue(unmatched.contains("--rename classifier=head: no tensor is named 'classifier'"), unmatched)
        XCTAssertTrue(unmatched.contains("fc.weight [3, 4]"), unmatched)

        try run(args + ["--rename", "fc=head", "--out", path("c.h5")])
        try checkPredictions(weights: path("c.h5"), io: "fc_head.pt.io.h5", classTargets: true)
    }

    func testSafetensorsExportImportsBackBitForBitAndLoadsInPython() throws {
        try run(
            [
                "import", fixture("fc_head.safetensors"), "--head", "sequence", "--loss", "cross_entropy", "--rename",
                "fc=head", "--out", path("c.h5")
            ])
        try run(["export", path("c.h5"), "--out", path("a.safetensors")])
        try run(["import", path("a.safetensors"), "--out", path("d.h5")])
        try run(["export", path("d.h5"), "--out", path("b.safetensors")])
        XCTAssertEqual(
            try Data(contentsOf: dir.appendingPathComponent("a.safetensors")),
            try Data(contentsOf: dir.appendingPathComponent("b.safetensors")))
        guard pythonHas("safetensors, numpy, h5py") else {
            print("SKIPPED part of \(name): python3 lacks safetensors, numpy or h5py")
            return
        }
        try run(["export", path("d.h5"), "--out", path("d.pt.h5")])
        let check = try runProcess(
            "/usr/bin/env",
            [
                "python3", "-c",
                """
                import json, h5py, numpy as np
                from safetensors import safe_open
                with safe_open("a.safetensors", "np") as f, h5py.File("d.pt.h5") as g:
                    meta = f.metadata()
                    assert json.loads(meta["model_config"])["head"] == "sequence", meta
                    assert sorted(f.keys()) == sorted(g.keys()), (sorted(f.keys()), sorted(g.keys()))
                    for k in f.keys():
                        assert np.array_equal(f.get_tensor(k), np.asarray(g[k])), k
                """
            ], in: dir)
        XCTAssertEqual(check.status, 0, check.stderr)
    }

    func testAFileThatIsNoWeightsFileSaysWhatWasExpectedAndFoundOnce() throws {
        try Data("hello".utf8).write(to: dir.appendingPathComponent("x.pt.h5"))
        let error = try refused(["import", "x.pt.h5", "--out", "c.h5"])
        XCTAssertTrue(error.contains("weights file 'x.pt.h5': not a weights file: expected HDF5"), error)
        XCTAssertTrue(error.contains("found bytes 68 65 6c 6c 6f"), error)
        XCTAssertEqual(error.components(separatedBy: "HDF5 file").count, 1, error)
    }

    // MARK: Problem 5: export by extension

    func testExportInfersTheFormatFromTheFileName() throws {
        try run(["import", fixture("compiled.keras"), "--out", path("k.h5")])
        for (name, kind) in [
            ("m.pt.h5", "PyTorch weights"), ("m.h5", "PyTorch weights"), ("m.weights.h5", "Keras weights")
        ] {
            let r = try run(["export", path("k.h5"), "--out", path(name)])
            XCTAssertTrue(r.stdout.contains("wrote \(kind.split(separator: " ")[0])"), r.output)
            XCTAssertTrue(try run(["inspect", path(name)]).output.hasPrefix(kind), name)
        }
        try run(["export", path("k.h5"), "--out", path("m.safetensors")])
        XCTAssertEqual(try Data(contentsOf: dir.appendingPathComponent("m.safetensors"))[8], UInt8(ascii: "{"))
        try run(["export", path("k.h5"), "--out", path("m.onnx")])
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("m.onnx")))
    }

    func testExportRefusesNamesTheFrameworkCannotLoadAndFormatsThatDisagreeWithTheSuffix() throws {
        try run(["import", fixture("compiled.keras"), "--out", path("k.h5")])
        let keras = try refused(["export", "k.h5", "--format", "keras", "--out", "model.h5"])
        XCTAssertTrue(keras.contains("use --out model.weights.h5"), keras)
        let disagree = try refused(["export", "k.h5", "--format", "pytorch", "--out", "model.safetensors"])
        XCTAssertTrue(disagree.contains("--format pytorch disagrees with the file name"), disagree)
        let onnx = try refused(["export", "k.h5", "--format", "onnx", "--out", "model.weights.h5"])
        XCTAssertTrue(onnx.contains("disagrees"), onnx)
        let pickle = try refused(["export", "k.h5", "--out", "model.pt"])
        XCTAssertTrue(pickle.contains("model.safetensors"), pickle)
        let unknown = try refused(["export", "k.h5", "--out", "model.bin2"])
        XCTAssertTrue(unknown.contains("cannot tell the format from the file name"), unknown)
        XCTAssertEqual(filesBelow(dir), ["k.h5"])
    }

    func testExportTakesTorchForPyTorchAndItsHelpListsExactlyTheFormatsThatWork() throws {
        try run(["import", fixture("compiled.keras"), "--out", path("k.h5")])
        try run(["export", "k.h5", "--format", "torch", "--out", "m.pt.h5"])
        XCTAssertTrue(try run(["inspect", "m.pt.h5"]).output.hasPrefix("PyTorch weights"))
        let help = try run(["export", "--help"]).stdout
        XCTAssertTrue(help.contains("(values: pytorch, keras, safetensors, onnx)"), help)
        XCTAssertFalse(help.contains("checkpoint)"), help)
        let bad = try refused(["export", "k.h5", "--format", "checkpoint", "--out", "m.h5"])
        XCTAssertTrue(bad.contains("'pytorch', 'keras', 'safetensors' or 'onnx'"), bad)
    }

    // MARK: ONNX

    /// `lstm export --out m.onnx` run by onnxruntime agrees with `lstm predict` to 1e-5: a
    /// one-layer sequence model (Softmax), a two-layer bidirectional last-head model (tanh),
    /// per-layer widths [16, 8] (Softmax, Gemm head) and a Keras model.
    func testONNXExportRunInOnnxruntimeMatchesLstmPredict() throws {
        guard pythonHas("onnxruntime, h5py, numpy") else {
            throw XCTSkip(
                "python3 lacks onnxruntime, h5py or numpy: the ONNX files are not run (OnnxFixtureTests pins their layout)"
            )
        }
        let cases: [(String, String, [String], Bool)] = [
            (
                "fc_head.safetensors", "fc_head.pt.io.h5",
                ["--head", "sequence", "--loss", "cross_entropy", "--rename", "fc=head"], true
            ),
            (
                "two_layer_bidir_last.weights.h5", "two_layer_bidir_last.keras.io.h5",
                ["--head", "last", "--loss", "mse"], false
            ),
            ("widths_16_8.pt.h5", "widths_16_8.pt.io.h5", ["--head", "last", "--loss", "cross_entropy"], true),
            ("compiled.keras", "compiled.keras.io.h5", [], true)
        ]
        for (weights, io, options, classTargets) in cases {
            try run(["import", fixture(weights), "--out", path("c.h5")] + options)
            try makeData(io: io, classTargets: classTargets)
            try run(["predict", path("c.h5"), "--data", path("data.h5"), "--out", path("pred.h5")])
            try run(["export", path("c.h5"), "--out", path("m.onnx")])
            let script = Self.scripts.appendingPathComponent("onnx_forward.py").path
            let python = try runProcess(
                "/usr/bin/env", ["python3", script, path("m.onnx"), fixture(io), path("ort.h5")], in: dir)
            XCTAssertEqual(python.status, 0, python.stderr)
            let worst = try compare(path("ort.h5"), path("pred.h5"), tolerance: 1e-5)
            print("onnxruntime vs lstm predict, \(weights): max |Δ| = \(worst)")
        }
    }

    // MARK: - Helpers

    /// A dataset whose split `test` holds the recorded inputs (and dummy targets shaped like the outputs).
    func makeData(io: String, classTargets: Bool) throws {
        try? FileManager.default.removeItem(atPath: path("data.h5"))
        let recorded = try HDF5File.open(fixture(io))
        defer { try? recorded.close() }
        let inputs = try recorded.root.openDataset("inputs")
        let outputs = try recorded.root.openDataset("outputs")
        let data = try HDF5File.create(path("data.h5"))
        do {
            let test = try data.root.createGroup("test")
            try test.write("inputs", try inputs.read(as: Float.self), shape: inputs.shape)
            let rows = Array(outputs.shape.dropLast())
            if classTargets {
                try test.write("targets", [Int32](repeating: 0, count: rows.reduce(1, *)), shape: rows)
            } else {
                try test.write("targets", [Float](repeating: 0, count: outputs.elementCount), shape: outputs.shape)
            }
        }
        try data.close()
    }

    /// Imported weights predict the framework's recorded outputs to 1e-5.
    func checkPredictions(
        weights: String, io: String, classTargets: Bool, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        try makeData(io: io, classTargets: classTargets)
        try run(["predict", weights, "--data", path("data.h5"), "--out", path("pred.h5")], file: file, line: line)
        try compare(path("pred.h5"), fixture(io), tolerance: 1e-5, file: file, line: line)
    }

    /// The largest |a − b| between the `outputs` of two files (shapes must agree), asserted ≤ tolerance.
    @discardableResult
    func compare(
        _ a: String, _ b: String, tolerance: Float, file: StaticString = #filePath, line: UInt = #line
    ) throws -> Float {
        let fa = try HDF5File.open(a)
        let fb = try HDF5File.open(b)
        defer {
            try? fa.close()
            try? fb.close()
        }
        let da = try fa.root.openDataset("outputs")
        let db = try fb.root.openDataset("outputs")
        XCTAssertEqual(da.shape, db.shape, file: file, line: line)
        var worst: Float = 0
        for (x, y) in zip(try da.read(as: Float.self), try db.read(as: Float.self)) {
            let d = abs(x - y)
            worst = d.isNaN ? .infinity : max(worst, d)
        }
        XCTAssertLessThanOrEqual(worst, tolerance, "max |Δ| \(a) vs \(b)", file: file, line: line)
        return worst
    }

    func pythonHas(_ modules: String) -> Bool {
        (try? runProcess("/usr/bin/env", ["python3", "-c", "import \(modules)"], in: dir).status) == 0
    }

    func runProcess(_ executable: String, _ arguments: [String], in directory: URL) throws -> (
        status: Int32, stderr: String
    ) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        p.currentDirectoryURL = directory
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
        environment["KERAS_BACKEND"] = "torch"
        environment["TMPDIR"] = directory.path  // onnxruntime leaves a .ses file in TMPDIR; the test's dir goes
        p.environment = environment
        let errors = Pipe()
        p.standardError = errors
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let data = errors.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
