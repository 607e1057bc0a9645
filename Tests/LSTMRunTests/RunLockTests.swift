import Foundation
import LSTMRun
import XCTest

/// The run directory's lock within one process: runs of one process share it (a finished run and
/// its resumed continuation, also after the directory was moved), it names its holder while held,
/// and it is left empty once the last holder is gone. (Two processes: RunOwnershipCLITests.)
final class RunLockTests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lstm-lock-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testRunsOfOneProcessShareTheLockAlsoAfterTheDirectoryMovedAndTheLastReleasesIt() throws {
        let run = dir.appendingPathComponent("run")
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        var first: RunLock? = try RunLock(directory: run.path)
        XCTAssertNil(first?.takenOverFrom)
        let text = try String(contentsOf: run.appendingPathComponent("run.lock"), encoding: .utf8)
        XCTAssertTrue(text.contains("\"pid\":\(getpid())"), text)
        XCTAssertTrue(text.contains("\"host\":\"\(ProcessInfo.processInfo.hostName)\""), text)
        let moved = dir.appendingPathComponent("moved")
        try FileManager.default.moveItem(at: run, to: moved)
        var second: RunLock? = try RunLock(directory: moved.path)
        XCTAssertNil(second?.takenOverFrom)
        let lockFile = moved.appendingPathComponent("run.lock")
        first = nil
        XCTAssertFalse(try Data(contentsOf: lockFile).isEmpty, "released while a run still holds it")
        second = nil
        XCTAssertTrue(try Data(contentsOf: lockFile).isEmpty, "not released when the last run let go")
        XCTAssertNil(first ?? second)
    }

    func testDetailsLeftByADeadHolderAreReportedAsTakenOver() throws {
        let holder =
            #"{"command":"lstm train old.yaml","host":"elsewhere","pid":4242,"started":"2026-01-02T03:04:05Z"}"#
        try (holder + "\n").write(to: dir.appendingPathComponent("run.lock"), atomically: true, encoding: .utf8)
        let lock = try RunLock(directory: dir.path)
        XCTAssertEqual(
            lock.takenOverFrom?.description,
            "pid 4242 on host elsewhere, started 2026-01-02T03:04:05Z (lstm train old.yaml)")
    }
}
