import Foundation
import LSTMKit
import XCTest

/// A file in Tests/LSTMKitTests/Fixtures, found from this source file's path (no SwiftPM resources).
func fixtureURL(_ name: String, sourceFile: StaticString = #filePath) -> URL {
    URL(fileURLWithPath: "\(sourceFile)").deletingLastPathComponent()
        .appendingPathComponent("Fixtures").appendingPathComponent(name)
}

/// Fixtures/optimizers.json, written by Fixtures/make_optimizer_fixtures.py.
struct OptimizerFixture: Decodable {
    struct Case: Decodable {
        let label: String
        let config: OptimizerConfig
        /// The 7 parameters after each of the 5 steps.
        let trajectory: [[Double]]
        /// torch's `optimizer.state[p]` tensors after the last step.
        let state: [String: [Double]]
    }

    let torch: String
    let initial: [Double]
    let gradients: [[Double]]
    let cases: [Case]

    static func load() throws -> OptimizerFixture {
        try JSONDecoder().decode(OptimizerFixture.self, from: Data(contentsOf: fixtureURL("optimizers.json")))
    }
}

final class OptimizerTests: XCTestCase {
    /// The smallest model arena (14 scalars); the fixture's 7 values are laid out twice, so
    /// every element of the arena is checked and both halves must agree.
    static let config = ModelConfig(input: .features(size: 1), hiddenSize: 1, numLayers: 1, outputSize: 1, loss: .mse)

    func arena<T: LSTMScalar>(_ values: [Double], _: T.Type) -> ParameterSet<T> {
        let set = ParameterSet<T>(config: Self.config)
        precondition(set.count == 2 * values.count, "fixture width does not fit the test arena")
        set.storage.copy(from: (values + values).map { T($0) })
        return set
    }

    func halves<T: LSTMScalar>(_ set: ParameterSet<T>) -> ([Double], [Double]) {
        let all = set.storage.toArray().map(Double.init)
        return (Array(all[..<(all.count / 2)]), Array(all[(all.count / 2)...]))
    }

    /// Runs `optimizer` over the fixture's gradients; returns the parameters after each step.
    func run<T: LSTMScalar>(
        _ optimizer: any Optimizer<T>, from initial: [Double], gradients: [[Double]]
    ) -> [[Double]] {
        let params = arena(initial, T.self)
        return gradients.map { g in
            optimizer.step(params, arena(g, T.self))
            let (a, b) = halves(params)
            XCTAssertEqual(a, b, "\(optimizer.name): the two copies of the fixture diverged")
            return a
        }
    }

    // MARK: - Agreement with PyTorch

    func testEveryConfigurationFollowsTorchTrajectoryInDouble() throws {
        let fixture = try OptimizerFixture.load()
        XCTAssertGreaterThanOrEqual(fixture.cases.count, 15)
        for c in fixture.cases {
            let optimizer: any Optimizer<Double> = try c.config.makeOptimizer(layout: ParameterLayout(Self.config))
            let got = run(optimizer, from: fixture.initial, gradients: fixture.gradients)
            for (step, (mine, theirs)) in zip(got, c.trajectory).enumerated() {
                let err = relativeError(mine, theirs)
                XCTAssertLessThanOrEqual(err, 1e-12, "\(c.label), step \(step + 1): relative error \(err)")
            }
            XCTAssertEqual(optimizer.stepCount, fixture.gradients.count, c.label)
        }
    }

    func testStateBuffersCarryTorchNamesAndValues() throws {
        let fixture = try OptimizerFixture.load()
        for c in fixture.cases {
            let optimizer: any Optimizer<Double> = try c.config.makeOptimizer(layout: ParameterLayout(Self.config))
            _ = run(optimizer, from: fixture.initial, gradients: fixture.gradients)
            let buffers = optimizer.stateBuffers
            XCTAssertEqual(Set(buffers.map(\.name)), Set(c.state.keys), c.label)
            for (name, buffer) in buffers {
                guard let reference = c.state[name] else { continue }
                let values = buffer.toArray()
                XCTAssertEqual(Array(values[..<7]), Array(values[7...]), "\(c.label) \(name)")
                let err = relativeError(Array(values[..<7]), reference)
                XCTAssertLessThanOrEqual(err, 1e-12, "\(c.label) state \(name): relative error \(err)")
            }
        }
    }

    func testFloatTrajectoryMatchesDoubleWithin1e6() throws {
        let fixture = try OptimizerFixture.load()
        let layout = ParameterLayout(Self.config)
        for c in fixture.cases {
            let single = run(
                try c.config.makeOptimizer(layout: layout, scalar: Float.self),
                from: fixture.initial, gradients: fixture.gradients)
            let double = run(
                try c.config.makeOptimizer(layout: layout, scalar: Double.self),
                from: fixture.initial, gradients: fixture.gradients)
            for (step, (f, d)) in zip(single, double).enumerated() {
                let err = relativeError(f, d)
                XCTAssertLessThanOrEqual(err, 1e-6, "\(c.label), step \(step + 1): Float vs Double \(err)")
            }
        }
    }

    // MARK: - Checkpoint state

    func testRestoringStateBuffersAndStepCountResumesBitwise() throws {
        let fixture = try OptimizerFixture.load()
        let layout = ParameterLayout(Self.config)
        let head = Array(fixture.gradients[..<2])
        let tail = Array(fixture.gradients[2...])
        for c in fixture.cases {
            let straight: any Optimizer<Double> = try c.config.makeOptimizer(layout: layout)
            let expected = run(straight, from: fixture.initial, gradients: fixture.gradients).last!

            let first: any Optimizer<Double> = try c.config.makeOptimizer(layout: layout)
            let midway = run(first, from: fixture.initial, gradients: head).last!
            // A fresh optimizer from the reported configuration, with the state copied in.
            let resumed: any Optimizer<Double> = try first.configuration.makeOptimizer(layout: layout)
            XCTAssertEqual(resumed.stateBuffers.map(\.name), first.stateBuffers.map(\.name), c.label)
            for ((_, to), (_, from)) in zip(resumed.stateBuffers, first.stateBuffers) { to.copy(from: from.toArray()) }
            resumed.stepCount = first.stepCount
            resumed.learningRate = first.learningRate
            let got = run(resumed, from: midway, gradients: tail).last!
            XCTAssertEqual(got, expected, c.label)
        }
    }

    func testSGDMomentumBufferStartsAtFirstGradientUndamped() {
        let layout = ParameterLayout(Self.config)
        let sgd = SGD<Double>(layout: layout, learningRate: 0.1, momentum: 0.9, dampening: 0.5)
        XCTAssertEqual(sgd.stateBuffers.map(\.name), ["momentum_buffer"])
        let params = arena([Double](repeating: 1, count: 7), Double.self)
        sgd.step(params, arena([Double](repeating: 2, count: 7), Double.self))
        XCTAssertEqual(sgd.momentumBuffer![0], 2)  // b = g, not (1 − τ)·g
        XCTAssertEqual(params.storage[0], 1 - 0.1 * 2, accuracy: 1e-15)
        sgd.step(params, arena([Double](repeating: 1, count: 7), Double.self))
        XCTAssertEqual(sgd.momentumBuffer![0], 0.9 * 2 + 0.5 * 1, accuracy: 1e-15)
        XCTAssertEqual(params.storage[13], 0.8 - 0.1 * 2.3, accuracy: 1e-15)
    }

    func testSGDWithoutLayoutAllocatesMomentumBufferAtFirstStep() {
        let sgd = SGD<Float>(learningRate: 0.1, momentum: 0.5)
        XCTAssertTrue(sgd.stateBuffers.isEmpty)
        sgd.step(
            arena([Double](repeating: 0, count: 7), Float.self), arena([Double](repeating: 1, count: 7), Float.self))
        XCTAssertEqual(sgd.stateBuffers.map(\.name), ["momentum_buffer"])
        XCTAssertEqual(sgd.stateBuffers[0].buffer.count, 14)
        XCTAssertTrue(SGD<Float>(learningRate: 0.1).stateBuffers.isEmpty)
    }

    func testStepLeavesGradientsUntouched() throws {
        let layout = ParameterLayout(Self.config)
        let configs = [
            OptimizerConfig(name: "sgd", ["lr": 0.1, "momentum": 0.9, "weight_decay": 0.1]),
            OptimizerConfig(name: "adam", ["weight_decay": 0.1]),
            OptimizerConfig(name: "adamw"),
            OptimizerConfig(name: "rmsprop", ["momentum": 0.5, "weight_decay": 0.1, "centered": true]),
            OptimizerConfig(name: "adagrad", ["weight_decay": 0.1])
        ]
        let g = [0.1, -0.4, 0.02, 1.5, -0.3, 0.0, 0.25]
        for config in configs {
            let optimizer: any Optimizer<Float> = try config.makeOptimizer(layout: layout)
            let grads = arena(g, Float.self)
            let params = arena([0.5, -1.2, 0.03, 2.0, -0.7, 0.0, 1.5], Float.self)
            optimizer.step(params, grads)
            optimizer.step(params, grads)
            XCTAssertEqual(grads.storage.toArray(), (g + g).map { Float($0) }, config.name)
            XCTAssertNotEqual(params.storage[0], 0.5, config.name)
        }
    }

    // MARK: - maximize

    /// torch.optim.Adam/AdamW(maximize=True) flip the gradient's sign before anything else; the
    /// expected trajectory is torch's update written out in Float64 (m by torch's lerp).
    func testAdamAndAdamWMaximizeFollowTorchsUpdateInDouble() throws {
        let initial = [0.5, -0.25, 1.5, 0.0, -2.0, 0.125, 3.0]
        let gradients = [[0.1, -0.2, 0.3, -0.4, 0.5, -0.6, 0.7], [-0.3, 0.2, 0.0, 0.9, -0.5, 0.25, 0.1]]
        let (lr, b1, b2, eps, wd) = (0.1, 0.9, 0.999, 1e-8, 0.05)
        for (name, decoupled) in [("adam", false), ("adamw", true)] {
            let config = OptimizerConfig(
                name: name, ["lr": .init(lr), "eps": .init(eps), "weight_decay": .init(wd), "maximize": true])
            let optimizer: any Optimizer<Double> = try config.makeOptimizer(layout: ParameterLayout(Self.config))
            var p = initial
            var m = [Double](repeating: 0, count: p.count)
            var v = m
            for (k, g) in gradients.enumerated() {
                let t = Double(k + 1)
                for i in p.indices {
                    if decoupled { p[i] *= 1 - lr * wd }
                    let d = -g[i] + (decoupled ? 0 : wd * p[i])
                    m[i] = m[i] + (1 - b1) * (d - m[i])
                    v[i] = v[i] * b2 + (1 - b2) * d * d
                    let bc1 = 1 - Foundation.pow(b1, t)
                    let bc2 = 1 - Foundation.pow(b2, t)
                    p[i] -= (lr / bc1) * m[i] / (v[i].squareRoot() / bc2.squareRoot() + eps)
                }
            }
            let got = run(optimizer, from: initial, gradients: gradients).last!
            XCTAssertLessThan(relativeError(got, p), 1e-12, "\(name) maximize: \(got) vs \(p)")
            let descent = run(
                try OptimizerConfig(name: name, ["lr": .init(lr), "weight_decay": .init(wd)]).makeOptimizer(
                    layout: ParameterLayout(Self.config), scalar: Double.self),
                from: initial, gradients: [gradients[0]]
            ).last!
            let ascent = run(
                try config.makeOptimizer(layout: ParameterLayout(Self.config), scalar: Double.self),
                from: initial, gradients: [gradients[0]]
            ).last!
            for i in initial.indices where gradients[0][i] != 0 {
                // The first step moves each weight by about lr against (descent) or along (ascent) its gradient.
                XCTAssertNotEqual((descent[i] - initial[i]).sign, (ascent[i] - initial[i]).sign, "\(name) [\(i)]")
            }
        }
    }

    // MARK: - Factory and configuration

    func testFactoryFillsInTorchDefaults() throws {
        let layout = ParameterLayout(Self.config)
        func made(_ name: String) throws -> OptimizerConfig {
            let optimizer: any Optimizer<Float> = try OptimizerConfig(name: name).makeOptimizer(layout: layout)
            XCTAssertEqual(optimizer.name, name.lowercased())
            return optimizer.configuration
        }
        XCTAssertEqual(
            try made("SGD"),
            OptimizerConfig(
                name: "sgd", ["lr": 1e-3, "momentum": 0, "dampening": 0, "nesterov": false, "weight_decay": 0]))
        XCTAssertEqual(
            try made("Adam"),
            OptimizerConfig(
                name: "adam",
                [
                    "lr": 1e-3, "weight_decay": 0, "betas": [0.9, 0.999], "eps": 1e-8, "amsgrad": false,
                    "maximize": false
                ]))
        XCTAssertEqual(
            try made("AdamW"),
            OptimizerConfig(
                name: "adamw",
                [
                    "lr": 1e-3, "weight_decay": 0.01, "betas": [0.9, 0.999], "eps": 1e-8, "amsgrad": false,
                    "maximize": false
                ]))
        XCTAssertEqual(
            try made("RMSprop"),
            OptimizerConfig(
                name: "rmsprop",
                ["lr": 1e-2, "momentum": 0, "weight_decay": 0, "eps": 1e-8, "alpha": 0.99, "centered": false]))
        XCTAssertEqual(
            try made("adagrad"),
            OptimizerConfig(
                name: "adagrad",
                ["lr": 1e-2, "weight_decay": 0, "eps": 1e-10, "lr_decay": 0, "initial_accumulator_value": 0]))
    }

    func testFactoryRejectsUnknownOptimizerName() {
        XCTAssertThrowsError(
            try OptimizerConfig(name: "adamax").makeOptimizer(
                layout: ParameterLayout(Self.config),
                scalar: Float.self)
        ) { error in
            XCTAssertEqual(error as? HyperparameterError, .unknownOptimizer("adamax"))
            XCTAssertTrue("\(error)".contains("known: sgd, adam, adamw, rmsprop, adagrad"), "\(error)")
        }
    }

    func testFactoryRejectsValuesTorchRejects() {
        let invalid: [(OptimizerConfig, String)] = [
            (OptimizerConfig(name: "sgd", ["lr": -0.1]), "lr"),
            (OptimizerConfig(name: "sgd", ["lr": .init(Double.nan)]), "lr"),
            (OptimizerConfig(name: "sgd", ["momentum": -0.9]), "momentum"),
            (OptimizerConfig(name: "sgd", ["nesterov": true]), "nesterov"),
            (OptimizerConfig(name: "sgd", ["momentum": 0.9, "dampening": 0.1, "nesterov": true]), "nesterov"),
            (OptimizerConfig(name: "sgd", ["weight_decay": -1e-4]), "weight_decay"),
            (OptimizerConfig(name: "adam", ["betas": [1.0, 0.999]]), "betas[0]"),
            (OptimizerConfig(name: "adam", ["betas": [0.9, -0.1]]), "betas[1]"),
            (OptimizerConfig(name: "adamw", ["betas": [0.9]]), "betas"),
            (OptimizerConfig(name: "adam", ["eps": -1e-8]), "eps"),
            (OptimizerConfig(name: "rmsprop", ["alpha": -0.5]), "alpha"),
            (OptimizerConfig(name: "rmsprop", ["momentum": -0.1]), "momentum"),
            (OptimizerConfig(name: "adagrad", ["lr_decay": -1]), "lr_decay"),
            (OptimizerConfig(name: "adagrad", ["initial_accumulator_value": -0.1]), "initial_accumulator_value")
        ]
        for (config, key) in invalid {
            XCTAssertThrowsError(try config.makeOptimizer(layout: ParameterLayout(Self.config), scalar: Double.self)) {
                guard case .invalidValue(let got, _, _)? = $0 as? HyperparameterError else {
                    return XCTFail("\(config): unexpected \($0)")
                }
                XCTAssertEqual(got, key, "\($0)")
            }
        }
        XCTAssertNoThrow(try OptimizerConfig(name: "sgd", ["momentum": 0.9, "nesterov": true]).validate())
        XCTAssertNoThrow(try OptimizerConfig(name: "adam", ["lr": 0, "betas": [0, 0]]).validate())
    }

    func testFactoryRejectsHyperparameterTheOptimizerDoesNotTake() {
        XCTAssertThrowsError(try OptimizerConfig(name: "adam", ["nesterov": true]).validate()) { error in
            guard case .unsupportedHyperparameter(let owner, let key, let accepted)? = error as? HyperparameterError
            else {
                return XCTFail("unexpected \(error)")
            }
            XCTAssertEqual(owner, "adam")
            XCTAssertEqual(key, "nesterov")
            XCTAssertEqual(accepted, ["lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"])
        }
        XCTAssertThrowsError(try OptimizerConfig(name: "sgd", ["eps": 1e-8]).validate())
        XCTAssertThrowsError(try OptimizerConfig(name: "adagrad", ["momentum": 0.9]).validate())
    }

    func testDecodingRejectsMisspeltHyperparameter() {
        let json = Data(#"{"name": "adamw", "lr": 0.001, "weight_decy": 0.1}"#.utf8)
        XCTAssertThrowsError(try JSONDecoder().decode(OptimizerConfig.self, from: json)) { error in
            guard case .unsupportedHyperparameter(_, let key, _)? = error as? HyperparameterError else {
                return XCTFail("unexpected \(error)")
            }
            XCTAssertEqual(key, "weight_decy")
        }
    }

    func testConfigurationRoundTripsThroughJSONUnderTorchKeys() throws {
        let config = OptimizerConfig(
            name: "adamw", ["lr": 3e-4, "weight_decay": 0.1, "betas": [0.9, 0.95], "amsgrad": true])
        let data = try JSONEncoder().encode(config)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(Set(object.keys), ["name", "lr", "weight_decay", "betas", "amsgrad"])
        XCTAssertEqual(try JSONDecoder().decode(OptimizerConfig.self, from: data), config)
        let adagrad = OptimizerConfig(name: "adagrad", ["lr_decay": 0.1, "initial_accumulator_value": 0.5])
        let keys = try XCTUnwrap(JSONSerialization.jsonObject(with: JSONEncoder().encode(adagrad)) as? [String: Any])
            .keys
        XCTAssertEqual(Set(keys), ["name", "lr_decay", "initial_accumulator_value"])
    }

    // MARK: - Clipping

    func testClipGradientNormScalesToMaxNormAndReturnsTheNorm() {
        let grads = arena([3, 0, 0, 0, 0, 0, 0], Double.self)  // two copies: ‖g‖ = √18
        let norm = clipGradientNorm(grads, maxNorm: 1)
        XCTAssertEqual(norm, 18.0.squareRoot(), accuracy: 1e-15)
        let coefficient = 1 / (18.0.squareRoot() + 1e-6)
        XCTAssertEqual(grads.storage[0], 3 * coefficient, accuracy: 1e-15)
        XCTAssertEqual(grads.storage[7], 3 * coefficient, accuracy: 1e-15)
        XCTAssertEqual(grads.storage[1], 0)
        XCTAssertEqual(clipGradientNorm(grads, maxNorm: 1), 1, accuracy: 1e-6)
    }

    func testClipGradientNormLeavesGradientsBelowTheBoundUntouched() {
        let g: [Double] = [0.3, -0.4, 0, 0, 0, 0, 0]  // ‖g‖ = √0.5
        let grads = arena(g, Double.self)
        XCTAssertEqual(clipGradientNorm(grads, maxNorm: 1), 0.5.squareRoot(), accuracy: 1e-15)
        XCTAssertEqual(grads.storage.toArray(), g + g)
        // torch's +1e-6 means a norm exactly at the bound is still scaled, by c = m/(m + 1e-6).
        let m = 0.5.squareRoot()
        clipGradientNorm(grads, maxNorm: m)
        XCTAssertEqual(grads.storage[0], 0.3 * (m / (m + 1e-6)), accuracy: 1e-16)
        XCTAssertLessThan(grads.storage[0], 0.3)
    }

    func testClipGradientNormAccumulatesInDouble() {
        // 1e20² overflows Float; the norm must still come out as 1e20·√14.
        let grads = arena([Double](repeating: 1e20, count: 7), Float.self)
        let norm = clipGradientNorm(grads, maxNorm: 1)
        let expected = Double(Float(1e20)) * 14.0.squareRoot()
        XCTAssertEqual(norm, expected, accuracy: 1e-12 * expected)
        XCTAssertEqual(Double(grads.storage[3]), 1 / 14.0.squareRoot(), accuracy: 1e-6)
    }

    func testClipGradientNormWithNaNMakesEveryGradientNaNLikeTorch() {
        let grads = arena([1, 2, .nan, 0, 0, 0, 0], Double.self)
        XCTAssertTrue(clipGradientNorm(grads, maxNorm: 1).isNaN)
        XCTAssertTrue(grads.storage.toArray().allSatisfy(\.isNaN))
    }

    func testClipGradientValueClampsEachGradient() {
        let grads = arena([-3, -0.5, 0.5, 3, 1, -1, .nan], Float.self)
        clipGradientValue(grads, clipValue: 1)
        let got = grads.storage.toArray()
        XCTAssertEqual(Array(got[..<6]), [-1, -0.5, 0.5, 1, 1, -1])
        XCTAssertTrue(got[6].isNaN)
        XCTAssertEqual(Array(got[7..<13]), [-1, -0.5, 0.5, 1, 1, -1])
    }
}
