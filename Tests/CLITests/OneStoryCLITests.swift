import Foundation
import XCTest

/// The console, metrics.jsonl, checkpoints, `lstm inspect` and the final summary tell one story
/// (issue 19, problem 6), and config mistakes are all reported in one run with their place and
/// the key that was meant (problem 7).
final class OneStoryCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = try makeTemporaryDirectory()
        // 40 sequences in minibatches of 8: 5 steps per epoch.
        let r = try lstm(
            [
                "prepare", "adding", "--steps", "6", "--train", "40", "--val", "8", "--test", "4", "--out", "data.h5"
            ], in: dir)
        XCTAssertEqual(r.status, 0, r.output)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func write(_ text: String, _ name: String) throws {
        try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }

    /// The records of RUN/metrics.jsonl as JSON objects.
    func records(_ run: String) throws -> [[String: Any]] {
        let text = try String(contentsOf: dir.appendingPathComponent("\(run)/metrics.jsonl"), encoding: .utf8)
        return try text.split(separator: "\n").map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    func testConsoleMetricsCheckpointsInspectAndSummaryCountEpochsAndLossTheSameWay() throws {
        // 12 steps of 5 per epoch: the run ends 2 steps into its third epoch.
        try write(
            """
            model: {hidden_size: 4, head: last}
            loss: mse
            data: {file: data.h5, batch_size: 8}
            training: {steps: 12}
            validation: {every: 6}
            checkpoint: {dir: run, every: 6}
            logging: {every: 2, progress: plain}
            """, "job.yaml")
        let r = try lstm(["train", "job.yaml"], in: dir)
        XCTAssertEqual(r.status, 0, r.output)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        let records = try records("run")
        XCTAssertEqual(records.count, 6 + 2, "a train record every 2 steps, a validation every 6")
        for record in records {
            let step = try XCTUnwrap(record["step"] as? Int)
            let epoch = try XCTUnwrap(record["epoch"] as? Double)
            XCTAssertEqual(epoch, Double(step) / 5, accuracy: 1e-4, "epochs trained at step \(step)")
            let isTrain = record["train_loss"] != nil
            let name = isTrain ? "train_loss" : "val_loss"
            let value = try XCTUnwrap(record[name] as? Double)
            // The console line of this record shows the same figures under the same names.
            let line = try XCTUnwrap(
                lines.first { $0.hasPrefix("step \(step)  ") && $0.contains(name) }, "no \(name) line at step \(step)")
            XCTAssertTrue(line.hasPrefix(String(format: "step %d  epoch %.2f  ", step, epoch)), line)
            XCTAssertTrue(line.contains(String(format: "%@ %.5f", name, value)), "\(line) vs \(record)")
            if isTrain {
                XCTAssertTrue(line.contains("(mean of 2 steps)"), line)
                let lr = try XCTUnwrap(record["lr"] as? Double)
                XCTAssertTrue(line.contains(String(format: "lr %.6g", lr)), line)
                XCTAssertNotNil(record["grad_norm"] as? Double, "\(record)")
            }
        }
        // Checkpoints and inspect: the same epochs (1.20 at step 6, 2.40 at the end).
        for (file, epochs) in [("run/step-00000006.h5", "1.20"), ("run/latest.h5", "2.40")] {
            let i = try lstm(["inspect", file], in: dir)
            XCTAssertEqual(i.status, 0, i.output)
            XCTAssertTrue(i.stdout.contains("epoch \(epochs)\n"), "\(file): \(i.stdout)")
        }
        XCTAssertTrue(r.stdout.contains("after 12 steps (2.40 epochs)"), r.stdout)
    }

    func testEveryMistakeInAConfigIsReportedInOneRunWithItsPlaceAndTheKeyMeant() throws {
        try write(
            """
            data:
              file: data.h5
              batch_sise: 8
            model:
              hiden_size: 4
              num_layers: 0
            training:
              learning_rate: 0.01
              epochs: 2
              steps: 10
            optimizer:
              name: adamm
            logging:
              progres: plain
            """, "job.yaml")
        let before = filesBelow(dir)
        let r = try lstm(["train", "job.yaml"], in: dir)
        XCTAssertNotEqual(r.status, 0)
        for expected in [
            "job.yaml:3:3: data.batch_sise: unknown key (did you mean batch_size?)",
            "job.yaml:5:3: model.hiden_size: unknown key (did you mean hidden_size?)",
            "job.yaml:6:15: model.num_layers: must be ≥ 1 (got 0)",
            "job.yaml:8:3: training.learning_rate: unknown key (did you mean optimizer.lr?)",
            "job.yaml:10:10: training.steps: and training.epochs (line 9) are both given",
            "job.yaml:12:9: optimizer.name: 'adamm' is not one of",
            "job.yaml:14:3: logging.progres: unknown key (did you mean progress?)"
        ] {
            XCTAssertTrue(r.stderr.contains(expected), "no \(expected) in:\n\(r.stderr)")
        }
        XCTAssertEqual(filesBelow(dir), before, "a rejected config writes nothing")
    }

    func testABareKeyGivenWithSetSuggestsItsSection() throws {
        try write("data: {file: data.h5}\n", "job.yaml")
        let r = try lstm(["train", "job.yaml", "--set", "hidden_size=64", "--set", "model.lr=0.1"], in: dir)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(
            r.stderr.contains(
                "job.yaml (--set hidden_size=64): hidden_size: unknown key (did you mean model.hidden_size?)"),
            r.stderr)
        XCTAssertTrue(
            r.stderr.contains("job.yaml (--set model.lr=0.1): model.lr: unknown key (did you mean optimizer.lr?)"),
            r.stderr)
    }

    func testEpochsAndStepsTogetherAreAnErrorNamingBothButSetReplacesTheOther() throws {
        try write("data: {file: data.h5}\ntraining:\n  epochs: 3\n  steps: 7\n", "both.yaml")
        let r = try lstm(["train", "both.yaml", "--dry-run"], in: dir)
        XCTAssertNotEqual(r.status, 0, r.output)
        XCTAssertTrue(
            r.stderr.contains("both.yaml:4:10: training.steps: and training.epochs (line 3) are both given"), r.stderr)
        // --set of one replaces the other: the run's length is one setting.
        try write("data: {file: data.h5}\ntraining: {epochs: 3}\n", "one.yaml")
        let s = try lstm(["train", "one.yaml", "--dry-run", "--set", "training.steps=7"], in: dir)
        XCTAssertEqual(s.status, 0, s.output)
        XCTAssertTrue(s.stdout.contains("steps: 7"), s.stdout)
        XCTAssertFalse(s.stdout.contains("epochs: 3"), s.stdout)
        let both = try lstm(["train", "one.yaml", "--set", "training.steps=7", "--set", "training.epochs=2"], in: dir)
        XCTAssertNotEqual(both.status, 0, both.output)
        XCTAssertTrue(both.stderr.contains("training.steps: and training.epochs (--set) are both given"), both.stderr)
    }

    func testVersionNamesTheCommitTheOpenBLASKernelAndHDF5() throws {
        let r = try lstm(["--version"])
        XCTAssertEqual(r.status, 0, r.output)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 3, r.stdout)
        let first = try XCTUnwrap(lines.first)
        XCTAssertTrue(first.hasPrefix("lstm "), first)
        let commit = try XCTUnwrap(first.components(separatedBy: "commit ").last?.dropLast())  // "(commit X)"
        let hex = commit.replacingOccurrences(of: "-dirty", with: "")
        XCTAssertTrue(
            commit == "unknown" || (hex.count == 12 && hex.allSatisfy(\.isHexDigit)), "commit \(commit) in \(first)")
        XCTAssertTrue(lines[1].hasPrefix("OpenBLAS ") && lines[1].contains(" kernel "), lines[1])
        XCTAssertTrue(lines[2].hasPrefix("HDF5 1."), lines[2])
        // Built from this checkout: the commit is one of its own.
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let git = Process()
        git.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        git.arguments = ["git", "-C", repository.path, "cat-file", "-e", "\(hex)^{commit}"]
        git.standardError = FileHandle.nullDevice
        if (try? git.run()) != nil {
            git.waitUntilExit()
            XCTAssertEqual(git.terminationStatus, 0, "\(hex) is not a commit of \(repository.path)")
        } else {
            print("git is not available: the commit \(commit) was not checked against the repository")
        }
    }

    func testInspectSummarisesLongAttributesAndFullPrintsThem() throws {
        // A character model on stateful lanes: its data cursor carries h and c of every lane.
        try write(String(repeating: "the cat sat on the mat. the dog ate the hat.\n", count: 20), "input.txt")
        XCTAssertEqual(try lstm(["prepare", "text", "input.txt", "--out", "text.h5"], in: dir).status, 0)
        try write(
            """
            model: {hidden_size: 16, embedding_size: 4}
            data: {file: text.h5, batch_size: 4, seq_length: 8}
            training: {steps: 3}
            checkpoint: {dir: run}
            logging: {progress: none}
            """, "text.yaml")
        let t = try lstm(["train", "text.yaml"], in: dir)
        XCTAssertEqual(t.status, 0, t.output)
        let short = try lstm(["inspect", "run/latest.h5"], in: dir)
        XCTAssertEqual(short.status, 0, short.output)
        let cursor = try XCTUnwrap(short.stdout.split(separator: "\n").first { $0.hasPrefix("data cursor: ") })
        XCTAssertLessThan(cursor.count, 300, String(cursor))
        XCTAssertTrue(cursor.contains("characters") && cursor.contains("--full prints it"), String(cursor))
        XCTAssertLessThan(short.stdout.count, 4000, short.stdout)
        let full = try lstm(["inspect", "--full", "run/latest.h5"], in: dir)
        XCTAssertEqual(full.status, 0, full.output)
        let whole = try XCTUnwrap(full.stdout.split(separator: "\n").first { $0.hasPrefix("data cursor: ") })
        let json = whole.dropFirst("data cursor: ".count)
        XCTAssertGreaterThan(json.count, 1000)
        XCTAssertNotNil(try? JSONSerialization.jsonObject(with: Data(json.utf8)), "the whole cursor is JSON")
        XCTAssertTrue(full.stdout.contains("  training: {steps: 3}"), "the config text in full: \(full.stdout)")
        let tree = try lstm(["inspect", "--tree", "run/latest.h5"], in: dir)
        XCTAssertTrue(tree.stdout.contains("--full prints it"), tree.stdout)
        let fullTree = try lstm(["inspect", "--tree", "--full", "run/latest.h5"], in: dir)
        XCTAssertFalse(fullTree.stdout.contains("--full prints it"), fullTree.stdout)
        XCTAssertTrue(fullTree.stdout.contains(String(json.prefix(2000))))
    }
}
