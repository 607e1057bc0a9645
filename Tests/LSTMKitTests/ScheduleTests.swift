import Foundation
import LSTMKit
import XCTest

/// Fixtures/schedules.json, written by Fixtures/make_optimizer_fixtures.py.
struct ScheduleFixture: Decodable {
    struct Case: Decodable {
        let label: String
        let schedule: LearningRateSchedule
        /// torch's learning rate for steps 0 … 30.
        let lrs: [Double]
    }

    struct PlateauCase: Decodable {
        let label: String
        let config: ReduceLROnPlateau.Configuration
        /// torch's learning rate after each metric of `plateau_metrics`.
        let lrs: [Double]
    }

    let torch: String
    let baseLR: Double
    let plateauMetrics: [Double]
    let schedules: [Case]
    let plateau: [PlateauCase]

    enum CodingKeys: String, CodingKey {
        case torch, schedules, plateau
        case baseLR = "base_lr"
        case plateauMetrics = "plateau_metrics"
    }

    static func load() throws -> ScheduleFixture {
        try JSONDecoder().decode(ScheduleFixture.self, from: Data(contentsOf: fixtureURL("schedules.json")))
    }
}

final class ScheduleTests: XCTestCase {
    func testStepDrivenSchedulesFollowTorch() throws {
        let fixture = try ScheduleFixture.load()
        XCTAssertEqual(Set(fixture.schedules.map(\.schedule.name)), Set(LearningRateSchedule.names))
        for c in fixture.schedules {
            XCTAssertEqual(c.lrs.count, 31, c.label)
            for (t, expected) in c.lrs.enumerated() {
                let got = c.schedule.learningRate(at: t, base: fixture.baseLR)
                // torch's step() uses recursive updates, ours closed forms: equal to rounding.
                XCTAssertLessThanOrEqual(
                    abs(got - expected), 1e-12 * max(abs(got), abs(expected)) + 1e-18,
                    "\(c.label), step \(t): \(got) vs torch \(expected)")
            }
        }
    }

    func testPlateauFollowsTorch() throws {
        let fixture = try ScheduleFixture.load()
        for c in fixture.plateau {
            var plateau = try ReduceLROnPlateau(learningRate: fixture.baseLR, configuration: c.config)
            let got = fixture.plateauMetrics.map { plateau.step(metric: $0) }
            XCTAssertEqual(got, c.lrs, c.label)
            XCTAssertEqual(plateau.state.lastEpoch, fixture.plateauMetrics.count)
        }
    }

    func testWarmupRisesLinearlyFromStartFactorToBase() throws {
        let schedule = try LearningRateSchedule(.exponential(gamma: 0.5), warmupSteps: 4, warmupStartFactor: 0.2)
        let lrs = (0...5).map { schedule.learningRate(at: $0, base: 1) }
        for (got, expected) in zip(lrs, [0.2, 0.4, 0.6, 0.8, 1, 0.5]) {
            XCTAssertEqual(got, expected, accuracy: 1e-15)
        }
        XCTAssertEqual(
            try LearningRateSchedule(.constant, warmupSteps: 3).learningRate(at: 0, base: 0.3), 0.1, accuracy: 1e-16)
    }

    func testCosineReachesEtaMinAtTMaxAndClimbsBackAfter() throws {
        let schedule = try LearningRateSchedule(.cosine(tMax: 10, etaMin: 0.01))
        XCTAssertEqual(schedule.learningRate(at: 0, base: 0.5), 0.5)
        XCTAssertEqual(schedule.learningRate(at: 5, base: 0.5), 0.255, accuracy: 1e-15)
        XCTAssertEqual(schedule.learningRate(at: 10, base: 0.5), 0.01, accuracy: 1e-15)
        XCTAssertEqual(schedule.learningRate(at: 20, base: 0.5), 0.5, accuracy: 1e-15)
    }

    func testStepDecayDropsEveryStepSizeSteps() throws {
        let schedule = try LearningRateSchedule(.step(stepSize: 2, gamma: 0.1))
        XCTAssertEqual(
            (0..<6).map { schedule.learningRate(at: $0, base: 1) },
            [1, 1, 0.1, 0.1, 0.010000000000000002, 0.010000000000000002])
        XCTAssertEqual(LearningRateSchedule.constant.learningRate(at: 1_000_000, base: 0.25), 0.25)
    }

    func testScheduleJSONRoundTripsUnderTorchKeys() throws {
        let schedules = [
            LearningRateSchedule.constant,
            try LearningRateSchedule(.step(stepSize: 3, gamma: 0.5)),
            try LearningRateSchedule(.exponential(gamma: 0.9), warmupSteps: 2, warmupStartFactor: 0.5),
            try LearningRateSchedule(.cosine(tMax: 100, etaMin: 1e-5), warmupSteps: 10, warmupStartFactor: 0.1)
        ]
        for s in schedules {
            let data = try JSONEncoder().encode(s)
            XCTAssertEqual(try JSONDecoder().decode(LearningRateSchedule.self, from: data), s)
        }
        let cosine = try JSONSerialization.jsonObject(with: JSONEncoder().encode(schedules[3])) as? [String: Any]
        XCTAssertEqual(
            Set(cosine?.keys.map { $0 } ?? []), ["name", "T_max", "eta_min", "warmup_steps", "warmup_start_factor"])
        // torch's defaults for omitted keys: StepLR gamma 0.1, eta_min 0, LinearLR start_factor 1/3.
        let decoded = try JSONDecoder().decode(
            LearningRateSchedule.self, from: Data(#"{"name":"step","step_size":4,"warmup_steps":2}"#.utf8))
        XCTAssertEqual(
            decoded,
            try LearningRateSchedule(.step(stepSize: 4, gamma: 0.1), warmupSteps: 2, warmupStartFactor: 1.0 / 3))
    }

    func testInvalidSchedulesThrow() {
        let invalid: [(() throws -> LearningRateSchedule, String)] = [
            ({ try LearningRateSchedule(.step(stepSize: 0, gamma: 0.5)) }, "step_size"),
            ({ try LearningRateSchedule(.step(stepSize: 2, gamma: .nan)) }, "gamma"),
            ({ try LearningRateSchedule(.exponential(gamma: -0.5)) }, "gamma"),
            ({ try LearningRateSchedule(.cosine(tMax: 0)) }, "T_max"),
            ({ try LearningRateSchedule(.cosine(tMax: 5, etaMin: -1)) }, "eta_min"),
            ({ try LearningRateSchedule(.constant, warmupSteps: -1) }, "warmup_steps"),
            ({ try LearningRateSchedule(.constant, warmupSteps: 5, warmupStartFactor: 0) }, "warmup_start_factor"),
            ({ try LearningRateSchedule(.constant, warmupSteps: 5, warmupStartFactor: 1.5) }, "warmup_start_factor"),
            ({ try self.decode(#"{"name":"exponential"}"#) }, "gamma")
        ]
        for (make, key) in invalid {
            XCTAssertThrowsError(try make()) {
                guard case .invalidValue(let got, _, _)? = $0 as? HyperparameterError else { return XCTFail("\($0)") }
                XCTAssertEqual(got, key, "\($0)")
            }
        }
        XCTAssertThrowsError(try decode(#"{"name":"cyclic"}"#)) {
            XCTAssertEqual($0 as? HyperparameterError, .unknownSchedule("cyclic"))
        }
        XCTAssertThrowsError(try decode(#"{"name":"exponential","gamma":0.9,"T_max":10}"#)) {
            guard case .unsupportedHyperparameter(let owner, let key, _)? = $0 as? HyperparameterError else {
                return XCTFail("\($0)")
            }
            XCTAssertEqual([owner, key], ["exponential", "T_max"])
        }
    }

    func decode(_ json: String) throws -> LearningRateSchedule {
        try JSONDecoder().decode(LearningRateSchedule.self, from: Data(json.utf8))
    }

    func testPlateauRejectsFactorOfOneAndNegativeCounts() {
        // torch's check
        XCTAssertThrowsError(try ReduceLROnPlateau(learningRate: 0.1, configuration: .init(factor: 1)))
        XCTAssertThrowsError(try ReduceLROnPlateau(learningRate: 0.1, configuration: .init(patience: -1)))
        XCTAssertThrowsError(try ReduceLROnPlateau(learningRate: 0.1, configuration: .init(cooldown: -2)))
        XCTAssertThrowsError(try ReduceLROnPlateau(learningRate: -0.1))
        XCTAssertThrowsError(
            try JSONDecoder().decode(
                ReduceLROnPlateau.Configuration.self,
                from: Data(#"{"mode":"min","patient":3}"#.utf8)))
        XCTAssertThrowsError(
            try JSONDecoder().decode(
                ReduceLROnPlateau.Configuration.self,
                from: Data(#"{"mode":"lowest"}"#.utf8)))
    }

    func testPlateauStateRoundTripsThroughJSONAndResumesIdentically() throws {
        let fixture = try ScheduleFixture.load()
        let c = fixture.plateau[1]
        var original = try ReduceLROnPlateau(learningRate: fixture.baseLR, configuration: c.config)
        // Encodable before any metric (best is absent, not ±inf, which JSON cannot hold).
        XCTAssertEqual(try JSONDecoder().decode(ReduceLROnPlateau.self, from: JSONEncoder().encode(original)), original)
        for m in fixture.plateauMetrics[..<7] { original.step(metric: m) }
        var restored = try JSONDecoder().decode(ReduceLROnPlateau.self, from: JSONEncoder().encode(original))
        XCTAssertEqual(restored, original)
        let rest = fixture.plateauMetrics[7...]
        XCTAssertEqual(rest.map { restored.step(metric: $0) }, Array(c.lrs[7...]))
    }
}
