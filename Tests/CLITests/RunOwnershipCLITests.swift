import Foundation
import HDF5Kit
import XCTest

/// A run directory belongs to one run (issue 19, problems 1–4): a second process is refused while a
/// run trains there and the first run's files stay its own; a new `lstm train` does not delete
/// another run's checkpoints without `--overwrite`; `lstm resume` of an `--init` run killed before
/// its first checkpoint starts from the same imported weights (and refuses when they are gone or
/// changed); the exit status says whether training reached its end.
final class RunOwnershipCLITests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws { dir = try makeTemporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// A small adding-problem config into `run` (relative to `dir`); `extra` adds YAML lines.
    private func writeConfig(_ name: String, run: String, model: String, steps: Int, extra: String = "") throws {
        let text = """
            model: {\(model)}
            loss: mse
            data:
              file: adding.h5
              generate: {task: adding, steps: 6, train: 64, val: 16, test: 16, seed: 1}
              batch_size: 8
            optimizer: {name: adam, lr: 0.01}
            training: {steps: \(steps)}
            checkpoint: {dir: \(run), every: 1000000}
            logging: {every: 1, progress: plain}
            seed: 3
            \(extra)
            """
        try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }

    /// `lstm ARGS` started in `dir`, stdout and stderr to files; returns the process and a reader.
    private func start(_ args: [String], log: String) throws -> (Process, () -> String) {
        let p = Process()
        p.executableURL = productsDirectory.appendingPathComponent("lstm")
        p.arguments = args
        p.currentDirectoryURL = dir
        p.environment = ProcessInfo.processInfo.environment.merging(["OPENBLAS_NUM_THREADS": "1"]) { _, new in new }
        let out = dir.appendingPathComponent(log)
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        let handle = try FileHandle(forWritingTo: out)
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        return (p, { (try? String(contentsOf: out, encoding: .utf8)) ?? "" })
    }

    /// Waits (up to two minutes) until `run`'s metrics.jsonl has a record: the run holds its lock.
    private func waitUntilTraining(_ run: String, _ p: Process, _ log: () -> String) {
        let metrics = dir.appendingPathComponent(run).appendingPathComponent("metrics.jsonl")
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline, p.isRunning {
            if ((try? String(contentsOf: metrics, encoding: .utf8)) ?? "").contains("\n") { return }
            usleep(500)
        }
        XCTFail("the run did not start training: \(log())")
    }

    private func bytes(_ path: String) throws -> Data { try Data(contentsOf: dir.appendingPathComponent(path)) }

    // MARK: - Problem 1: two runs in one directory

    func testASecondRunIntoADirectoryInUseIsRefusedAndTheFirstRunsFilesStayItsOwn() throws {
        try writeConfig("a.yaml", run: "shared", model: "hidden_size: 8", steps: 1_000_000)
        try writeConfig("b.yaml", run: "shared", model: "hidden_size: 12", steps: 20)
        let (a, logA) = try start(["train", "a.yaml"], log: "a.log")
        defer { if a.isRunning { kill(a.processIdentifier, SIGKILL) } }
        waitUntilTraining("shared", a, logA)

        let b = try lstm(["train", "b.yaml"], in: dir)
        XCTAssertEqual(b.status, 1, b.output)
        XCTAssertTrue(
            b.stderr.contains("shared is in use by another training run: pid \(a.processIdentifier) on host "),
            b.stderr)
        XCTAssertTrue(b.stderr.contains(", started 20"), b.stderr)
        XCTAssertTrue(b.stderr.contains("(lstm train a.yaml)"), b.stderr)
        let r = try lstm(["resume", "shared"], in: dir)
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.stderr.contains("in use by another training run: pid \(a.processIdentifier)"), r.stderr)

        kill(a.processIdentifier, SIGTERM)
        a.waitUntilExit()
        XCTAssertEqual(a.terminationStatus, 75, logA())
        // Everything in the directory is run A's: its config, its model, its records only.
        let config = try String(contentsOf: dir.appendingPathComponent("shared/config.yaml"), encoding: .utf8)
        XCTAssertTrue(config.contains("hidden_size: 8"), config)
        let inspected = try lstm(["inspect", "shared/latest.h5"], in: dir)
        XCTAssertTrue(inspected.stdout.contains("hidden size 8\n"), inspected.output)
        struct Record: Decodable { var step: Int }
        let steps = try String(contentsOf: dir.appendingPathComponent("shared/metrics.jsonl"), encoding: .utf8)
            .split(separator: "\n").map { try JSONDecoder().decode(Record.self, from: Data($0.utf8)).step }
        XCTAssertEqual(steps.first, 1)
        XCTAssertEqual(steps, steps.sorted(), "records of two runs interleaved")
        XCTAssertFalse(b.stdout.contains("training "), "run B trained: \(b.stdout)")
    }

    func testALockLeftByAKilledRunIsTakenOverAndSaidSo() throws {
        try writeConfig("long.yaml", run: "run", model: "hidden_size: 8", steps: 1_000_000)
        let (p, log) = try start(["train", "long.yaml"], log: "long.log")
        waitUntilTraining("run", p, log)
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("run/latest.h5").path))
        // No checkpoint was written: the directory is reused as it is, and the stale lock taken over.
        try writeConfig("short.yaml", run: "run", model: "hidden_size: 8", steps: 5)
        let r = try lstm(["train", "short.yaml"], in: dir)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(
            r.stderr.contains("note: took over the lock of run from pid \(p.processIdentifier) on host "), r.stderr)
        XCTAssertTrue(r.stderr.contains("which ended without releasing it"), r.stderr)
        XCTAssertEqual(try bytes("run/run.lock").count, 0, "a run that ended leaves its lock file empty")
    }

    // MARK: - Problem 2: a new run does not delete another run's checkpoints

    func testANewRunIntoADirectoryHoldingAnotherRunsCheckpointsIsRefusedUnlessOverwrite() throws {
        try writeConfig("digits.yaml", run: "setdir", model: "hidden_size: 8, num_layers: 2", steps: 12)
        let first = try lstm(["train", "digits.yaml"], in: dir)
        XCTAssertEqual(first.status, 0, first.output)
        let latest = try bytes("setdir/latest.h5")

        try writeConfig("co2.yaml", run: "elsewhere", model: "hidden_size: 5", steps: 6)
        let refused = try lstm(["train", "co2.yaml", "--set", "checkpoint.dir=setdir"], in: dir)
        XCTAssertEqual(refused.status, 1, refused.output)
        XCTAssertTrue(refused.stderr.contains("setdir holds another run's checkpoints (latest.h5: "), refused.stderr)
        XCTAssertTrue(refused.stderr.contains("H=8 × 2 layer(s)"), refused.stderr)
        XCTAssertTrue(refused.stderr.contains("step 12, saved 20"), refused.stderr)
        XCTAssertTrue(refused.stderr.contains("`lstm resume setdir`"), refused.stderr)
        XCTAssertTrue(refused.stderr.contains("--overwrite"), refused.stderr)
        XCTAssertEqual(try bytes("setdir/latest.h5"), latest, "the earlier run's checkpoint was touched")
        let config = try String(contentsOf: dir.appendingPathComponent("setdir/config.yaml"), encoding: .utf8)
        XCTAssertTrue(config.contains("num_layers: 2"), "config.yaml was replaced: \(config)")
        // --dry-run is refused the same way and writes nothing either.
        let dry = try lstm(["train", "co2.yaml", "--set", "checkpoint.dir=setdir", "--dry-run"], in: dir)
        XCTAssertEqual(dry.status, 1, dry.output)

        let replaced = try lstm(["train", "co2.yaml", "--set", "checkpoint.dir=setdir", "--overwrite"], in: dir)
        XCTAssertEqual(replaced.status, 0, replaced.output)
        XCTAssertTrue(
            replaced.stderr.contains("--overwrite: removed the earlier run's ")
                && replaced.stderr.contains(" checkpoint file(s) from setdir (latest.h5: "),
            replaced.stderr)
        XCTAssertTrue(replaced.stderr.contains("H=8 × 2 layer(s)"), replaced.stderr)
        XCTAssertTrue(try lstm(["inspect", "setdir/latest.h5"], in: dir).stdout.contains("hidden size 5\n"))
    }

    // MARK: - Problem 3: resume remembers --init

    func testResumingAnInitRunKilledBeforeItsFirstCheckpointStartsFromTheSameWeights() throws {
        // Weights with an architecture the fine-tuning config does not give (H = [6, 4]).
        try writeConfig("pre.yaml", run: "pre", model: "hidden_size: [6, 4]", steps: 3)
        XCTAssertEqual(try lstm(["train", "pre.yaml"], in: dir).status, 0)
        let exported = try lstm(["export", "pre/latest.h5", "--format", "pytorch", "--out", "imported.h5"], in: dir)
        XCTAssertEqual(exported.status, 0, exported.output)
        try writeConfig("ft.yaml", run: "ft", model: "head: last", steps: 400, extra: "validation: {every: 1000000}")
        let reference = try lstm(
            ["train", "ft.yaml", "--init", "imported.h5", "--set", "checkpoint.dir=reference"], in: dir)
        XCTAssertEqual(reference.status, 0, reference.output)
        XCTAssertTrue(reference.stdout.contains("init: \(dir.appendingPathComponent("imported.h5").path) (SHA-256 "))

        // Killed (SIGKILL) before its first checkpoint: the first checkpoint is the last step's.
        let (p, log) = try start(["train", "ft.yaml", "--init", "imported.h5"], log: "ft.log")
        waitUntilTraining("ft", p, log)
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertFalse(
            FileManager.default.fileExists(atPath: dir.appendingPathComponent("ft/latest.h5").path),
            "the run ended or checkpointed before it was killed: \(log())")
        let record = try String(contentsOf: dir.appendingPathComponent("ft/run.json"), encoding: .utf8)
        XCTAssertTrue(record.contains("imported.h5") && record.contains("\"sha256\""), record)

        // Gone, then changed: refused, saying so.
        let imported = dir.appendingPathComponent("imported.h5")
        let aside = dir.appendingPathComponent("aside.h5")
        try FileManager.default.moveItem(at: imported, to: aside)
        let gone = try lstm(["resume", "ft"], in: dir)
        XCTAssertEqual(gone.status, 1, gone.output)
        XCTAssertTrue(gone.stderr.contains("was started with --init \(imported.path)"), gone.stderr)
        XCTAssertTrue(gone.stderr.contains("which is gone"), gone.stderr)
        try FileManager.default.copyItem(at: dir.appendingPathComponent("pre/latest.h5"), to: imported)
        let changed = try lstm(["resume", "ft"], in: dir)
        XCTAssertEqual(changed.status, 1, changed.output)
        XCTAssertTrue(changed.stderr.contains("which has changed since (SHA-256 "), changed.stderr)
        try FileManager.default.removeItem(at: imported)
        try FileManager.default.moveItem(at: aside, to: imported)

        let resumed = try lstm(["resume", "ft"], in: dir)
        XCTAssertEqual(resumed.status, 0, resumed.output)
        XCTAssertTrue(resumed.stdout.contains("and --init \(imported.path) (unchanged: SHA-256 "), resumed.stdout)
        XCTAssertTrue(
            try lstm(["inspect", "ft/latest.h5"], in: dir).stdout.contains("hidden sizes [6, 4]"),
            "the resumed run forgot the imported architecture")
        XCTAssertEqual(
            try KillResumeCLITests.tensors(dir.appendingPathComponent("ft/latest.h5")),
            try KillResumeCLITests.tensors(dir.appendingPathComponent("reference/latest.h5")))
        let provenance = try attribute("ft/latest.h5", "run_provenance")
        XCTAssertTrue(provenance.contains("\"path\":\"\(imported.path)\""), provenance)
        XCTAssertTrue(provenance.contains("\"lstm_version\":"), provenance)
    }

    // MARK: - Problem 4: the exit status tells the truth

    func testARunWhoseEveryStepIsNonFiniteStopsWithAnErrorNamingTheFirstBadStep() throws {
        try writeConfig("lr.yaml", run: "lr", model: "hidden_size: 8", steps: 20, extra: "validation: {every: 5}")
        let r = try lstm(["train", "lr.yaml", "--set", "optimizer.lr=1e308"], in: dir)
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertFalse(r.output.contains("done: finished"), r.output)
        XCTAssertTrue(r.stderr.contains("training made no progress: 10 steps in a row were non-finite"), r.stderr)
        XCTAssertTrue(r.stderr.contains("the first at step 1 (its update made the weights"), r.stderr)
        XCTAssertTrue(r.stderr.contains("learning rate 1e+308"), r.stderr)
        XCTAssertTrue(r.stderr.contains("Try a lower optimizer.lr, gradient clipping (training.clip_norm"), r.stderr)
        // The limit is a validated key.
        let bad = try lstm(["train", "lr.yaml", "--set", "training.max_nonfinite_steps=0"], in: dir)
        XCTAssertEqual(bad.status, 1, bad.output)
        XCTAssertTrue(bad.stderr.contains("training.max_nonfinite_steps"), bad.stderr)
    }

    func testEveryCommandExitsOneForAFailureAndSixtyFourForABadCommandLine() throws {
        let plot = try lstm(["plot", "runs/nope"], in: dir)
        XCTAssertEqual(plot.status, 1, plot.output)
        XCTAssertTrue(plot.stderr.contains("runs/nope/metrics.jsonl does not exist"), plot.stderr)
        let resume = try lstm(["resume", "runs/nope"], in: dir)
        XCTAssertEqual(resume.status, 1, resume.output)
        let usage = try lstm(["evaluate", "w.h5", "--data", "d.h5", "--batch-size", "0"], in: dir)
        XCTAssertEqual(usage.status, 64, usage.output)
        XCTAssertTrue(usage.stderr.contains("--batch-size must be ≥ 1 (got 0)"), usage.stderr)
        XCTAssertEqual(try lstm(["plot", "--no-such-option"], in: dir).status, 64)
    }

    /// A string root attribute of a file below `dir`.
    private func attribute(_ file: String, _ name: String) throws -> String {
        let f = try HDF5File.open(dir.appendingPathComponent(file).path)
        defer { try? f.close() }
        return try f.root.attribute(name, as: String.self)
    }
}
