import Foundation
import XCTest

/// A representative part of the malformed-config suite (LSTMRunTests.MalformedConfigSuiteTests)
/// through the built `lstm train`: exit status 1 (an error, not a signal: a trap or a failed
/// allocation would end in SIGILL, SIGTRAP or SIGABRT), one located message of bounded size,
/// and nothing written: no run directory, no generated data, no checkpoint.
final class MalformedConfigCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = try makeTemporaryDirectory()
        _ = try lstm(
            [
                "prepare", "adding", "--steps", "6", "--train", "8", "--val", "4", "--test", "4",
                "--out", "data.h5"
            ], in: dir)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// configs/adding.yaml with its data in the test directory (its generate section kept, so a
    /// config that got past the checks would generate data/adding.h5: the test would see it).
    func adding() throws -> String {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return try String(contentsOf: repo.appendingPathComponent("configs/adding.yaml"), encoding: .utf8)
    }

    func line(_ text: String, _ prefix: String) -> Int {
        text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.hasPrefix(prefix) }! + 1
    }

    func assertRefused(
        _ name: String, _ bytes: Data?, _ expected: [String], overrides: [String] = [], config: String = "job.yaml",
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        if let bytes { try bytes.write(to: dir.appendingPathComponent(config)) }
        let before = filesBelow(dir)
        let r = try lstm(["train", config] + overrides.flatMap { ["--set", $0] }, in: dir)
        XCTAssertEqual(r.status, 1, "\(name): \(r.stderr.prefix(300))", file: file, line: line)
        for e in expected {
            XCTAssertTrue(r.stderr.contains(e), "\(name): no \(e) in \(r.stderr.prefix(400))", file: file, line: line)
        }
        XCTAssertTrue(r.stderr.hasPrefix("Error: "), "\(name): \(r.stderr.prefix(300))", file: file, line: line)
        XCTAssertLessThan(r.stderr.utf8.count, 600, "\(name): message not capped", file: file, line: line)
        XCTAssertFalse(
            r.stderr.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" }, "\(name): raw control character",
            file: file, line: line)
        XCTAssertEqual(filesBelow(dir), before, "\(name): something was written", file: file, line: line)
    }

    func testRepresentativeMalformedConfigsThroughTheCLI() throws {
        let start = Date()
        let base = try adding().replacingOccurrences(of: "file: data/adding.h5", with: "file: data.h5")
        let h = line(base, "  hidden_size:")
        let b = line(base, "  batch_size:")
        let m = line(base, "model:")
        func set(_ old: String, _ new: String) -> Data { Data(base.replacingOccurrences(of: old, with: new).utf8) }
        var bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n"
        for i in 1...9 {
            bomb += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 9).joined(separator: ", ") + "]\n"
        }
        var badUTF8 = Array(base.utf8)
        badUTF8.insert(0xFF, at: badUTF8.firstIndex(of: UInt8(ascii: "\n"))!)
        var count = 0
        func refuse(
            _ name: String, _ bytes: Data?, _ expected: String..., overrides: [String] = [], config: String = "job.yaml"
        )
            throws
        {
            count += 1
            try assertRefused(name, bytes, expected, overrides: overrides, config: config)
        }
        try refuse(
            "unknown key", set("  num_layers: 1", "  num_layers: 1\n  colour: red"),
            "job.yaml:\(h + 2):3: model.colour: unknown key")
        try refuse(
            "two mistakes at once, each located", set("  num_layers: 1", "  num_layers: 0\n  colour: red"),
            "job.yaml:\(h + 1):15: model.num_layers: must be ≥ 1 (got 0)\njob.yaml:\(h + 2):3: model.colour: unknown key"
        )
        try refuse(
            "hidden_size overflow (was: Illegal instruction)", set("hidden_size: 64", "hidden_size: 1000000000000"),
            "job.yaml:\(h):16: model.hidden_size: must be ≤ 65536 (got 1000000000000)")
        try refuse(
            "hidden_size 100000 (was: failed to allocate)", set("hidden_size: 64", "hidden_size: 100000"),
            "job.yaml:\(h):16: model.hidden_size: must be ≤ 65536")
        try refuse("num_layers 1e9", set("num_layers: 1", "num_layers: 1000000000"), "model.num_layers: must be ≤ 256")
        try refuse(
            "batch_size 2^40", set("batch_size: 64", "batch_size: 1099511627776"),
            "job.yaml:\(b):15: data.batch_size: must be ≤ 1048576")
        try refuse(
            "memory plan", Data(base.utf8), "job.yaml:\(m + 1):3: model: memory plan: the run needs", "GiB available",
            overrides: ["model.hidden_size=65536", "model.num_layers=4"])
        try refuse("alias bomb", Data((bomb + "? *a9\n: 1\n").utf8), "job.yaml:6:", "past 100000 nodes")
        try refuse(
            "duplicate key", set("  num_layers: 1", "  num_layers: 1\n  hidden_size: 3"),
            "job.yaml:\(h + 2):3: model.hidden_size: duplicate key (first given at line \(h))")
        try refuse(
            "syntax error column", set("batch_size: 64", "batch_size: 64: 3"),
            "job.yaml:\(b):17: not valid YAML: mapping values are not allowed in this context")
        try refuse("NUL byte", set("batch_size: 64", "batch_size: 6\u{0}4"), "job.yaml:\(b):16: a NUL byte (U+0000)")
        try refuse("invalid UTF-8", Data(badUTF8), "job.yaml:1:", "not UTF-8 at byte")
        try refuse("tab", set("  hidden_size", "\thidden_size"), "job.yaml:\(h):1: a tab character")
        try refuse(
            "look-alike", set("hidden_size", "hidden_siz\u{0435}"),
            "model.hidden_sizе: unknown key (contains U+0435 CYRILLIC SMALL LETTER IE",
            "did you mean hidden_size?")
        try refuse("huge key", Data(("\"" + String(repeating: "k", count: 100_000) + "\": 1\n").utf8), "not valid YAML")
        try refuse(
            "deep nesting", Data(("model: " + String(repeating: "[", count: 100_000)).utf8), "nested more than 32")
        try refuse("empty file", Data(), "job.yaml: data.file: missing")
        try refuse("a directory", nil, ".: is a directory, not a config file", config: ".")
        try refuse("a missing file", nil, "nope.yaml: no such config file", config: "nope.yaml")
        try refuse("a device", nil, "/dev/zero: is a device", config: "/dev/zero")
        try refuse(
            "bad --set", Data(base.utf8),
            "(--set model.hidden_size=abc): model.hidden_size: expected an integer, found 'abc'",
            overrides: ["model.hidden_size=abc"])
        try refuse(
            "loss does not fit the data", set("loss: mse", "loss: cross_entropy"),
            "job.yaml:\(line(base, "loss:")):7: loss: cross_entropy does not fit data.h5")
        XCTAssertGreaterThanOrEqual(count, 15)
        print(
            "malformed configs through the CLI: \(count) cases in \(String(format: "%.1f", Date().timeIntervalSince(start))) s"
        )
    }
}
