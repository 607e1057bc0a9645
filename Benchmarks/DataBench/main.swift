// lstm-data-bench: training throughput streaming a large HDF5 dataset vs. the same work from memory.
//
//   swift run -c release lstm-data-bench                        ≥ 2 GB dataset, one epoch
//   swift run -c release lstm-data-bench --max-batches 100      bound the epoch
//   swift run -c release lstm-data-bench --repeats 2            alternate runs, report the best of each
//   swift run -c release lstm-data-bench --help                 options
//
// 1. Generates (if missing) a features dataset under --dir: N sequences of T = 100 steps of
//    I = 128 float32 features, class targets [N, T] with O = 128 classes (42 000 sequences ≈ 2.15 GB).
// 2. Evicts the file from the page cache (fsync + posix_fadvise DONTNEED), so reads hit the disk.
// 3. Streams one epoch (or --max-batches) through BatchLoader with prefetch and trains with
//    LSTMKit's Trainer (Float, Adam), in a child process so that its peak RSS (VmHWM) is its own.
// 4. Trains the same number of steps in this process from a few minibatches held in memory (reused).
// 5. Prints tokens/s of both, their ratio, the streaming run's peak RSS and time stalled on reads,
//    and deletes the dataset unless --keep.
import ArgumentParser
import Foundation
import LSTMData
import LSTMKit

struct Options: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lstm-data-bench",
        abstract: "Training throughput streaming a large HDF5 dataset vs. the same work from memory.")

    static let discussion = """
        --repeats R alternates R streaming and R in-memory runs and reports the best of each (other
        processes competing for the cores slow single runs down at random).
        """

    @Option(help: "Where the dataset is generated (and kept with --keep).") var dir = "/tmp/lstm-data-bench"
    @Option(name: [.customLong("sequences"), .customShort("N")], help: "N, sequences.") var sequences = 42_000
    @Option(name: [.customLong("steps"), .customShort("T")], help: "T, steps per sequence.") var steps = 100
    @Option(name: [.customLong("input"), .customShort("I")], help: "I, features per step.") var input = 128
    @Option(name: [.customLong("classes"), .customShort("O")], help: "O, classes.") var classes = 128
    @Option(name: [.customLong("hidden"), .customShort("H")], help: "H, the LSTM width.") var hidden = 256
    @Option(name: [.customLong("batch"), .customShort("B")], help: "B, sequences per minibatch.") var batch = 64
    @Option(help: "Minibatches to stream (0: the whole epoch).") var maxBatches = 0
    @Option(help: "Minibatches held in memory for the in-memory run (at least 1).") var memoryBatches = 16
    @Option(help: "Streaming and in-memory runs, alternated (at least 1): \(discussion)") var repeats = 1
    @Option(help: "Generation and training seed.") var seed: UInt64 = 1
    @Flag(help: "Keep the dataset afterwards.") var keep = false
    @Flag(name: .customLong("no-drop-cache"), help: "Do not evict the file from the page cache first.")
    var keepCache = false
    @Flag(name: .customLong("no-prefetch"), help: "Read minibatches without the prefetch thread.")
    var noPrefetch = false
    @Flag(name: .customLong("child-stream"), help: .hidden) var child = false

    var dropCache: Bool { !keepCache }
    var prefetch: Bool { !noPrefetch }

    mutating func validate() throws {
        for (name, v) in [
            ("sequences", sequences), ("steps", steps), ("input", input), ("classes", classes), ("hidden", hidden),
            ("batch", batch), ("max-batches", maxBatches), ("memory-batches", memoryBatches), ("repeats", repeats)
        ] where v < 0 {
            throw ValidationError("--\(name) needs a non-negative integer")
        }
        memoryBatches = max(1, memoryBatches)
        repeats = max(1, repeats)
    }

    var dataPath: String {
        "\(dir)/features-N\(sequences)-T\(steps)-I\(input)-O\(classes).h5"
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("lstm-data-bench: \(message)\n".utf8))
    exit(1)
}

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

/// Peak resident set size of this process in KiB (VmHWM in /proc/self/status).
func peakRSSKiB() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return -1 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
    }
    return -1
}

func gib(_ bytes: Int) -> String { String(format: "%.2f GiB", Double(bytes) / Double(1 << 30)) }

// MARK: - Dataset

/// Writes the dataset in blocks of 256 sequences (memory stays ~15 MB) unless a valid one exists.
func ensureDataset(_ o: Options) throws {
    if let file = try? DatasetFile(path: o.dataPath), let s = try? file.schema("train"),
        s.count == o.sequences, s.steps == o.steps, s.input == .features(width: o.input), s.target == .classesPerStep
    {
        print("dataset: reusing \(o.dataPath)")
        return
    }
    try FileManager.default.createDirectory(atPath: o.dir, withIntermediateDirectories: true)
    let bytes = o.sequences * o.steps * (o.input + 1) * 4
    print("dataset: writing \(o.dataPath) (\(gib(bytes)))…")
    let t0 = now()
    let writer = try DatasetWriter(path: o.dataPath)
    let rows = try writer.beginSequences(
        split: "train", count: o.sequences, steps: o.steps,
        input: .features(width: o.input), target: .classesPerStep)
    var rng = RandomSource(seed: o.seed)
    let block = 256
    var x = [Float](repeating: 0, count: block * o.steps * o.input)
    var y = [Int32](repeating: 0, count: block * o.steps)
    var start = 0
    while start < o.sequences {
        let n = min(block, o.sequences - start)
        // Learnable but cheap: uniform noise in [-0.5, 0.5) on every feature, +2 on feature (class mod I).
        for s in 0..<(n * o.steps) {
            let c = rng.index(below: o.classes)
            y[s] = Int32(c)
            let base = s * o.input
            for j in 0..<o.input { x[base + j] = Float(rng.next() >> 40) * 0x1p-24 - 0.5 }
            x[base + c % o.input] += 2
        }
        try rows.write(
            at: start, inputs: .features(Array(x.prefix(n * o.steps * o.input)), width: o.input),
            targets: .classesPerStep(Array(y.prefix(n * o.steps))))
        start += n
    }
    let summary = try writer.commit()
    print(String(format: "dataset: %@ in %.1f s", summary.description, now() - t0))
}

/// Flushes the file and asks the kernel to drop its cached pages, so the streaming run reads from disk.
func evictFromPageCache(_ path: String) {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return }
    fsync(fd)
    let rc = posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_DONTNEED))
    close(fd)
    print(rc == 0 ? "page cache: evicted \(path)" : "page cache: posix_fadvise failed (\(rc)); reads may be cached")
}

// MARK: - Training runs

func makeTrainer(_ o: Options) throws -> Trainer<Float> {
    let config = ModelConfig(
        input: .features(size: o.input), hiddenSize: o.hidden, outputSize: o.classes,
        head: .sequence, loss: .crossEntropy)
    let params = ParameterSet<Float>(config: config, seed: o.seed)
    return Trainer(
        network: try LSTMNetwork<Float>(config: config), parameters: params,
        optimizer: Adam<Float>(layout: params.layout, learningRate: 1e-3),
        maxBatch: o.batch, maxSteps: o.steps)
}

struct RunResult {
    var batches = 0, tokens = 0
    var seconds = 0.0, waitSeconds = 0.0, firstLoss = 0.0, lastLoss = 0.0
    var tokensPerSecond: Double { Double(tokens) / seconds }
}

/// Streams from the file; the first minibatch is a warm-up and is not timed.
func streamingRun(_ o: Options) throws -> RunResult {
    let file = try DatasetFile(path: o.dataPath)
    let trainer = try makeTrainer(o)
    try file.check(against: trainer.network.config, split: "train")
    let loader = try BatchLoader(file: file, split: "train", batchSize: o.batch, seed: o.seed, prefetch: o.prefetch)
    let limit = o.maxBatches > 0 ? min(o.maxBatches, loader.batchesPerEpoch) : loader.batchesPerEpoch
    var r = RunResult()
    var t0 = now()
    var wait0 = 0.0
    while r.batches < limit, let batch = try loader.next() {
        let report = try trainer.train(batch)
        r.batches += 1
        if r.batches == 1 {
            r.firstLoss = report.loss
            t0 = now()
            wait0 = loader.waitSeconds
            continue
        }
        r.tokens += report.tokens
        r.lastLoss = report.loss
        if r.batches % 50 == 0 {
            FileHandle.standardError.write(
                Data(
                    String(
                        format: "  streamed %d/%d minibatches, %.0f tokens/s\n",
                        r.batches, limit, Double(r.tokens) / (now() - t0)
                    ).utf8))
        }
    }
    r.seconds = now() - t0
    r.waitSeconds = loader.waitSeconds - wait0
    return r
}

/// Trains the same number of steps from `memoryBatches` minibatches read up front and reused.
func inMemoryRun(_ o: Options, batches: Int) throws -> RunResult {
    let loader = try BatchLoader(path: o.dataPath, split: "train", batchSize: o.batch, seed: o.seed, prefetch: false)
    var cached: [Minibatch<Float>] = []
    while cached.count < min(o.memoryBatches, batches), let batch = try loader.next() { cached.append(batch) }
    let trainer = try makeTrainer(o)
    var r = RunResult()
    var t0 = now()
    for k in 0..<batches {
        let report = try trainer.train(cached[k % cached.count])
        r.batches += 1
        if k == 0 {
            r.firstLoss = report.loss
            t0 = now()
            continue
        }
        r.tokens += report.tokens
        r.lastLoss = report.loss
    }
    r.seconds = now() - t0
    return r
}

// MARK: - Main

let options = Options.parseOrExit()

if options.child {
    // The streaming run, in its own process: report on one line for the parent.
    do {
        let r = try streamingRun(options)
        print(
            String(
                format: "RESULT batches=%d tokens=%d seconds=%.6f wait=%.6f first_loss=%.6f last_loss=%.6f peak_kib=%d",
                r.batches, r.tokens, r.seconds, r.waitSeconds, r.firstLoss, r.lastLoss, peakRSSKiB()))
        exit(0)
    } catch {
        fail("\(error)")
    }
}

/// Load averages from /proc/loadavg (1, 5, 15 minutes), to show competition for the cores.
func loadAverage() -> String {
    let text = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? ""
    return text.split(separator: " ").prefix(3).joined(separator: " ")
}

/// Runs the streaming run in a child process and parses its RESULT line.
func streamInChild() throws -> (RunResult, peakKiB: Int) {
    let child = Process()
    child.executableURL = URL(fileURLWithPath: "/proc/self/exe")
    child.arguments = Array(CommandLine.arguments.dropFirst()) + ["--child-stream"]
    let pipe = Pipe()
    child.standardOutput = pipe
    try child.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    child.waitUntilExit()
    guard child.terminationStatus == 0,
        let line = output.split(separator: "\n").first(where: { $0.hasPrefix("RESULT ") })
    else {
        fail("the streaming run failed (status \(child.terminationStatus)):\n\(output)")
    }
    var fields: [String: Double] = [:]
    for pair in line.dropFirst("RESULT ".count).split(separator: " ") {
        let kv = pair.split(separator: "=")
        if kv.count == 2 { fields[String(kv[0])] = Double(kv[1]) }
    }
    var r = RunResult()
    r.batches = Int(fields["batches"] ?? 0)
    r.tokens = Int(fields["tokens"] ?? 0)
    r.seconds = fields["seconds"] ?? .nan
    r.waitSeconds = fields["wait"] ?? .nan
    r.firstLoss = fields["first_loss"] ?? .nan
    r.lastLoss = fields["last_loss"] ?? .nan
    return (r, Int(fields["peak_kib"] ?? -1))
}

do {
    print(
        "lstm-data-bench: T=\(options.steps) I=\(options.input) O=\(options.classes) H=\(options.hidden) B=\(options.batch), "
            + "\(ProcessInfo.processInfo.activeProcessorCount) cores, HDF5 \(LSTMData.hdf5Version), load average \(loadAverage())"
    )
    try ensureDataset(options)
    let fileBytes = (try? FileManager.default.attributesOfItem(atPath: options.dataPath)[.size] as? Int) ?? 0

    var streamedRuns: [RunResult] = []
    var memoryRuns: [RunResult] = []
    var peakKiB = 0
    for rep in 1...options.repeats {
        if options.dropCache { evictFromPageCache(options.dataPath) }
        let (s, peak) = try streamInChild()
        peakKiB = max(peakKiB, peak)
        let m = try inMemoryRun(options, batches: s.batches)
        streamedRuns.append(s)
        memoryRuns.append(m)
        print(
            String(
                format: "run %d: streaming %.0f tokens/s (stalled %.2f s), in memory %.0f tokens/s; load average %@",
                rep, s.tokensPerSecond, s.waitSeconds, m.tokensPerSecond, loadAverage()))
    }
    let streamed = streamedRuns.max { $0.tokensPerSecond < $1.tokensPerSecond }!
    let memory = memoryRuns.max { $0.tokensPerSecond < $1.tokensPerSecond }!
    let best = options.repeats > 1 ? "best of \(options.repeats), " : ""

    print("")
    print(
        "dataset        \(gib(fileBytes)) on disk, \(options.sequences) sequences; \(streamed.batches) minibatches of \(options.batch) trained (first untimed)"
    )
    print(
        String(
            format:
                "streaming      %9.0f tokens/s   (%@%.1f s; stalled on reads %.2f s; loss %.3f → %.3f; prefetch %@)",
            streamed.tokensPerSecond, best, streamed.seconds, streamed.waitSeconds, streamed.firstLoss,
            streamed.lastLoss,
            options.prefetch ? "on" : "off"))
    print(
        String(
            format: "in memory      %9.0f tokens/s   (%@%.1f s; %d minibatches reused; loss %.3f → %.3f)",
            memory.tokensPerSecond, best, memory.seconds, min(options.memoryBatches, streamed.batches),
            memory.firstLoss, memory.lastLoss))
    print(
        String(
            format: "ratio          %9.3f          (streaming / in memory)",
            streamed.tokensPerSecond / memory.tokensPerSecond))
    print(
        String(
            format: "peak RSS       %9.1f MiB      (streaming process, VmHWM; dataset %@)", Double(peakKiB) / 1024,
            gib(fileBytes)))
    if !options.keep {
        try? FileManager.default.removeItem(atPath: options.dataPath)
        print("deleted \(options.dataPath) (pass --keep to reuse it)")
    }
} catch {
    fail("\(error)")
}
