import Foundation
import XCTest

/// Every example config in configs/, end to end through the built `lstm` executable at a tiny
/// size: prepare (or generate) its data → `lstm train configs/X.yaml --set …` → the run
/// directory's metrics, config and checkpoints → `lstm export` → `lstm evaluate` and
/// `lstm predict` / `lstm sample`.
final class ConfigEndToEndTests: XCTestCase {
    var dir: URL!

    /// The repository root: this file is Tests/CLITests/ConfigEndToEndTests.swift.
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The subcommands listed by `lstm --help` (empty when it cannot be run or parsed).
    static let subcommands: Set<String> = {
        guard let r = try? lstm(["--help"]), let list = r.stdout.components(separatedBy: "SUBCOMMANDS:").last else {
            return []
        }
        // Lines "  name   abstract"; continuation lines of an abstract are indented further.
        return Set(
            list.split(separator: "\n").filter { $0.hasPrefix("  ") && !$0.hasPrefix("   ") }
                .compactMap { $0.split(separator: " ").first.map(String.init) })
    }()

    override func setUpWithError() throws { dir = try makeTemporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func config(_ name: String) -> String {
        Self.repository.appendingPathComponent("configs").appendingPathComponent(name).path
    }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// Runs `lstm args` in the temporary directory and asserts it succeeded.
    @discardableResult
    func run(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> CLIResult {
        let r = try lstm(args, in: dir)
        XCTAssertEqual(r.status, 0, "lstm \(args.joined(separator: " ")) failed:\n\(r.output)", file: file, line: line)
        return r
    }

    /// `lstm train configs/NAME --set …` with the run directory, data file and progress output
    /// redirected, a train record every 2 steps and validation every 3; returns the run directory.
    func train(
        _ name: String, data: String, steps: Int = 6, _ overrides: [String],
        file: StaticString = #filePath, line: UInt = #line
    ) throws -> URL {
        let runDir = dir.appendingPathComponent("run")
        let sets =
            [
                "checkpoint.dir=\(runDir.path)", "data.file=\(path(data))", "logging.progress=none",
                "logging.every=2", "validation.every=3", "checkpoint.every=3", "training.steps=\(steps)"
            ] + overrides
        let r = try run(["train", config(name)] + sets.flatMap { ["--set", $0] }, file: file, line: line)
        XCTAssertTrue(r.stdout.contains("done:"), r.output, file: file, line: line)
        return runDir
    }

    /// The run directory holds metrics with train and validation records, the effective config
    /// and latest/best checkpoints; the latest checkpoint exports to PyTorch.
    func checkRun(_ runDir: URL, file: StaticString = #filePath, line: UInt = #line) throws {
        let fm = FileManager.default
        for name in ["metrics.jsonl", "config.yaml", "latest.h5", "best.h5"] {
            XCTAssertTrue(
                fm.fileExists(atPath: runDir.appendingPathComponent(name).path), "no \(name) in the run directory",
                file: file, line: line)
        }
        let text = try String(contentsOf: runDir.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        let records = try text.split(separator: "\n").map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        XCTAssertTrue(records.contains { $0["train_loss"] != nil }, "no train record: \(text)", file: file, line: line)
        XCTAssertTrue(
            records.contains { $0["val_loss"] != nil }, "no validation record: \(text)", file: file, line: line)
        XCTAssertTrue(records.allSatisfy { $0["step"] is Int && $0["wall_time"] != nil }, text, file: file, line: line)
        let stored = try String(contentsOf: runDir.appendingPathComponent("config.yaml"), encoding: .utf8)
        XCTAssertTrue(
            stored.contains(runDir.path), "the stored config has the --set values: \(stored)", file: file, line: line)

        try run(
            [
                "export", runDir.appendingPathComponent("latest.h5").path, "--format", "pytorch", "--out",
                path("model.pt.h5")
            ],
            file: file, line: line)
        XCTAssertTrue(fm.fileExists(atPath: path("model.pt.h5")), file: file, line: line)
    }

    /// `lstm evaluate` on `split`.
    func evaluate(
        _ runDir: URL, data: String, split: String = "test", _ extra: [String] = [],
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let r = try run(
            ["evaluate", runDir.appendingPathComponent("best.h5").path, "--data", path(data), "--split", split] + extra,
            file: file, line: line)
        XCTAssertTrue(r.stdout.contains("loss"), r.output, file: file, line: line)
    }

    /// `lstm predict` on the test split.
    func predict(
        _ runDir: URL, data: String, _ extra: [String] = [], file: StaticString = #filePath, line: UInt = #line
    ) throws {
        try run(
            ["predict", runDir.appendingPathComponent("latest.h5").path, "--data", path(data), "--out", path("pred.h5")]
                + extra,
            file: file, line: line)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("pred.h5")), file: file, line: line)
    }

    func testHelpListsEverySubcommandTheseTestsRun() {
        let used: Set = ["train", "prepare", "export", "inspect", "evaluate", "predict", "sample"]
        XCTAssertTrue(Self.subcommands.isSuperset(of: used), "missing \(used.subtracting(Self.subcommands).sorted())")
    }

    // MARK: - One test per config

    func testAddingConfig() throws {
        // The config's data.generate section writes the (tiny) dataset on the first run.
        let runDir = try train(
            "adding.yaml", data: "adding.h5",
            [
                "data.generate.steps=8", "data.generate.train=64", "data.generate.val=32", "data.generate.test=32",
                "model.hidden_size=4", "data.batch_size=16"
            ])
        XCTAssertTrue(
            FileManager.default.fileExists(atPath: path("adding.h5")), "data.generate did not write the dataset")
        try checkRun(runDir)
        try evaluate(runDir, data: "adding.h5")
        try predict(runDir, data: "adding.h5")
    }

    func testCopyConfig() throws {
        let runDir = try train(
            "copy.yaml", data: "copy.h5",
            [
                "data.generate.symbols=2", "data.generate.alphabet=3", "data.generate.delay=2",
                "data.generate.train=64", "data.generate.val=32", "data.generate.test=32",
                "model.hidden_size=4", "model.embedding_size=4", "data.batch_size=16"
            ])
        try checkRun(runDir)
        try evaluate(runDir, data: "copy.h5")
        try predict(runDir, data: "copy.h5")
    }

    func testCopySGDConfig() throws {
        let runDir = try train(
            "copy-sgd.yaml", data: "copy.h5", steps: 3,
            [
                "data.generate.symbols=2", "data.generate.alphabet=3", "data.generate.delay=2",
                "data.generate.train=32", "data.generate.val=16", "data.generate.test=16",
                "model.hidden_size=4", "model.embedding_size=4", "data.batch_size=16"
            ])
        try checkRun(runDir)
    }

    func testCharLMConfig() throws {
        // The documented corpus when present (every Debian machine has it), else a stand-in.
        let gpl = "/usr/share/common-licenses/GPL-3"
        var corpus = gpl
        if !FileManager.default.fileExists(atPath: gpl) {
            corpus = path("corpus.txt")
            try String(
                repeating: "The GNU General Public License is a free, copyleft license for software. ", count: 60
            )
            .write(toFile: corpus, atomically: true, encoding: .utf8)
        }
        try run(["prepare", "text", corpus, "--out", "gpl3.h5"])
        let runDir = try train(
            "charlm.yaml", data: "gpl3.h5",
            [
                "model.hidden_size=8", "model.embedding_size=4", "data.batch_size=4", "data.seq_length=10",
                "validation.max_batches=4"
            ])
        try checkRun(runDir)
        try evaluate(runDir, data: "gpl3.h5", split: "val", ["--batch-size", "4"])
        let r = try run(["sample", runDir.appendingPathComponent("best.h5").path, "--primer", "The ", "--length", "20"])
        XCTAssertTrue(r.stdout.contains("The "), r.output)
    }

    func testForecastConfig() throws {
        let csv = Self.repository.appendingPathComponent("configs/data/energy.csv").path
        try run([
            "prepare", "csv", csv, "--window", "8", "--target", "load", "temp",
            "--val-frac", "0.15", "--test-frac", "0.15", "--out", "energy.h5"
        ])
        let runDir = try train(
            "forecast.yaml", data: "energy.h5",
            [
                "model.hidden_size=4", "data.batch_size=16", "validation.max_batches=4"
            ])
        try checkRun(runDir)
        try evaluate(runDir, data: "energy.h5")
        try predict(runDir, data: "energy.h5", ["--denormalize"])
    }

    func testClassifyConfig() throws {
        let r = try run([
            "prepare", "waves", "--classes", "4", "--min-length", "5", "--max-length", "12",
            "--train", "64", "--val", "32", "--test", "32", "--out", "waves.h5"
        ])
        XCTAssertTrue(r.stdout.contains("lengths [64]"), r.output)
        let inspect = try run(["inspect", "waves.h5"])
        XCTAssertTrue(inspect.stdout.contains(#"["sine", "square", "triangle", "sawtooth"]"#), inspect.output)
        let runDir = try train("classify.yaml", data: "waves.h5", ["model.hidden_size=4", "data.batch_size=16"])
        try checkRun(runDir)
        try evaluate(runDir, data: "waves.h5")
        try predict(runDir, data: "waves.h5")
    }
}
