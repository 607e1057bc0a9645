// What checksums cost: `swift build -c release --product lstm-checkpoint-bench` then
// `.build/release/lstm-checkpoint-bench [H] [rounds]`. A checkpoint of a 1-layer LSTM with
// I = O = H and Adam state is saved and loaded; interleaved with each, the checksum work alone
// (Checksums.seal on the written file, Checksums.verify on the loaded one) is timed, so the
// figures share the machine's state. Prints medians and min–max in milliseconds.
import ArgumentParser
import Foundation
import HDF5Kit
import LSTMFiles
import LSTMIO
import LSTMKit

struct Options: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lstm-checkpoint-bench",
        abstract: "What checksums cost: a checkpoint saved and loaded, the checksum work re-timed alone.")

    @Argument(help: "H: the LSTM's width, and its input and output width.") var h = 1024
    @Argument(help: "Rounds of save, seal, load and verify.") var rounds = 7

    func validate() throws {
        guard h >= 1, rounds >= 1 else { throw ValidationError("H and rounds must be at least 1") }
    }
}
let options = Options.parseOrExit()
let h = options.h
let rounds = options.rounds
let config = ModelConfig(input: .features(size: h), hiddenSize: h, outputSize: h, loss: .mse)
let n = ParameterLayout(config).count
func values(_ seed: UInt64) -> [Float] {
    var random = RandomSource(seed: seed)
    return (0..<n).map { _ in Float(random.nextUnit() - 0.5) }
}
let checkpoint = Checkpoint(
    config: config, parameters: values(1),
    optimizer: OptimizerSnapshot(
        name: "adam", learningRate: 1e-3, stepCount: 10, stateBuffers: ["exp_avg": values(2), "exp_avg_sq": values(3)]),
    globalStep: 10)
let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-bench-\(getpid())").path
try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: dir) }
let path = dir + "/c.h5"

func time(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
}
var save: [Double] = []
var seal: [Double] = []
var load: [Double] = []
var verify: [Double] = []
for _ in 0..<rounds {
    save.append(try time { try checkpoint.save(to: path) })
    seal.append(
        try time {
            let f = try HDF5File.open(path, mode: .readWrite)
            try Checksums.seal(f.root, role: .checkpoint, file: path)
            try f.close()
        })
    load.append(try time { _ = try Checkpoint.load(from: path) })
    verify.append(
        try time {
            let f = try HDF5File.open(path)
            try Checksums.verify(f.root, role: .checkpoint, file: path)
            try f.close()
        })
}
func summary(_ xs: [Double]) -> String {
    let s = xs.sorted()
    return String(format: "median %7.1f ms  (min %7.1f, max %7.1f)", s[s.count / 2], s.first!, s.last!)
}
let bytes = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
var load1 = [Double](repeating: 0, count: 3)
_ = getloadavg(&load1, 3)
print(
    "H = \(h): \(n) parameters, checkpoint with Adam state \(bytes / 1_048_576) MiB, \(rounds) rounds, load average \(String(format: "%.1f", load1[0]))"
)
print("save (with checksums)          " + summary(save))
print("  of which sealing (re-timed)  " + summary(seal))
print("load (with verification)       " + summary(load))
print("  of which verifying (re-timed)" + summary(verify))
