// lstm-train-bench: end-to-end training speed of the path users run, next to the core and PyTorch.
//
//   swift build -c release && .build/release/lstm-train-bench [--shapes adding,charlm] [--steps 40] [--quick]
//   .build/release/lstm-train-bench --help
//
// For every shape it
//   1. writes random data in the documented layout (docs/datasets.md) with LSTMData's DatasetWriter
//      (the character LM: a text corpus prepared with `lstm prepare text`) and a YAML run config:
//      Adam, softmax cross-entropy at every step, no clipping, a train record every step, no
//      validation, no checkpoint before the last step;
//   2. runs `lstm train` (the `lstm` binary beside this one) as a child process and takes the median
//      of the per-step `tokens_per_s` of its metrics.jsonl after the warm-up steps (and, as
//      "wall", B·T over the median gap between consecutive records' wall_time), and its peak RSS
//      (VmHWM of /proc/PID/status, polled every 10 ms until wait4 reaps it: wait4's ru_maxrss would
//      include this process's own peak, which Linux carries into a spawned child through exec);
//   3. runs the core in-process on the same shape: DataParallelScheduler.computeGradient + the
//      Adam step, with the shards and BLAS threads `lstm train` would pick (median tokens/s);
//   4. when `python3 -c 'import torch, h5py'` works, runs Benchmarks/TrainBench/pytorch_train.py
//      on the same HDF5 file (nn.LSTM + nn.Linear + Adam, CrossEntropyLoss at every step, same
//      B, H, layers; torch.set_num_threads(--threads)) and takes its median tokens/s and peak RSS (as above).
// The sgemm ceiling (1024³, all cores, as `lstm train` uses them) is measured at the start and the
// end of the run. FLOPs per token: LSTMKit's flopsPerToken, 24·H·(I_k+H) per layer plus 6·H·O.
// The load average is printed before and after: figures taken on a busy machine are noisy.
import Dispatch
import Foundation
import HDF5Kit
import LSTMData
import LSTMKit

#if canImport(Glibc)
    import Glibc
#endif

/// Writes a line straight to standard output (unbuffered, so a pipe or `| tee` shows progress).
func print(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

// MARK: - Shapes and options

/// One benchmarked shape: a features model on random data, or the character LM on a text corpus.
struct Shape {
    var name: String
    var input: Int, hidden: Int, output: Int, batch: Int, steps: Int, layers: Int
    /// Character LM: a stateful token stream, `input` is the embedding width and `output` the vocabulary.
    var charLM = false
    var dropout = 0.0

    var label: String {
        charLM
            ? "charlm V\(output == 0 ? "?" : String(output)) E\(input) H\(hidden)×\(layers) B\(batch) T\(steps) p\(dropout)"
            : "I\(input) H\(hidden) O\(output) B\(batch) T\(steps) L\(layers)"
    }

    static let all: [Shape] = [
        Shape(name: "adding", input: 2, hidden: 64, output: 2, batch: 64, steps: 50, layers: 1),
        Shape(name: "small", input: 64, hidden: 128, output: 64, batch: 32, steps: 50, layers: 1),
        Shape(name: "medium", input: 128, hidden: 512, output: 128, batch: 64, steps: 100, layers: 1),
        Shape(name: "large", input: 256, hidden: 1024, output: 256, batch: 64, steps: 50, layers: 1),
        Shape(name: "deep", input: 64, hidden: 256, output: 64, batch: 32, steps: 100, layers: 2),
        Shape(
            name: "charlm", input: 64, hidden: 256, output: 0, batch: 32, steps: 100, layers: 2,
            charLM: true, dropout: 0.1)
    ]

    /// A shape by name, or a custom features shape "IxHxOxBxTxL" (e.g. 128x512x128x64x100x1).
    static func parse(_ s: String) throws -> Shape {
        if let shape = all.first(where: { $0.name == s }) { return shape }
        let n = s.split(separator: "x").compactMap { Int($0) }
        guard n.count == 6, n.allSatisfy({ $0 >= 1 }), n[2] >= 2 else {
            throw BenchError(
                "unknown shape '\(s)': use one of \(all.map(\.name).joined(separator: ", ")) "
                    + "or IxHxOxBxTxL with O ≥ 2 (e.g. 128x512x128x64x100x1)")
        }
        return Shape(name: s, input: n[0], hidden: n[1], output: n[2], batch: n[3], steps: n[4], layers: n[5])
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

struct Options {
    var shapes = Shape.all
    var warmup = 5, steps = 40
    var torchThreads = ProcessInfo.processInfo.activeProcessorCount
    var torch = true
    var work: String?
    var keep = false
    var corpusBytes = 3 << 20
    var torchScript: String?
    /// Also time `Trainer.train` in-process (the step `lstm train` runs, without loading and logging).
    var trainer = false

    static let usage = """
        usage: lstm-train-bench [--shapes NAME,...] [--steps N] [--warmup N] [--quick] [--threads N] [--no-torch]
                                [--trainer] [--work DIR] [--keep] [--corpus-mb N] [--torch-script PATH]
          --shapes     comma-separated: \(Shape.all.map(\.name).joined(separator: ", ")) (default: all),
                       or IxHxOxBxTxL for a custom features shape
          --steps      timed steps per run after the warm-up (default 40; --quick: 5)
          --warmup     untimed steps first (default 5; --quick: 1)
          --quick      few steps and a 1 MB corpus: all shapes in a couple of minutes
          --threads    PyTorch threads (default: the active cores, as lstm train uses them)
          --no-torch   skip the PyTorch column
          --trainer    also time Trainer.train in-process (tells the trainer's cost from loading and logging)
          --work       keep the data, configs and run directories in DIR (default: a temporary directory, removed)
          --keep       keep the temporary directory
          --corpus-mb  size of the character LM's corpus (default 3; --quick: 1)
        """

    static func parse(_ args: [String]) throws -> Options {
        var o = Options()
        var it = args.makeIterator()
        var quick = false
        var steps: Int?
        var warmup: Int?
        var corpus: Int?
        while let a = it.next() {
            func value() throws -> String {
                guard let v = it.next() else { throw BenchError("\(a) needs a value") }
                return v
            }
            func int(min: Int) throws -> Int {
                let s = try value()
                guard let v = Int(s), v >= min else { throw BenchError("\(a) needs an integer ≥ \(min), got '\(s)'") }
                return v
            }
            switch a {
            case "--shapes": o.shapes = try value().split(separator: ",").map { try Shape.parse(String($0)) }
            case "--steps": steps = try int(min: 1)
            case "--warmup": warmup = try int(min: 0)
            case "--quick": quick = true
            case "--threads": o.torchThreads = try int(min: 1)
            case "--no-torch": o.torch = false
            case "--trainer": o.trainer = true
            case "--work": o.work = try value()
            case "--keep": o.keep = true
            case "--corpus-mb": corpus = try int(min: 1)
            case "--torch-script": o.torchScript = try value()
            case "--help", "-h":
                print(usage)
                exit(0)
            default: throw BenchError("unknown argument '\(a)'\n\(usage)")
            }
        }
        o.steps = steps ?? (quick ? 5 : 40)
        o.warmup = warmup ?? (quick ? 1 : 5)
        o.corpusBytes = (corpus ?? (quick ? 1 : 3)) << 20
        return o
    }
}

// MARK: - Child processes

/// How a child process ended, and its peak resident set size.
struct ChildResult {
    var exitCode: Int32
    /// Peak RSS in MiB (VmHWM, polled until the child exits).
    var peakRSSMiB: Double
    var seconds: Double
    var log: String
}

/// Runs `args` (looked up in PATH) with stdout and stderr into `log`, and waits for it with wait4.
func runChild(_ args: [String], log: String) throws -> ChildResult {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    let argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
    defer { for p in argv { free(p) } }
    var pid: pid_t = 0
    let t0 = DispatchTime.now().uptimeNanoseconds
    let rc = posix_spawnp(&pid, args[0], &actions, nil, argv, environ)
    guard rc == 0 else { throw BenchError("cannot start \(args[0]): \(String(cString: strerror(rc)))") }
    // Peak RSS: the child's VmHWM (the high-water mark of its own address space), read every 10 ms
    // until it exits; wait4's ru_maxrss cannot be used, since a spawned child inherits the
    // parent's peak RSS through exec (Linux keeps the maximum of the old and the new address space).
    var status: Int32 = 0
    var usage = rusage()
    var hwmKiB = 0
    while true {
        if let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kib = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
        {
            hwmKiB = max(hwmKiB, kib)
        }
        let r = wait4(pid, &status, WNOHANG, &usage)
        if r == pid { break }
        if r < 0 && errno != EINTR { throw BenchError("wait4 on \(args[0]): \(String(cString: strerror(errno)))") }
        usleep(10_000)
    }
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
    // WIFEXITED / WEXITSTATUS by hand (macros are not imported); a signal shows as 128 + its number.
    let code: Int32 = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
    return ChildResult(exitCode: code, peakRSSMiB: Double(hwmKiB) / 1024, seconds: seconds, log: text)
}

/// The last `n` lines of a log, indented, for error messages.
func tail(_ text: String, _ n: Int = 8) -> String {
    text.split(separator: "\n", omittingEmptySubsequences: false).suffix(n).map { "    " + $0 }.joined(separator: "\n")
}

// MARK: - Measurements

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

func loadAverage() -> String {
    ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "unavailable")
        .trimmingCharacters(in: .whitespacesAndNewlines)
}

/// GFLOP/s of a square row-major sgemm at `threads` BLAS threads (median of 3 after a warm-up),
/// as Benchmarks/LSTMBench measures its ceiling.
func sgemmCeiling(n: Int = 1024, threads: Int) -> Double {
    BLASThreads.set(threads)
    let a = Buffer<Float>(count: n * n)
    let b = Buffer<Float>(count: n * n)
    let c = Buffer<Float>(count: n * n)
    for i in 0..<(n * n) {
        a[i] = Float(i % 7) * 0.1
        b[i] = Float(i % 5) * 0.1
    }
    let inner = max(1, Int(2e9 / Double(2 * n * n * n)))  // ~2 GFLOP per timed sample
    func run() {
        for _ in 0..<inner {
            gemm(
                Matrix(a.base, rows: n, cols: n), Matrix(b.base, rows: n, cols: n),
                into: Matrix(c.base, rows: n, cols: n))
        }
    }
    run()
    let t = median(
        (0..<3).map { _ in
            let t0 = now()
            run()
            return now() - t0
        })
    return 2 * Double(n * n * n) * Double(inner) / t / 1e9
}

/// Per-step figures of one run: tokens/s samples of the timed steps.
struct Figures {
    var tokensPerSecond: [Double] = []
    var median: Double { tokensPerSecond.isEmpty ? .nan : LSTMKit.median(tokensPerSecond) }
    var count: Int { tokensPerSecond.count }
    /// "min–max" of the samples: a wide range flags a noisy figure (a busy machine).
    var range: String {
        guard let lo = tokensPerSecond.min(), let hi = tokensPerSecond.max() else { return "–" }
        return String(format: "%.0f–%.0f", lo, hi)
    }
}

/// tokens_per_s of every train record after the warm-up, and B·T over the wall_time gaps.
func readMetrics(_ path: String, warmup: Int, tokensPerStep: Int) throws -> (metrics: Figures, wall: Figures) {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
        throw BenchError("\(path): no metrics (the run wrote none)")
    }
    var records: [(step: Int, tps: Double, wall: Double)] = []
    for line in text.split(separator: "\n") {
        guard let obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
            let step = obj["step"] as? Int, let tps = obj["tokens_per_s"] as? Double,
            let wall = obj["wall_time"] as? Double
        else { continue }
        records.append((step, tps, wall))
    }
    records.sort { $0.step < $1.step }
    var metrics = Figures()
    var wall = Figures()
    for (i, r) in records.enumerated() where r.step > warmup {
        metrics.tokensPerSecond.append(r.tps)
        if i > 0, records[i - 1].step == r.step - 1, r.wall > records[i - 1].wall {
            wall.tokensPerSecond.append(Double(tokensPerStep) / (r.wall - records[i - 1].wall))
        }
    }
    return (metrics, wall)
}

/// The scheduler layout the core run used (the one `lstm train` picks for the shape).
struct Layout { var shards: Int, workers: Int, blasThreads: Int }

/// One minibatch of random inputs (features or token ids) and class targets for `shape`.
func randomMinibatch(_ config: ModelConfig, shape: Shape) -> Minibatch<Float> {
    var rng = RandomSource(seed: 2)
    let n = shape.batch * shape.steps
    let inputs: Minibatch<Float>.Inputs =
        shape.charLM
        ? .tokens((0..<n).map { _ in Int32(rng.index(below: config.outputSize)) })
        : .features((0..<(n * shape.input)).map { _ in Float(rng.normal()) })
    return Minibatch<Float>(
        batchSize: shape.batch, steps: shape.steps, inputs: inputs,
        targets: .classes((0..<n).map { _ in Int32(rng.index(below: config.outputSize)) }))
}

/// The core in-process: computeGradient + the Adam step per minibatch, median tokens/s.
func coreRun(_ config: ModelConfig, shape: Shape, warmup: Int, steps: Int) throws -> (Figures, Layout) {
    let network = try LSTMNetwork<Float>(config: config)
    let params = ParameterSet<Float>(config: config, seed: 1)
    let optimizer = Adam<Float>(layout: params.layout, learningRate: 1e-3)
    let scheduler = DataParallelScheduler(network: network, maxBatch: shape.batch, maxSteps: shape.steps)
    let n = shape.batch * shape.steps
    let batch = randomMinibatch(config, shape: shape)
    var carried: [LSTMState<Float>?]? = shape.charLM ? Array(repeating: nil, count: scheduler.shardCount) : nil
    var figures = Figures()
    for step in 0..<(warmup + steps) {
        let t0 = now()
        let dropout = config.dropout > 0 ? DropoutContext(seed: 1, step: step) : nil
        batch.withView { _ = scheduler.computeGradient(params, $0, initialStates: carried, dropout: dropout) }
        if carried != nil {
            for s in 0..<scheduler.shardCount where !scheduler.shardRows(s, batch: shape.batch).isEmpty {
                carried![s] = scheduler.finalState(shard: s)
            }
        }
        optimizer.step(params, scheduler.gradients)
        let dt = now() - t0
        if step >= warmup { figures.tokensPerSecond.append(Double(n) / dt) }
    }
    return (
        figures,
        Layout(
            shards: scheduler.shardCount, workers: scheduler.workerCount,
            blasThreads: scheduler.blasThreads)
    )
}

/// `Trainer.train` in-process (gradient, norm, Adam step; no clipping) on one random minibatch.
func trainerRun(_ config: ModelConfig, shape: Shape, warmup: Int, steps: Int) throws -> Figures {
    let network = try LSTMNetwork<Float>(config: config)
    let params = ParameterSet<Float>(config: config, seed: 1)
    let trainer = Trainer(
        network: network, parameters: params,
        optimizer: Adam<Float>(layout: params.layout, learningRate: 1e-3),
        maxBatch: shape.batch, maxSteps: shape.steps)
    trainer.carriesState = shape.charLM
    trainer.dropoutSeed = 1
    let batch = randomMinibatch(config, shape: shape)
    var figures = Figures()
    for step in 0..<(warmup + steps) {
        let r = try trainer.train(batch)
        if step >= warmup { figures.tokensPerSecond.append(Double(r.tokens) / r.seconds) }
    }
    return figures
}

// MARK: - Data and configs

/// Random sequences: inputs float32 [N, T, I] (standard normal), targets int32 [N, T] in 0..<O.
func writeRandomData(_ shape: Shape, path: String, minibatches: Int = 8) throws -> Int {
    let n = shape.batch * minibatches
    var rng = RandomSource(seed: 1)
    let x = (0..<(n * shape.steps * shape.input)).map { _ in Float(rng.normal()) }
    let y = (0..<(n * shape.steps)).map { _ in Int32(rng.index(below: shape.output)) }
    let writer = try DatasetWriter(path: path)
    try writer.writeSequences(
        split: "train", count: n, steps: shape.steps, inputs: .features(x, width: shape.input),
        targets: .classesPerStep(y))
    _ = try writer.commit()
    return n
}

/// A corpus of about `bytes` bytes: the ASCII-only .py files of Python's standard library, in
/// name order (a vocabulary of about 100 characters); /usr/share/common-licenses as a fallback.
func writeCorpus(to path: String, bytes: Int, work: String) throws -> String {
    var dirs: [String] = []
    let probe = (work as NSString).appendingPathComponent("python-stdlib.txt")
    if let r = try? runChild(["python3", "-c", "import os; print(os.path.dirname(os.__file__))"], log: probe),
        r.exitCode == 0
    {
        dirs.append(r.log.trimmingCharacters(in: .whitespacesAndNewlines))
    }
    let fm = FileManager.default
    dirs += ((try? fm.contentsOfDirectory(atPath: "/usr/lib")) ?? []).filter { $0.hasPrefix("python3") }.sorted()
        .map { "/usr/lib/" + $0 }
    for (dir, ext) in dirs.map({ ($0, ".py") }) + [("/usr/share/common-licenses", "")] {
        let names = ((try? fm.contentsOfDirectory(atPath: dir)) ?? [])
            .filter { ext.isEmpty || $0.hasSuffix(ext) }.sorted()
        var corpus = Data()
        for name in names {
            let file = (dir as NSString).appendingPathComponent(name)
            guard let d = fm.contents(atPath: file),
                d.allSatisfy({ ($0 >= 32 && $0 < 127) || $0 == 9 || $0 == 10 })
            else { continue }
            corpus.append(d)
            if corpus.count >= bytes { break }
        }
        if corpus.count >= 100_000 {
            try corpus.write(to: URL(fileURLWithPath: path))
            return "\(corpus.count) bytes of \(dir)\(ext.isEmpty ? "" : "/*\(ext)")"
        }
    }
    throw BenchError("no text corpus found (Python's standard library or /usr/share/common-licenses)")
}

func yaml(_ shape: Shape, data: String, runDir: String, totalSteps: Int) -> String {
    let model =
        shape.charLM
        ? "model: {embedding_size: \(shape.input), hidden_size: \(shape.hidden), num_layers: \(shape.layers), "
            + "dropout: \(shape.dropout)}"
        : "model: {input_size: \(shape.input), hidden_size: \(shape.hidden), num_layers: \(shape.layers), "
            + "output_size: \(shape.output), head: sequence}"
    let stream = shape.charLM ? ", seq_length: \(shape.steps), stream_mode: stateful" : ""
    return """
        # Written by lstm-train-bench (Benchmarks/TrainBench): \(shape.label).
        \(model)
        loss: cross_entropy
        data: {file: "\(data)", val_split: none, batch_size: \(shape.batch)\(stream)}
        optimizer: {name: adam, lr: 0.001}
        training: {steps: \(totalSteps), clip_norm: none}
        checkpoint: {dir: "\(runDir)", every: 100000000, keep: 1}
        logging: {every: 1, progress: none}
        seed: 1

        """
}

// MARK: - One shape

struct Row {
    var shape: Shape
    var fpt = 0.0
    var layout: Layout?
    var train = Figures(), wall = Figures(), core = Figures(), torch = Figures(), trainer = Figures()
    var trainRSS: Double?, torchRSS: Double?
    var notes: [String] = []
}

struct Bench {
    let opts: Options
    let lstm: String
    let work: String
    let torchScript: String?

    func run(_ original: Shape) -> Row {
        var shape = original
        var row = Row(shape: shape)
        let dir = (work as NSString).appendingPathComponent(shape.name)
        let data = (dir as NSString).appendingPathComponent("data.h5")
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            // 1. Data and config.
            if shape.charLM {
                let text = (dir as NSString).appendingPathComponent("corpus.txt")
                let source = try writeCorpus(to: text, bytes: opts.corpusBytes, work: dir)
                let r = try runChild(
                    [lstm, "prepare", "text", text, "--out", data],
                    log: (dir as NSString).appendingPathComponent("prepare.log"))
                guard r.exitCode == 0 else { throw BenchError("lstm prepare text failed:\n\(tail(r.log))") }
                let schema = try DatasetFile(path: data).schema("train")
                shape.output = schema.vocabulary?.count ?? Int(schema.tokenIDs?.max ?? 0) + 1
                row.shape = shape
                print("  data: \(source) → lstm prepare text: V = \(shape.output), \(schema.count) train tokens")
            } else {
                let n = try writeRandomData(shape, path: data)
                print("  data: \(n) random sequences [\(n), \(shape.steps), \(shape.input)]")
            }
            let config = ModelConfig(
                input: shape.charLM
                    ? .tokens(vocabulary: shape.output, embedding: shape.input) : .features(size: shape.input),
                hiddenSize: shape.hidden, numLayers: shape.layers, outputSize: shape.output, head: .sequence,
                loss: .crossEntropy, dropout: shape.dropout)
            row.fpt = flopsPerToken(config)
            let runDir = (dir as NSString).appendingPathComponent("run")
            let configPath = (dir as NSString).appendingPathComponent("config.yaml")
            try yaml(shape, data: data, runDir: runDir, totalSteps: opts.warmup + opts.steps)
                .write(toFile: configPath, atomically: true, encoding: .utf8)

            // 2. lstm train, in a fresh run directory (an old one would be resumed into or appended to).
            try? FileManager.default.removeItem(atPath: runDir)
            let log = (dir as NSString).appendingPathComponent("train.log")
            let r = try runChild([lstm, "train", configPath], log: log)
            if r.exitCode == 0 {
                let m = try readMetrics(
                    (runDir as NSString).appendingPathComponent("metrics.jsonl"),
                    warmup: opts.warmup, tokensPerStep: shape.batch * shape.steps)
                row.train = m.metrics
                row.wall = m.wall
                row.trainRSS = r.peakRSSMiB
                print(
                    String(
                        format: "  lstm train: %.0f tokens/s (wall %.0f), median of %d (range %@); "
                            + "peak RSS %.0f MiB; %.1f s", row.train.median, row.wall.median, row.train.count,
                        row.train.range, r.peakRSSMiB, r.seconds))
            } else {
                row.notes.append("lstm train failed")
                print("  lstm train failed (exit \(r.exitCode)), log \(log):\n\(tail(r.log))")
            }

            // 3. The core in-process.
            let (core, layout) = try coreRun(config, shape: shape, warmup: opts.warmup, steps: opts.steps)
            row.core = core
            row.layout = layout
            print(
                String(
                    format: "  core (computeGradient + Adam): %.0f tokens/s, median of %d (range %@); "
                        + "S=%d W=%d BLAS threads %d",
                    core.median, core.count, core.range, layout.shards, layout.workers, layout.blasThreads))

            if opts.trainer {
                row.trainer = try trainerRun(config, shape: shape, warmup: opts.warmup, steps: opts.steps)
                print(
                    String(
                        format: "  Trainer.train in-process: %.0f tokens/s, median of %d",
                        row.trainer.median, row.trainer.count))
            }

            // 4. PyTorch.
            if let script = torchScript {
                var args = [
                    "python3", script, "--data", data, "-B", "\(shape.batch)", "-H", "\(shape.hidden)",
                    "-L", "\(shape.layers)", "-O", "\(shape.output)", "--lr", "0.001",
                    "--warmup", "\(opts.warmup)", "--steps", "\(opts.steps)", "--threads", "\(opts.torchThreads)"
                ]
                if shape.charLM {
                    args += ["-T", "\(shape.steps)", "--embedding", "\(shape.input)", "--dropout", "\(shape.dropout)"]
                }
                let tlog = (dir as NSString).appendingPathComponent("pytorch.log")
                let t = try runChild(args, log: tlog)
                let rates = t.log.split(separator: "\n").filter { $0.hasPrefix("step ") }
                    .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }
                if t.exitCode == 0, !rates.isEmpty {
                    row.torch.tokensPerSecond = rates.map { Double(shape.batch * shape.steps) / $0 }
                    row.torchRSS = t.peakRSSMiB
                    print(
                        String(
                            format: "  PyTorch: %.0f tokens/s, median of %d (range %@); peak RSS %.0f MiB; %.1f s",
                            row.torch.median, row.torch.count, row.torch.range, t.peakRSSMiB, t.seconds))
                } else {
                    row.notes.append("PyTorch failed")
                    print("  PyTorch failed (exit \(t.exitCode)), log \(tlog):\n\(tail(t.log))")
                }
            }
        } catch {
            row.notes.append("error")
            print("  error: \(error)")
        }
        return row
    }
}

// MARK: - Output

func fmt(_ x: Double?, _ f: String = "%.0f") -> String {
    guard let x, x.isFinite else { return "–" }
    return String(format: f, x)
}

func ratio(_ a: Double, _ b: Double) -> Double? { a.isFinite && b.isFinite && b > 0 ? a / b : nil }

func report(_ rows: [Row], ceiling: Double, trainer: Bool) {
    print("")
    print(
        "| shape | S·W·BLAS | lstm train tok/s | wall tok/s | core tok/s | train/core | PyTorch tok/s | lstm/PyTorch "
            + "| MFLOP/tok | train GFLOP/s | % ceiling | core GFLOP/s | RSS lstm MiB | RSS torch MiB | n train/core/torch |"
            + (trainer ? " Trainer.train tok/s |" : ""))
    print("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|" + (trainer ? "--:|" : ""))
    for r in rows {
        let gTrain = r.train.median * r.fpt / 1e9
        let gCore = r.core.median * r.fpt / 1e9
        let layout = r.layout.map { "\($0.shards)·\($0.workers)·\($0.blasThreads)" } ?? "–"
        let cells =
            [
                r.shape.label, layout, fmt(r.train.median), fmt(r.wall.median), fmt(r.core.median),
                fmt(ratio(r.train.median, r.core.median), "%.2f"), fmt(r.torch.median),
                fmt(ratio(r.train.median, r.torch.median), "%.2f"), fmt(r.fpt / 1e6, "%.2f"), fmt(gTrain, "%.1f"),
                fmt(ratio(100 * gTrain, ceiling), "%.1f"), fmt(gCore, "%.1f"), fmt(r.trainRSS), fmt(r.torchRSS),
                "\(r.train.count)/\(r.core.count)/\(r.torch.count)"
            ] + (trainer ? [fmt(r.trainer.median)] : [])
        print(
            "| " + cells.joined(separator: " | ") + " |"
                + (r.notes.isEmpty ? "" : " " + r.notes.joined(separator: "; ")))
    }
}

// MARK: - Main

func locateLSTM() throws -> String {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    let path = ((exe as NSString).deletingLastPathComponent as NSString).appendingPathComponent("lstm")
    guard FileManager.default.isExecutableFile(atPath: path) else {
        throw BenchError(
            "the lstm binary is not at \(path): build it with `swift build -c release` "
                + "(it builds lstm beside lstm-train-bench)")
    }
    return path
}

func locateTorchScript(_ given: String?) -> String? {
    let candidates =
        [given].compactMap { $0 } + [
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("pytorch_train.py").path,
            "Benchmarks/TrainBench/pytorch_train.py"
        ]
    return candidates.first { FileManager.default.fileExists(atPath: $0) }
}

func main() throws {
    let opts = try Options.parse(Array(CommandLine.arguments.dropFirst()))
    let lstm = try locateLSTM()
    let cores = ProcessInfo.processInfo.activeProcessorCount
    let work = opts.work ?? (NSTemporaryDirectory() as NSString).appendingPathComponent("lstm-train-bench-\(getpid())")
    try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    defer {
        if opts.work == nil && !opts.keep { try? FileManager.default.removeItem(atPath: work) }
    }

    print("lstm-train-bench: \(opts.shapes.count) shape(s), \(opts.warmup) warm-up + \(opts.steps) timed steps each")
    print("lstm: \(lstm); work directory: \(work)\(opts.work == nil && !opts.keep ? " (removed at the end)" : "")")
    print("OpenBLAS core: \(BLASThreads.coreName); config: \(BLASThreads.config); cores: \(cores)")
    #if DEBUG
        print("note: this is a debug build; `swift build -c release` gives representative figures")
    #endif
    let loadBefore = loadAverage()
    print("load average before: \(loadBefore)")

    var torchScript: String?
    if opts.torch {
        let probe = (work as NSString).appendingPathComponent("torch-probe.txt")
        let check = "import torch, h5py; print(torch.__version__, h5py.__version__)"
        let r = try? runChild(["python3", "-c", check], log: probe)
        if let r, r.exitCode == 0, let script = locateTorchScript(opts.torchScript) {
            torchScript = script
            print(
                "PyTorch: torch, h5py \(r.log.trimmingCharacters(in: .whitespacesAndNewlines)); "
                    + "\(opts.torchThreads) thread(s); \(script)")
        } else if let r, r.exitCode == 0 {
            print("PyTorch column skipped: pytorch_train.py not found (pass --torch-script PATH)")
        } else {
            print("PyTorch column skipped: `python3 -c 'import torch, h5py'` failed (pip install torch h5py)")
        }
    } else {
        print("PyTorch column skipped (--no-torch)")
    }

    let ceilingBefore = sgemmCeiling(threads: cores)
    print(String(format: "sgemm ceiling (1024³, %d BLAS threads): %.1f GFLOP/s", cores, ceilingBefore))

    let bench = Bench(opts: opts, lstm: lstm, work: work, torchScript: torchScript)
    var rows: [Row] = []
    for shape in opts.shapes {
        print("\n\(shape.name): \(shape.label)")
        rows.append(bench.run(shape))
    }

    let ceilingAfter = sgemmCeiling(threads: cores)
    let ceiling = (ceilingBefore + ceilingAfter) / 2
    print(
        String(
            format: "\nsgemm ceiling (1024³, %d BLAS threads): %.1f GFLOP/s before, %.1f after; "
                + "fractions use the mean %.1f", cores, ceilingBefore, ceilingAfter, ceiling))
    let loadAfter = loadAverage()
    print("load average after: \(loadAfter)")

    print(
        "\nlstm-train-bench, \(opts.warmup) warm-up + \(opts.steps) timed steps; OpenBLAS \(BLASThreads.coreName), "
            + "\(cores) cores; sgemm ceiling \(String(format: "%.1f", ceiling)) GFLOP/s; "
            + "load average \(loadBefore) → \(loadAfter); "
            + (torchScript == nil ? "PyTorch skipped" : "PyTorch \(opts.torchThreads) thread(s)"))
    report(rows, ceiling: ceiling, trainer: opts.trainer)
    print(
        "\nMedians of per-step tokens/s. lstm train: metrics.jsonl tokens_per_s (loader hand-off to the end of the update); wall: "
            + "B·T / gap between consecutive records' wall_time (adds loading and logging); core: computeGradient "
            + "+ Adam in-process; S·W·BLAS: shards, workers, BLAS threads (as lstm train picks them).")
}

do {
    try main()
} catch {
    FileHandle.standardError.write(Data("lstm-train-bench: \(error)\n".utf8))
    exit(1)
}
