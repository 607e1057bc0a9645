// The README's two Swift API examples, at a small size, from outside the package.
import Foundation
import LSTMData
import LSTMIO
import LSTMKit
import LSTMRun

let args = CommandLine.arguments
guard args.count == 3 else {
    print("usage: Downstream CONFIG.yaml WORK_DIR")
    exit(2)
}
let (configPath, work) = (args[1], args[2])

// 1. The library API: a one-layer LSTM on the adding problem.
let config = ModelConfig(input: .features(size: 2), hiddenSize: 8, outputSize: 1, head: .last, loss: .mse)
let network = try LSTMNetwork<Float>(config: config)
let parameters = ParameterSet<Float>(config: config, seed: 1)
let trainer = Trainer(
    network: network, parameters: parameters,
    optimizer: Adam<Float>(layout: parameters.layout, learningRate: 0.01),
    maxBatch: 16, maxSteps: 6)
let data = AddingProblem.generate(count: 16 * 40, steps: 6, seed: 2)
var losses: [Double] = []
for step in 0..<40 {
    losses.append(try trainer.train(data.minibatch((step * 16)..<(step * 16 + 16))).loss)
}
print("library example: loss \(losses[0]) -> \(losses[39])")

// 2. The config-driven API, with a callback after every step.
let run = try TrainingRun(
    config: RunConfig.load(
        path: configPath,
        overrides: [
            "training.steps=6", "model.hidden_size=4", "data.batch_size=8", "data.file=\(work)/adding.h5",
            "data.generate.steps=6", "data.generate.train=32", "data.generate.val=8", "data.generate.test=8",
            "checkpoint.dir=\(work)/run", "logging.progress=none", "validation.every=3"
        ]))
var seen: [Int] = []
run.onStep = { report in seen.append(report.step) }
let summary = try run.run()
print("config example: \(summary.steps) steps, callback saw \(seen)")

// 3. LSTMIO: the checkpoint the run wrote reads back.
let latest = try CheckpointStore(directory: "\(work)/run").latest()
print("checkpoint: step \(latest?.globalStep ?? -1)")
guard seen == [1, 2, 3, 4, 5, 6], summary.steps == 6, latest != nil else {
    print("downstream check FAILED")
    exit(1)
}
print("downstream check passed")
