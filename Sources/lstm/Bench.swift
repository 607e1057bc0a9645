import ArgumentParser
import Dispatch
import Foundation
import LSTMKit

/// `lstm bench`: a quick training-speed figure on this machine, through the scheduler.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure training speed (tokens/s, GFLOP/s) on this machine.",
        discussion: """
            Times forward + backward + gradient reduction of one random minibatch through the \
            data-parallel scheduler (the work of a training step, without the optimizer update) and \
            reports the median of --iterations after one warm-up. FLOPs per token: 24·H·(I_k+H) \
            per layer (forward 8·H·(I_k+H), backward twice that) plus 6·H·O for the output layer. \
            The ceiling is a --gemm-size³ sgemm measured in the same run on the same threads: one \
            sgemm per worker at once, each with the scheduler's BLAS threads, for the GEMM training \
            uses (`gemm:` line; LSTM_GEMM=openblas|avx2|avx512 forces one) and for OpenBLAS; the \
            fraction is of the faster of the two. Detailed benchmarks: \
            `swift run -c release lstm-bench` (Benchmarks/).

            Examples:
              lstm bench
              lstm bench --batch 128 --hidden 256 --layers 2 --shards 2 --workers 2
            """)

    @Option(help: "B, sequences per minibatch.") var batch = 64
    @Option(help: "T, steps per sequence.") var steps = 100
    @Option(help: "I, input features.") var input = 128
    @Option(help: "H, hidden size.") var hidden = 512
    @Option(help: "O, outputs (classes).") var output = 128
    @Option(help: "Stacked layers.") var layers = 1
    @Option(help: "S, shards per minibatch (default: one per core, ≥ 32 sequences each).") var shards: Int?
    @Option(help: "W, worker threads (default: min(S, cores)).") var workers: Int?
    @Option(help: "Timed iterations (the median is reported).") var iterations = 5
    @Option(help: "Side of the square sgemm measuring the ceiling.") var gemmSize = 1024

    func validate() throws {
        for (name, v) in [
            ("--batch", batch), ("--steps", steps), ("--input", input), ("--hidden", hidden),
            ("--layers", layers), ("--iterations", iterations), ("--gemm-size", gemmSize)
        ] where v < 1 {
            throw ValidationError("\(name) must be ≥ 1 (got \(v))")
        }
        if output < 2 { throw ValidationError("--output must be ≥ 2 classes (got \(output))") }
        if let s = shards, s < 1 { throw ValidationError("--shards must be ≥ 1 (got \(s))") }
        if let w = workers, w < 1 { throw ValidationError("--workers must be ≥ 1 (got \(w))") }
    }

    func run() throws {
        let config = ModelConfig(
            input: .features(size: input), hiddenSize: hidden, numLayers: layers,
            outputSize: output, head: .sequence, loss: .crossEntropy)
        let network = try LSTMNetwork<Float>(config: config)
        let parameters = ParameterSet<Float>(config: config, seed: 1)
        let scheduler = ShardWorkers(
            network: network, maxBatch: batch, maxSteps: steps,
            shards: shards, workers: workers)
        var rng = RandomSource(seed: 2)
        let minibatch = Minibatch<Float>(
            batchSize: batch, steps: steps,
            inputs: .features((0..<(batch * steps * input)).map { _ in Float(rng.normal()) }),
            targets: .classes((0..<(batch * steps)).map { _ in Int32(rng.index(below: output)) }))
        print(
            "bench: I=\(input) H=\(hidden) O=\(output) L=\(layers) B=\(batch) T=\(steps); "
                + "S=\(scheduler.shardCount) shard(s) on W=\(scheduler.workerCount) worker(s), "
                + "\(scheduler.blasThreads) BLAS thread(s) each; OpenBLAS \(BLASThreads.coreName); "
                + "\(ProcessInfo.processInfo.activeProcessorCount) cores")
        print(GEMMKernel.summary)

        let seconds = minibatch.withView { view in
            median(timed(iterations) { _ = scheduler.computeGradient(parameters, view) })
        }
        let flopsPerToken = LSTMKit.flopsPerToken(config)
        let tokensPerSecond = Double(batch * steps) / seconds
        let gflops = tokensPerSecond * flopsPerToken / 1e9
        // The ceiling of the kernel in use and of OpenBLAS; the widest correct one is the faster.
        let kernels = GEMMKernel.current == .openblas ? [GEMMKernel.openblas] : [GEMMKernel.current, .openblas]
        let ceilings = kernels.map {
            sgemmCeiling($0, n: gemmSize, workers: scheduler.workerCount, blasThreads: scheduler.blasThreads)
        }
        let ceiling = ceilings.max()!
        #if DEBUG
            print("note: this is a debug build; `swift build -c release` gives representative figures")
        #endif
        print(
            String(
                format: "%.0f tokens/s  %.3g GFLOP/s  (median of %d, %.4g s per minibatch, %.4g MFLOP per token)",
                tokensPerSecond, gflops, iterations, seconds, flopsPerToken / 1e6))
        let names = zip(kernels, ceilings).map {
            String(format: "%@ %.3g", $0.0 == .openblas ? "OpenBLAS \(BLASThreads.coreName)" : "lstm \($0.0)", $0.1)
        }
        print(
            String(
                format: "sgemm ceiling %.3g GFLOP/s (%d³ × %d worker(s), %d BLAS thread(s) each; %@): %.1f%% of it",
                ceiling, gemmSize, scheduler.workerCount, scheduler.blasThreads, names.joined(separator: ", "),
                100 * gflops / ceiling))
    }

    /// Aggregate GFLOP/s of `workers` concurrent n³ sgemms of `kernel` at `blasThreads` threads each
    /// (median of 3, one call per worker per sample; our kernels are single-threaded per call).
    func sgemmCeiling(_ kernel: GEMMKernel, n: Int, workers: Int, blasThreads: Int) -> Double {
        BLASThreads.set(blasThreads)
        return sgemmGFLOPs(m: n, n: n, k: n, parallel: workers, flopsPerSample: 0) { m, n, k, a, b, c in
            kernel.sgemm(
                transA: false, transB: false, m: m, n: n, k: k, alpha: 1, a: a, lda: k, b: b, ldb: n, beta: 0, c: c,
                ldc: n)
        }
    }
}

/// Seconds of each of `n` calls of `body`, after one untimed warm-up call.
private func timed(_ n: Int, _ body: () -> Void) -> [Double] {
    body()
    return (0..<n).map { _ in
        let t0 = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
    }
}
