import Foundation
import TensorBoardProto
import XCTest

/// `logging.tensorboard`: the run writes a TensorBoard event file holding metrics.jsonl's records
/// as scalars under the same names, read back here with the definitions it was written with (and
/// with TensorBoard's own EventAccumulator when Python has `tensorboard`); a resumed run appends
/// without logging any step twice.
final class TensorBoardCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = try makeTemporaryDirectory()
        let r = try lstm(
            [
                "prepare", "adding", "--steps", "6", "--train", "40", "--val", "8", "--test", "4", "--out", "data.h5"
            ], in: dir)
        XCTAssertEqual(r.status, 0, r.output)
        try """
        model: {hidden_size: 4, head: last}
        loss: mse
        data: {file: data.h5, batch_size: 8}
        training: {steps: 12}
        validation: {every: 4}
        checkpoint: {dir: run, every: 4, keep: 5}
        logging: {every: 2, progress: none, tensorboard: true}
        """.write(to: dir.appendingPathComponent("job.yaml"), atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    var eventFile: URL { dir.appendingPathComponent("run/tensorboard/events.out.tfevents.lstm.run") }

    /// Every scalar of the event file: (step, tag) → value, failing on any (step, tag) given twice.
    func scalars() throws -> [String: Float] {
        let events = try EventFile.events(in: Data(contentsOf: eventFile))
        XCTAssertEqual(events.first?.fileVersion, "brain.Event:2", "the file starts with its version")
        var out: [String: Float] = [:]
        for e in events.dropFirst() {
            for v in e.summary.value {
                let key = "\(e.step) \(v.tag)"
                XCTAssertNil(out[key], "\(key) logged twice")
                out[key] = v.simpleValue
            }
        }
        return out
    }

    /// The scalars metrics.jsonl holds, keyed like `scalars()` (a validation record's `val_` figures;
    /// its lr, epoch and skipped steps are the train record's).
    func metrics() throws -> [String: Float] {
        let text = try String(contentsOf: dir.appendingPathComponent("run/metrics.jsonl"), encoding: .utf8)
        var out: [String: Float] = [:]
        for line in text.split(separator: "\n") {
            let record = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let step = try XCTUnwrap(record["step"] as? Int)
            let validation = record["val_loss"] != nil
            for (name, value) in record where !["step", "wall_time"].contains(name) {
                if validation && !name.hasPrefix("val_") { continue }
                out["\(step) \(name)"] = Float(try XCTUnwrap(value as? Double, name))
            }
        }
        return out
    }

    func testEventFileHoldsTheMetricsAndAResumeAppendsWithoutRepeatingASteps() throws {
        let r = try lstm(["train", "job.yaml"], in: dir)
        XCTAssertEqual(r.status, 0, r.output)
        let first = try scalars()
        assertSame(first, try metrics(), "the event file holds metrics.jsonl's figures under its names")
        for tag in ["train_loss", "lr", "grad_norm", "tokens_per_s", "epoch"] {
            XCTAssertNotNil(first["12 \(tag)"], "\(tag) at step 12: \(first.keys.sorted())")
        }
        XCTAssertNotNil(first["12 val_loss"])
        XCTAssertEqual(first["12 epoch"], 2.4)

        // A run killed after logging step 12 but before its checkpoint: latest.h5 is step 8's.
        let run = dir.appendingPathComponent("run")
        let fm = FileManager.default
        try fm.removeItem(at: run.appendingPathComponent("latest.h5"))
        try fm.copyItem(at: run.appendingPathComponent("step-00000008.h5"), to: run.appendingPathComponent("latest.h5"))
        try fm.removeItem(at: run.appendingPathComponent("step-00000012.h5"))
        let resumed = try lstm(["resume", "run"], in: dir)
        XCTAssertEqual(resumed.status, 0, resumed.output)
        XCTAssertTrue(resumed.stdout.contains("resuming run at step 8"), resumed.stdout)
        let second = try scalars()  // fails on any step logged twice
        XCTAssertEqual(Set(second.keys), Set(first.keys), "the same steps and tags as the uninterrupted run")
        for (key, value) in first where !key.hasSuffix("tokens_per_s") {
            XCTAssertEqual(second[key], value, "\(key): the resumed run logs the same figures")
        }
        assertSame(second, try metrics(), "after the resume")

        try readWithTensorBoard(expecting: first)
    }

    /// The same tags at the same steps with the same values (as Float, which TensorBoard stores;
    /// metrics.jsonl's decimal text may round its last bit differently).
    func assertSame(_ a: [String: Float], _ b: [String: Float], _ what: String, line: UInt = #line) {
        XCTAssertEqual(Set(a.keys), Set(b.keys), what, line: line)
        for (key, x) in a {
            guard let y = b[key] else { continue }
            XCTAssertEqual(x, y, accuracy: max(abs(x), abs(y)) * 1e-6, "\(what): \(key)", line: line)
        }
    }

    /// TensorBoard's own reader (Python's `tensorboard` package), when installed: every tag and step.
    func readWithTensorBoard(expecting expected: [String: Float]) throws {
        let script = """
            import sys
            try:
                from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
            except ImportError:
                print("NO-TENSORBOARD"); sys.exit(0)
            acc = EventAccumulator(sys.argv[1], size_guidance={"scalars": 0})
            acc.Reload()
            for tag in acc.Tags()["scalars"]:
                for e in acc.Scalars(tag):
                    print(e.step, tag, repr(e.value))
            """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script, dir.appendingPathComponent("run/tensorboard").path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, text)
        if text.hasPrefix("NO-TENSORBOARD") {
            print(
                "skipped: python3 has no tensorboard package; the event file was read with Sources/TensorBoardProto only"
            )
            return
        }
        var read: [String: Float] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            XCTAssertEqual(parts.count, 3, String(line))
            read["\(parts[0]) \(parts[1])"] = Float(try XCTUnwrap(Double(String(parts[2]))))
        }
        XCTAssertEqual(Set(read.keys), Set(expected.keys), "TensorBoard reads every scalar")
        for (key, value) in expected where !key.hasSuffix("tokens_per_s") { XCTAssertEqual(read[key], value, key) }
        print("TensorBoard's EventAccumulator read \(read.count) scalars")
    }
}
