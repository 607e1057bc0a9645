import Foundation
import HDF5Kit
import XCTest

/// `lstm evaluate RUN/best.h5` is the run's own validation (issue 19, problem 5): by default it cuts
/// the data with the checkpoint's batch size (a stateful stream's lanes), seq_length and
/// `data.test_split`, says which it used, and on the validation split prints the run's best
/// validation loss bit for bit — for a feature model and for a stateful character model.
final class EvaluateRunValidationCLITests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws { dir = try makeTemporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    private struct Report: Decodable {
        var loss: Double
        var split: String
        var batchSize: Int?  // nil from a build that did not say
        var runBestValLoss: Double?

        enum CodingKeys: String, CodingKey {
            case loss, split
            case batchSize = "batch_size"
            case runBestValLoss = "run_best_val_loss"
        }
    }

    private func ok(_ args: [String]) throws -> CLIResult {
        let r = try lstm(args, in: dir)
        XCTAssertEqual(r.status, 0, "lstm \(args.joined(separator: " ")):\n\(r.output)")
        return r
    }

    /// The `best_val_loss` a run stored in its best.h5.
    private func bestValLoss(_ run: String) throws -> Double {
        let f = try HDF5File.open(dir.appendingPathComponent(run).appendingPathComponent("best.h5").path)
        defer { try? f.close() }
        return try f.root.openGroup("metrics").attribute("best_val_loss", as: Double.self)
    }

    private func evaluate(_ args: [String]) throws -> Report {
        let r = try ok(["evaluate"] + args + ["--json"])
        return try JSONDecoder().decode(Report.self, from: Data(r.stdout.utf8))
    }

    func testEvaluatingBestOnTheValSplitGivesTheRunsBestValidationLossBitForBitForAFeatureModel() throws {
        let config = """
            model: {hidden_size: 8}
            data:
              file: adding.h5
              generate: {task: adding, steps: 6, train: 96, val: 20, test: 16, seed: 1}
              batch_size: 8
            optimizer: {name: adam, lr: 0.01}
            training: {steps: 36}
            validation: {every: 6}
            checkpoint: {dir: run}
            logging: {progress: none}
            seed: 5
            """
        try config.write(to: dir.appendingPathComponent("f.yaml"), atomically: true, encoding: .utf8)
        _ = try ok(["train", "f.yaml"])
        let best = try bestValLoss("run")
        let report = try evaluate(["run/best.h5", "--data", "adding.h5", "--split", "val"])
        XCTAssertEqual(report.batchSize, 8, "not the run's data.batch_size")
        XCTAssertEqual(report.loss.bitPattern, best.bitPattern, "evaluate \(report.loss), the run's best \(best)")
        let text = try ok(["evaluate", "run/best.h5", "--data", "adding.h5", "--split", "val"]).stderr
        XCTAssertTrue(
            text.contains("split 'val' (--split), batch size 8 (the run's data.batch_size)"), text)
        XCTAssertTrue(
            text.contains("the run's best validation loss (best_val_loss of the checkpoint), bit for bit: \(best)"),
            text)
    }

    func testEvaluatingBestOfAStatefulCharacterModelUsesTheRunsLanesAndTestSplit() throws {
        var text = ""
        var x: UInt64 = 7
        let words = ["the ", "quick ", "brown ", "fox ", "jumps ", "over ", "a ", "lazy ", "dog. ", "\n"]
        while text.utf8.count < 12_000 {
            x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            text += words[Int(x >> 33) % words.count]
        }
        try text.write(to: dir.appendingPathComponent("corpus.txt"), atomically: true, encoding: .utf8)
        _ = try ok(["prepare", "text", "corpus.txt", "--out", "text.h5"])
        // 16 lanes (evaluate's own default is 64); test_split points evaluate at the val split.
        let config = """
            model: {embedding_size: 8, hidden_size: 16}
            data: {file: text.h5, batch_size: 16, seq_length: 10, stream_mode: stateful, test_split: val}
            optimizer: {name: adam, lr: 0.01}
            training: {steps: 60}
            validation: {every: 20}
            checkpoint: {dir: chars}
            logging: {progress: none}
            seed: 2
            """
        try config.write(to: dir.appendingPathComponent("c.yaml"), atomically: true, encoding: .utf8)
        _ = try ok(["train", "c.yaml"])
        let best = try bestValLoss("chars")
        let report = try evaluate(["chars/best.h5", "--data", "text.h5"])
        XCTAssertEqual(report.split, "val", "not the run's data.test_split")
        XCTAssertEqual(report.batchSize, 16, "not the run's 16 lanes")
        XCTAssertEqual(report.loss.bitPattern, best.bitPattern, "evaluate \(report.loss), the run's best \(best)")
        let explicit = try evaluate(["chars/best.h5", "--data", "text.h5", "--split", "val"])
        XCTAssertEqual(explicit.loss.bitPattern, best.bitPattern)
        let out = try ok(["evaluate", "chars/best.h5", "--data", "text.h5"]).stderr
        XCTAssertTrue(
            out.contains(
                "split 'val' (the run's data.test_split), lanes 16 (the run's data.batch_size), "
                    + "seq_length 10 (the run's data.seq_length), stream_mode stateful (the run's data.stream_mode)"),
            out)
        // Asked for other lanes, it evaluates those (and does not claim the run's figure).
        let other = try ok(["evaluate", "chars/best.h5", "--data", "text.h5", "--batch-size", "4"]).stderr
        XCTAssertTrue(other.contains("lanes 4 (--batch-size)"), other)
        XCTAssertFalse(other.contains("bit for bit"), other)
    }
}
