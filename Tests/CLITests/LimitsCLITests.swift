import Foundation
import XCTest

/// Special files, resource limits, outputs that are inputs, signals mid-write, files changing
/// under a run, `nice`, and the small ones of issue 17 (items 3, 4, 6, 7, 8) and issue 23 item 1:
/// every case ends with a message and a truthful exit status, never a hang, a trap or a leftover.
final class LimitsCLITests: XCTestCase {
    nonisolated(unsafe) private static var dir: URL!

    override class func setUp() {
        super.setUp()
        dir = try! makeTemporaryDirectory()
        let data = dir.appendingPathComponent("adding.h5").path
        let prepared = try! lstm(
            ["prepare", "adding", "--steps", "5", "--train", "2000", "--val", "64", "--test", "64", "--out", data])
        precondition(prepared.status == 0, prepared.output)
        try! config().write(to: dir.appendingPathComponent("a.yaml"), atomically: true, encoding: .utf8)
        let trained = try! lstm(["train", "a.yaml", "--set", "checkpoint.dir=run"], in: dir)
        precondition(trained.status == 0, trained.output)
    }

    override class func tearDown() {
        try? FileManager.default.removeItem(at: dir)
        super.tearDown()
    }

    static func config(steps: Int = 2) -> String {
        """
        model: {hidden_size: 8, num_layers: 1, head: last}
        loss: mse
        data: {file: adding.h5, batch_size: 32}
        optimizer: {name: adam, lr: 0.005}
        training: {steps: \(steps)}
        validation: {every: 1000}
        checkpoint: {dir: run, every: 1000}
        logging: {every: 1, progress: plain}
        seed: 1

        """
    }

    private var dir: URL { Self.dir }
    private func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// Starts `lstm` (or `/bin/sh -c script` with `shell`) in the test directory.
    /// stdout and stderr go to files (`out` and `out.err`), so a chatty child never blocks.
    private func start(_ args: [String], env extra: [String: String] = [:], shell: Bool = false) throws -> (
        Process, URL, URL
    ) {
        let p = Process()
        let binary = productsDirectory.appendingPathComponent("lstm").path
        if shell {
            p.executableURL = URL(fileURLWithPath: "/bin/bash")
            p.arguments = ["-c", args[0].replacingOccurrences(of: "LSTM", with: "'\(binary)'")]
        } else {
            p.executableURL = URL(fileURLWithPath: binary)
            p.arguments = args
        }
        p.currentDirectoryURL = dir
        var env = ProcessInfo.processInfo.environment
        env["OPENBLAS_NUM_THREADS"] = "1"
        for (k, v) in extra { env[k] = v }
        p.environment = env
        let out = dir.appendingPathComponent("out-\(UUID().uuidString).txt")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        let err = out.appendingPathExtension("err")
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        p.standardOutput = try FileHandle(forWritingTo: out)
        p.standardError = try FileHandle(forWritingTo: err)
        try p.run()
        return (p, err, out)
    }

    /// Runs to the end, or kills the child after `limit` seconds (a hang: infinitely long, so a
    /// generous limit never flakes) and fails.
    private func run(
        _ args: [String], env: [String: String] = [:], shell: Bool = false, limit: Double = 120,
        file: StaticString = #filePath, line: UInt = #line
    ) throws -> CLIResult {
        let (p, err, out) = try start(args, env: env, shell: shell)
        defer { remove(out, err) }
        let deadline = Date().addingTimeInterval(limit)
        while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        let hung = p.isRunning
        if hung { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
        XCTAssertFalse(
            hung, "lstm \(args.joined(separator: " ")) did not exit within \(limit) s", file: file, line: line)
        return CLIResult(
            status: p.terminationStatus, stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
            stderr: text(err), signaled: p.terminationReason == .uncaughtSignal)
    }

    private func text(_ url: URL) -> String { (try? String(contentsOf: url, encoding: .utf8)) ?? "" }

    private func remove(_ urls: URL...) { for u in urls { try? FileManager.default.removeItem(at: u) } }

    private func refuses(
        _ args: [String], saying words: [String], env: [String: String] = [:], shell: Bool = false,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let r = try run(args, env: env, shell: shell, file: file, line: line)
        XCTAssertFalse(r.signaled, "\(args): killed by signal \(r.status): \(r.output)", file: file, line: line)
        XCTAssertEqual(r.status, 1, "\(args): \(r.output)", file: file, line: line)
        for w in words {
            XCTAssertTrue(r.stderr.contains(w), "\(args): no '\(w)' in: \(r.stderr)", file: file, line: line)
        }
    }

    // MARK: - Item 3: special files

    func testEveryHDF5EntryPointRefusesAFIFOAtOnceWithOneMessage() throws {
        XCTAssertEqual(mkfifo(path("fifo.h5"), 0o644), 0)
        let runFIFO = dir.appendingPathComponent("run-fifo")
        try? FileManager.default.removeItem(at: runFIFO)
        try FileManager.default.copyItem(at: dir.appendingPathComponent("run"), to: runFIFO)
        try FileManager.default.removeItem(at: runFIFO.appendingPathComponent("latest.h5"))
        XCTAssertEqual(mkfifo(runFIFO.appendingPathComponent("latest.h5").path, 0o644), 0)
        let message = "the path is a FIFO (named pipe), not a regular file; give the path of an HDF5 file"
        for args in [
            ["inspect", "fifo.h5"], ["inspect", "--tree", "fifo.h5"],
            ["evaluate", "fifo.h5", "--data", "adding.h5"], ["evaluate", "run/latest.h5", "--data", "fifo.h5"],
            ["predict", "run/latest.h5", "--data", "fifo.h5", "--out", "p.h5"],
            ["export", "fifo.h5", "--format", "pytorch", "--out", "x.h5"], ["import", "fifo.h5", "--out", "y.h5"],
            ["train", "a.yaml", "--set", "data.file=fifo.h5", "--set", "checkpoint.dir=run-f1"],
            ["train", "a.yaml", "--init", "fifo.h5", "--set", "checkpoint.dir=run-f2"]
        ] {
            try refuses(args, saying: ["fifo.h5", message])
        }
        // A latest.h5 that is not a regular file is skipped with the message, like a damaged one, and
        // the run resumes from its newest intact step file (issue 17 item 2's fallback): no hang.
        let resumed = try run(["resume", "run-fifo"])
        XCTAssertEqual(resumed.status, 0, resumed.output)
        XCTAssertTrue(resumed.stderr.contains(message), resumed.stderr)
        XCTAssertTrue(resumed.output.contains("resuming run-fifo at step"), resumed.output)
        try refuses(["inspect", "/dev/null"], saying: ["the path is a character device, not a regular file"])
        try refuses(["inspect", "run"], saying: ["the path is a directory, not a regular file"])
    }

    // MARK: - Item 4: resource limits

    func testAnAddressSpaceLimitIsPlannedForInsteadOfTrapping() throws {
        try refuses(
            [
                "ulimit -v 1048576; exec LSTM train a.yaml --set model.hidden_size=1024 --set model.num_layers=2 "
                    + "--set checkpoint.dir=run-v"
            ], saying: ["memory plan: the run needs", "(ulimit -v 1.0 GiB, less the", "or raise the limit"], shell: true
        )
    }

    func testEvaluateAndPredictPlanTheirMinibatchesUnderAnAddressSpaceLimit() throws {
        // A wide model (H = 512, one step of training) over 256 sequences of 200 steps: one
        // minibatch of all 256 needs gigabytes of workspace, which 1 GiB of address space cannot hold.
        let prepared = try lstm(
            ["prepare", "adding", "--steps", "200", "--train", "256", "--val", "8", "--test", "8", "--out", "long.h5"],
            in: dir)
        XCTAssertEqual(prepared.status, 0, prepared.output)
        let trained = try lstm(
            [
                "train", "a.yaml", "--set", "model.hidden_size=512", "--set", "data.file=long.h5", "--set",
                "data.batch_size=2", "--set", "training.steps=1", "--set", "checkpoint.dir=run-wide"
            ], in: dir)
        XCTAssertEqual(trained.status, 0, trained.output)
        for command in [
            "evaluate run-wide/latest.h5 --data long.h5 --split train --batch-size 256",
            "predict run-wide/latest.h5 --data long.h5 --split train --batch-size 256 --out wide.h5"
        ] {
            try refuses(
                ["ulimit -v 1048576; exec LSTM \(command)"],
                saying: ["memory plan: the run needs", "(ulimit -v 1.0 GiB, less the", "reduce --batch-size"],
                shell: true)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("wide.h5")), "predict left an output behind")
    }

    func testTooFewFileDescriptorsIsAnErrorNotSIGILL() throws {
        for command in ["train a.yaml --set checkpoint.dir=run-n", "inspect run/latest.h5", "prepare adding --out n.h5"]
        {
            try refuses(
                ["ulimit -n 5; exec LSTM \(command)"],
                saying: ["too few file descriptors: the limit (ulimit -n) is 5 and lstm needs at least"], shell: true)
        }
    }

    // MARK: - Item 6: outputs that are inputs, files changing underneath

    func testAnOutputThatIsAnInputIsRefusedAndTheInputKept() throws {
        try FileManager.default.copyItem(atPath: path("run/latest.h5"), toPath: path("ck.h5"))
        try? FileManager.default.removeItem(atPath: path("link.h5"))
        try FileManager.default.createSymbolicLink(atPath: path("link.h5"), withDestinationPath: "ck.h5")
        try "abc\n".write(toFile: path("in.txt"), atomically: true, encoding: .utf8)
        let before = try Data(contentsOf: URL(fileURLWithPath: path("ck.h5")))
        for (args, what) in [
            (["export", "ck.h5", "--format", "pytorch", "--out", "ck.h5"], "checkpoint"),
            (["export", "ck.h5", "--format", "pytorch", "--out", "link.h5"], "checkpoint"),
            (["import", "ck.h5", "--out", "ck.h5"], "weights file"),
            (["import", "link.h5", "--out", "./ck.h5"], "weights file"),
            (["predict", "ck.h5", "--data", "adding.h5", "--out", "link.h5"], "weights file"),
            (["prepare", "text", "in.txt", "--out", "in.txt"], "text file")
        ] {
            try refuses(args, saying: ["--out is the \(what)", "would replace the input it is made from"])
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path("ck.h5"))), before)
        XCTAssertEqual(try String(contentsOfFile: path("in.txt"), encoding: .utf8), "abc\n")
    }

    func testADatasetTruncatedDuringTrainingStopsTheRunWithAnError() throws {
        try FileManager.default.copyItem(atPath: path("adding.h5"), toPath: path("moving.h5"))
        try Self.config(steps: 5000).write(toFile: path("long.yaml"), atomically: true, encoding: .utf8)
        let (p, err, out) = try start(
            ["train", "long.yaml", "--set", "data.file=moving.h5", "--set", "checkpoint.dir=run-moving"])
        defer { remove(out, err) }
        // Wait (for content, not for time) until training has logged a step.
        let metrics = path("run-moving/metrics.jsonl")
        while p.isRunning && ((try? String(contentsOfFile: metrics, encoding: .utf8)) ?? "").isEmpty {
            Thread.sleep(forTimeInterval: 0.05)
        }
        XCTAssertTrue(p.isRunning, "training ended before the dataset was changed")
        XCTAssertEqual(truncate(path("moving.h5"), 4096), 0)
        p.waitUntilExit()
        let stderr = text(err)
        XCTAssertEqual(p.terminationReason, .exit, stderr)
        XCTAssertEqual(p.terminationStatus, 1, stderr)
        XCTAssertTrue(stderr.contains("moving.h5: the file changed while in use (its size went from"), stderr)
        XCTAssertTrue(stderr.contains("training stopped rather than go on with data"), stderr)
    }

    // MARK: - Item 7: signals mid-write

    /// Each writer is held (by the test hook) right after creating its temporary file, then
    /// signalled: the file is gone, the output was never made and the status is 128 + signal.
    func testASignalMidWriteRemovesTheTemporaryFile() throws {
        for (args, output, signal) in [
            (["prepare", "adding", "--steps", "5", "--train", "100", "--out", "sig-prep.h5"], "sig-prep.h5", SIGTERM),
            (["export", "run/latest.h5", "--format", "pytorch", "--out", "sig-exp.h5"], "sig-exp.h5", SIGINT),
            (["import", "run/latest.h5", "--out", "sig-imp.h5"], "sig-imp.h5", SIGTERM),
            (["predict", "run/latest.h5", "--data", "adding.h5", "--out", "sig-pred.h5"], "sig-pred.h5", SIGTERM),
            (
                ["train", "a.yaml", "--set", "checkpoint.dir=run-sig", "--set", "checkpoint.every=1"],
                "run-sig/step-00000001.h5", SIGTERM
            )
        ] {
            let (p, err, out) = try start(args, env: ["LSTM_TEST_HOLD_TEMPORARY_FILE": "1"])
            defer { remove(out, err) }
            var seen = ""  // wait for the writer to say it holds the file (content, not time)
            while !seen.contains("holding temporary file ") && p.isRunning {
                Thread.sleep(forTimeInterval: 0.02)
                seen = text(err)
            }
            seen = text(err)
            guard let line = seen.split(separator: "\n").first(where: { $0.hasPrefix("holding temporary file ") })
            else {
                XCTFail("\(args): never held a temporary file: \(seen)")
                p.waitUntilExit()
                continue
            }
            let temporary = String(line.dropFirst("holding temporary file ".count))
            XCTAssertTrue(FileManager.default.fileExists(atPath: temporary), temporary)
            kill(p.processIdentifier, signal)
            if args[0] == "train" {
                // The first only asks to stop. Two signals sent back to back may reach the process as
                // one (a pending signal is not queued twice), so the second goes once it answered.
                while !text(err).contains("saving a checkpoint after this step") && p.isRunning {
                    Thread.sleep(forTimeInterval: 0.02)
                }
                kill(p.processIdentifier, signal)
            }
            p.waitUntilExit()
            XCTAssertEqual(p.terminationReason, .exit, "\(args)")
            XCTAssertEqual(p.terminationStatus, 128 + signal, "\(args)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: temporary), "\(args): \(temporary) left behind")
            XCTAssertFalse(FileManager.default.fileExists(atPath: path(output)), "\(args): \(output) written")
        }
        XCTAssertEqual(filesBelow(dir).filter { $0.contains(".tmp-") }, [])
    }

    // MARK: - Item 8: the small ones

    func testANonASCIIKeyIsShownAsWrittenWithItsCodePoints() throws {
        try Self.config().replacingOccurrences(of: "num_layers: 1", with: "num_layers: 1, größe: 3").write(
            toFile: path("k.yaml"), atomically: true, encoding: .utf8)
        try refuses(
            ["train", "k.yaml", "--set", "checkpoint.dir=run-k"],
            saying: ["model.größe: unknown key (contains U+00F6 LATIN SMALL LETTER O WITH DIAERESIS at position 3"])
    }

    func testADataFileWithBracketsThatExistsIsThatFileNotAGlob() throws {
        try FileManager.default.copyItem(atPath: path("adding.h5"), toPath: path("data[1].h5"))
        let r = try run(["train", "a.yaml", "--set", "data.file=data[1].h5", "--set", "checkpoint.dir=run-brackets"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("run-brackets/latest.h5")), r.output)
    }

    func testARunDirectoryWithANewlineOrTabInItsNameLandsExactlyThere() throws {
        for name in ["run\nnewline", "run\ttab\t", "\trun-lead"] {
            let r = try run(["train", "a.yaml", "--set", "checkpoint.dir=\(name)", "--set", "training.steps=1"])
            XCTAssertEqual(r.status, 0, r.output)
            XCTAssertTrue(
                FileManager.default.fileExists(atPath: path("\(name)/latest.h5")),
                "\(name.debugDescription): \(filesBelow(dir).filter { $0.hasSuffix("latest.h5") })")
            let resumed = try run(["resume", name])  // config.yaml in the run keeps the name too
            XCTAssertEqual(resumed.status, 0, resumed.output)
            XCTAssertTrue(resumed.stdout.contains("weights: \(path(name))/latest.h5"), resumed.output)
        }
    }

    // MARK: - Issue 23 item 1: nice reaches every thread

    func testNiceReachesEveryThreadOfATrainingRun() throws {
        try Self.config(steps: 1_000_000).write(toFile: path("nice.yaml"), atomically: true, encoding: .utf8)
        let (p, err, out) = try start(
            ["exec nice -n 19 LSTM train nice.yaml --set checkpoint.dir=run-nice --set data.batch_size=64"], shell: true
        )
        defer {
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            remove(out, err)
        }
        let metrics = path("run-nice/metrics.jsonl")
        while p.isRunning
            && ((try? String(contentsOfFile: metrics, encoding: .utf8)) ?? "").split(separator: "\n").count < 3
        {
            Thread.sleep(forTimeInterval: 0.05)
        }
        XCTAssertTrue(p.isRunning)
        let task = "/proc/\(p.processIdentifier)/task"
        let threads = try FileManager.default.contentsOfDirectory(atPath: task)
        XCTAssertGreaterThan(threads.count, 1)
        // Every thread that computes runs at nice 19. libdispatch may start a thread at any moment
        // and leave it idle at nice 0 until it is handed work (a worker adopts the process's
        // priority when it starts a shard), so the threads are read twice, a second apart, and
        // each thread that used CPU in between must be at nice 19.
        func sample() -> [String: (nice: Int, ticks: Int)] {
            var out: [String: (nice: Int, ticks: Int)] = [:]
            for t in (try? FileManager.default.contentsOfDirectory(atPath: task)) ?? [] {
                guard let stat = try? String(contentsOfFile: "\(task)/\(t)/stat", encoding: .utf8),
                    let close = stat.lastIndex(of: ")")
                else { continue }
                // After "pid (comm)": state is field 3, utime 14, stime 15, nice 19.
                let fields = stat[stat.index(after: close)...].split(separator: " ")
                let name = "\(t) \(stat[stat.firstIndex(of: "(")!...close])"
                out[name] = (Int(fields[16]) ?? 0, (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0))
            }
            return out
        }
        let before = sample()
        Thread.sleep(forTimeInterval: 1)
        let after = sample()
        XCTAssertTrue(p.isRunning)
        let computed = after.filter { name, now in now.ticks > (before[name]?.ticks ?? 0) }
        let pid = "\(p.processIdentifier) "
        XCTAssertFalse(
            computed.keys.filter { !$0.hasPrefix(pid) }.isEmpty, "no thread but the main one computed: \(after)")
        XCTAssertTrue(computed.values.allSatisfy { $0.nice == 19 }, "threads that computed: \(computed)")
    }
}
