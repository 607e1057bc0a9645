import Foundation
import LSTMKit
import XCTest

/// The JSON form (checkpoints store it) uses exactly the hyperparameter table's keys.
final class OptimizerConfigCodingTests: XCTestCase {
    func testEveryTableKeyRoundTripsThroughJSONUnderItsOwnName() throws {
        for (name, table) in OptimizerConfig.hyperparameters {
            let values = Dictionary(uniqueKeysWithValues: table.map { ($0.key, $0.defaults) })
            let config = OptimizerConfig(name: name, values: values)
            XCTAssertEqual(Set(config.values.keys), Set(table.map(\.key)), name)
            let data = try JSONEncoder().encode(config)
            let object = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
            XCTAssertEqual(Set(object.keys), Set(table.map(\.codingKey) + ["name"]), name)
            XCTAssertEqual(try JSONDecoder().decode(OptimizerConfig.self, from: data), config, name)
            XCTAssertNoThrow(try config.validate(), name)
        }
    }

    func testScheduleJSONTakesTheTableCodingKeys() throws {
        let json = #"{"name": "cosine", "T_max": 5, "eta_min": 0.1, "warmup_steps": 2, "warmup_start_factor": 0.5}"#
        let keys =
            ScheduleConfig.hyperparameters["cosine"]!.map(\.codingKey)
            + ScheduleConfig.warmupHyperparameters.map(\.codingKey)
        let decoded = try JSONDecoder().decode(LearningRateSchedule.self, from: Data(json.utf8))
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: JSONEncoder().encode(decoded)) as? [String: Any])
        XCTAssertEqual(Set(object.keys), Set(keys + ["name"]))
    }
}
