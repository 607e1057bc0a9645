// lstm-train-bench: end-to-end training speed of `lstm train` against PyTorch, measured alternately.
//
//   swift build -c release && .build/release/lstm-train-bench [--shapes adding,charlm] [--reps 3] [--quick]
//   .build/release/lstm-train-bench --help
//
// This machine's speed drifts (other processes, frequency, a shared host), so sequential pairs
// mislead: for every shape the sides run ALTERNATELY, A B A B … (`--reps` runs each, default 3),
// and each side is reported as the median of its runs' medians with the min–max of those run
// medians, next to the ratio of the two medians and the load average before and after the shape.
//
// For every shape it
//   1. writes random data in the documented layout (docs/datasets.md) with LSTMData's DatasetWriter
//      (the character LM: a text corpus prepared with `lstm prepare text`) and a YAML run config:
//      Adam, softmax cross-entropy at every step, no clipping, a train record every step, no
//      validation, no checkpoint before the last step;
//   2. side A: runs `lstm train` (the `lstm` binary beside this one) as a child process; a run's
//      figure is the median of the per-step `tokens_per_s` of its metrics.jsonl after the warm-up
//      steps; its peak RSS is VmHWM of /proc/PID/status, polled every 10 ms until wait4 reaps it
//      (wait4's ru_maxrss would include this process's own peak, which Linux carries into a
//      spawned child through exec). The GEMM line `lstm train` prints at start (if it prints one)
//      and its shard/worker layout are taken from its log;
//   3. side B (when `python3 -c 'import torch, h5py'` works): Benchmarks/TrainBench/pytorch_train.py
//      on the same HDF5 file (nn.LSTM + nn.Linear + Adam, CrossEntropyLoss at every step, same B, H,
//      layers, dropout, stateful lanes; torch.set_num_threads(--threads)); it reports its CPU
//      capability, BLAS, oneDNN and whether nn.LSTM ran oneDNN's kernel (torch.profiler);
//   4. optionally (--core, --trainer) more sides in the same rotation: the core in-process
//      (ShardWorkers.computeGradient + Adam, the layout `lstm train` picks) and
//      Trainer.train in-process — what `lstm train` costs beyond them is loading and logging.
// The sgemm ceiling is the machine's widest correct one: 1024³ row-major sgemms on all cores (the
// better of one call on all BLAS threads and one single-threaded call per core at once, the two ways
// `lstm train` uses the cores; median of 3 after a warm-up) through LSTMKit's gemm as dispatched,
// through OpenBLAS's cblas_sgemm with the core it picked here, and — in a child process each, with
// OPENBLAS_CORETYPE set — OpenBLAS's wider cores the CPU supports; each is first checked against a
// Double reference (odd sizes, the transposes the model uses), and the largest correct figure is
// the ceiling. Each is timed before the rows and again after them and keeps the better figure: the
// machine's speed drifts, and a ceiling timed in a slow minute would flatter the rows.
// FLOPs per token: LSTMKit's flopsPerToken, 24·H·(I_k+H) per layer plus 6·H·O.
import ArgumentParser
import CBLAS
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

// MARK: - Shapes

/// One benchmarked shape: a features model on random data, or the character LM on a text corpus.
struct Shape {
    var name: String
    var input: Int, hidden: Int, output: Int, batch: Int, steps: Int, layers: Int
    /// Character LM: a stateful token stream, `input` is the embedding width and `output` the vocabulary.
    var charLM = false
    var dropout = 0.0
    /// Timed training steps per run by default, sized from the issue's per-step times for a few
    /// seconds of training per run on 2 cores, so that the default 6 shapes × 3 reps × 2 sides
    /// take about 10 minutes (an estimate; PyTorch's start-up adds a few seconds per run).
    var defaultTimedSteps = 20

    var label: String {
        charLM
            ? "charlm V\(output == 0 ? "?" : String(output)) E\(input) H\(hidden)×\(layers) B\(batch) T\(steps) p\(dropout)"
            : "I\(input) H\(hidden) O\(output) B\(batch) T\(steps) L\(layers)"
    }

    static let all: [Shape] = [
        Shape(name: "adding", input: 2, hidden: 64, output: 2, batch: 64, steps: 50, layers: 1, defaultTimedSteps: 100),
        Shape(
            name: "small", input: 64, hidden: 128, output: 64, batch: 32, steps: 50, layers: 1, defaultTimedSteps: 100),
        Shape(name: "medium", input: 128, hidden: 512, output: 128, batch: 64, steps: 100, layers: 1),
        Shape(
            name: "large", input: 256, hidden: 1024, output: 256, batch: 64, steps: 50, layers: 1, defaultTimedSteps: 12
        ),
        Shape(name: "deep", input: 64, hidden: 256, output: 64, batch: 32, steps: 100, layers: 2),
        Shape(
            name: "charlm", input: 64, hidden: 256, output: 0, batch: 32, steps: 100, layers: 2,
            charLM: true, dropout: 0.1, defaultTimedSteps: 30)
    ]

    /// A shape by name, or a custom features shape "IxHxOxBxTxL" (e.g. 128x512x128x64x100x1).
    static func parse(_ s: String) throws -> Shape {
        if let shape = all.first(where: { $0.name == s }) { return shape }
        let n = s.split(separator: "x").compactMap { Int($0) }
        guard n.count == 6, n.allSatisfy({ $0 >= 1 }), n[2] >= 2 else {
            throw ValidationError(
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
/// `environment` entries are added to (or replace those of) this process's environment.
func runChild(_ args: [String], log: String, environment: [String: String] = [:]) throws -> ChildResult {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    let argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
    defer { for p in argv { free(p) } }
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    let envp: [UnsafeMutablePointer<CChar>?] =
        env.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { for p in envp { free(p) } }
    var pid: pid_t = 0
    let t0 = DispatchTime.now().uptimeNanoseconds
    let rc = posix_spawnp(&pid, args[0], &actions, nil, argv, envp)
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

// MARK: - Machine

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

/// The 1-minute load average (and the 5- and 15-minute ones) as /proc/loadavg gives them.
func loadAverage() -> String {
    let text = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?"
    return text.split(separator: " ").prefix(3).joined(separator: " ")
}

/// The CPU's model name and the vector-ISA flags that matter for sgemm.
func cpuDescription() -> (model: String, flags: Set<String>) {
    let text = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    var model = "unknown CPU"
    var flags = Set<String>()
    for line in text.split(separator: "\n") {
        let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2 else { continue }
        if parts[0] == "model name" && model == "unknown CPU" { model = parts[1] }
        if parts[0] == "flags" && flags.isEmpty { flags = Set(parts[1].split(separator: " ").map(String.init)) }
    }
    return (model, flags)
}

/// The widest vector ISA of the CPU, as the flags name it.
func widestISA(_ flags: Set<String>) -> String {
    var isa =
        flags.contains("avx512f") ? "AVX-512" : flags.contains("avx2") ? "AVX2" : flags.contains("avx") ? "AVX" : "SSE"
    let extras = ["avx512_bf16", "avx512_fp16", "amx_tile"].filter { flags.contains($0) }
    if !extras.isEmpty { isa += " (+" + extras.joined(separator: ", ") + ")" }
    return isa
}

/// The vector ISA of an OpenBLAS core's kernels (OpenBLAS 0.3.x's names).
func openBLASISA(_ core: String) -> String {
    switch core.lowercased() {
    case "skylakex", "cooperlake", "sapphirerapids": return "AVX-512"
    case "haswell", "zen", "excavator", "steamroller", "piledriver": return "AVX2"
    case "sandybridge", "bulldozer": return "AVX"
    case "prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "barcelona", "opteron", "opteron_sse3":
        return "SSE3"
    default: return "?"
    }
}

/// OpenBLAS cores wider than the one in use that this CPU can run (OPENBLAS_CORETYPE names).
func widerOpenBLASCores(than current: String, flags: Set<String>) -> [String] {
    var cores: [String] = []
    if flags.isSuperset(of: ["avx512f", "avx512bw", "avx512dq", "avx512vl"]) {
        cores.append("SkylakeX")
        if flags.contains("avx512_bf16") { cores.append("Cooperlake") }
    } else if flags.contains("avx2") && flags.contains("fma") {
        cores.append("Haswell")
    }
    return cores.filter { $0.lowercased() != current.lowercased() }
}

// MARK: - The sgemm ceiling

/// A row-major sgemm: c ← op(a)·op(b) (alpha 1, beta 0).
typealias SGEMM =
    @Sendable (
        _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int,
        _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
        _ c: UnsafeMutablePointer<Float>, _ ldc: Int
    ) -> Void

/// LSTMKit's gemm as the model dispatches it.
func lstmKitGEMM(
    _ ta: Bool, _ tb: Bool, _ m: Int, _ n: Int, _ k: Int, _ a: UnsafePointer<Float>, _ lda: Int,
    _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int
) {
    Float.gemm(
        transA: ta, transB: tb, m: m, n: n, k: k, alpha: 1, a: a, lda: lda, b: b, ldb: ldb, beta: 0, c: c, ldc: ldc)
}

/// OpenBLAS's cblas_sgemm, with whatever core OpenBLAS picked in this process.
func openBLASGEMM(
    _ ta: Bool, _ tb: Bool, _ m: Int, _ n: Int, _ k: Int, _ a: UnsafePointer<Float>, _ lda: Int,
    _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int
) {
    cblas_sgemm(
        CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
        Int32(m), Int32(n), Int32(k), 1, a, Int32(lda), b, Int32(ldb), 0, c, Int32(ldc))
}

/// The largest error of `gemm` against a Double reference over odd sizes and the transposes the
/// model uses (NN, NT, TN), relative to Σ|a||b| of each element: ~1e-7 for a correct kernel,
/// O(1) or NaN for a wrong one.
func sgemmError(_ gemm: SGEMM) -> Double {
    let (m, n, k) = (67, 129, 97)
    var rng = RandomSource(seed: 3)
    let a = (0..<(m * k)).map { _ in Float(rng.normal()) }
    let b = (0..<(k * n)).map { _ in Float(rng.normal()) }
    var worst = 0.0
    for (ta, tb) in [(false, false), (false, true), (true, false)] {
        // op(A) is m×k: stored k×m when transposed; op(B) is k×n: stored n×k when transposed.
        let lda = ta ? m : k
        let ldb = tb ? k : n
        var c = [Float](repeating: .nan, count: m * n)
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    gemm(ta, tb, m, n, k, ap.baseAddress!, lda, bp.baseAddress!, ldb, cp.baseAddress!, n)
                }
            }
        }
        for i in 0..<m {
            for j in 0..<n {
                var ref = 0.0
                var mag = 0.0
                for p in 0..<k {
                    let x = Double(ta ? a[p * lda + i] : a[i * lda + p])
                    let y = Double(tb ? b[j * ldb + p] : b[p * ldb + j])
                    ref += x * y
                    mag += abs(x * y)
                }
                let e = abs(Double(c[i * n + j]) - ref) / max(mag, 1e-30)
                worst = e.isNaN ? .infinity : max(worst, e)
            }
        }
    }
    return worst
}

/// GFLOP/s of 1024³ row-major sgemms on all `cores`, the better of the two ways `lstm train` uses
/// them: one call at a time with `cores` BLAS threads (one shard), or `cores` single-threaded calls
/// at once on their own matrices (one shard per core). Median of 3 samples after a warm-up.
func sgemmGFLOPs(_ gemm: SGEMM, n: Int = 1024, cores: Int) -> (gflops: Double, how: String) {
    func measure(parallel: Int, blasThreads: Int) -> Double {
        BLASThreads.set(blasThreads)
        return LSTMKit.sgemmGFLOPs(m: n, n: n, k: n, parallel: parallel) { m, n, k, a, b, c in
            gemm(false, false, m, n, k, a, k, b, n, c, n)
        }
    }
    let together = measure(parallel: 1, blasThreads: cores)
    guard cores > 1 else { return (together, "1 thread") }
    let apart = measure(parallel: cores, blasThreads: 1)
    BLASThreads.set(cores)
    return apart > together
        ? (apart, "\(cores) single-threaded calls at once") : (together, "one call on \(cores) BLAS threads")
}

/// One measured sgemm kernel: what it is, its speed and whether it computes correctly here.
struct Ceiling {
    var name: String
    var gflops: Double
    var error: Double
    /// How the cores were used for the better figure (one call on all BLAS threads, or one call per core).
    var how = ""
    /// The figures timed before and after the rows, when timed twice; `gflops` is the better one.
    var timings: (before: Double, after: Double)?
    /// Keeps the better of this figure and `again` (the same kernel timed later), and the worse error.
    mutating func merge(_ again: Ceiling) {
        timings = (gflops, again.gflops)
        if again.gflops > gflops || gflops.isNaN {
            gflops = again.gflops
            how = again.how
        }
        error = max(error, again.error)
    }
    /// A kernel's result beyond this relative error is wrong (k = 97 terms: a correct one stays ~1e-7).
    static let tolerance = 1e-5
    var correct: Bool { error <= Self.tolerance }
    var text: String {
        String(format: "%@: %.1f GFLOP/s", name, gflops) + (how.isEmpty ? "" : " (\(how))")
            + (timings.map {
                String(format: " (the better of %.1f before the rows and %.1f after)", $0.before, $0.after)
            } ?? "")
            + (correct
                ? String(format: " (correct, max rel. error %.1e)", error)
                : String(format: " (WRONG: error %.2g)", error))
    }
}

// MARK: - Figures

/// The per-step tokens/s of one run (after its warm-up steps).
struct Figures {
    var tokensPerSecond: [Double] = []
    var median: Double { tokensPerSecond.isEmpty ? .nan : LSTMKit.median(tokensPerSecond) }
    var count: Int { tokensPerSecond.count }
}

/// One run of one side.
struct RunResult {
    var figures: Figures
    var peakRSSMiB: Double?
    var seconds: Double
}

/// The runs of one side on one shape: each run's median, then their median and range.
struct Side {
    var runs: [RunResult] = []
    var failures = 0
    var medians: [Double] { runs.map(\.figures.median).filter(\.isFinite) }
    var median: Double { medians.isEmpty ? .nan : LSTMKit.median(medians) }
    var range: String {
        guard let lo = medians.min(), let hi = medians.max() else { return "–" }
        return "\(fmt(lo))–\(fmt(hi))"
    }
    var peakRSS: Double? {
        let r = runs.compactMap(\.peakRSSMiB)
        return r.isEmpty ? nil : LSTMKit.median(r)
    }
    var stepsPerRun: Int { runs.map(\.figures.count).min() ?? 0 }
}

/// tokens_per_s of every train record after the warm-up.
func readMetrics(_ path: String, warmup: Int) throws -> Figures {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
        throw BenchError("\(path): no metrics (the run wrote none)")
    }
    var records: [(step: Int, tps: Double)] = []
    for line in text.split(separator: "\n") {
        guard let obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
            let step = obj["step"] as? Int, let tps = obj["tokens_per_s"] as? Double
        else { continue }
        records.append((step, tps))
    }
    records.sort { $0.step < $1.step }
    return Figures(tokensPerSecond: records.filter { $0.step > warmup }.map(\.tps))
}

/// The scheduler layout a run used: shards, workers (from `lstm train`'s start line, or the core).
struct Layout: Equatable { var shards: Int, workers: Int }

/// "… 2 shard(s) on 2 worker(s) …" in `lstm train`'s log.
func layout(fromTrainLog log: String) -> Layout? {
    guard let r = log.range(of: #"(\d+) shard\(s\) on (\d+) worker\(s\)"#, options: .regularExpression) else {
        return nil
    }
    let n = log[r].split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
    return n.count == 2 ? Layout(shards: n[0], workers: n[1]) : nil
}

/// The GEMM kernel line `lstm train` prints at start ("gemm: …"), if its build prints one.
func kernelLine(fromTrainLog log: String) -> String? {
    log.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        .first { $0.lowercased().hasPrefix("gemm:") || $0.lowercased().hasPrefix("gemm kernel") }
}

// MARK: - In-process sides

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

/// The core in-process: computeGradient + the Adam step per minibatch.
func coreRun(_ config: ModelConfig, shape: Shape, warmup: Int, steps: Int) throws -> (Figures, Layout) {
    let network = try LSTMNetwork<Float>(config: config)
    let params = ParameterSet<Float>(config: config, seed: 1)
    let optimizer = Adam<Float>(layout: params.layout, learningRate: 1e-3)
    let scheduler = ShardWorkers(network: network, maxBatch: shape.batch, maxSteps: shape.steps)
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
    return (figures, Layout(shards: scheduler.shardCount, workers: scheduler.workerCount))
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
        logging: {every: 1, progress: plain}
        seed: 1

        """
}

// MARK: - One shape

/// Everything measured on one shape.
struct Row {
    var shape: Shape
    var fpt = 0.0
    var steps = 0
    var layout: Layout?
    var train = Side(), torch = Side(), core = Side(), trainer = Side()
    /// `lstm train` with `training.precision: bf16` (`--bf16`).
    var bf16 = Side()
    var kernelLines: Set<String> = []
    var torchKernels: String?
    var loadBefore = "", loadAfter = ""
    var notes: [String] = []
}

/// What one bench run measures, and how.
struct Bench {
    let warmup: Int
    let steps: Int?
    let reps: Int
    let corpusBytes: Int
    let torchThreads: Int
    let withCore: Bool
    let withTrainer: Bool
    let withBF16: Bool
    let lstm: String
    let work: String
    let torchScript: String?

    func run(_ original: Shape) -> Row {
        var shape = original
        var row = Row(shape: shape)
        row.loadBefore = loadAverage()
        defer { print("  load average: \(row.loadBefore) before → \(loadAverage()) after") }
        let steps = self.steps ?? shape.defaultTimedSteps
        row.steps = steps
        let dir = (work as NSString).appendingPathComponent(shape.name)
        let data = (dir as NSString).appendingPathComponent("data.h5")
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            // Data and config, once per shape.
            if shape.charLM {
                let text = (dir as NSString).appendingPathComponent("corpus.txt")
                let source = try writeCorpus(to: text, bytes: corpusBytes, work: dir)
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
            try yaml(shape, data: data, runDir: runDir, totalSteps: warmup + steps)
                .write(toFile: configPath, atomically: true, encoding: .utf8)

            // The sides, alternately: A B [C D E] A B [C D E] …
            for rep in 1...reps {
                runTrain(shape, rep: rep, dir: dir, configPath: configPath, runDir: runDir, row: &row)
                if withBF16 {
                    runTrain(shape, rep: rep, dir: dir, configPath: configPath, runDir: runDir, row: &row, bf16: true)
                }
                if let torchScript {
                    runTorch(shape, rep: rep, script: torchScript, dir: dir, data: data, steps: steps, row: &row)
                }
                if withCore {
                    let (f, layout) = try coreRun(config, shape: shape, warmup: warmup, steps: steps)
                    row.core.runs.append(RunResult(figures: f, peakRSSMiB: nil, seconds: 0))
                    row.layout = row.layout ?? layout
                    print("  [\(rep)] core (computeGradient + Adam): \(fmt(f.median)) tokens/s")
                }
                if withTrainer {
                    let f = try trainerRun(config, shape: shape, warmup: warmup, steps: steps)
                    row.trainer.runs.append(RunResult(figures: f, peakRSSMiB: nil, seconds: 0))
                    print("  [\(rep)] Trainer.train in-process: \(fmt(f.median)) tokens/s")
                }
            }
        } catch {
            row.notes.append("error")
            print("  error: \(error)")
        }
        row.loadAfter = loadAverage()
        if row.train.failures > 0 { row.notes.append("lstm train failed \(row.train.failures)×") }
        if row.bf16.failures > 0 { row.notes.append("lstm train bf16 failed \(row.bf16.failures)×") }
        if row.torch.failures > 0 { row.notes.append("PyTorch failed \(row.torch.failures)×") }
        return row
    }

    /// Side A: `lstm train` in a fresh run directory (an old one would be resumed into or appended to);
    /// with `bf16`, the same run with `training.precision: bf16` (side C).
    func runTrain(
        _ shape: Shape, rep: Int, dir: String, configPath: String, runDir: String, row: inout Row, bf16: Bool = false
    ) {
        let name = bf16 ? "lstm train bf16" : "lstm train"
        do {
            try? FileManager.default.removeItem(atPath: runDir)
            let log = (dir as NSString).appendingPathComponent("train\(bf16 ? "-bf16" : "")-\(rep).log")
            let r = try runChild(
                [lstm, "train", configPath] + (bf16 ? ["--set", "training.precision=bf16"] : []), log: log)
            guard r.exitCode == 0 else {
                if bf16 { row.bf16.failures += 1 } else { row.train.failures += 1 }
                print("  [\(rep)] \(name) failed (exit \(r.exitCode)), log \(log):\n\(tail(r.log))")
                return
            }
            let f = try readMetrics((runDir as NSString).appendingPathComponent("metrics.jsonl"), warmup: warmup)
            if bf16 {
                row.bf16.runs.append(RunResult(figures: f, peakRSSMiB: r.peakRSSMiB, seconds: r.seconds))
                print("  [\(rep)] \(name): \(fmt(f.median)) tokens/s (median of \(f.count) steps)")
                return
            }
            row.train.runs.append(RunResult(figures: f, peakRSSMiB: r.peakRSSMiB, seconds: r.seconds))
            // The layout `lstm train` reports, else the one its defaults give (the scheduler's rule).
            let cores = ProcessInfo.processInfo.activeProcessorCount
            let s = ShardWorkers<Float>.defaultShardCount(batchSize: shape.batch, hidden: shape.hidden)
            row.layout = layout(fromTrainLog: r.log) ?? Layout(shards: s, workers: min(s, cores))
            if let k = kernelLine(fromTrainLog: r.log) { row.kernelLines.insert(k) }
            print(
                "  [\(rep)] lstm train: \(fmt(f.median)) tokens/s (median of \(f.count) steps); "
                    + String(format: "peak RSS %.0f MiB; %.1f s", r.peakRSSMiB, r.seconds))
        } catch {
            if bf16 { row.bf16.failures += 1 } else { row.train.failures += 1 }
            print("  [\(rep)] \(name): \(error)")
        }
    }

    /// Side B: pytorch_train.py on the same file.
    func runTorch(_ shape: Shape, rep: Int, script: String, dir: String, data: String, steps: Int, row: inout Row) {
        var args = [
            "python3", script, "--data", data, "-B", "\(shape.batch)", "-H", "\(shape.hidden)",
            "-L", "\(shape.layers)", "-O", "\(shape.output)", "--lr", "0.001",
            "--warmup", "\(max(1, warmup))", "--steps", "\(steps)", "--threads", "\(torchThreads)"
        ]
        if shape.charLM {
            args += ["-T", "\(shape.steps)", "--embedding", "\(shape.input)", "--dropout", "\(shape.dropout)"]
        }
        let log = (dir as NSString).appendingPathComponent("pytorch-\(rep).log")
        do {
            let t = try runChild(args, log: log)
            let lines = t.log.split(separator: "\n")
            let rates = lines.filter { $0.hasPrefix("step ") }
                .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }
            guard t.exitCode == 0, !rates.isEmpty else {
                row.torch.failures += 1
                print("  [\(rep)] PyTorch failed (exit \(t.exitCode)), log \(log):\n\(tail(t.log))")
                return
            }
            let f = Figures(tokensPerSecond: rates.map { Double(shape.batch * shape.steps) / $0 })
            row.torch.runs.append(RunResult(figures: f, peakRSSMiB: t.peakRSSMiB, seconds: t.seconds))
            if let k = lines.first(where: { $0.hasPrefix("kernels ") }) { row.torchKernels = String(k.dropFirst(8)) }
            print(
                "  [\(rep)] PyTorch: \(fmt(f.median)) tokens/s (median of \(f.count) steps); "
                    + String(format: "peak RSS %.0f MiB; %.1f s", t.peakRSSMiB, t.seconds))
        } catch {
            row.torch.failures += 1
            print("  [\(rep)] PyTorch: \(error)")
        }
    }
}

// MARK: - Output

func fmt(_ x: Double?, _ f: String = "%.0f") -> String {
    guard let x, x.isFinite else { return "–" }
    if f == "%.0f" {  // tokens/s with thousands separators, as the issue's tables print them
        let n = Int(x.rounded())
        let s = String(abs(n))
        var out = ""
        for (i, ch) in s.enumerated() {
            if i > 0 && (s.count - i) % 3 == 0 { out += "," }
            out.append(ch)
        }
        return (n < 0 ? "-" : "") + out
    }
    return String(format: f, x)
}

func ratio(_ a: Double, _ b: Double) -> Double? { a.isFinite && b.isFinite && b > 0 ? a / b : nil }

/// The paste-ready markdown table.
func report(_ rows: [Row], ceiling: Double, core: Bool, trainer: Bool, bf16: Bool) {
    var head = [
        "shape", "S·W", "`lstm train` tok/s", "min–max", "PyTorch tok/s", "min–max", "lstm/PyTorch",
        "lstm GFLOP/s", "% ceiling", "RSS lstm/torch MiB", "PyTorch LSTM", "load before → after", "runs × steps"
    ]
    if core { head += ["core tok/s", "train/core"] }
    if trainer { head += ["Trainer.train tok/s"] }
    if bf16 { head += ["bf16 tok/s", "bf16 min–max", "bf16/float32", "bf16/PyTorch"] }
    print("| " + head.joined(separator: " | ") + " |")
    print(
        "|"
            + head.map { ["shape", "S·W", "PyTorch LSTM", "load before → after"].contains($0) ? "---|" : "--:|" }
            .joined())
    for r in rows {
        let gTrain = r.train.median * r.fpt / 1e9
        let torchPath = r.torchKernels.flatMap { k in
            k.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }.first { $0.hasPrefix("lstm=") }
                .map { String($0.dropFirst(5)).replacingOccurrences(of: " (aten::mkldnn_rnn_layer)", with: "") }
        }
        var cells = [
            r.shape.label + (r.notes.isEmpty ? "" : " (" + r.notes.joined(separator: "; ") + ")"),
            r.layout.map { "\($0.shards)·\($0.workers)" } ?? "–",
            fmt(r.train.median), r.train.range, fmt(r.torch.median), r.torch.range,
            fmt(ratio(r.train.median, r.torch.median), "%.2f"), fmt(gTrain, "%.1f"),
            fmt(ratio(100 * gTrain, ceiling), "%.0f"),
            "\(fmt(r.train.peakRSS))/\(fmt(r.torch.peakRSS))", torchPath ?? "–",
            "\(r.loadBefore.split(separator: " ").first ?? "?") → \(r.loadAfter.split(separator: " ").first ?? "?")",
            "\(r.train.runs.count)/\(r.torch.runs.count) × \(r.steps)"
        ]
        if core { cells += [fmt(r.core.median), fmt(ratio(r.train.median, r.core.median), "%.2f")] }
        if trainer { cells += [fmt(r.trainer.median)] }
        if bf16 {
            cells += [
                fmt(r.bf16.median), r.bf16.range, fmt(ratio(r.bf16.median, r.train.median), "%.2f"),
                fmt(ratio(r.bf16.median, r.torch.median), "%.2f")
            ]
        }
        print("| " + cells.joined(separator: " | ") + " |")
    }
}

// MARK: - Main

func locateLSTM() throws -> String {
    let path = ((selfPath() as NSString).deletingLastPathComponent as NSString).appendingPathComponent("lstm")
    guard FileManager.default.isExecutableFile(atPath: path) else {
        throw BenchError(
            "the lstm binary is not at \(path): build it with `swift build -c release` "
                + "(it builds lstm beside lstm-train-bench)")
    }
    return path
}

func selfPath() -> String {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
}

func locateTorchScript(_ given: String?) -> String? {
    let candidates =
        [given].compactMap { $0 } + [
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("pytorch_train.py").path,
            "Benchmarks/TrainBench/pytorch_train.py"
        ]
    return candidates.first { FileManager.default.fileExists(atPath: $0) }
}

struct TrainBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lstm-train-bench",
        abstract: "End-to-end training speed: `lstm train` against PyTorch, run alternately per shape.",
        discussion: """
            Per shape, `lstm train` and PyTorch run alternately (A B A B …, --reps each); each side \
            is the median of its runs' per-step medians, with the min–max of those run medians, the \
            ratio of the two medians, and the load average before and after the shape. Also reports \
            the GEMM kernel and vector ISA each side used, and the machine's widest correct sgemm \
            ceiling (LSTMKit's gemm as dispatched, OpenBLAS's default core, and OpenBLAS's wider \
            cores this CPU supports, each checked against a Double reference) and `lstm train`'s \
            fraction of it. The last lines are a markdown table to paste into docs/results/.

            Shapes: \(Shape.all.map { "\($0.name) (\($0.label), \($0.defaultTimedSteps) steps)" }.joined(separator: ", ")); \
            or IxHxOxBxTxL for a custom features shape.
            """)

    @Option(help: "Comma-separated shape names or IxHxOxBxTxL (default: all).")
    var shapes: String?
    @Option(help: "Runs of each side per shape, alternating.")
    var reps = 3
    @Option(help: "Timed steps per run after the warm-up (default: per shape, see above; --quick: 5).")
    var steps: Int?
    @Option(help: "Untimed steps first (default 3; --quick: 1).")
    var warmup: Int?
    @Flag(help: "Few steps, 2 reps and a 1 MB corpus: all shapes in a couple of minutes.")
    var quick = false
    @Option(help: "PyTorch threads (default: the active cores, as lstm train uses them).")
    var threads: Int?
    @Flag(name: .customLong("no-torch"), help: "Skip the PyTorch side.")
    var noTorch = false
    @Flag(help: "Add the core in-process (computeGradient + Adam) to the rotation.")
    var core = false
    @Flag(help: "Add Trainer.train in-process to the rotation (tells its cost from loading and logging).")
    var trainer = false
    @Flag(help: "Add `lstm train` with training.precision: bf16 to the rotation (needs AVX512_BF16).")
    var bf16 = false
    @Flag(name: .customLong("no-probe"), help: "Do not measure OpenBLAS's wider cores in child processes.")
    var noProbe = false
    @Option(
        help: "Keep the data, configs, logs and run directories in this directory (default: a temporary one, removed).")
    var work: String?
    @Flag(help: "Keep the temporary directory.")
    var keep = false
    @Option(name: .customLong("corpus-mb"), help: "Size of the character LM's corpus in MB (default 3; --quick: 1).")
    var corpusMB: Int?
    @Option(name: .customLong("torch-script"), help: "Path of pytorch_train.py (default: beside this source).")
    var torchScript: String?
    /// Child mode: check and time OpenBLAS's cblas_sgemm with the core OPENBLAS_CORETYPE picked.
    @Flag(name: .customLong("sgemm-probe"), help: .hidden)
    var sgemmProbe = false

    func validate() throws {
        if reps < 1 { throw ValidationError("--reps must be ≥ 1 (got \(reps))") }
        if let s = steps, s < 1 { throw ValidationError("--steps must be ≥ 1 (got \(s))") }
        if let w = warmup, w < 0 { throw ValidationError("--warmup must be ≥ 0 (got \(w))") }
        if let t = threads, t < 1 { throw ValidationError("--threads must be ≥ 1 (got \(t))") }
        if let c = corpusMB, c < 1 { throw ValidationError("--corpus-mb must be ≥ 1 (got \(c))") }
        if let s = shapes { _ = try s.split(separator: ",").map { try Shape.parse(String($0)) } }
    }

    func run() throws {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        if sgemmProbe {
            let e = sgemmError(openBLASGEMM)
            let g = sgemmGFLOPs(openBLASGEMM, cores: cores)
            print(
                "sgemm-probe core=\(BLASThreads.coreName) gflops=\(g.gflops) error=\(e) how=\(g.how.replacingOccurrences(of: " ", with: "_"))"
            )
            return
        }
        let shapeList = try shapes.map { try $0.split(separator: ",").map { try Shape.parse(String($0)) } } ?? Shape.all
        let lstm = try locateLSTM()
        let work =
            self.work ?? (NSTemporaryDirectory() as NSString).appendingPathComponent("lstm-train-bench-\(getpid())")
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer {
            if self.work == nil && !keep { try? FileManager.default.removeItem(atPath: work) }
        }
        let warmup = self.warmup ?? (quick ? 1 : 3)
        let reps = quick && self.reps == 3 ? 2 : self.reps
        let steps = self.steps ?? (quick ? 5 : nil)
        let torchThreads = threads ?? cores
        let cpu = cpuDescription()
        let coreType = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"]

        print(
            "lstm-train-bench: \(shapeList.count) shape(s), \(reps) alternating run(s) per side, \(warmup) warm-up steps"
        )
        print("lstm: \(lstm); work directory: \(work)\(self.work == nil && !keep ? " (removed at the end)" : "")")
        print("CPU: \(cpu.model), \(cores) cores, widest vector ISA \(widestISA(cpu.flags))")
        print(
            "OpenBLAS: core \(BLASThreads.coreName) (\(openBLASISA(BLASThreads.coreName))), "
                + "OPENBLAS_CORETYPE \(coreType.map { "=\($0) (set by the environment)" } ?? "unset (OpenBLAS's own pick)"); "
                + BLASThreads.config)
        #if DEBUG
            print("note: this is a debug build; `swift build -c release` gives representative figures")
        #endif
        let loadBefore = loadAverage()
        print("load average before: \(loadBefore)")

        var script: String?
        if !noTorch {
            let probe = (work as NSString).appendingPathComponent("torch-probe.txt")
            let check = "import torch, h5py; print(torch.__version__, h5py.__version__)"
            let r = try? runChild(["python3", "-c", check], log: probe)
            if let r, r.exitCode == 0, let s = locateTorchScript(torchScript) {
                script = s
                print(
                    "PyTorch: torch, h5py \(r.log.trimmingCharacters(in: .whitespacesAndNewlines)); "
                        + "\(torchThreads) thread(s); \(s)")
            } else if let r, r.exitCode == 0 {
                print("PyTorch side skipped: pytorch_train.py not found (pass --torch-script PATH)")
            } else {
                print("PyTorch side skipped: `python3 -c 'import torch, h5py'` failed (pip install torch h5py)")
            }
        } else {
            print("PyTorch side skipped (--no-torch)")
        }

        // The ceiling: every kernel at hand, checked, timed (again after the rows); the widest correct one counts.
        func timeCeilings() -> [Ceiling] {
            let ours = sgemmGFLOPs(lstmKitGEMM, cores: cores)
            let blas = sgemmGFLOPs(openBLASGEMM, cores: cores)
            var ceilings = [
                Ceiling(
                    name: "LSTMKit gemm as dispatched", gflops: ours.gflops, error: sgemmError(lstmKitGEMM),
                    how: ours.how),
                Ceiling(
                    name: "OpenBLAS \(BLASThreads.coreName) (this process)", gflops: blas.gflops,
                    error: sgemmError(openBLASGEMM), how: blas.how)
            ]
            if !noProbe { ceilings += probeWiderCores(cpu.flags, work: work) }
            for c in ceilings { print("sgemm 1024³ on \(cores) cores: \(c.text)") }
            return ceilings
        }
        var ceilings = timeCeilings()

        let bench = Bench(
            warmup: warmup, steps: steps, reps: reps, corpusBytes: (corpusMB ?? (quick ? 1 : 3)) << 20,
            torchThreads: torchThreads, withCore: core, withTrainer: trainer, withBF16: bf16, lstm: lstm, work: work,
            torchScript: script)
        var rows: [Row] = []
        let t0 = now()
        for shape in shapeList {
            print("\n\(shape.name): \(shape.label)")
            rows.append(bench.run(shape))
        }
        let loadAfter = loadAverage()
        print("\nThe ceilings again, after the rows (each keeps the better of its two figures):")
        for (i, again) in timeCeilings().enumerated() where i < ceilings.count && ceilings[i].name == again.name {
            ceilings[i].merge(again)
        }
        let best = ceilings.filter(\.correct).max { $0.gflops < $1.gflops }
        let ceiling = best?.gflops ?? .nan
        print("ceiling: \(best.map { String(format: "%.1f GFLOP/s, %@", $0.gflops, $0.name) } ?? "none correct")")

        print("\n## lstm-train-bench \(Date().ISO8601Format())\n")
        print("- CPU: \(cpu.model), \(cores) cores; widest vector ISA: \(widestISA(cpu.flags))")
        let kernels = Set(rows.flatMap(\.kernelLines)).sorted()
        print(
            "- `lstm train`: "
                + (kernels.isEmpty
                    ? "OpenBLAS \(BLASThreads.coreName) (\(openBLASISA(BLASThreads.coreName))) for every GEMM"
                    : kernels.joined(separator: "; "))
                + "; cell: \(CellKernel.current) (\(CellKernel.reason)); softmax: Swift SIMD8; OPENBLAS_CORETYPE \(coreType ?? "unset")"
        )
        let torchKernels = Set(rows.compactMap(\.torchKernels)).sorted()
        print(
            "- PyTorch: "
                + (script == nil
                    ? "skipped"
                    : "\(torchThreads) thread(s); "
                        + (torchKernels.isEmpty ? "kernels not reported" : torchKernels.joined(separator: "; "))))
        for c in ceilings { print("- sgemm 1024³ on \(cores) cores, \(c.text)") }
        print(
            "- ceiling (widest correct): "
                + (best.map { String(format: "%.1f GFLOP/s (%@)", $0.gflops, $0.name) } ?? "–"))
        print(
            "- load average (1, 5, 15 min): \(loadBefore) → \(loadAfter); \(reps) alternating runs per side, "
                + "\(warmup) warm-up steps each; \(String(format: "%.0f", now() - t0)) s\n")
        report(rows, ceiling: ceiling, core: core, trainer: trainer, bf16: bf16)
        print(
            "\nPer side: the median over runs of each run's median per-step tokens/s, and the min–max of those run "
                + "medians. `lstm train`: metrics.jsonl tokens_per_s (from asking the loader for the minibatch to "
                + "the end of the update); PyTorch: B·T over each step's time (batch gather, forward, loss, "
                + "backward, Adam). S·W: shards · workers `lstm train` used. % ceiling: lstm GFLOP/s (flopsPerToken "
                + "× tokens/s) over the widest correct sgemm ceiling.")
    }

    /// OpenBLAS's wider cores, each in a child process (OpenBLAS reads OPENBLAS_CORETYPE once, at load).
    func probeWiderCores(_ flags: Set<String>, work: String) -> [Ceiling] {
        var out: [Ceiling] = []
        for core in widerOpenBLASCores(than: BLASThreads.coreName, flags: flags) {
            let log = (work as NSString).appendingPathComponent("sgemm-probe-\(core).txt")
            guard
                let r = try? runChild([selfPath(), "--sgemm-probe"], log: log, environment: ["OPENBLAS_CORETYPE": core])
            else { continue }
            guard r.exitCode == 0,
                let line = r.log.split(separator: "\n").first(where: { $0.hasPrefix("sgemm-probe ") })
            else {
                out.append(
                    Ceiling(name: "OpenBLAS \(core) (child; exit \(r.exitCode))", gflops: .nan, error: .infinity))
                continue
            }
            var fields: [String: String] = [:]
            for f in line.split(separator: " ").dropFirst() {
                let kv = f.split(separator: "=", maxSplits: 1)
                if kv.count == 2 { fields[String(kv[0])] = String(kv[1]) }
            }
            let picked = fields["core"] ?? "?"
            out.append(
                Ceiling(
                    name: "OpenBLAS \(picked) (OPENBLAS_CORETYPE=\(core), child)",
                    gflops: Double(fields["gflops"] ?? "") ?? .nan, error: Double(fields["error"] ?? "") ?? .infinity,
                    how: (fields["how"] ?? "").replacingOccurrences(of: "_", with: " ")))
        }
        return out
    }
}

TrainBench.main()
