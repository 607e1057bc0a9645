import Foundation
import XCTest

@testable import LSTMRun

/// The disk of a run fills up mid-run (a real tmpfs, filled by the test between two checkpoints):
/// the run throws one clear error (no crash), the checkpoints written before are bit for bit as
/// they were, and no temporary file is left behind. DiskFaultCLITests checks the command line's
/// exit status and message on the same kind of disk.
final class DiskFaultRunTests: XCTestCase {
    private var dir: URL!
    private var mountPoint: URL?

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lstm-disk-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let mountPoint { _ = shell("/bin/umount", ["-l", mountPoint.path]) }
        try? FileManager.default.removeItem(at: dir)
    }

    func testAFullDiskFailsTheNextWriteAndLeavesEarlierCheckpointsBitForBit() throws {
        let disk = dir.appendingPathComponent("disk")
        try FileManager.default.createDirectory(at: disk, withIntermediateDirectories: true)
        guard shell("/bin/mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", disk.path]) == 0 else {
            throw XCTSkip("cannot mount a tmpfs here (needs root); DiskFaultCLITests skips too")
        }
        mountPoint = disk
        let runDir = disk.appendingPathComponent("run")
        let config = try RunConfig.parse(
            """
            model: {hidden_size: 6, head: last}
            loss: mse
            data:
              file: \(dir.appendingPathComponent("adding.h5").path)
              generate: {task: adding, steps: 5, train: 44, val: 8, test: 8, seed: 3}
              batch_size: 8
            optimizer: {name: adam, lr: 0.01}
            training: {steps: 30}
            validation: {every: 10}
            checkpoint: {dir: \(runDir.path), every: 10, keep: 5}
            logging: {every: 1, progress: none}
            """, path: "disk.yaml")
        let run = try TrainingRun(config: config)
        var before: [String: Data] = [:]
        run.onStep = { report in
            guard report.step == 15 else { return }
            for name in (try? FileManager.default.contentsOfDirectory(atPath: runDir.path)) ?? []
            where name.hasSuffix(".h5") {
                before[name] = FileManager.default.contents(atPath: runDir.appendingPathComponent(name).path)
            }
            Self.fill(disk.appendingPathComponent("filler"))
        }
        XCTAssertThrowsError(try run.run()) { error in
            XCTAssertTrue("\(error)".contains("no space left on device"), "\(error)")
            XCTAssertTrue("\(error)".contains(runDir.path), "\(error)")
        }
        XCTAssertEqual(before.keys.sorted(), ["best.h5", "latest.h5", "step-00000010.h5"])
        let after = try FileManager.default.contentsOfDirectory(atPath: runDir.path)
        XCTAssertFalse(after.contains { $0.contains(".tmp-") }, "temporary file left: \(after)")
        for (name, bytes) in before {
            XCTAssertEqual(FileManager.default.contents(atPath: runDir.appendingPathComponent(name).path), bytes, name)
        }
    }

    /// Writes zeros to `path` until the file system is full.
    static func fill(_ path: URL) {
        let fd = open(path.path, O_WRONLY | O_CREAT, 0o644)
        defer { close(fd) }
        let chunk = [UInt8](repeating: 0, count: 4096)
        while chunk.withUnsafeBytes({ write(fd, $0.baseAddress!, $0.count) }) > 0 {}
        _ = chunk.withUnsafeBytes { write(fd, $0.baseAddress!, 1) }  // the last partial page
    }

    @discardableResult
    private func shell(_ tool: String, _ args: [String]) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }
}
