import ArgumentParser
import Foundation
import LSTMKit

/// `lstm demo`: the adding problem (Hochreiter & Schmidhuber 1997) trained in memory.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train an LSTM on the adding problem, generated in memory (no download).",
        discussion: """
            Two input channels per step: a uniform value and a marker; the target is the sum of the
            two marked values. Always answering 1 scores a mean squared error of about 0.167.

            Example:
              lstm demo --steps 50 --hidden 64 --iterations 1500
            """)

    @Option(help: "Sequence length T.") var steps = 50
    @Option(help: "Hidden size H.") var hidden = 64
    @Option(help: "Minibatch size B.") var batchSize = 64
    @Option(help: "Training iterations (minibatches).") var iterations = 2000
    @Option(help: "Adam learning rate.") var learningRate = 0.005
    @Option(help: "Shards per minibatch (default: one per core, ≥ 32 sequences each).") var shards: Int?
    @Option(help: "Random seed.") var seed: UInt64 = 1
    @Option(help: "Stop once validation MSE is below this.") var target = 0.005

    func run() throws {
        let config = ModelConfig(
            input: .features(size: 2), hiddenSize: hidden, numLayers: 1, outputSize: 1,
            head: .last, loss: .mse, forgetGateBias: true)
        let net = try LSTMNetwork<Float>(config: config)
        let params = ParameterSet<Float>(config: config, seed: seed)
        let trainer = Trainer(
            network: net, parameters: params, optimizer: Adam<Float>(layout: params.layout, learningRate: learningRate),
            maxBatch: batchSize, maxSteps: steps, shards: shards, clipNorm: 1.0)
        let train = AddingProblem.generate(count: 20_000, steps: steps, seed: seed &+ 1)
        let val = AddingProblem.generate(count: 1_000, steps: steps, seed: seed &+ 2)
        let valBatch = val.minibatch(0..<val.count)
        print("adding problem: T=\(steps) H=\(hidden) B=\(batchSize), \(trainer.scheduler.shardCount) shard(s) on \(trainer.scheduler.workerCount) worker(s); baseline MSE ≈ 0.167")
        let start = Date()
        var cursor = 0
        for it in 1...iterations {
            if cursor + batchSize > train.count { cursor = 0 }
            let report = try trainer.train(train.minibatch(cursor..<(cursor + batchSize)))
            cursor += batchSize
            if it % 100 == 0 || it == iterations {
                let valMSE = trainer.evaluate(valBatch).mean
                let elapsed = Date().timeIntervalSince(start)
                print(String(format: "step %5d  train MSE %.5f  val MSE %.5f  %.0f tokens/s  %.1f s",
                             it, report.loss, valMSE, Double(it * batchSize * steps) / elapsed, elapsed))
                if valMSE < target {
                    print(String(format: "reached val MSE %.5f < %.3g after %d steps, %.1f s", valMSE, target, it, elapsed))
                    return
                }
            }
        }
    }
}
