import Foundation
import LSTMKit
import XCTest

@testable import LSTMRun

/// docs/config.md documents exactly the keys the YAML reader accepts.
final class ConfigDocTests: XCTestCase {
    /// The key paths in docs/config.md's key tables: `| key |` tables under a section heading,
    /// and the per-optimizer and per-schedule `key: default` tables.
    func documentedKeys() throws -> Set<String> {
        let doc = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/config.md")
        let text = try String(contentsOf: doc, encoding: .utf8)
        var keys: Set<String> = []
        var section = ""
        var table = ""
        func names(_ cell: Substring, beforeColon: Bool) -> [String] {
            let pattern = beforeColon ? "`([a-z_]+)`:" : "`([a-z_]+)`"
            let regex = try! NSRegularExpression(pattern: pattern)
            let s = String(cell)
            return regex.matches(in: s, range: NSRange(s.startIndex..., in: s)).map {
                String(s[Range($0.range(at: 1), in: s)!])
            }
        }
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("#") {
                section = String(line.drop(while: { $0 == "#" }).trimmingCharacters(in: .whitespaces))
                table = ""
                continue
            }
            guard line.hasPrefix("|") else {
                table = ""
                continue
            }
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).dropFirst()
                .map { $0.trimmingCharacters(in: .whitespaces) }
            if table.isEmpty {
                table = cells.first ?? "-"
                if table == "key" { keys.insert(section) }  // a section of keys is itself a key
                continue
            }
            guard cells.count > 1, !cells[0].hasPrefix("--") else { continue }
            switch table {
            case "key":
                for k in names(Substring(cells[0]), beforeColon: false) {
                    keys.insert(k == section ? k : "\(section).\(k)")
                }
            case "optimizer" where section == "optimizer", "schedule" where section == "schedule":
                for name in names(Substring(cells[1]), beforeColon: true) { keys.insert("\(section).\(name)") }
            default: break
            }
        }
        return keys
    }

    /// Every key the reader asks for, over every optimizer and schedule, with every optional section.
    func acceptedKeys() throws -> Set<String> {
        var keys: Set<String> = []
        for optimizer in ["sgd", "adam", "adamw", "rmsprop", "adagrad"] {
            for schedule in ["constant", "step", "exponential", "cosine", "plateau"] {
                let text = """
                    data: {file: d.h5, generate: {task: adding}}
                    optimizer: {name: \(optimizer)}
                    schedule: {name: \(schedule)}
                    training: {early_stopping: {metric: val_loss}}
                    """
                keys.formUnion(try RunConfig.acceptedKeys(readingAConfigLike: text, path: "job.yaml"))
            }
        }
        return keys
    }

    func testEveryDocumentedKeyIsAcceptedAndEveryAcceptedKeyIsDocumented() throws {
        let documented = try documentedKeys()
        let accepted = try acceptedKeys()
        XCTAssertTrue(
            documented.contains("optimizer.betas") && documented.contains("data.generate.min_length"),
            "the doc's tables were not parsed: \(documented.sorted())")
        XCTAssertEqual(documented.subtracting(accepted).sorted(), [], "documented in docs/config.md, not accepted")
        XCTAssertEqual(accepted.subtracting(documented).sorted(), [], "accepted, not documented in docs/config.md")
    }
}

/// The YAML reader and the JSON decoders read one hyperparameter table, so a section means the same in both.
final class HyperparameterTableTests: XCTestCase {
    func parse(_ body: String) throws -> RunConfig {
        try RunConfig.parse("data: {file: d.h5, generate: {task: adding}}\n" + body, path: "job.yaml")
    }

    func testEveryOptimizerKeyReadFromYAMLEqualsItsJSONForm() throws {
        let sections = [
            #"{"name": "sgd", "lr": 0.5, "momentum": 0.9, "dampening": 0, "weight_decay": 0.01, "nesterov": true}"#,
            #"{"name": "adam", "lr": 0.002, "betas": [0.8, 0.99], "eps": 1e-7, "weight_decay": 0.1, "amsgrad": true, "maximize": true}"#,
            #"{"name": "adamw", "lr": 0.002, "betas": [0.8, 0.99], "eps": 1e-7, "weight_decay": 0.1, "amsgrad": false, "maximize": false}"#,
            #"{"name": "rmsprop", "lr": 0.01, "alpha": 0.9, "eps": 1e-6, "weight_decay": 0, "momentum": 0.5, "centered": true}"#,
            #"{"name": "adagrad", "lr": 0.1, "lr_decay": 0.01, "weight_decay": 0, "initial_accumulator_value": 0.1, "eps": 1e-9}"#
        ]
        for json in sections {
            let decoded = try JSONDecoder().decode(OptimizerConfig.self, from: Data(json.utf8))
            XCTAssertEqual(try parse("optimizer: \(json)").optimizer, decoded, json)
            let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            XCTAssertEqual(
                object.count, OptimizerConfig.hyperparameterKeys[decoded.name]!.count + 1, "\(json): every key")
        }
    }

    func testScheduleKeysReadFromYAMLEqualTheirJSONForm() throws {
        let cases = [
            (
                "{name: cosine, t_max: 30, eta_min: 0.001, warmup_steps: 3, warmup_start_factor: 0.5}",
                #"{"name": "cosine", "T_max": 30, "eta_min": 0.001, "warmup_steps": 3, "warmup_start_factor": 0.5}"#
            ),
            ("{name: step, step_size: 7, gamma: 0.5}", #"{"name": "step", "step_size": 7, "gamma": 0.5}"#),
            ("{name: exponential, gamma: 0.9}", #"{"name": "exponential", "gamma": 0.9}"#)
        ]
        for (yaml, json) in cases {
            XCTAssertEqual(
                try parse("schedule: \(yaml)").schedule,
                try JSONDecoder().decode(ScheduleConfig.self, from: Data(json.utf8)), yaml)
            XCTAssertEqual(
                try parse("schedule: \(yaml)").schedule.learningRateSchedule(),
                try JSONDecoder().decode(LearningRateSchedule.self, from: Data(json.utf8)), yaml)
        }
    }

    func testPlateauKeysReadFromYAMLEqualTheirJSONFormAndRoundTrip() throws {
        let yaml = "{name: plateau, mode: max, factor: 0.5, patience: 2, threshold_mode: abs, warmup_steps: 4}"
        let json =
            #"{"name": "plateau", "mode": "max", "factor": 0.5, "patience": 2, "threshold_mode": "abs", "warmup_steps": 4}"#
        let decoded = try JSONDecoder().decode(ScheduleConfig.self, from: Data(json.utf8))
        XCTAssertEqual(try parse("schedule: \(yaml)").schedule, decoded)
        XCTAssertEqual(try JSONDecoder().decode(ScheduleConfig.self, from: JSONEncoder().encode(decoded)), decoded)
        var expected = ReduceLROnPlateau.Configuration()
        (expected.mode, expected.factor, expected.patience, expected.thresholdMode) = (.max, 0.5, 2, .abs)
        XCTAssertEqual(decoded.plateauConfiguration(), expected)
        XCTAssertEqual(try decoded.learningRateSchedule().warmupSteps, 4)
        XCTAssertThrowsError(
            try JSONDecoder().decode(ScheduleConfig.self, from: Data(#"{"name": "plateau", "gamma": 0.5}"#.utf8))
        ) {
            XCTAssertEqual(
                "\($0)",
                "plateau has no hyperparameter 'gamma' (it takes mode, factor, patience, threshold, threshold_mode, cooldown, min_lr, warmup_steps, warmup_start_factor)"
            )
        }
    }

    func testLeftOutScheduleKeysTakeTheTableDefaults() throws {
        XCTAssertEqual(
            try parse("schedule: {name: step, warmup_steps: 2}").schedule.learningRateSchedule(),
            try LearningRateSchedule(.step(stepSize: 1000, gamma: 0.1), warmupSteps: 2, warmupStartFactor: 1.0 / 3))
        XCTAssertEqual(
            try parse("schedule: {name: plateau}").schedule.plateauConfiguration(), ReduceLROnPlateau.Configuration())
    }
}

/// Every default docs/config.md's tables give equals the code's: a key set to its documented
/// default reads the same as the key left out.
final class ConfigDocDefaultTests: XCTestCase {
    static let base = "data: {file: d.h5, generate: {task: adding}}\n"

    /// The doc's text.
    func doc() throws -> String {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/config.md")
        return try String(contentsOf: url, encoding: .utf8)
    }

    /// A default cell as a YAML value: a number, `true`/`false`, a `word` or a list, optionally
    /// followed by a remark in parentheses ("1 (or the list's length)"); nil for prose ("from the data").
    static func literal(_ cell: String) -> String? {
        let pattern = #"^`?(-?[0-9][0-9.e+-]*|true|false|[a-z_]+|\[[0-9., e+-]+\])`?( \(.*\))?$"#
        let regex = try! NSRegularExpression(pattern: pattern)
        guard let m = regex.firstMatch(in: cell, range: NSRange(cell.startIndex..., in: cell)),
            let r = Range(m.range(at: 1), in: cell)
        else { return nil }
        let value = String(cell[r])
        return ["none", "all"].contains(value) ? nil : value
    }

    /// `(key path, default)` of every `| key | type | default |` row whose default is a literal
    /// (`train`, `val`, `test` with "20000, 1000, 1000" is three rows).
    func keyTableDefaults() throws -> [(key: String, value: String)] {
        var rows: [(String, String)] = []
        var section = ""
        var header: [String] = []
        for line in try doc().split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("#") {
                section = String(line.drop(while: { $0 == "#" }).trimmingCharacters(in: .whitespaces))
                header = []
                continue
            }
            guard line.hasPrefix("|") else {
                header = []
                continue
            }
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).dropFirst().dropLast()
                .map { $0.trimmingCharacters(in: .whitespaces) }
            if header.isEmpty {
                header = cells
                continue
            }
            guard header.first == "key", header.count > 2, header[2] == "default", !cells[0].hasPrefix("--") else {
                continue
            }
            let keys = cells[0].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces.union(["`"])) }
            let defaults = keys.count > 1 ? cells[2].split(separator: ",").map(String.init) : [cells[2]]
            guard defaults.count == keys.count else { continue }
            for (k, d) in zip(keys, defaults) {
                guard let v = Self.literal(d.trimmingCharacters(in: .whitespaces)) else { continue }
                rows.append((k == section ? k : "\(section).\(k)", v))
            }
        }
        return rows
    }

    /// `(table, name, key, default)` of the per-optimizer and per-schedule `key: default` cells.
    func hyperparameterDefaults() throws -> [(table: String, name: String, key: String, value: String)] {
        let regex = try NSRegularExpression(pattern: #"`([a-z_]+)`: (\[[^\]]*\]|[^ ,(]+)"#)
        var rows: [(String, String, String, String)] = []
        for line in try doc().split(separator: "\n") where line.hasPrefix("| `") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 2 else { continue }
            let name = cells[0].trimmingCharacters(in: ["`"])
            let table =
                OptimizerConfig.hyperparameters[name] != nil
                ? "optimizer" : ScheduleConfig.hyperparameters[name] != nil ? "schedule" : ""
            guard !table.isEmpty else { continue }
            let s = cells[1]
            for m in regex.matches(in: s, range: NSRange(s.startIndex..., in: s)) {
                rows.append(
                    (
                        table, name, String(s[Range(m.range(at: 1), in: s)!]),
                        String(s[Range(m.range(at: 2), in: s)!])
                    ))
            }
        }
        return rows
    }

    /// The config read, without what records how it was written (text, places, keys given).
    func read(_ text: String, set: [String] = []) throws -> RunConfig {
        var c = try RunConfig.parse(text, path: "job.yaml", overrides: set)
        c.sourceText = ""
        c.locations = [:]
        c.givenKeys = []
        return c
    }

    func testEveryDefaultInTheKeyTablesIsTheCodesDefault() throws {
        let rows = try keyTableDefaults()
        XCTAssertGreaterThan(rows.count, 30, "the doc's key tables were not parsed: \(rows)")
        for (key, value) in rows where key != "loss" {
            // A key of an optional section is compared within that section (given, with no keys).
            let text = Self.base + (key.hasPrefix("training.early_stopping.") ? "training: {early_stopping: {}}\n" : "")
            XCTAssertEqual(
                try read(text, set: ["\(key)=\(value)"]), try read(text), "docs/config.md: \(key) defaults to \(value)")
        }
    }

    func testEveryOptimizerAndScheduleDefaultInTheDocIsTheTables() throws {
        let rows = try hyperparameterDefaults()
        XCTAssertGreaterThan(rows.count, 30, "the doc's optimizer and schedule tables were not parsed: \(rows)")
        for (table, name, key, value) in rows {
            let text = Self.base + "\(table): {name: \(name)}\n"
            let given = try read(text, set: ["\(table).\(key)=\(value)"])
            let plain = try read(text)
            let what = "docs/config.md: \(name)'s \(key) defaults to \(value)"
            if table == "optimizer" {
                XCTAssertEqual(given.optimizer.pair(key), plain.optimizer.pair(key), what)
            } else {
                XCTAssertEqual(given.schedule, plain.schedule, what)
                XCTAssertEqual(
                    try given.schedule.learningRateSchedule(), try plain.schedule.learningRateSchedule(), what)
                XCTAssertEqual(given.schedule.plateauConfiguration(), plain.schedule.plateauConfiguration(), what)
            }
        }
    }
}
