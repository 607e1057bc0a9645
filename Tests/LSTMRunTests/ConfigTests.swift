import LSTMKit
import XCTest

@testable import LSTMRun

/// Every class of config error names the file, the key, the line and the column.
final class ConfigTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lstm-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: dir.appendingPathComponent("data.h5").path, contents: Data())
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func yaml(_ body: String) -> String {
        body.replacingOccurrences(of: "DATA", with: dir.appendingPathComponent("data.h5").path)
    }

    func assertError(
        _ text: String, key: String, line: Int, column: Int, contains: String,
        file: StaticString = #filePath, sourceLine: UInt = #line
    ) {
        XCTAssertThrowsError(try RunConfig.parse(yaml(text), path: "job.yaml"), file: file, line: sourceLine) { error in
            guard let e = error as? ConfigError else { return XCTFail("\(error)", file: file, line: sourceLine) }
            XCTAssertEqual(e.file, "job.yaml", file: file, line: sourceLine)
            XCTAssertEqual(e.key, key, file: file, line: sourceLine)
            XCTAssertEqual(e.line, line, "\(e)", file: file, line: sourceLine)
            XCTAssertEqual(e.column, column, "\(e)", file: file, line: sourceLine)
            XCTAssertTrue(e.description.contains(contains), "\(e)", file: file, line: sourceLine)
            XCTAssertTrue(
                e.description.hasPrefix("job.yaml:\(line):\(column): \(key)"), "\(e)", file: file, line: sourceLine)
        }
    }

    func testAValidConfigParsesWithDefaults() throws {
        let c = try RunConfig.parse(
            yaml(
                """
                model:
                  hidden_size: 32
                  head: last
                loss: mse
                data:
                  file: DATA
                  batch_size: 16
                optimizer:
                  name: sgd
                  lr: 0.1
                  momentum: 0.9
                """), path: "job.yaml")
        XCTAssertEqual(c.model.hiddenSize, 32)
        XCTAssertEqual(c.model.head, .last)
        XCTAssertEqual(c.model.numLayers, 1)
        XCTAssertEqual(c.data.batchSize, 16)
        XCTAssertEqual(c.optimizer.name, "sgd")
        XCTAssertEqual(c.optimizer.values["momentum"], [0.9])
        XCTAssertNil(c.training.clipNorm, "no clipping unless asked for, as in torch")
        XCTAssertEqual(c.checkpoint.dir, "runs/job")
    }

    /// torch clips nothing unless the loop calls clip_grad_norm_: left out, null and none are all
    /// "no clipping"; a number is the threshold.
    func testClipNormIsOffUnlessSet() throws {
        for (body, expected) in [
            ("training: {epochs: 2}", nil), ("training: {clip_norm: null}", nil),
            ("training: {clip_norm: none}", nil), ("training: {clip_norm: 2.5}", 2.5 as Double?)
        ] {
            let c = try RunConfig.parse(yaml("data: {file: DATA}\n" + body), path: "job.yaml")
            XCTAssertEqual(c.training.clipNorm, expected, body)
        }
    }

    func testUnknownKeySuggestsTheClosestKnownOne() {
        assertError(
            """
            model:
              hiden_size: 32
            data:
              file: DATA
            """, key: "model.hiden_size", line: 2, column: 3, contains: "did you mean hidden_size?")
        assertError(
            """
            data:
              file: DATA
            trainig:
              epochs: 3
            """, key: "trainig", line: 3, column: 1, contains: "did you mean training?")
    }

    func testWrongTypeIsReported() {
        assertError(
            """
            data:
              file: DATA
              batch_size: lots
            """, key: "data.batch_size", line: 3, column: 15, contains: "expected an integer, found 'lots'")
        assertError(
            """
            data:
              file: DATA
            model:
              bidirectional: maybe
            """, key: "model.bidirectional", line: 4, column: 18, contains: "expected true or false")
    }

    func testOutOfRangeValueIsReported() {
        assertError(
            """
            data:
              file: DATA
            model:
              dropout: 1.5
            """, key: "model.dropout", line: 4, column: 12, contains: "must be < 1.0")
        assertError(
            """
            data:
              file: DATA
            optimizer:
              name: adam
              lr: -1
            """, key: "optimizer.lr", line: 5, column: 7, contains: "must be > 0.0")
        assertError(
            """
            data:
              file: DATA
            optimizer:
              name: adamm
            """, key: "optimizer.name", line: 4, column: 9, contains: "did you mean adam?")
    }

    func testOptionsOfAnotherOptimizerAreUnknownKeys() {
        assertError(
            """
            data:
              file: DATA
            optimizer:
              name: adam
              momentum: 0.9
            """, key: "optimizer.momentum", line: 5, column: 3, contains: "unknown key")
    }

    func testMissingDataFileIsReported() {
        assertError(
            """
            data:
              file: /nonexistent/data.h5
            """, key: "data.file", line: 2, column: 9, contains: "no such file: /nonexistent/data.h5")
    }

    func testLossAndActivationMismatchIsReported() {
        assertError(
            """
            model:
              activation: tanh
            loss: cross_entropy
            data:
              file: DATA
            """, key: "loss", line: 3, column: 7, contains: "cross_entropy needs model.activation softmax")
    }

    func testSetOverridesAnyKeyAndIsValidatedToo() throws {
        let text = yaml("data:\n  file: DATA\nmodel:\n  hidden_size: 8\n")
        let c = try RunConfig.parse(text, path: "job.yaml", overrides: ["model.hidden_size=24", "training.steps=7"])
        XCTAssertEqual(c.model.hiddenSize, 24)
        XCTAssertEqual(c.training.steps, 7)
        XCTAssertTrue(c.sourceText.contains("24"))
        XCTAssertThrowsError(try RunConfig.parse(text, path: "job.yaml", overrides: ["model.hidden_sze=3"])) { e in
            XCTAssertEqual(
                "\(e)", "job.yaml (--set model.hidden_sze=3): model.hidden_sze: unknown key (did you mean hidden_size?)"
            )
        }
        XCTAssertThrowsError(try RunConfig.parse(text, path: "job.yaml", overrides: ["model.hidden_size=-2"])) { e in
            XCTAssertEqual("\(e)", "job.yaml (--set model.hidden_size=-2): model.hidden_size: must be ≥ 1 (got -2)")
        }
    }

    func testEditDistanceSuggestionsStayClose() {
        XCTAssertEqual(suggestion("hiden_size", ["hidden_size", "num_layers"]), " (did you mean hidden_size?)")
        XCTAssertEqual(suggestion("zzz", ["hidden_size", "num_layers"]), "")
    }

    // MARK: - Per-layer widths and model.bias

    func testHiddenSizeListAndBiasForm() throws {
        let c = try RunConfig.parse(
            yaml(
                """
                model:
                  hidden_size: [16, 8]
                  bias: pytorch
                data:
                  file: DATA
                """), path: "job.yaml")
        XCTAssertEqual(c.model.layerWidths, [16, 8])
        XCTAssertEqual(c.model.numLayers, 2)
        XCTAssertEqual(c.model.bias, .pytorch)
        XCTAssertEqual(Set(c.givenKeys.filter { $0.hasPrefix("model.") }), ["model.hidden_size", "model.bias"])
        let d = try RunConfig.parse(
            yaml("data:\n  file: DATA\nmodel:\n  hidden_size: 8\n  num_layers: 3\n"), path: "j.yaml")
        XCTAssertEqual(d.model.layerWidths, [8, 8, 8])
        XCTAssertEqual(d.model.bias, .single)
        XCTAssertEqual(d.model.bias, BiasForm.default)
        let e = try RunConfig.parse(
            yaml("data:\n  file: DATA\nmodel:\n  hidden_size: [4, 4]\n  num_layers: 2\n"), path: "j.yaml")
        XCTAssertEqual(e.model.layerWidths, [4, 4])
    }

    func testHiddenSizeListErrors() {
        assertError(
            """
            model:
              hidden_size: []
            data:
              file: DATA
            """, key: "model.hidden_size", line: 2, column: 16, contains: "non-empty list of integers, found []")
        assertError(
            """
            model:
              hidden_size: [16, x]
            data:
              file: DATA
            """, key: "model.hidden_size", line: 2, column: 21, contains: "element 1: expected an integer")
        assertError(
            """
            model:
              hidden_size: [0, 8]
            data:
              file: DATA
            """, key: "model.hidden_size", line: 2, column: 17, contains: "element 0 must be ≥ 1 (got 0)")
        assertError(
            """
            model:
              hidden_size: [16, 8]
              num_layers: 3
            data:
              file: DATA
            """, key: "model.num_layers", line: 3, column: 15, contains: "is 3 but model.hidden_size lists 2 width(s)")
        assertError(
            """
            model:
              bias: double
            data:
              file: DATA
            """, key: "model.bias", line: 2, column: 9, contains: "'double' is not one of single, pytorch")
    }
}
