import Foundation
import HDF5Kit
import XCTest

/// SIGKILL at chosen and at random (seeded) moments of a tiny `lstm train`, each followed by
/// `lstm resume RUN_DIR`: before the first checkpoint, right after one, inside a checkpoint write,
/// mid-epoch. The run that was killed again and again ends with the same metrics.jsonl (every
/// record, bitwise equal figures; wall time and speed aside), the same weights and optimizer state
/// and the same best.h5 weights, bit for bit, as the run that never stopped.
///
/// The chosen moments are exact (the run stops itself there: `LSTM_PAUSE_AT`, LSTMFiles.PausePoint),
/// so they land on any machine under any load. `LSTM_KILLS=N` sets the number of timed random kills
/// (default 4, after the 5 chosen ones; with it set, every kill must happen), `LSTM_KILL_SEED` the
/// seed and `LSTM_KILL_STEPS` the run's length (default 300); `scripts/soak-kill-resume.sh N` runs
/// this test with N kills.
final class KillResumeCLITests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws { dir = try makeTemporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testRepeatedSIGKILLAndResumeEndsBitForBitLikeTheUninterruptedRun() throws {
        let env = ProcessInfo.processInfo.environment
        let seed = env["LSTM_KILL_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 1...999_999)
        let randomKills = env["LSTM_KILLS"].flatMap { Int($0) } ?? 4
        print("kill/resume: seed \(seed) (LSTM_KILL_SEED=\(seed) repeats it), \(randomKills) random kills")
        var rng = SplitMix(seed)

        let reference = dir.appendingPathComponent("reference")
        let r = try lstm(train(reference))
        XCTAssertEqual(r.status, 0, r.output)

        let run = dir.appendingPathComponent("run")
        var kills: [String] = []
        var started = false
        /// Starts `lstm train` (first) or `lstm resume` and kills it with SIGKILL: where it stopped
        /// itself at `pause` (LSTMFiles.PausePoint: exact, whatever the machine's load), or once
        /// `moment` says so; with neither it runs to the end. Returns whether it was killed.
        func attempt(_ what: String, pause: String? = nil, _ moment: ((Process) -> Bool)? = nil) throws -> Bool {
            let p = Process()
            p.executableURL = productsDirectory.appendingPathComponent("lstm")
            p.arguments = started ? ["resume", run.path] : train(run)
            started = true
            var environment = env.merging(["OPENBLAS_NUM_THREADS": "1"]) { _, new in new }
            environment["LSTM_PAUSE_AT"] = pause
            p.environment = environment
            p.standardOutput = FileHandle.nullDevice
            let err = dir.appendingPathComponent("err-\(kills.count).txt")
            _ = FileManager.default.createFile(atPath: err.path, contents: nil)
            p.standardError = try FileHandle(forWritingTo: err)
            try p.run()
            if pause != nil, waitUntilPaused(p) {
                kill(p.processIdentifier, SIGKILL)
                p.waitUntilExit()
                kills.append(what)
                return true
            }
            let deadline = Date().addingTimeInterval(120)
            while p.isRunning, Date() < deadline {
                if let moment, moment(p) {
                    kill(p.processIdentifier, SIGKILL)
                    p.waitUntilExit()
                    kills.append(what)
                    return true
                }
                usleep(500)
            }
            p.waitUntilExit()
            let stderr = (try? String(contentsOf: err, encoding: .utf8)) ?? ""
            XCTAssertEqual(p.terminationReason, .exit, stderr)
            XCTAssertEqual(p.terminationStatus, 0, "\(what): \(stderr)")
            return false
        }
        let latest = run.appendingPathComponent("latest.h5").path
        let steps = Int(env["LSTM_KILL_STEPS"] ?? "300") ?? 300

        // The chosen moments (checkpoints every 4 steps, validation every 7), each exact: the run
        // stops itself there and is killed. A run killed before its first checkpoint starts again.
        // 1. Before the first checkpoint: step 1 logged.
        var finished = try !attempt("before the first checkpoint", pause: "step:1")
        XCTAssertFalse(FileManager.default.fileExists(atPath: latest), "killed after the first checkpoint")
        // 2. Right after a checkpoint: step 8's checkpoint in place.
        if !finished { finished = try !attempt("right after a checkpoint", pause: "checkpoint:8") }
        // 3. Inside a checkpoint write: step 16's temporary file complete, not yet renamed.
        if !finished {
            finished = try !attempt("inside a checkpoint write", pause: "write:step-00000016.h5")
            let names = (try? FileManager.default.contentsOfDirectory(atPath: run.path)) ?? []
            XCTAssertTrue(names.contains { $0.contains(".tmp-") }, "no temporary file at the kill: \(names)")
        }
        // 4. Mid-epoch at seeded steps (between checkpoints, after a validation): exact too.
        var step = 16
        for _ in 0..<2 where !finished && step + 8 < steps {
            step += 1 + Int(rng.next() % UInt64(max(1, (steps - step) / 4)))
            if step % 4 == 0 { step += 1 }
            finished = try !attempt("mid-epoch after step \(step)", pause: "step:\(step)")
        }
        let chosen = kills.count
        // 5. At random moments (mid-epoch, mid-write, during validation, at start-up…): timed, so
        // on a fast or busy machine some may land after the run's end; only the chosen ones must.
        var random = 0
        while !finished && random < randomKills {
            let delay = 0.2 + Double(rng.next() % 1500) / 1000
            let t0 = Date()
            finished = try !attempt(String(format: "after %.3f s", delay)) { _ in
                Date().timeIntervalSince(t0) >= delay
            }
            random += 1
        }
        if !finished { _ = try attempt("to the end") }
        print("kill/resume: \(kills.count) SIGKILLs: \(kills.joined(separator: ", "))")
        XCTAssertEqual(chosen, 5, "the run finished before the chosen kills (raise LSTM_KILL_STEPS): \(kills)")
        if env["LSTM_KILLS"] != nil {
            XCTAssertEqual(
                kills.count, chosen + randomKills, "the run finished too soon (raise LSTM_KILL_STEPS): \(kills)")
        }

        XCTAssertEqual(try Self.records(run), try Self.records(reference))
        XCTAssertEqual(
            try Self.tensors(run.appendingPathComponent("latest.h5"), ["parameters", "optimizer/state"]),
            try Self.tensors(reference.appendingPathComponent("latest.h5"), ["parameters", "optimizer/state"]))
        XCTAssertEqual(
            try Self.tensors(run.appendingPathComponent("best.h5"), ["parameters", "optimizer/state"]),
            try Self.tensors(reference.appendingPathComponent("best.h5"), ["parameters", "optimizer/state"]))
        let left = filesBelow(run).filter { $0.contains(".tmp-") }
        XCTAssertTrue(left.count <= kills.count, "at most one temporary file per kill: \(left)")
    }

    private func train(_ run: URL) -> [String] {
        [
            "train",
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("configs/copy.yaml").path,
            "--set", "data.file=\(dir.appendingPathComponent("copy.h5").path)",
            "--set",
            "data.generate={task: copy, symbols: 3, alphabet: 4, delay: 4, train: 72, val: 16, test: 16, seed: 1}",
            "--set", "data.batch_size=16", "--set", "model.hidden_size=8", "--set", "model.embedding_size=4",
            "--set", "training.steps=\(ProcessInfo.processInfo.environment["LSTM_KILL_STEPS"] ?? "300")", "--set",
            "training.early_stopping={metric: val_loss, patience: 1000}",
            "--set", "validation.every=7", "--set", "checkpoint.dir=\(run.path)", "--set", "checkpoint.every=4",
            "--set", "checkpoint.keep=2", "--set", "logging.every=1", "--set", "logging.progress=none"
        ]
    }

    /// metrics.jsonl as JSON lines without the wall-clock fields (wall_time, tokens_per_s).
    static func records(_ run: URL) throws -> [String] {
        let text = try String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            var object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            object["wall_time"] = nil
            object["tokens_per_s"] = nil
            return String(
                decoding: try JSONSerialization.data(withJSONObject: object, options: .sortedKeys), as: UTF8.self)
        }
    }

    /// Every float tensor below `groups` of a checkpoint, by path, as bit patterns.
    static func tensors(_ file: URL, _ groups: [String] = ["parameters", "optimizer/state"]) throws -> [String:
        [UInt32]]
    {
        let f = try HDF5File.open(file.path)
        defer { try? f.close() }
        var out: [String: [UInt32]] = [:]
        func walk(_ group: HDF5Group, _ path: String) throws {
            for name in try group.memberNames() {
                if let sub = try? group.openGroup(name) {
                    try walk(sub, path + "/" + name)
                } else {
                    out[path + "/" + name] = try group.openDataset(name).read(as: Float.self).map(\.bitPattern)
                }
            }
        }
        for g in groups where f.root.exists(g) { try walk(try f.root.openGroup(g), g) }
        XCTAssertFalse(out.isEmpty, file.path)
        return out
    }
}

/// SplitMix64: a seeded generator, so a failing sequence of kills can be replayed.
private struct SplitMix {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
