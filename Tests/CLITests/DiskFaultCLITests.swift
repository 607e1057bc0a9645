import Foundation
import XCTest

/// `lstm train` on a full, tiny, read-only or misplaced run directory: one clear error naming the
/// path and the reason, exit status 1 (never a signal: HDF5 used to crash at exit with SIGSEGV
/// after a failed checkpoint write), earlier checkpoints intact, no temporary file left behind.
/// The file systems are real tmpfs mounts (the tests run as root); without mount rights they skip
/// saying so, and the same paths are pinned in-process by LSTMRunTests' DiskFaultRunTests.
final class DiskFaultCLITests: XCTestCase {
    private var dir: URL!
    private var mounts: [URL] = []

    override func setUpWithError() throws { dir = try makeTemporaryDirectory() }

    override func tearDownWithError() throws {
        for m in mounts.reversed() { _ = try? run("/bin/umount", ["-l", m.path]) }
        try? FileManager.default.removeItem(at: dir)
    }

    func testAFullCheckpointDiskEndsWithOneClearErrorAndKeepsTheEarlierCheckpoints() throws {
        let disk = try tmpfs("full", size: "100k")
        let runDir = disk.appendingPathComponent("run")
        let r = try lstm(train(runDir, steps: 60))
        XCTAssertNotEqual(r.status, 139, "crashed with SIGSEGV: \(r.output)")
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertFalse(r.output.contains("Program crashed"), r.output)
        XCTAssertTrue(r.stderr.contains("no space left on device"), r.stderr)
        XCTAssertEqual(r.stderr.components(separatedBy: "Error:").count - 1, 1, "one error: \(r.stderr)")
        XCTAssertFalse(r.stderr.contains("H5F"), "HDF5's internal stack should not be the message: \(r.stderr)")
        let files = filesBelow(runDir)
        XCTAssertFalse(files.contains { $0.contains(".tmp-") }, "temporary file left behind: \(files)")
        // The checkpoints written before the disk filled are whole and load.
        let steps = files.filter { $0.hasPrefix("step-") }
        XCTAssertFalse(steps.isEmpty, "\(files)")
        for name in steps + ["latest.h5"] {
            let inspect = try lstm(["inspect", runDir.appendingPathComponent(name).path])
            XCTAssertEqual(inspect.status, 0, "\(name): \(inspect.output)")
        }
    }

    func testARunDirectoryWithNoRoomForMetricsSaysSo() throws {
        let disk = try tmpfs("tiny", size: "4k")  // one page: config.yaml fits, metrics.jsonl does not
        let runDir = disk.appendingPathComponent("run")
        let r = try lstm(train(runDir, steps: 20))
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.stderr.contains("no space left on device"), r.stderr)
        XCTAssertTrue(r.stderr.contains(runDir.path), r.stderr)
        XCTAssertFalse(filesBelow(runDir).contains { $0.contains(".tmp-") }, "\(filesBelow(runDir))")
    }

    func testAReadOnlyFileSystemIsNamedAsSuch() throws {
        let disk = try tmpfs("ro", size: "1m")
        let existing = disk.appendingPathComponent("existing")
        try FileManager.default.createDirectory(at: existing, withIntermediateDirectories: true)
        _ = try run("/bin/mount", ["-o", "remount,ro", disk.path])
        // A new run directory cannot be created there …
        let fresh = try lstm(train(disk.appendingPathComponent("new"), steps: 5))
        XCTAssertEqual(fresh.status, 1, fresh.output)
        XCTAssertTrue(fresh.stderr.contains("the file system is read-only"), fresh.stderr)
        XCTAssertTrue(fresh.stderr.contains(disk.appendingPathComponent("new").path), fresh.stderr)
        XCTAssertFalse(fresh.stderr.contains("NSCocoaErrorDomain"), fresh.stderr)
        // … and an existing one cannot be written.
        let old = try lstm(train(existing, steps: 5))
        XCTAssertEqual(old.status, 1, old.output)
        XCTAssertTrue(old.stderr.contains("the file system is read-only"), old.stderr)
        XCTAssertTrue(old.stderr.contains(existing.path), old.stderr)
    }

    func testARunDirectoryUnderAFileSaysTheParentIsAFile() throws {
        let file = dir.appendingPathComponent("plain-file")
        try Data("x".utf8).write(to: file)
        let runDir = file.appendingPathComponent("run")
        let r = try lstm(train(runDir, steps: 5))
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.stderr.contains(runDir.path), r.stderr)
        XCTAssertTrue(r.stderr.contains("not a directory"), r.stderr)
        XCTAssertFalse(r.stderr.contains("NSCocoaErrorDomain"), r.stderr)
    }

    func testPermissionDeniedIsNamedAsSuch() throws {
        // Root bypasses permissions, so the run goes as "nobody" (setpriv) into a root-owned dir.
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"), getuid() == 0 else {
            throw XCTSkip("needs root and setpriv to run as another user; FileSystemMessageTests pins the words")
        }
        // Under /tmp (world-traversable), not $TMPDIR, which may be private to root.
        let base = URL(fileURLWithPath: "/tmp/lstm-permission-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: base) }
        chmod(base.path, 0o755)
        let shared = base.appendingPathComponent("shared")
        try FileManager.default.createDirectory(at: shared, withIntermediateDirectories: true)
        chmod(shared.path, 0o777)  // the data file goes here
        let locked = base.appendingPathComponent("locked")
        try FileManager.default.createDirectory(at: locked, withIntermediateDirectories: true)
        chmod(locked.path, 0o755)
        let binary = productsDirectory.appendingPathComponent("lstm").path
        // The config too goes where "nobody" can read it: the checkout may be private to root.
        let config = shared.appendingPathComponent("copy.yaml").path
        try FileManager.default.copyItem(atPath: configPath("copy.yaml"), toPath: config)
        chmod(config, 0o644)
        let args =
            ["--reuid=65534", "--regid=65534", "--clear-groups", binary]
            + train(locked.appendingPathComponent("run"), steps: 5, data: shared, config: config)
        let r = try run("/usr/bin/setpriv", args, environment: ["HOME": shared.path])
        guard !r.output.contains("Permission denied") || !r.output.contains(binary) else {
            throw XCTSkip("user nobody cannot run \(binary) here: \(r.output)")
        }
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.stderr.contains("permission denied"), r.stderr)
        XCTAssertTrue(r.stderr.contains(locked.appendingPathComponent("run").path), r.stderr)
    }

    // MARK: - Helpers

    private func train(_ runDir: URL, steps: Int, data: URL? = nil, config: String? = nil) -> [String] {
        [
            "train", config ?? configPath("copy.yaml"),
            "--set", "data.file=\((data ?? dir).appendingPathComponent("copy.h5").path)",
            "--set",
            "data.generate={task: copy, symbols: 3, alphabet: 4, delay: 4, train: 64, val: 16, test: 16, seed: 1}",
            "--set", "data.batch_size=16", "--set", "model.hidden_size=8", "--set", "model.embedding_size=4",
            "--set", "training.steps=\(steps)", "--set", "validation.every=10",
            "--set", "checkpoint.dir=\(runDir.path)", "--set", "checkpoint.every=10",
            "--set", "logging.every=5", "--set", "logging.progress=none"
        ]
    }

    /// A fresh tmpfs of `size` mounted at `dir/name` (unmounted in tearDown), or XCTSkip if this
    /// process may not mount.
    private func tmpfs(_ name: String, size: String) throws -> URL {
        let point = dir.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: point, withIntermediateDirectories: true)
        let r = try run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", point.path])
        guard r.status == 0 else {
            throw XCTSkip("cannot mount a tmpfs here (needs root): \(r.output)")
        }
        mounts.append(point)
        return point
    }

    @discardableResult
    private func run(_ tool: String, _ args: [String], environment: [String: String] = [:]) throws -> CLIResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        env["OPENBLAS_NUM_THREADS"] = "1"
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return CLIResult(
            status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
            stderr: String(decoding: e, as: UTF8.self))
    }

    private func configPath(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("configs/\(name)").path
    }
}
