import Foundation
import XCTest

/// `training.accumulate: K` end to end: K micro-batches of `data.batch_size` per optimizer step
/// give the weights, optimizer state and metrics of one minibatch of K × batch_size sequences with
/// the same total shard count (K × parallel.shards), bit for bit, in less memory; `lstm resume
/// --accumulate K′` goes on with another split of the same minibatch, bit for bit.
final class AccumulateCLITests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws {
        dir = try makeTemporaryDirectory()
        // Variable-length sequences, two layers with dropout, Adam with clipping; 100 sequences in
        // minibatches of 12 (the last of each epoch has 4), validation every 4 steps.
        try """
        model: {hidden_size: 12, num_layers: 2, dropout: 0.3, head: last}
        loss: cross_entropy
        data:
          file: \(dir.appendingPathComponent("waves.h5").path)
          generate: {task: waves, steps: 16, min_length: 4, max_length: 16, train: 100, val: 24, test: 8, seed: 3}
          batch_size: 12
        optimizer: {name: adam, lr: 0.01}
        training: {epochs: 3, clip_norm: 1.0}
        validation: {every: 4}
        checkpoint: {every: 4, keep: 100}
        logging: {every: 1, progress: plain}
        parallel: {shards: 4}
        seed: 7
        """.write(to: dir.appendingPathComponent("job.yaml"), atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// Trains job.yaml into `run` with `sets` overrides; returns what it printed.
    private func train(_ run: String, _ sets: [String] = []) throws -> String {
        let r = try lstm(
            ["train", "job.yaml", "--set", "checkpoint.dir=\(dir.appendingPathComponent(run).path)"]
                + sets.flatMap { ["--set", $0] }, in: dir)
        XCTAssertEqual(r.status, 0, r.output)
        return r.output
    }

    private func weights(_ run: String, _ file: String = "latest.h5") throws -> [String: [UInt32]] {
        try KillResumeCLITests.tensors(dir.appendingPathComponent(run).appendingPathComponent(file))
    }

    private func records(_ run: String) throws -> [String] {
        try KillResumeCLITests.records(dir.appendingPathComponent(run))
    }

    /// metrics.jsonl of `run` against `reference`'s: the training records bit for bit; the
    /// validation records with every figure equal but `val_loss`, which validation sums over
    /// minibatches of data.batch_size (one micro-batch), so it may differ in its last bits.
    private func assertSameMetrics(_ run: String, as reference: String, line: UInt = #line) throws {
        let (got, want) = (try records(run), try records(reference))
        XCTAssertEqual(got.count, want.count, run, line: line)
        for (g, w) in zip(got, want) {
            guard w.contains("\"val_loss\"") else {
                XCTAssertEqual(g, w, run, line: line)
                continue
            }
            var x = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(g.utf8)) as? [String: Any])
            var y = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(w.utf8)) as? [String: Any])
            let (a, b) = (
                try XCTUnwrap(x.removeValue(forKey: "val_loss") as? Double),
                try XCTUnwrap(y.removeValue(forKey: "val_loss") as? Double)
            )
            XCTAssertEqual(a, b, accuracy: 1e-12 * abs(b), "\(run): \(g)", line: line)
            XCTAssertEqual(NSDictionary(dictionary: x), NSDictionary(dictionary: y), "\(run): \(g)", line: line)
        }
    }

    /// The bytes of "memory plan: 612.0 KiB (…" in a run's output.
    private func plannedBytes(_ output: String) throws -> Double {
        let line = try XCTUnwrap(output.split(separator: "\n").first { $0.hasPrefix("memory plan: ") }, output)
        let words = line.dropFirst("memory plan: ".count).split(separator: " ")
        let value = try XCTUnwrap(Double(words[0]), String(line))
        let unit = ["B": 1.0, "KiB": 1024.0, "MiB": 1024.0 * 1024, "GiB": 1024.0 * 1024 * 1024]
        return value * (try XCTUnwrap(unit[String(words[1])], String(line)))
    }

    func testMicroBatchesOfSixAndThreeGiveTheBitsOfOneMinibatchOfTwelveInLessMemory() throws {
        let whole = try train("whole")
        let two = try train("two", ["training.accumulate=2", "data.batch_size=6", "parallel.shards=2"])
        let four = try train("four", ["training.accumulate=4", "data.batch_size=3", "parallel.shards=1"])
        XCTAssertTrue(two.contains("4 shard(s) on 2 worker(s) in 2 rounds of 6 sequences (minibatch 12)"), two)
        XCTAssertTrue(four.contains("4 shard(s) on 1 worker(s) in 4 rounds of 3 sequences (minibatch 12)"), four)
        let reference = try weights("whole")
        XCTAssertEqual(try weights("two"), reference, "accumulate 2 × 6 against 12")
        XCTAssertEqual(try weights("four"), reference, "accumulate 4 × 3 against 12")
        XCTAssertEqual(try weights("four", "step-00000012.h5"), try weights("whole", "step-00000012.h5"))
        XCTAssertEqual(try records("whole").count, 27 + 7, "27 steps, 7 validations")
        try assertSameMetrics("two", as: "whole")
        try assertSameMetrics("four", as: "whole")
        // The workspaces (and validation's) hold one micro-batch: less memory the more rounds.
        let (w, t, f) = (try plannedBytes(whole), try plannedBytes(two), try plannedBytes(four))
        XCTAssertLessThan(t, w, "accumulate 2 plans \(t) bytes, the whole minibatch \(w)")
        XCTAssertLessThan(f, t, "accumulate 4 plans \(f) bytes, accumulate 2 \(t)")
    }

    func testResumingWithAnotherAccumulateGoesOnBitForBit() throws {
        _ = try train("whole")
        _ = try train("four", ["training.accumulate=4", "data.batch_size=3", "parallel.shards=1"])
        /// A copy of `run` cut back to its checkpoint of step 12.
        func cut(_ run: String, _ copy: String) throws -> URL {
            let to = dir.appendingPathComponent(copy)
            try FileManager.default.copyItem(at: dir.appendingPathComponent(run), to: to)
            for name in try FileManager.default.contentsOfDirectory(atPath: to.path)
            where name == "latest.h5" || name == "best.h5" || (name.hasPrefix("step-") && name > "step-00000012.h5") {
                try FileManager.default.removeItem(at: to.appendingPathComponent(name))
            }
            return to
        }
        // 12 sequences in 1 round of 4 shards, then in 4 rounds of 3 sequences on 1 shard each …
        let down = try lstm(["resume", try cut("whole", "whole-then-four").path, "--accumulate", "4"])
        XCTAssertEqual(down.status, 0, down.output)
        XCTAssertTrue(down.output.contains("resuming"), down.output)
        XCTAssertTrue(down.output.contains("in 4 rounds of 3 sequences (minibatch 12)"), down.output)
        XCTAssertEqual(try weights("whole-then-four"), try weights("whole"))
        try assertSameMetrics("whole-then-four", as: "whole")
        // … and back, via 2 rounds of 6.
        let up = try lstm(["resume", try cut("four", "four-then-two").path, "--accumulate", "2"])
        XCTAssertEqual(up.status, 0, up.output)
        XCTAssertTrue(up.output.contains("in 2 rounds of 6 sequences (minibatch 12)"), up.output)
        XCTAssertEqual(try weights("four-then-two"), try weights("whole"))
        try assertSameMetrics("four-then-two", as: "whole")

        // A split that does not keep the minibatch or the shards is refused before anything runs.
        let five = try lstm(["resume", try cut("whole", "five").path, "--accumulate", "5"])
        XCTAssertEqual(five.status, 1, five.output)
        XCTAssertTrue(
            five.stderr.contains(
                "the run's minibatch of 12 sequence(s) (training.accumulate 1 × data.batch_size 12) cannot be cut into 5 equal micro-batches; --accumulate must divide 12 (one of 1, 2, 3, 4, 6, 12)"
            ), five.stderr)
        let three = try lstm(["resume", try cut("whole", "three").path, "--accumulate", "3"])
        XCTAssertEqual(three.status, 1, three.output)
        XCTAssertTrue(
            three.stderr.contains(
                "the run's 4 shard(s) (training.accumulate 1 × parallel.shards 4) cannot be cut into 3 rounds; --accumulate must divide 4"
            ), three.stderr)
    }
}
