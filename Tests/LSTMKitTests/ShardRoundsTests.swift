import XCTest

@testable import LSTMKit

/// `ShardWorkers(rounds: K)` (gradient accumulation): the S shards run in K rounds on ⌈S/K⌉
/// workspaces and reused gradient arenas, with the bits of all S at once.
final class ShardRoundsTests: XCTestCase {
    func testEveryRoundCountGivesTheGradientAndLossOfOneRoundBitForBit() throws {
        let config = ModelConfig(
            input: .features(size: 3), hiddenSize: 5, numLayers: 2, outputSize: 3, loss: .crossEntropy, dropout: 0.3)
        let net = try LSTMNetwork<Float>(config: config)
        let params = ParameterSet<Float>(config: config, seed: 5)
        let batch = convert(randomBatch(config, batch: 11, steps: 4, seed: 6), to: Float.self)
        let dropout = DropoutContext(seed: 3, step: 2)
        for s in 1...7 {
            let one = ShardWorkers(network: net, maxBatch: 11, maxSteps: 4, shards: s, workers: 2)
            let want = batch.withView { one.computeGradient(params, $0, dropout: dropout) }
            let wantGradient = one.gradients.storage.toArray().map(\.bitPattern)
            for k in 1...s {
                for w in [1, 2] {
                    let rounds = ShardWorkers(
                        network: net, maxBatch: 11, maxSteps: 4, shards: s, workers: w, rounds: k)
                    XCTAssertEqual(rounds.shardsPerRound, (s + k - 1) / k)
                    let got = batch.withView { rounds.computeGradient(params, $0, dropout: dropout) }
                    XCTAssertEqual(got.sum.bitPattern, want.sum.bitPattern, "S = \(s), K = \(k), W = \(w)")
                    XCTAssertEqual(got.count, want.count)
                    XCTAssertEqual(
                        rounds.gradients.storage.toArray().map(\.bitPattern), wantGradient,
                        "S = \(s), K = \(k), W = \(w)")
                }
            }
        }
    }
}
