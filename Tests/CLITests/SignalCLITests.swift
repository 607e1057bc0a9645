import Foundation
import XCTest

/// SIGINT, SIGTERM and SIGUSR1 during `lstm train`: the step finishes, a checkpoint is saved, the run
/// says how to resume and exits 75 (EX_TEMPFAIL: not finished, resumable; never 0), and `lstm resume` then ends exactly like a run never stopped
/// (metrics and weights bit for bit).
final class SignalCLITests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws { dir = try makeTemporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testSIGTERMSavesACheckpointAndStopsLikeCtrlC() throws {
        try assertSignalStopsCleanly(SIGTERM, saying: "terminated: saving a checkpoint")
    }

    func testSIGINTSavesACheckpointAndStops() throws {
        try assertSignalStopsCleanly(SIGINT, saying: "interrupted: saving a checkpoint")
    }

    /// Slurm's `--signal=USR1@T` (sbatch/srun) warns a job T seconds before its time limit: the same
    /// checkpoint and exit status 75, so the requeued job runs `lstm resume` (docs/cluster.md).
    func testSIGUSR1FromSlurmSavesACheckpointAndStopsLikeSIGTERM() throws {
        try assertSignalStopsCleanly(SIGUSR1, saying: "SIGUSR1 (time limit near): saving a checkpoint")
    }

    private func assertSignalStopsCleanly(_ signal: Int32, saying message: String) throws {
        let run = dir.appendingPathComponent("run")
        let p = Process()
        p.executableURL = productsDirectory.appendingPathComponent("lstm")
        p.arguments = arguments(run)
        var env = ProcessInfo.processInfo.environment
        env["OPENBLAS_NUM_THREADS"] = "1"
        env["LSTM_PAUSE_AT"] = "step:3"  // stops itself there: the signal lands mid-run on any machine
        p.environment = env
        try signalAndCheck(p, run, signal, message)
    }

    private func arguments(_ run: URL) -> [String] {
        [
            "train", configPath("copy.yaml"),
            "--set", "data.file=\(dir.appendingPathComponent("copy.h5").path)",
            "--set",
            "data.generate={task: copy, symbols: 3, alphabet: 4, delay: 4, train: 64, val: 16, test: 16, seed: 1}",
            "--set", "data.batch_size=16", "--set", "model.hidden_size=8", "--set", "model.embedding_size=4",
            "--set", "training.steps=200", "--set", "validation.every=50",
            "--set", "checkpoint.dir=\(run.path)", "--set", "checkpoint.every=1000000",
            "--set", "logging.every=1", "--set", "logging.progress=plain"
        ]
    }

    private func signalAndCheck(_ p: Process, _ run: URL, _ signal: Int32, _ message: String) throws {
        let out = dir.appendingPathComponent("out.txt")
        let err = dir.appendingPathComponent("err.txt")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        p.standardOutput = try FileHandle(forWritingTo: out)
        p.standardError = try FileHandle(forWritingTo: err)
        try p.run()
        // Training stops itself (SIGSTOP) after logging step 3 (the handler is installed before the
        // first step); the signal is delivered when it continues.
        let paused = waitUntilPaused(p)
        let early = paused ? "" : ((try? String(contentsOf: err, encoding: .utf8)) ?? "")
        XCTAssertTrue(paused, "lstm train ended before the signal: \(early)")
        kill(p.processIdentifier, signal)
        kill(p.processIdentifier, SIGCONT)
        p.waitUntilExit()
        let stdout = try String(contentsOf: out, encoding: .utf8)
        let stderr = try String(contentsOf: err, encoding: .utf8)
        XCTAssertEqual(p.terminationReason, .exit, "killed by a signal instead of stopping: \(stderr)")
        XCTAssertEqual(p.terminationStatus, 75, "an interrupted run must not exit 0: \(stdout)\(stderr)")
        XCTAssertTrue(stdout.contains("interrupted: the run did not reach its end (exit status 75)"), stdout)
        XCTAssertTrue(stderr.contains(message), stderr)
        XCTAssertTrue((stdout + stderr).contains("lstm resume \(run.path)"), stdout + stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: run.appendingPathComponent("latest.h5").path))
        // Resumed, the run ends as if it had never stopped.
        let resumed = try lstm(["resume", run.path])
        XCTAssertEqual(resumed.status, 0, resumed.output)
        XCTAssertTrue(resumed.stdout.contains("resuming \(run.path) at step"), resumed.stdout)
        let reference = dir.appendingPathComponent("reference")
        XCTAssertEqual(try lstm(arguments(reference)).status, 0)
        XCTAssertEqual(try KillResumeCLITests.records(run), try KillResumeCLITests.records(reference))
        XCTAssertEqual(
            try KillResumeCLITests.tensors(run.appendingPathComponent("latest.h5")),
            try KillResumeCLITests.tensors(reference.appendingPathComponent("latest.h5")))
    }

    private func configPath(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("configs/\(name)").path
    }
}
