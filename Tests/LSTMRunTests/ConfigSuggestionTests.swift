import Foundation
import LSTMKit
import TensorBoardProto
import XCTest

@testable import LSTMRun

/// Every problem of a config in one report; an unknown key points to the key meant, in any section.
final class ConfigSuggestionTests: XCTestCase {
    func problems(_ text: String, overrides: [String] = []) -> [ConfigError] {
        do {
            _ = try RunConfig.parse(
                "data: {file: d.h5, generate: {task: adding}}\n" + text, path: "job.yaml", overrides: overrides)
            XCTFail("accepted: \(text)")
            return []
        } catch let e as ConfigError {
            return ([e] + e.more).map { one in
                var alone = one
                alone.more = []
                return alone
            }
        } catch {
            XCTFail("\(error)")
            return []
        }
    }

    func testAKeyInTheWrongSectionPointsToWhereItBelongs() {
        XCTAssertEqual(
            problems("training:\n  lr: 0.1\n").map(\.description),
            ["job.yaml:3:3: training.lr: unknown key (did you mean optimizer.lr?)"])
        XCTAssertEqual(
            problems("training:\n  learning_rate: 0.1\n").map(\.description),
            ["job.yaml:3:3: training.learning_rate: unknown key (did you mean optimizer.lr?)"])
        XCTAssertEqual(
            problems("hidden_size: 8\n").map(\.description),
            ["job.yaml:2:1: hidden_size: unknown key (did you mean model.hidden_size?)"])
        XCTAssertEqual(
            problems("model:\n  batch_size: 8\n").map(\.description),
            ["job.yaml:3:3: model.batch_size: unknown key (did you mean data.batch_size?)"])
        // A name in several sections: each is offered.
        XCTAssertEqual(
            problems("model:\n  every: 8\n").map(\.description),
            [
                "job.yaml:3:3: model.every: unknown key (did you mean checkpoint.every, logging.every or validation.every?)"
            ])
        // A close name in the same section comes first; nothing close anywhere: no suggestion.
        XCTAssertEqual(problems("model:\n  hiden_size: 8\n").first?.message, "unknown key (did you mean hidden_size?)")
        XCTAssertEqual(problems("model:\n  colour: red\n").first?.message, "unknown key")
    }

    func testEveryAliasNamesAKeyAConfigMayHold() {
        for (alias, key) in RunConfig.keyAliases {
            XCTAssertTrue(RunConfig.everyKey.contains(key), "\(alias) → \(key), which is not a key")
            XCTAssertFalse(RunConfig.everyKey.contains(alias), "\(alias) is itself a key")
        }
        XCTAssertTrue(RunConfig.everyKey.isSuperset(of: ["optimizer.momentum", "schedule.t_max", "model.hidden_size"]))
    }

    func testEveryProblemIsReportedInTheOrderOfTheFile() {
        let found = problems(
            """
            optimizer: {name: adamm}
            model:
              hiden_size: 4
              num_layers: 0
            training: {epochs: 0, learning_rate: 1}
            """, overrides: ["seed=-1", "model.colour=red"])
        XCTAssertEqual(
            found.map(\.description),
            [
                "job.yaml:2:19: optimizer.name: 'adamm' is not one of adagrad, adam, adamw, rmsprop, sgd (did you mean adam?)",
                "job.yaml:4:3: model.hiden_size: unknown key (did you mean hidden_size?)",
                "job.yaml:5:15: model.num_layers: must be ≥ 1 (got 0)",
                "job.yaml:6:20: training.epochs: must be ≥ 1 (got 0)",
                "job.yaml:6:23: training.learning_rate: unknown key (did you mean optimizer.lr?)",
                "job.yaml (--set seed=-1): seed: must be ≥ 0 (got -1)",
                "job.yaml (--set model.colour=red): model.colour: unknown key"
            ])
    }

    func testEpochsAndStepsTogetherAreOneError() {
        XCTAssertEqual(
            problems("training:\n  epochs: 2\n  steps: 5\n").map(\.description),
            [
                "job.yaml:4:10: training.steps: and training.epochs (line 3) are both given, but a run's length is one "
                    + "or the other: keep epochs (passes over the training split) or steps (optimizer steps) and remove the other"
            ])
    }

    func testSetOfOneRunLengthReplacesTheOther() throws {
        let text = "data: {file: d.h5, generate: {task: adding}}\ntraining: {epochs: 3}\n"
        let c = try RunConfig.parse(text, path: "job.yaml", overrides: ["training.steps=7"])
        XCTAssertEqual(c.training.steps, 7)
        XCTAssertFalse(c.sourceText.contains("epochs"), c.sourceText)
        let d = try RunConfig.parse(
            "data: {file: d.h5, generate: {task: adding}}\ntraining: {steps: 3}\n", path: "job.yaml",
            overrides: ["training.epochs=2"])
        XCTAssertEqual(d.training.epochs, 2)
        XCTAssertNil(d.training.steps)
    }

    func testTensorBoardKeyIsOffADirectoryOrTheRunDirectory() throws {
        func place(_ v: String) throws -> RunConfig.TensorBoardPlace? {
            try RunConfig.parse(
                "data: {file: d.h5, generate: {task: adding}}\nlogging: {tensorboard: \(v)}\n", path: "job.yaml"
            ).logging.tensorBoard
        }
        XCTAssertEqual(try place("true"), .runDirectory)
        XCTAssertEqual(try place("false"), nil)
        XCTAssertEqual(try place("null"), nil)
        XCTAssertEqual(try place("tb/run1"), .directory("tb/run1"))
        XCTAssertEqual(
            problems("logging: {tensorboard: [1]}\n").map(\.description),
            ["job.yaml:2:24: logging.tensorboard: expected a string, found a list"])
    }
}

/// TFRecord framing of the TensorBoard event files.
final class EventFileTests: XCTestCase {
    func testCRC32CMatchesTheCastagnoliCheckValue() {
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
    }

    func testEventsRoundTripAndACorruptedByteIsRefused() throws {
        let events = [
            TensorBoardLog.header(wallTime: 1.5),
            TensorBoardLog.scalars([("train_loss", 0.25), ("lr", 0.001)], step: 7, wallTime: 2.5)
        ]
        var file = Data()
        for e in events { file.append(EventFile.record(try e.serializedData())) }
        let read = try EventFile.events(in: file)
        XCTAssertEqual(read, events)
        XCTAssertEqual(read[1].summary.value.map(\.tag), ["train_loss", "lr"])
        XCTAssertEqual(read[1].summary.value[0].simpleValue, 0.25)
        for k in [3, 10, 20, file.count - 1] {
            var bad = file
            bad[k] ^= 0x01
            XCTAssertThrowsError(try EventFile.events(in: bad), "a flipped bit at byte \(k)")
        }
        XCTAssertThrowsError(try EventFile.events(in: file.dropLast(3)))
    }
}
