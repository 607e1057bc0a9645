import Foundation
@_spi(Reference) import LSTMKit
import XCTest

/// The Float SIMD8 passes of Adam/AdamW, RMSprop and Adagrad against their scalar reference loops,
/// bit for bit, over several steps on arenas of 37, 1000 and 1003 scalars (tails of 5, 0 and 3
/// elements) with random gradients including zeros, large and tiny values; and clipping's order.
final class OptimizerSIMDTests: XCTestCase {
    /// Token-input models whose arenas hold exactly 37, 1000 and 1003 scalars
    /// (V·E + 4(E + 2) + 2 with H = O = 1).
    static let configs = [(23, 1), (95, 10), (327, 3)].map { v, e in
        ModelConfig(
            input: .tokens(vocabulary: v, embedding: e), hiddenSize: 1, numLayers: 1, outputSize: 1,
            loss: .mse)
    }

    /// Steps compared per configuration and arena size.
    static let steps = 6

    /// A random value: 15% zeros, 10% large (up to ±1e15), 5% tiny (down to subnormal), else N(0, 1).
    static func value(_ rng: inout RandomSource) -> Float {
        let u = rng.nextUnit()
        let sign: Float = rng.nextUnit() < 0.5 ? -1 : 1
        if u < 0.15 { return 0 }
        if u < 0.25 { return sign * Float(Foundation.pow(10, rng.uniform(2, 15))) }
        if u < 0.30 { return sign * Float(Foundation.pow(10, rng.uniform(-42, -30))) }
        return Float(rng.normal())
    }

    /// An arena for `config` filled with `value`s.
    static func randomArena(_ config: ModelConfig, _ rng: inout RandomSource) -> ParameterSet<Float> {
        let set = ParameterSet<Float>(config: config)
        for i in 0..<set.count { set.storage[i] = value(&rng) }
        return set
    }

    /// Makes `optimizer` run its scalar reference loop.
    static func forceScalarReference(_ optimizer: any Optimizer<Float>) {
        if let o = optimizer as? Adam<Float> {
            o.scalarReference = true
        } else if let o = optimizer as? RMSprop<Float> {
            o.scalarReference = true
        } else if let o = optimizer as? Adagrad<Float> {
            o.scalarReference = true
        } else {
            XCTFail("\(optimizer.name) has no scalar reference switch")
        }
    }

    /// Fails unless `fast` and `reference` hold the same bits everywhere and are all finite
    /// (bit equality alone would let matching NaNs through).
    static func assertBitwiseEqual(
        _ fast: [Float], _ reference: [Float], _ what: String,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        guard fast.count == reference.count else {
            return XCTFail("\(what): \(fast.count) vs \(reference.count) elements", file: file, line: line)
        }
        if let i = fast.indices.first(where: { fast[$0].bitPattern != reference[$0].bitPattern }) {
            XCTFail(
                "\(what): element \(i) of \(fast.count) differs: SIMD \(fast[i]) vs scalar \(reference[i])",
                file: file, line: line)
        }
        if let i = fast.indices.first(where: { !fast[$0].isFinite }) {
            XCTFail("\(what): element \(i) is \(fast[i])", file: file, line: line)
        }
    }

    /// Steps a SIMD and a scalar-reference optimizer made from `config` side by side and compares
    /// parameters and every state buffer bitwise after each step, for each arena size.
    func checkBitwise(_ config: OptimizerConfig, file: StaticString = #filePath, line: UInt = #line) throws {
        for model in Self.configs {
            let layout = ParameterLayout(model)
            let fast: any Optimizer<Float> = try config.makeOptimizer(layout: layout)
            let reference: any Optimizer<Float> = try config.makeOptimizer(layout: layout)
            Self.forceScalarReference(reference)
            var rng = RandomSource(seed: UInt64(layout.count))
            let pFast = Self.randomArena(model, &rng)
            let pRef = ParameterSet<Float>(config: model)
            let initial = pFast.storage.toArray()
            pRef.storage.copy(from: initial)
            for step in 1...Self.steps {
                let grads = Self.randomArena(model, &rng)
                let before = grads.storage.toArray()
                fast.step(pFast, grads)
                reference.step(pRef, grads)
                let what = "\(config.name) \(layout.count) scalars, step \(step)"
                Self.assertBitwiseEqual(grads.storage.toArray(), before, "\(what): gradients", file: file, line: line)
                Self.assertBitwiseEqual(
                    pFast.storage.toArray(), pRef.storage.toArray(), "\(what): parameters",
                    file: file, line: line)
                XCTAssertEqual(
                    fast.stateBuffers.map(\.name), reference.stateBuffers.map(\.name), what,
                    file: file, line: line)
                for ((name, a), (_, b)) in zip(fast.stateBuffers, reference.stateBuffers) {
                    Self.assertBitwiseEqual(a.toArray(), b.toArray(), "\(what): \(name)", file: file, line: line)
                }
            }
            XCTAssertNotEqual(
                pFast.storage.toArray(), initial, "\(config.name): the parameters did not move",
                file: file, line: line)
        }
    }

    // MARK: - Adam

    func testAdamSIMDMatchesScalarBitwise() throws {
        try checkBitwise(OptimizerConfig(name: "adam", ["lr": 0.01]))
    }

    func testAdamWeightDecaySIMDMatchesScalarBitwise() throws {
        try checkBitwise(OptimizerConfig(name: "adam", ["lr": 0.01, "weight_decay": 0.1]))
    }

    func testAdamAmsgradSIMDMatchesScalarBitwise() throws {
        try checkBitwise(OptimizerConfig(name: "adam", ["lr": 0.01, "amsgrad": true]))
    }

    func testAdamAmsgradWeightDecaySIMDMatchesScalarBitwise() throws {
        try checkBitwise(OptimizerConfig(name: "adam", ["lr": 0.01, "weight_decay": 0.1, "amsgrad": true]))
    }

    func testAdamMaximizeSIMDMatchesScalarBitwise() throws {
        try checkBitwise(OptimizerConfig(name: "adam", ["lr": 0.01, "weight_decay": 0.1, "maximize": true]))
        try checkBitwise(OptimizerConfig(name: "adamw", ["lr": 0.01, "amsgrad": true, "maximize": true]))
    }

    /// β₁ ≤ 0.5 takes torch's other lerp formula.
    func testAdamSmallBeta1SIMDMatchesScalarBitwise() throws {
        try checkBitwise(
            OptimizerConfig(name: "adam", ["lr": 0.01, "weight_decay": 0.1, "betas": [0.3, 0.9], "eps": 1e-6]))
    }

    // MARK: - AdamW

    func testAdamWSIMDMatchesScalarBitwise() throws {
        try checkBitwise(OptimizerConfig(name: "adamw", ["lr": 0.01]))
    }

    func testAdamWAmsgradSIMDMatchesScalarBitwise() throws {
        try checkBitwise(OptimizerConfig(name: "adamw", ["lr": 0.01, "weight_decay": 0.2, "amsgrad": true]))
    }

    func testAdamWWithoutDecaySIMDMatchesScalarBitwise() throws {
        try checkBitwise(OptimizerConfig(name: "adamw", ["lr": 0.01, "weight_decay": 0]))
    }

    func testAdamWSmallBeta1SIMDMatchesScalarBitwise() throws {
        try checkBitwise(OptimizerConfig(name: "adamw", ["lr": 0.01, "betas": [0.2, 0.99], "amsgrad": true]))
    }

    // MARK: - RMSprop

    func testRMSpropSIMDMatchesScalarBitwise() throws {
        try checkBitwise(OptimizerConfig(name: "rmsprop"))
    }

    func testRMSpropWeightDecaySIMDMatchesScalarBitwise() throws {
        try checkBitwise(OptimizerConfig(name: "rmsprop", ["weight_decay": 0.1]))
    }

    func testRMSpropCenteredSIMDMatchesScalarBitwise() throws {
        try checkBitwise(OptimizerConfig(name: "rmsprop", ["centered": true]))
    }

    func testRMSpropMomentumSIMDMatchesScalarBitwise() throws {
        try checkBitwise(OptimizerConfig(name: "rmsprop", ["momentum": 0.9]))
    }

    func testRMSpropCenteredMomentumWeightDecaySIMDMatchesScalarBitwise() throws {
        try checkBitwise(OptimizerConfig(name: "rmsprop", ["momentum": 0.5, "weight_decay": 0.1, "centered": true]))
    }

    /// α ≥ 0.5 off: 1 − α > 0.5 takes torch's other lerp formula for ḡ.
    func testRMSpropSmallAlphaCenteredSIMDMatchesScalarBitwise() throws {
        try checkBitwise(OptimizerConfig(name: "rmsprop", ["momentum": 0.9, "alpha": 0.4, "centered": true]))
    }

    // MARK: - Adagrad

    func testAdagradSIMDMatchesScalarBitwise() throws {
        try checkBitwise(OptimizerConfig(name: "adagrad"))
    }

    func testAdagradLearningRateDecaySIMDMatchesScalarBitwise() throws {
        try checkBitwise(OptimizerConfig(name: "adagrad", ["lr_decay": 0.1]))
    }

    func testAdagradWeightDecaySIMDMatchesScalarBitwise() throws {
        try checkBitwise(OptimizerConfig(name: "adagrad", ["weight_decay": 0.1]))
    }

    func testAdagradAllOptionsSIMDMatchesScalarBitwise() throws {
        try checkBitwise(
            OptimizerConfig(
                name: "adagrad", ["weight_decay": 0.1, "eps": 1e-6, "lr_decay": 0.1, "initial_accumulator_value": 0.1]))
    }

    // MARK: - Clipping

    /// The norm's summation order is pinned: per block of 256 elements (`ArenaSlices.block`) four
    /// partial sums over i mod 4, the tail into the first, combined as (s₀ + s₁) + (s₂ + s₃); then the
    /// block sums added in block order. So it is bitwise reproducible, does not depend on thread
    /// count, and ranks holding slices of the arena combine their blocks into the same bits.
    func testGradientNormSumsInItsDocumentedOrderBitwise() {
        for model in Self.configs {
            var rng = RandomSource(seed: 7)
            let grads = Self.randomArena(model, &rng)
            let g = grads.storage.toArray().map(Double.init)
            var total = 0.0
            for start in stride(from: 0, to: g.count, by: 256) {
                let end = min(g.count, start + 256)
                var s = [0.0, 0.0, 0.0, 0.0]
                let body = start + (end - start) - (end - start) % 4
                for i in start..<body { s[(i - start) % 4] += g[i] * g[i] }
                for i in body..<end { s[0] += g[i] * g[i] }
                total += (s[0] + s[1]) + (s[2] + s[3])
            }
            let expected = total.squareRoot()
            let norm = gradientNorm(grads)
            XCTAssertTrue(norm.isFinite, "\(g.count) scalars: norm \(norm)")
            XCTAssertEqual(norm.bitPattern, expected.bitPattern, "\(g.count) scalars: \(norm) vs \(expected)")
            // The blocks' sums as ranks compute them, added in block order, give the same bits.
            let blocks = ArenaSlices(count: grads.count, worldSize: 1).blocks
            var sums = [Double](repeating: 0, count: blocks)
            for r in 0..<3 {
                let slices = ArenaSlices(count: grads.count, worldSize: 3)
                sums.withUnsafeMutableBufferPointer {
                    blockSumsOfSquares(grads, blocks: slices.blockRange(r), into: $0.baseAddress!)
                }
            }
            XCTAssertEqual(sums.reduce(0, +).squareRoot().bitPattern, norm.bitPattern)
        }
    }

    func testValueClippingKeepsNaNInEveryLane() {
        let grads = ParameterSet<Float>(config: Self.configs[0])
        for i in 0..<grads.count { grads.storage[i] = i % 3 == 0 ? .nan : Float(i) - 18 }
        clipGradientValue(grads, clipValue: 2)
        for i in 0..<grads.count {
            let x = grads.storage[i]
            if i % 3 == 0 {
                XCTAssertTrue(x.isNaN, "element \(i)")
            } else {
                XCTAssertEqual(x, min(max(Float(i) - 18, -2), 2), "element \(i)")
            }
        }
    }
}
