// lstm-bench: speed figures that can be compared within one run.
//
//   swift run -c release lstm-bench core        forward+backward, one thread and all BLAS threads
//   swift run -c release lstm-bench scheduler   data-parallel shards vs BLAS threading
//   swift run -c release lstm-bench kernels     the per-step cell kernels: Float SIMD8 vs the reference loop
//   swift run -c release lstm-bench optimizer   ns per parameter per step of each optimizer (Float)
//   swift run -c release lstm-bench --help      options
//
// Every figure is the median of --reps timed repetitions after one warm-up. FLOPs per token
// per layer are 24·H·(I+H) (forward 8·H·(I+H), backward twice that) plus 6·H·O for the output
// layer. The sgemm ceiling is measured in the same run on the same thread count.
import ArgumentParser
import Foundation
@_spi(Reference) import LSTMKit

struct Options: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lstm-bench", abstract: "Speed figures that can be compared within one run.")

    /// What to measure.
    enum Mode: String, ExpressibleByArgument, CaseIterable {
        case core, scheduler, kernels, optimizer
    }

    @Argument(
        help: """
            core: forward+backward on one and on all BLAS threads; scheduler: data-parallel shards vs BLAS \
            threading; kernels: the per-step cell kernels, Float SIMD8 vs the reference loop; optimizer: ns \
            per parameter per step of each optimizer.
            """)
    var mode: Mode = .core
    @Option(name: [.customLong("batch"), .customShort("B")], help: "B, sequences per minibatch.") var batch = 64
    @Option(name: [.customLong("steps"), .customShort("T")], help: "T, steps per sequence.") var steps = 100
    @Option(name: [.customLong("input"), .customShort("I")], help: "I, features per step.") var input = 128
    @Option(name: [.customLong("hidden"), .customShort("H")], help: "H, the LSTM width.") var hidden = 512
    @Option(name: [.customLong("output"), .customShort("O")], help: "O, classes.") var output = 128
    @Option(name: [.customLong("layers"), .customShort("L")], help: "L, stacked layers.") var layers = 1
    @Option(help: "Timed repetitions per figure (the median is reported).") var reps = 5
    @Flag(name: .customLong("no-torch"), help: "Do not run the PyTorch reference (Benchmarks/pytorch_lstm.py).")
    var noTorch = false

    var torch: Bool { !noTorch }

    func validate() throws {
        for (name, v) in [
            ("batch", batch), ("steps", steps), ("input", input), ("hidden", hidden), ("output", output),
            ("layers", layers), ("reps", reps)
        ] where v < 1 {
            throw ValidationError("--\(name) needs a positive integer (got \(v))")
        }
    }
}

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

/// Median seconds of `reps` calls of `body` after one warm-up call.
func timeMedian(reps: Int, _ body: () -> Void) -> Double {
    body()
    return median(
        (0..<reps).map { _ in
            let t0 = now()
            body()
            return now() - t0
        })
}

/// GFLOP/s of a row-major sgemm C[m,n] = A[m,k]·B[k,n] through LSTMKit's gemm at the current
/// BLAS thread count (LSTMKit's `sgemmGFLOPs`, ~2 GFLOP per timed sample, the median of `reps`).
func sgemmGFLOPs(m: Int, n: Int, k: Int, reps: Int) -> Double {
    LSTMKit.sgemmGFLOPs(m: m, n: n, k: k, samples: reps) { m, n, k, a, b, c in
        gemm(
            Matrix(UnsafeMutablePointer(mutating: a), rows: m, cols: k),
            Matrix(UnsafeMutablePointer(mutating: b), rows: k, cols: n), into: Matrix(c, rows: m, cols: n))
    }
}

/// FLOPs per token of the benchmarked shape (LSTMKit's `flopsPerToken`, shared with `lstm bench`).
func flopsPerToken(_ o: Options) -> Double {
    LSTMKit.flopsPerToken(inputWidth: o.input, hidden: o.hidden, layers: o.layers, output: o.output)
}

/// Runs the PyTorch reference (Benchmarks/pytorch_lstm.py) when torch imports; tokens/s or nil.
func torchTokensPerSecond(_ o: Options, threads: Int) -> Double? {
    guard o.torch else { return nil }
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("pytorch_lstm.py").path
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = [
        "python3", script, "-B", "\(o.batch)", "-T", "\(o.steps)", "-I", "\(o.input)",
        "-H", "\(o.hidden)", "-O", "\(o.output)", "-L", "\(o.layers)", "--reps", "\(o.reps)",
        "--threads", "\(threads)"
    ]
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = FileHandle.nullDevice
    do { try p.run() } catch { return nil }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0, let text = String(data: data, encoding: .utf8) else { return nil }
    // The script's last line: "tokens_per_s <value>".
    for line in text.split(separator: "\n").reversed() where line.hasPrefix("tokens_per_s ") {
        return Double(line.dropFirst("tokens_per_s ".count))
    }
    return nil
}

/// Forward+backward of one minibatch on one workspace: tokens/s and the mean loss.
func coreRun(_ o: Options, threads: Int) -> (tokensPerSecond: Double, seconds: Double, loss: Double) {
    BLASThreads.set(threads)
    let config = ModelConfig(
        input: .features(size: o.input), hiddenSize: o.hidden, numLayers: o.layers,
        outputSize: o.output, head: .sequence, loss: .crossEntropy)
    let net = try! LSTMNetwork<Float>(config: config)
    let params = ParameterSet<Float>(config: config, seed: 1)
    let grads = ParameterSet<Float>(config: config)
    let ws = Workspace<Float>(config: config, maxBatch: o.batch, maxSteps: o.steps)
    var rng = RandomSource(seed: 2)
    let batch = Minibatch<Float>(
        batchSize: o.batch, steps: o.steps,
        inputs: .features((0..<(o.batch * o.steps * o.input)).map { _ in Float(rng.normal()) }),
        targets: .classes((0..<(o.batch * o.steps)).map { _ in Int32(rng.index(below: o.output)) }))
    var loss = 0.0
    let t = batch.withView { view in
        timeMedian(reps: o.reps) {
            grads.zero()
            loss = net.lossAndGradient(params, view, workspace: ws, into: grads).mean
        }
    }
    return (Double(o.batch * o.steps) / t, t, loss)
}

/// Makes `optimizer` run its scalar reference loop instead of the Float SIMD pass; false if it has none.
func useScalarReference(_ optimizer: any Optimizer<Float>) -> Bool {
    if let o = optimizer as? Adam<Float> {
        o.scalarReference = true
    } else if let o = optimizer as? RMSprop<Float> {
        o.scalarReference = true
    } else if let o = optimizer as? Adagrad<Float> {
        o.scalarReference = true
    } else {
        return false
    }
    return true
}

/// Whether `steps` SIMD steps and `steps` scalar-reference steps from the same start give the same bits
/// (parameters and state) in this optimised build.
func bitwiseAgree(_ c: OptimizerConfig, model: ModelConfig, steps: Int) -> Bool {
    let layout = ParameterLayout(model)
    let fast: any Optimizer<Float> = try! c.makeOptimizer(layout: layout)
    let reference: any Optimizer<Float> = try! c.makeOptimizer(layout: layout)
    _ = useScalarReference(reference)
    let p = ParameterSet<Float>(config: model, seed: 5)
    let q = ParameterSet<Float>(config: model)
    q.storage.copy(from: p.storage.toArray())
    for k in 0..<steps {
        let g = ParameterSet<Float>(config: model, seed: 10 + UInt64(k))
        fast.step(p, g)
        reference.step(q, g)
    }
    func bits(_ b: Buffer<Float>) -> [UInt32] { b.toArray().map(\.bitPattern) }
    return bits(p.storage) == bits(q.storage)
        && zip(fast.stateBuffers, reference.stateBuffers).allSatisfy { bits($0.buffer) == bits($1.buffer) }
}

/// ns per parameter per step of each optimizer on the model's arena, through `any Optimizer<Float>` as
/// `Trainer` calls it, for the Float SIMD pass and the scalar reference loop back to back (each timed
/// sample is enough steps for ~0.2 s).
func optimizerBench(_ o: Options) {
    let config = ModelConfig(
        input: .features(size: o.input), hiddenSize: o.hidden, numLayers: o.layers,
        outputSize: o.output, head: .sequence, loss: .crossEntropy)
    let layout = ParameterLayout(config)
    let params = ParameterSet<Float>(config: config, seed: 1)
    let grads = ParameterSet<Float>(config: config, seed: 3)
    let n = params.count
    print("arena: \(n) parameters; ns per parameter per step")
    let configs: [OptimizerConfig] = [
        OptimizerConfig(name: "sgd", ["momentum": 0.9]),
        OptimizerConfig(name: "adam"),
        OptimizerConfig(name: "adam", ["weight_decay": 0.01, "amsgrad": true]),
        OptimizerConfig(name: "adamw"),
        OptimizerConfig(name: "rmsprop"),
        OptimizerConfig(name: "rmsprop", ["momentum": 0.9, "centered": true]),
        OptimizerConfig(name: "adagrad", ["weight_decay": 0.01, "lr_decay": 0.01])
    ]
    let inner = max(1, Int(2e8 / Double(n * 4)))
    func nsPerParameter(_ optimizer: any Optimizer<Float>) -> Double {
        timeMedian(reps: o.reps) { for _ in 0..<inner { optimizer.step(params, grads) } } / Double(inner * n) * 1e9
    }
    for c in configs {
        let v = c.values.mapValues { $0[0] }
        let label =
            "\(c.name)\(v["momentum"].map { " momentum \($0)" } ?? "")\(v["amsgrad"] == 1 ? " amsgrad" : "")"
            + "\(v["weight_decay"].map { " wd \($0)" } ?? "")\(v["centered"] == 1 ? " centered" : "")"
            + "\(v["lr_decay"].map { " lr_decay \($0)" } ?? "")"
        let fast = nsPerParameter(try! c.makeOptimizer(layout: layout))
        var line = label.padding(toLength: 40, withPad: " ", startingAt: 0) + String(format: "%7.3f", fast)
        let reference: any Optimizer<Float> = try! c.makeOptimizer(layout: layout)
        if useScalarReference(reference) {
            let slow = nsPerParameter(reference)
            line += String(format: "   scalar reference %7.3f   %.2f× faster", slow, slow / fast)
            line += bitwiseAgree(c, model: config, steps: 3) ? "; bitwise equal" : "; NOT BITWISE EQUAL"
        }
        print(line)
    }
}

let opts = Options.parseOrExit()
let cores = ProcessInfo.processInfo.activeProcessorCount
print(
    "lstm-bench \(opts.mode.rawValue): I=\(opts.input) H=\(opts.hidden) O=\(opts.output) L=\(opts.layers) B=\(opts.batch) T=\(opts.steps), median of \(opts.reps)"
)
print("OpenBLAS core: \(BLASThreads.coreName); config: \(BLASThreads.config); cores: \(cores)")
print(GEMMKernel.summary)
print(
    "OPENBLAS_CORETYPE=\(ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "(unset)") OPENBLAS_L2_SIZE=\(ProcessInfo.processInfo.environment["OPENBLAS_L2_SIZE"] ?? "(unset)")"
)

switch opts.mode {
case .core:
    let fpt = flopsPerToken(opts)
    print(String(format: "FLOPs per token: %.2f M", fpt / 1e6))
    for threads in Array(Set([1, cores])).sorted() {
        BLASThreads.set(threads)
        let ceiling = sgemmGFLOPs(m: 1024, n: 1024, k: 1024, reps: opts.reps)
        let stepGemm = sgemmGFLOPs(m: opts.batch, n: 4 * opts.hidden, k: opts.hidden, reps: opts.reps)
        let r = coreRun(opts, threads: threads)
        let gflops = r.tokensPerSecond * fpt / 1e9
        var line = String(
            format:
                "BLAS threads %d: %9.0f tokens/s  %6.1f GFLOP/s  = %4.1f%% of sgemm ceiling %.1f GFLOP/s (1024³); per-step sgemm [%d×%d×%d] %.1f GFLOP/s; %.3f s/minibatch; loss %.6f",
            threads, r.tokensPerSecond, gflops, 100 * gflops / ceiling, ceiling, opts.batch, 4 * opts.hidden,
            opts.hidden,
            stepGemm, r.seconds, r.loss)
        if let torch = torchTokensPerSecond(opts, threads: threads) {
            line += String(format: "; PyTorch %.0f tokens/s, ratio %.2f×", torch, r.tokensPerSecond / torch)
        } else {
            line += "; PyTorch not available"
        }
        print(line)
    }
case .scheduler:
    // One minibatch per timed sample through the scheduler (forward, backward, reduction).
    let config = ModelConfig(
        input: .features(size: opts.input), hiddenSize: opts.hidden, numLayers: opts.layers,
        outputSize: opts.output, head: .sequence, loss: .crossEntropy)
    let net = try! LSTMNetwork<Float>(config: config)
    let params = ParameterSet<Float>(config: config, seed: 1)
    var rng = RandomSource(seed: 2)
    let batch = Minibatch<Float>(
        batchSize: opts.batch, steps: opts.steps,
        inputs: .features((0..<(opts.batch * opts.steps * opts.input)).map { _ in Float(rng.normal()) }),
        targets: .classes((0..<(opts.batch * opts.steps)).map { _ in Int32(rng.index(below: opts.output)) }))
    let fpt = flopsPerToken(opts)
    let setups: [(w: Int, s: Int, blas: Int)] = [(1, 1, 1), (1, 1, cores), (cores, cores, 1)]
    var first: Double?
    var losses: [Double] = []
    for setup in setups {
        let sched = ShardWorkers(
            network: net, maxBatch: opts.batch, maxSteps: opts.steps, shards: setup.s, workers: setup.w,
            blasThreads: setup.blas)
        var loss = 0.0
        let t = batch.withView { view in timeMedian(reps: opts.reps) { loss = sched.computeGradient(params, view).mean }
        }
        let tps = Double(opts.batch * opts.steps) / t
        first = first ?? tps
        losses.append(loss)
        print(
            String(
                format:
                    "W=%d S=%d BLAS threads %d: %9.0f tokens/s  %6.1f GFLOP/s  %.2f× the first  (%.3f s/minibatch, loss %.6f)",
                setup.w, setup.s, setup.blas, tps, tps * fpt / 1e9, tps / first!, t, loss))
    }
    let spread = (losses.max()! - losses.min()!) / losses.min()!
    print(String(format: "losses agree across setups within %.1e relative", spread))
case .kernels:
    // One step's elementwise cell passes at (B, H), the Float SIMD8 kernels against the generic
    // reference loops specialised for Float (what Float ran before the SIMD kernels).
    let b = opts.batch
    let h = opts.hidden
    let g = 4 * h
    let calls = 50
    var rng = RandomSource(seed: 3)
    func filled(_ n: Int, _ f: () -> Float) -> Buffer<Float> {
        let buf = Buffer<Float>(count: n)
        for k in 0..<n { buf[k] = f() }
        return buf
    }
    let gates = filled(b * g) { Float(rng.normal()) }
    let bias = filled(g) { Float(rng.normal()) * 0.1 }
    let cPrev = filled(b * h) { Float(rng.normal()) }
    let cNext = Buffer<Float>(count: b * h)
    let hNext = Buffer<Float>(count: b * h)
    let tanhC = filled(b * h) { Float(rng.uniform(-1, 1)) }
    let dH = filled(b * h) { Float(rng.normal()) }
    let dcc = Buffer<Float>(count: b * h)
    let dG = Buffer<Float>(count: b * g)
    // Forward rewrites the gates in place (gate values stay in range, the cost is data-independent).
    func forward(simd: Bool) {
        for _ in 0..<calls {
            if simd {
                Float.lstmCellForward(
                    gates: gates.base, bias: bias.base, cPrev: cPrev.base, cNext: cNext.base,
                    hNext: hNext.base, tanhC: tanhC.base, batch: b, hidden: h)
            } else {
                LSTMLayer.cellForwardReference(
                    gates: gates.base, bias: bias.base, cPrev: cPrev.base, cNext: cNext.base,
                    hNext: hNext.base, tanhC: tanhC.base, batch: b, hidden: h)
            }
        }
    }
    // Backward advances dcCarry in place; it is reset each call so it cannot decay into subnormals.
    func backward(simd: Bool) {
        for _ in 0..<calls {
            dcc.base.update(repeating: 0.5, count: b * h)
            if simd {
                Float.lstmCellBackward(
                    gates: gates.base, cPrev: cPrev.base, tanhC: tanhC.base, dH: dH.base,
                    dcCarry: dcc.base, dGates: dG.base, batch: b, hidden: h)
            } else {
                LSTMLayer.cellBackwardReference(
                    gates: gates.base, cPrev: cPrev.base, tanhC: tanhC.base, dH: dH.base,
                    dcCarry: dcc.base, dGates: dG.base, batch: b, hidden: h)
            }
        }
    }
    for (name, body) in [("forward", forward), ("backward", backward)] {
        let ref = timeMedian(reps: opts.reps) { body(false) } / Double(calls)
        let simd = timeMedian(reps: opts.reps) { body(true) } / Double(calls)
        print(
            String(
                format: "cell %@ B=%d H=%d: reference %.1f µs/step, SIMD8 %.1f µs/step, %.2f× faster",
                name, b, h, ref * 1e6, simd * 1e6, ref / simd))
    }
case .optimizer:
    optimizerBench(opts)
}
