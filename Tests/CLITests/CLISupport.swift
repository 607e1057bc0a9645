import Foundation
import XCTest

/// Runs the built `lstm` executable and captures what it prints.
struct CLIResult {
    let status: Int32
    let stdout: String
    let stderr: String
    /// Whether the process died by a signal (then `status` is the signal number, not an exit code).
    var signaled = false
    var output: String { stdout + stderr }
}

/// The directory holding the built products (`lstm` sits next to the test bundle).
/// On Linux the test runner is `<products>/lstmPackageTests.xctest` itself.
var productsDirectory: URL {
    let candidates =
        [URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()]
        + Bundle.allBundles.map { $0.bundleURL.deletingLastPathComponent() }
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0.appendingPathComponent("lstm").path) }
        ?? candidates[0]
}

@discardableResult
func lstm(_ args: [String], in dir: URL? = nil) throws -> CLIResult {
    let p = Process()
    p.executableURL = productsDirectory.appendingPathComponent("lstm")
    p.arguments = args
    if let dir { p.currentDirectoryURL = dir }
    var env = ProcessInfo.processInfo.environment
    env["OPENBLAS_NUM_THREADS"] = env["OPENBLAS_NUM_THREADS"] ?? "1"
    p.environment = env
    // stderr goes to a file and stdout to a pipe read to the end, so a chatty child never blocks.
    let errURL = FileManager.default.temporaryDirectory.appendingPathComponent("lstm-cli-err-\(UUID().uuidString)")
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: errURL) }
    let out = Pipe()
    let err = try FileHandle(forWritingTo: errURL)
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    try err.close()
    let errData = (try? Data(contentsOf: errURL)) ?? Data()
    return CLIResult(
        status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
        stderr: String(decoding: errData, as: UTF8.self), signaled: p.terminationReason == .uncaughtSignal)
}

/// A fresh temporary directory, removed by the caller's tearDown.
func makeTemporaryDirectory() throws -> URL {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent("lstm-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
    return d
}

/// Every file below `dir` (relative paths), for "nothing was written" checks.
func filesBelow(_ dir: URL) -> [String] {
    guard let e = FileManager.default.enumerator(atPath: dir.path) else { return [] }
    return (e.allObjects as? [String] ?? []).sorted()
}

/// Waits until `p`, started with `LSTM_PAUSE_AT` (LSTMFiles.PausePoint), has stopped itself at the
/// point (state T in /proc/PID/stat); false if it exited first. The timeout only guards a hang:
/// a stopped process cannot run past the point, however busy the machine.
func waitUntilPaused(_ p: Process, timeout: TimeInterval = 600) -> Bool {
    let stat = "/proc/\(p.processIdentifier)/stat"
    let deadline = Date().addingTimeInterval(timeout)
    while p.isRunning && Date() < deadline {
        // "PID (COMM) STATE …": the state follows the last ')' and a space.
        if let s = try? String(contentsOfFile: stat, encoding: .utf8), let close = s.lastIndex(of: ")"),
            s.index(close, offsetBy: 2) < s.endIndex, s[s.index(close, offsetBy: 2)] == "T"
        {
            return true
        }
        usleep(1000)
    }
    return false
}
