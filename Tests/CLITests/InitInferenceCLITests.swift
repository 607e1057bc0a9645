import Foundation
import XCTest

/// `lstm train CONFIG --init W.h5` takes the model keys the config leaves out (hidden_size,
/// num_layers, bias, …) from the weights file, and still fails clearly when a key it gives
/// disagrees with the file. Also `model.hidden_size: [6, 4]` and `model.bias: pytorch` end to end.
final class InitInferenceCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try makeTemporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    @discardableResult
    func ok(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> CLIResult {
        let r = try lstm(args, in: dir)
        XCTAssertEqual(r.status, 0, "lstm \(args.joined(separator: " ")) failed:\n\(r.output)", file: file, line: line)
        return r
    }

    func write(_ name: String, model: String, run: String) throws {
        let text = """
            model: {\(model)}
            loss: mse
            data: {file: adding.h5, batch_size: 8}
            training: {steps: 3}
            checkpoint: {dir: \(run)}
            logging: {progress: none}
            seed: 3
            """
        try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }

    func testInitTakesTheArchitectureFromTheWeightsFileAndRejectsAMismatch() throws {
        try ok(["prepare", "adding", "--steps", "5", "--train", "16", "--val", "8", "--test", "8", "--out", "adding.h5"]
        )
        try write("wide.yaml", model: "hidden_size: [6, 4], head: last, bias: pytorch", run: "run-wide")
        try ok(["train", "wide.yaml"])
        // lstm gradcheck checks both biases of every layer in Float64.
        let check = try ok(["gradcheck", "wide.yaml", "--steps", "4"]).output
        XCTAssertTrue(check.contains("H=[6, 4] (per layer)"), check)
        XCTAssertTrue(check.range(of: #"lstm\.bias_hh_l1 +\[16\] .* PASS"#, options: .regularExpression) != nil, check)
        XCTAssertTrue(check.contains("PASS: "), check)
        let trained = try ok(["inspect", "run-wide/latest.h5"]).output
        XCTAssertTrue(trained.contains("hidden sizes [6, 4], bias pytorch"), trained)
        XCTAssertTrue(trained.contains("lstm.bias_hh_l1"), trained)
        try ok(["export", "run-wide/latest.h5", "--format", "pytorch", "--out", "wide.pt.h5"])
        let keras = try ok(["export", "run-wide/latest.h5", "--format", "keras", "--out", "wide.weights.h5"])
        XCTAssertTrue(keras.output.contains("bias_ih + bias_hh was written as their sum"), keras.output)

        // No hidden_size, num_layers or bias: all three come from the exported file.
        try write("tune.yaml", model: "head: last", run: "run-tune")
        let tuned = try ok(["train", "tune.yaml", "--init", "wide.pt.h5"])
        XCTAssertEqual(tuned.status, 0)
        let inspected = try ok(["inspect", "run-tune/latest.h5"]).output
        XCTAssertTrue(inspected.contains("2 layer(s), hidden sizes [6, 4], bias pytorch"), inspected)

        // The same from the Keras export (whose model_config keeps the two-bias form).
        try write("tune-keras.yaml", model: "head: last", run: "run-tune-keras")
        try ok(["train", "tune-keras.yaml", "--init", "wide.weights.h5"])
        XCTAssertTrue(try ok(["inspect", "run-tune-keras/latest.h5"]).output.contains("hidden sizes [6, 4]"))

        // A key the config does give must match the file.
        try write("wrong.yaml", model: "hidden_size: 5, head: last", run: "run-wrong")
        let wrong = try lstm(["train", "wrong.yaml", "--init", "wide.pt.h5"], in: dir)
        XCTAssertNotEqual(wrong.status, 0, wrong.output)
        XCTAssertTrue(wrong.output.contains("wide.pt.h5: its model"), wrong.output)
        XCTAssertTrue(wrong.output.contains("does not match the config's"), wrong.output)
        XCTAssertTrue(wrong.output.contains("H=5"), wrong.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("run-wrong/latest.h5").path))

        // A list whose length disagrees with num_layers is a config error naming the key.
        try write("bad.yaml", model: "hidden_size: [6, 4], num_layers: 3, head: last", run: "run-bad")
        let bad = try lstm(["train", "bad.yaml"], in: dir)
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.output.contains("model.num_layers: is 3 but model.hidden_size lists 2 width(s)"), bad.output)
    }
}
