import LSTMKit
import XCTest

@testable import LSTMRun

/// One malformed config: its bytes (or a path to use as the config), overrides, and what the
/// error must say.
struct MalformedCase {
    var name: String
    var bytes: Data
    var overrides: [String] = []
    /// Use this path as the config instead of writing `bytes` (directory, FIFO, device, …).
    var path: String?
    /// The message must start with FILE + this (e.g. ":4:3: model.hidden_size: "), when given.
    var prefix: String?
    /// …and contain each of these.
    var contains: [String]
}

/// Malformed configs made from every shipped config (configs/*.yaml), checked through the code
/// `lstm train` runs (RunConfig.load, then TrainingRun's data checks and memory plan): each is
/// refused with one located, capped message free of raw control characters, and nothing is
/// written. CLITests.MalformedConfigCLITests runs a representative part through the CLI.
final class MalformedConfigSuiteTests: XCTestCase {
    var dir: URL!
    var data: String { dir.appendingPathComponent("data.h5").path }

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lstm-malformed-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var g = RunConfig.Generate(task: "adding")
        g.steps = 6
        g.train = 8
        g.val = 4
        g.test = 4
        try g.write(to: data)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    static var repository: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    /// The shipped configs with data.file pointing at the test's small adding dataset, no
    /// generate section, and checkpoint.dir inside the test directory.
    func shippedConfigs() throws -> [(name: String, lines: [String])] {
        let configs = Self.repository.appendingPathComponent("configs")
        let names = try FileManager.default.contentsOfDirectory(atPath: configs.path).filter { $0.hasSuffix(".yaml") }
            .sorted()
        XCTAssertGreaterThanOrEqual(names.count, 6)
        return try names.map { name in
            let text = try String(contentsOf: configs.appendingPathComponent(name), encoding: .utf8)
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                .filter { !$0.hasPrefix("  generate:") }
                .map { line in
                    if line.hasPrefix("  file: ") { return "  file: \(data)" }
                    if line.hasPrefix("  dir: ") { return "  dir: \(dir.appendingPathComponent("runs/\(name)").path)" }
                    return line
                }
            return (String(name.dropLast(5)), lines)
        }
    }

    /// 1-based number of the first line starting with `prefix` after the line `section` (if given).
    func line(_ lines: [String], _ prefix: String, after section: String? = nil) -> Int {
        let start = section.flatMap { s in lines.firstIndex(of: s) } ?? -1
        return lines.indices.first { $0 > start && lines[$0].hasPrefix(prefix) }! + 1
    }

    func replacing(_ lines: [String], _ n: Int, with new: [String]) -> [String] {
        var l = lines
        l.replaceSubrange((n - 1)..<n, with: new)
        return l
    }

    func text(_ lines: [String]) -> Data { Data(lines.joined(separator: "\n").utf8) }

    /// The cases made from one shipped config.
    func cases(from name: String, _ lines: [String]) -> [MalformedCase] {
        let m = line(lines, "model:")
        let h = line(lines, "  hidden_size:")
        let b = line(lines, "  batch_size:")
        let opt = line(lines, "  name:", after: "optimizer:")
        let f = line(lines, "  file:")
        let hidden = lines[h - 1]
        func c(_ what: String, _ l: [String], _ prefix: String?, _ contains: String...) -> MalformedCase {
            MalformedCase(name: "\(name): \(what)", bytes: text(l), prefix: prefix, contains: contains)
        }
        var utf8 = Array(text(lines))
        let modelOffset = text(Array(lines[..<(m - 1)])).count + (m > 1 ? 1 : 0)  // "model:" starts here
        utf8.insert(0xFF, at: modelOffset + 5)
        return [
            c(
                "unknown key", replacing(lines, m, with: ["model:", "  colour: red"]),
                ":\(m + 1):3: model.colour: ", "unknown key"),
            c(
                "misspelt key", replacing(lines, h, with: [hidden.replacingOccurrences(of: "hidden", with: "hiden")]),
                ":\(h):3: model.hiden_size: ", "unknown key (did you mean hidden_size?)"),
            c(
                "wrong type", replacing(lines, b, with: ["  batch_size: [1, 2]"]),
                ":\(b):15: data.batch_size: ", "expected an integer, found a list"),
            c(
                "a key in the wrong section", replacing(lines, m, with: ["model:", "  lr: 0.1"]),
                ":\(m + 1):3: model.lr: ", "unknown key (did you mean optimizer.lr?)"),
            c(
                "three mistakes at once",
                replacing(
                    replacing(lines, b, with: ["  batch_size: -5"]), h,
                    with: [hidden.replacingOccurrences(of: "hidden", with: "hiden")]),
                ":\(min(h, b)):", "\(h):3: model.hiden_size: unknown key (did you mean hidden_size?)",
                "\(b):15: data.batch_size: must be ≥ 1 (got -5)"),
            c(
                "zero size", replacing(lines, h, with: ["  hidden_size: 0"]),
                ":\(h):16: model.hidden_size: ", "must be ≥ 1 (got 0)"),
            c(
                "negative size", replacing(lines, b, with: ["  batch_size: -5"]),
                ":\(b):15: data.batch_size: ", "must be ≥ 1 (got -5)"),
            c(
                "huge size", replacing(lines, h, with: ["  hidden_size: 1000000000000"]),
                ":\(h):16: model.hidden_size: ", "must be ≤ 65536 (got 1000000000000)"),
            c(
                "overflow size", replacing(lines, b, with: ["  batch_size: 99999999999999999999999"]),
                ":\(b):15: data.batch_size: ", "more than an integer holds"),
            c(
                "wrong enum value", replacing(lines, opt, with: ["  name: adamm"]),
                ":\(opt):9: optimizer.name: ", "'adamm' is not one of", "(did you mean adam?)"),
            c(
                "duplicate key", replacing(lines, m, with: ["model:", "  hidden_size: 7"]),
                ":\(h + 1):3: model.hidden_size: ", "duplicate key (first given at line \(m + 1))"),
            c("bad YAML syntax", replacing(lines, b, with: ["  batch_size: [64"]), nil, "not valid YAML: "),
            c(
                "tab", replacing(lines, h, with: ["\t" + hidden.dropFirst(2)]),
                ":\(h):1: a tab character: YAML indents with spaces only"),
            c(
                "NUL byte", replacing(lines, h, with: ["  hidden_size: 6\u{0}4"]),
                ":\(h):17: a NUL byte (U+0000)"),
            MalformedCase(
                name: "\(name): invalid UTF-8", bytes: Data(utf8),
                prefix: ":\(m):6: not UTF-8 at byte \(modelOffset + 5)",
                contains: ["(0xFF)"]),
            c(
                "look-alike character",
                replacing(lines, h, with: [hidden.replacingOccurrences(of: "size", with: "siz\u{0435}")]),
                ":\(h):3: model.hidden_sizе: ", "U+0435 CYRILLIC SMALL LETTER IE at position 11",
                "(did you mean hidden_size?)"),
            c(
                "missing required key", lines.enumerated().filter { $0.offset != f - 1 }.map(\.element), nil,
                "data.file: missing"),
            c(
                "a list where a mapping belongs", lines + ["parallel: [1, 2]"],
                ":\(lines.count + 1):11: parallel: ", "expected a mapping of keys to values, found a list")
        ]
    }

    /// Cases of their own: whole-file problems, limits, overrides, paths.
    func singleCases(_ adding: [String]) throws -> [MalformedCase] {
        func c(_ name: String, _ s: String, _ prefix: String?, _ contains: String..., overrides: [String] = [])
            -> MalformedCase
        {
            MalformedCase(name: name, bytes: Data(s.utf8), overrides: overrides, prefix: prefix, contains: contains)
        }
        let base = adding.joined(separator: "\n")
        var bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n"
        for i in 1...9 {
            bomb += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 9).joined(separator: ", ") + "]\n"
        }
        let fifo = dir.appendingPathComponent("fifo.yaml").path
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        let subdir = dir.appendingPathComponent("a-directory.yaml")
        try FileManager.default.createDirectory(at: subdir, withIntermediateDirectories: true)
        let withoutLoss = adding.filter { !$0.hasPrefix("loss:") }.joined(separator: "\n")
        let h = line(adding, "  hidden_size:")
        return [
            c("empty file", "", nil, "data.file: missing"),
            c("only comments", "# nothing\n", nil, "data.file: missing"),
            c("a scalar document", "hello\n", ":1:1: ", "expected a mapping of keys to values, found 'hello'"),
            c("a list document", "- model\n- data\n", ":1:1: ", "expected a mapping of keys to values, found a list"),
            c(
                "BOM and a misspelt key",
                "\u{FEFF}" + base.replacingOccurrences(of: "  hidden_size", with: "  hiden_size"),
                ":\(h):3: model.hiden_size: ", "unknown key"),
            c("alias bomb (value)", base + "\n" + bomb, nil, "past 100000 nodes (aliases expanded)"),
            c("alias bomb (key)", bomb + "? *a9\n: 1\n", ":6:", "past 100000 nodes (aliases expanded)"),
            c("alias as a key", "a: &a [x]\n? *a\n: 1\n", ":2:3: ", "a key must be a plain name, found an alias"),
            c("a list as a key", "? [a, b]\n: 1\n", ":1:3: ", "a key must be a plain name, found a list"),
            c("undefined alias", base + "\nextra: *nowhere\n", nil, "alias *nowhere has no anchor before it"),
            c(
                "deep nesting", "model: " + String(repeating: "[", count: 100) + "\n", ":1:",
                "nested more than 32 levels"),
            c(
                "very deep nesting", "model: " + String(repeating: "[", count: 100_000) + "\n", ":1:",
                "nested more than 32 levels"),
            c(
                "huge key", base + "\n\"" + String(repeating: "k", count: 100_000) + "\": 1\n", nil,
                "not valid YAML"),
            c(
                "huge value",
                base.replacingOccurrences(of: "head: last", with: "head: " + String(repeating: "v", count: 100_000)),
                nil, "model.head: '" + String(repeating: "v", count: 80) + "…' is not one of"),
            c(
                "larger than 1 MiB", "# " + String(repeating: "x", count: 1 << 20) + "\n", nil,
                "larger than 1048576 bytes"),
            c("two documents", base + "\n---\nseed: 2\n", nil, "not valid YAML", "single document"),
            c(
                "control character in a key", base + "\nse\u{1B}[2Jed: 1\n", nil,
                "control characters are not allowed (U+001B"),
            c(
                "control characters in a quoted value",
                base.replacingOccurrences(
                    of: "head: last", with: "head: \"last\\e[2J\\b\""), nil, "'last\\u{1B}[2J\\u{8}' is not one of"),
            c(
                "loss and activation disagree",
                base.replacingOccurrences(of: "  head: last", with: "  head: last\n  activation: softmax")
                    .replacingOccurrences(of: "loss: mse", with: "loss: bce"), nil,
                "loss: bce needs model.activation sigmoid (got softmax)"),
            c(
                "loss does not fit the data", withoutLoss + "\nloss: cross_entropy\n", nil,
                "loss: cross_entropy does not fit"),
            c(
                "input size does not fit the data",
                base.replacingOccurrences(of: "  head: last", with: "  head: last\n  input_size: 5"),
                nil, "model.input_size: is 5 but"),
            c(
                "memory plan does not fit", base, nil, "memory plan: the run needs", "GiB available",
                overrides: ["model.hidden_size=65536", "model.num_layers=4"]),
            c(
                "generated data too large",
                base.replacingOccurrences(
                    of: "  batch_size:", with: "  generate: {task: adding, steps: 1000, train: 10000000}\n  batch_size:"
                ),
                nil, "data.generate.train: 10000000 sequences of 1000 steps are more than"),
            c("--set without =", base, nil, "--set needs section.key=value", overrides: ["model.hidden_size"]),
            c(
                "--set inside a scalar", base, nil,
                "(--set model.hidden_size.x=3): model.hidden_size.x: x is inside a value that is not a mapping",
                overrides: ["model.hidden_size.x=3"]),
            c(
                "--set wrong type", base, nil, "(--set model.hidden_size=abc): model.hidden_size: expected an integer",
                overrides: ["model.hidden_size=abc"]),
            c("--set unknown key", base, nil, "model.colour: unknown key", overrides: ["model.colour=red"]),
            c("--set huge", base, nil, "must be ≤ 256", overrides: ["model.num_layers=1000000000"]),
            MalformedCase(name: "a directory", bytes: Data(), path: subdir.path, contains: ["is a directory"]),
            MalformedCase(
                name: "a missing file", bytes: Data(), path: dir.appendingPathComponent("nope.yaml").path,
                contains: ["no such config file"]),
            MalformedCase(
                name: "an unreadable file", bytes: Data(), path: "/proc/self/mem",
                contains: ["cannot read the config file: Input/output error"]),
            MalformedCase(name: "a FIFO", bytes: Data(), path: fifo, contains: ["is a FIFO"]),
            MalformedCase(name: "a device", bytes: Data(), path: "/dev/zero", contains: ["is a device"])
        ]
    }

    /// Runs what `lstm train` runs before training, and returns its error.
    func attempt(_ path: String, _ overrides: [String]) -> Error? {
        do {
            let config = try RunConfig.load(path: path, overrides: overrides)
            _ = try TrainingRun(config: config)
            return nil
        } catch {
            return error
        }
    }

    func testEveryMalformedConfigIsRefusedClearlyAndWritesNothing() throws {
        let start = Date()
        let shipped = try shippedConfigs()
        var all = shipped.flatMap { cases(from: $0.name, $0.lines) }
        let adding = try XCTUnwrap(shipped.first { $0.name == "adding" }).lines
        all += try singleCases(adding)
        XCTAssertGreaterThanOrEqual(all.count, 60)
        for k in all {
            let path = k.path ?? dir.appendingPathComponent("job.yaml").path
            if k.path == nil { try k.bytes.write(to: URL(fileURLWithPath: path)) }
            let before = filesBelow(dir)
            guard let error = attempt(path, k.overrides) else {
                XCTFail("\(k.name): accepted")
                continue
            }
            guard let e = error as? ConfigError else {
                XCTFail("\(k.name): not a ConfigError: \(error)")
                continue
            }
            let message = e.description
            if let prefix = k.prefix {
                XCTAssertTrue(message.hasPrefix(path + prefix), "\(k.name): \(message)")
            }
            XCTAssertTrue(message.hasPrefix(path), "\(k.name): \(message.prefix(300))")
            for part in k.contains where !message.contains(part) {
                XCTFail("\(k.name): no \(part) in \(message.prefix(500))")
            }
            XCTAssertLessThanOrEqual(message.utf8.count - path.utf8.count, 400, "\(k.name): \(message.prefix(500))")
            XCTAssertFalse(
                message.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" || $0.value == 0x7F },
                "\(k.name): a raw control character in \(message.debugDescription.prefix(300))")
            XCTAssertEqual(filesBelow(dir), before, "\(k.name): something was written")
        }
        print("malformed configs: \(all.count) cases in \(String(format: "%.2f", Date().timeIntervalSince(start))) s")
    }

    func filesBelow(_ d: URL) -> [String] {
        (FileManager.default.enumerator(atPath: d.path)?.allObjects as? [String] ?? []).sorted()
    }
}
