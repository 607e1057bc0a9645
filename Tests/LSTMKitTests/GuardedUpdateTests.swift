import Foundation
import XCTest

@testable import LSTMKit

/// `Trainer`'s guarded update: the optimizer's step, its backup and its finite check run in parts on
/// several threads; the result is the optimizer's own whole step, bit for bit, and a non-finite
/// value anywhere undoes every part.
final class GuardedUpdateTests: XCTestCase {
    /// A token-input model whose arena holds 140,410 scalars (V·E + 4(E + 2) + 2 with H = O = 1):
    /// 9 parts, so two threads take four and five (one rank's slice: 5 parts, one thread).
    static let model = ModelConfig(
        input: .tokens(vocabulary: 1400, embedding: 100), hiddenSize: 1, numLayers: 1, outputSize: 1, loss: .mse)

    /// Every built-in optimizer, with the options that change its element-wise pass.
    static let optimizers: [OptimizerConfig] = [
        OptimizerConfig(name: "adam", values: ["lr": [0.01]]),
        OptimizerConfig(name: "adam", values: ["lr": [0.01], "amsgrad": [1], "weight_decay": [0.1]]),
        OptimizerConfig(name: "adamw", values: ["lr": [0.01]]),
        OptimizerConfig(name: "sgd", values: ["lr": [0.1]]),
        OptimizerConfig(name: "sgd", values: ["lr": [0.1], "momentum": [0.9], "nesterov": [1]]),
        OptimizerConfig(name: "sgd", values: ["lr": [0.1], "momentum": [0.9], "dampening": [0.5]]),
        OptimizerConfig(name: "rmsprop", values: ["lr": [0.01], "momentum": [0.5], "centered": [1]]),
        OptimizerConfig(name: "adagrad", values: ["lr": [0.1], "lr_decay": [0.01]])
    ]

    static func arena(_ rng: inout RandomSource, scale: Double = 1) -> ParameterSet<Float> {
        let set = ParameterSet<Float>(config: model)
        set.storage.copy(from: (0..<set.count).map { _ in Float(rng.normal() * scale) })
        return set
    }

    static func bits(_ b: Buffer<Float>) -> [UInt32] { b.toArray().map(\.bitPattern) }

    /// Runs three steps of `config` whole (`step`) and in parts on `workers` threads, on the whole arena
    /// or on one of two ranks' slices, and compares the weights and every state buffer bit for bit.
    func checkParts(_ config: OptimizerConfig, workers: Int, rank: Int?, threads: Int) throws {
        let layout = ParameterLayout(Self.model)
        let range = rank.map { ArenaSlices(count: layout.count, worldSize: 2).range($0) } ?? 0..<layout.count
        let slice = rank == nil ? nil : range
        let whole: any Optimizer<Float> = try config.makeOptimizer(layout: layout, slice: slice)
        let parted: any Optimizer<Float> = try config.makeOptimizer(layout: layout, slice: slice)
        var rng = RandomSource(seed: 7)
        let pWhole = Self.arena(&rng)
        let pParted = ParameterSet<Float>(config: Self.model)
        pParted.storage.copy(from: pWhole.storage.toArray())
        let update = GuardedUpdate(parameters: pParted, optimizer: parted, range: range, workers: workers)
        let what = "\(config.name) \(config.values), \(workers) worker(s), rank \(rank.map(String.init) ?? "all")"
        for step in 1...3 {
            let grads = Self.arena(&rng)
            whole.step(pWhole, grads)
            XCTAssertTrue(update.apply(grads, workers: workers), "\(what), step \(step): reported non-finite")
            XCTAssertEqual(update.lastThreads, threads, "\(what): the parts ran on another thread count")
            XCTAssertEqual(Self.bits(pParted.storage), Self.bits(pWhole.storage), "\(what), step \(step): weights")
            XCTAssertEqual(parted.stepCount, whole.stepCount, what)
            XCTAssertEqual(parted.stateBuffers.map(\.name), whole.stateBuffers.map(\.name), what)
            for ((name, a), (_, b)) in zip(parted.stateBuffers, whole.stateBuffers) {
                XCTAssertEqual(Self.bits(a), Self.bits(b), "\(what), step \(step): \(name)")
            }
        }
        let initial = Self.arena(&rng)  // a fresh draw: the weights must differ from it and have moved
        XCTAssertNotEqual(Self.bits(pParted.storage), Self.bits(initial.storage), what)
    }

    func testEveryOptimizerInPartsOnTwoThreadsIsItsWholeStepBitwise() throws {
        for config in Self.optimizers { try checkParts(config, workers: 2, rank: nil, threads: 2) }
    }

    func testARanksSliceInPartsIsItsWholeStepBitwise() throws {
        for config in [1, 4, 6, 7].map({ Self.optimizers[$0] }) {  // one of each class
            try checkParts(config, workers: 2, rank: 1, threads: 1)
        }
    }

    /// An infinite gradient in the last part (another thread's than the first) poisons only that
    /// part's values; `restore` must put back every part, the first thread's included.
    func testANonFiniteValueInOnePartIsReportedAndRestoreUndoesEveryPart() throws {
        let layout = ParameterLayout(Self.model)
        let optimizer: any Optimizer<Float> = try OptimizerConfig(name: "adam", values: [:]).makeOptimizer(
            layout: layout)
        var rng = RandomSource(seed: 3)
        let params = Self.arena(&rng)
        let update = GuardedUpdate(parameters: params, optimizer: optimizer, range: 0..<layout.count, workers: 2)
        XCTAssertTrue(update.apply(Self.arena(&rng), workers: 2))
        let before = Self.bits(params.storage)
        let stateBefore = optimizer.stateBuffers.map { Self.bits($0.buffer) }
        let grads = Self.arena(&rng)
        grads.storage[layout.count - 1] = .infinity
        XCTAssertFalse(update.apply(grads, workers: 2), "an infinite gradient gave a finite update")
        XCTAssertNotEqual(Self.bits(params.storage), before, "the update did not run")
        update.restore()
        XCTAssertEqual(Self.bits(params.storage), before, "weights not restored")
        XCTAssertEqual(optimizer.stateBuffers.map { Self.bits($0.buffer) }, stateBefore, "state not restored")
    }

    /// An optimizer of the user's own (not element-wise) is guarded too, on the whole arena.
    func testAnOptimizerOfTheUsersOwnIsGuardedWhole() throws {
        final class Halving: Optimizer {
            var name: String { "halving" }
            var learningRate = 1.0
            var stepCount = 0
            var stateBuffers: [(name: String, buffer: Buffer<Float>)] { [] }
            func step(_ params: ParameterSet<Float>, _ grads: ParameterSet<Float>) {
                stepCount += 1
                for i in 0..<params.count { params.storage[i] = params.storage[i] / 2 - grads.storage[i] }
            }
        }
        let optimizer = Halving()
        var rng = RandomSource(seed: 5)
        let params = Self.arena(&rng)
        let count = params.count
        let update = GuardedUpdate(parameters: params, optimizer: optimizer, range: 0..<count, workers: 2)
        XCTAssertNil(update.elementwise)
        let before = params.storage.toArray()
        let grads = Self.arena(&rng)
        XCTAssertTrue(update.apply(grads, workers: 2))
        XCTAssertEqual(update.lastThreads, 0, "ran in parts")
        XCTAssertEqual(params.storage[count - 1], before[count - 1] / 2 - grads.storage[count - 1])
        let moved = Self.bits(params.storage)
        grads.storage[0] = .nan
        XCTAssertFalse(update.apply(grads, workers: 2))
        update.restore()
        XCTAssertEqual(Self.bits(params.storage), moved)
    }

    /// The norm's block sums on two threads are the one-thread sums: the same bits of the norm.
    func testTheGradientNormsBlockSumsOnTwoThreadsAreTheOneThreadNormBitwise() {
        var rng = RandomSource(seed: 11)
        let grads = Self.arena(&rng, scale: 1e-3)
        let blocks = ArenaSlices(count: grads.count, worldSize: 1).blocks
        let sums = UnsafeMutablePointer<Double>.allocate(capacity: blocks)
        defer { sums.deallocate() }
        sums.initialize(repeating: .nan, count: blocks)
        blockSumsOfSquares(grads, blocks: 0..<blocks, into: sums, workers: 2)
        var total = 0.0
        for b in 0..<blocks { total += sums[b] }
        XCTAssertEqual(total.squareRoot().bitPattern, gradientNorm(grads).bitPattern)
        XCTAssertTrue(total.isFinite)
    }
}
