import Foundation
import LSTMData
import LSTMKit

/// What a run will allocate, computed from the config and the data before anything is
/// allocated, in overflow-checked arithmetic; `lstm train`, `resume`, `evaluate` and `predict`
/// refuse a plan that does not fit in the memory available (docs/config.md, "Memory plan").
///
/// Every item mirrors an allocation in the code: the parameter arena (`ParameterLayout`), one
/// gradient arena and one `Workspace` per shard (`ShardWorkers`), the optimizer's state
/// arenas, the loaders' two minibatch slots, the validation workspace (`Evaluator`), carried
/// state and the copies a checkpoint makes. The arena and workspace sizes are the very values
/// the code allocates from (`ParameterLayout(checked:)`, `WorkspaceSizes`); tests hold the
/// items to what the real objects allocate (`Allocation.counting`).
public struct MemoryPlan: Sendable, Equatable {
    public struct Item: Sendable, Equatable {
        public var name: String
        public var bytes: Int
    }

    public private(set) var items: [Item] = []
    /// The sum of the items.
    public private(set) var total = 0

    /// The fraction of the available memory a plan may take.
    public static let maxFraction = 0.9

    /// The largest item.
    public var largest: Item? { items.max { $0.bytes < $1.bytes } }

    mutating func add(_ name: String, _ bytes: Int) throws {
        items.append(Item(name: name, bytes: bytes))
        total = try MemoryPlan.sum(total, bytes, name)
    }

    // MARK: - Overflow-checked sizes

    /// A size past Int (more bytes than any machine has).
    static func overflow(_ what: String) -> RunError {
        RunError("memory plan: \(what) is more than \(Int.max) bytes; reduce the sizes in the config")
    }

    static func product(_ factors: [Int], _ what: String) throws -> Int {
        do { return try CheckedSize.product(factors, what) } catch { throw overflow(error.what) }
    }

    static func sum(_ a: Int, _ b: Int, _ what: String) throws -> Int {
        do { return try CheckedSize.sum(a, b, what) } catch { throw overflow(error.what) }
    }

    static func sum(_ terms: [Int], _ what: String) throws -> Int {
        do { return try CheckedSize.sum(terms, what) } catch { throw overflow(error.what) }
    }

    // MARK: - Model sizes: the ones the code allocates from

    /// Scalars in the parameter arena: `ParameterLayout(checked:)`'s count.
    public static func parameterCount(_ c: ModelConfig) throws -> Int {
        do { return try ParameterLayout(checked: c).count } catch { throw overflow(error.what) }
    }

    /// Scalars one `Workspace<Float>(config: c, maxBatch: b, maxSteps: t)` allocates:
    /// `WorkspaceSizes`' count, from which the workspace allocates (its `byteCount` / 4).
    public static func workspaceCount(_ c: ModelConfig, batch b: Int, steps t: Int) throws -> Int {
        do { return try WorkspaceSizes(Float.self, config: c, maxBatch: b, maxSteps: t).allocatedCount } catch {
            throw overflow(error.what)
        }
    }

    /// How many arenas of the parameters' size the optimizer keeps (as its `stateBuffers.count`).
    public static func optimizerStateArenas(_ o: OptimizerConfig) -> Int {
        func value(_ key: String) -> Double {
            o.values[key]?.first ?? OptimizerConfig.hyperparameters[o.name.lowercased()]?[key: key].defaultValue ?? 0
        }
        switch o.name.lowercased() {
        case "adam", "adamw": return value("amsgrad") != 0 ? 3 : 2
        case "sgd": return value("momentum") != 0 ? 1 : 0
        case "rmsprop": return 1 + (value("momentum") > 0 ? 1 : 0) + (value("centered") != 0 ? 1 : 0)
        default: return 1  // adagrad: the running sum
        }
    }

    /// Bytes of one minibatch as the loader reads it (inputs, targets, lengths, window scratch).
    static func minibatchBytes(_ schema: DatasetSchema, batch b: Int, steps t: Int) throws -> Int {
        let what = "the loader's minibatches"
        let rows = schema.target.isPerStep ? try product([b, t], what) : b
        var terms: [Int] = []
        switch schema.input {
        case .features(let width): terms.append(try product([b, t, width, 4], what))
        case .tokens: terms.append(try product([b, t, 4], what))
        }
        terms.append(try product([rows, max(1, schema.target.valueWidth ?? 1), 4], what))
        if schema.hasLengths { terms.append(try product([b, 4], what)) }
        if schema.form == .tokenStream { terms.append(try product([b, t + 1, 4], what)) }  // window scratch
        return try sum(terms, what)
    }

    // MARK: - Plans

    /// The plan of a training run: `model` trained with minibatches of `batch` × `steps` over
    /// `shards` shards (S as the run plan resolves it: K × `ShardWorkers.shardCount`), of which
    /// process `rank` of `worldSize` runs its block in `accumulate` (K) rounds, validating with a
    /// workspace of its own for minibatches of `validationBatch` (default `batch`) when `validates`.
    /// Per process: the gradient arenas of its `RoundPlan` (one per local shard in one round; fewer
    /// with rounds, as reduced arenas are reused) and one workspace per shard of a round.
    public static func training(
        model: ModelConfig, schema: DatasetSchema, batch: Int, steps: Int, shards s: Int,
        optimizer: OptimizerConfig, validates: Bool, stateful: Bool, worldSize: Int = 1, rank: Int = 0,
        accumulate k: Int = 1, validationBatch: Int? = nil
    ) throws -> MemoryPlan {
        let rowsPerShard = max(1, (batch + s - 1) / s)
        // This rank's block of the S shards run in K rounds (as ShardWorkers allocates them); S < N
        // is refused by the run plan after this.
        let rounds =
            s >= worldSize && worldSize > rank && rank >= 0
            ? RoundPlan(partition: ShardPartition(shards: s, rank: rank, worldSize: worldSize), rounds: k) : nil
        let gradientArenas = rounds?.arenas ?? 1
        let perRound = rounds?.shardsPerRound ?? 1
        let f = MemoryLayout<Float>.stride
        let params = try parameterCount(model)
        let paramBytes = try product([params, f], "the parameters")
        var plan = MemoryPlan()
        try plan.add("parameters", paramBytes)
        try plan.add(
            "gradients (\(gradientArenas) shard arena(s))", product([gradientArenas, paramBytes], "the gradients"))
        let arenas = optimizerStateArenas(optimizer)
        // Several processes: each keeps the optimizer state of its slice of the arena only (ZeRO-1).
        let sliceBytes = try product(
            [worldSize > 1 ? ArenaSlices(count: params, worldSize: worldSize).largestSlice : params, f],
            "the optimizer state")
        try plan.add(
            "optimizer state (\(arenas)×\(worldSize > 1 ? " of a 1/\(worldSize) slice" : ""))",
            product([arenas, sliceBytes], "the optimizer state"))
        let ws = try workspaceCount(model, batch: rowsPerShard, steps: steps)
        try plan.add(
            "workspaces (\(perRound) shard(s)\(k > 1 ? ", \(k) rounds" : ""))",
            product([perRound, ws, f], "the workspaces"))
        let mb = try minibatchBytes(schema, batch: batch, steps: steps)
        let vb = validationBatch ?? batch
        let vmb = validates ? try minibatchBytes(schema, batch: vb, steps: steps) : 0
        let what = "the loader buffers"  // 2 slots per loader
        try plan.add("loader buffers", sum(product([2, mb], what), product([2, vmb], what), what))
        if validates {
            try plan.add(
                "validation workspace",
                product([workspaceCount(model, batch: vb, steps: steps), f], "the validation workspace"))
        }
        if stateful {
            let perLayer = try sum(
                (0..<model.numLayers).map { try product([2, model.directions, batch, model.hiddenSize($0), f], "") },
                "the carried state")
            try plan.add("carried state", perLayer)
        }
        // A checkpoint copies the parameters and the optimizer state once while it is written.
        try plan.add("checkpoint copy", product([1 + arenas, paramBytes], "the checkpoint copy"))
        // … into HDF5's in-memory file, whose bytes are then copied out to be written (AtomicHDF5File).
        try plan.add("checkpoint file image", product([2, 1 + arenas, paramBytes], "the checkpoint file image"))
        // The trainer keeps a copy of both (its slice) from before each update, to undo a non-finite one.
        try plan.add("pre-update copy", product([1 + arenas, sliceBytes], "the pre-update copy"))
        return plan
    }

    /// The plan of inference (`lstm evaluate`, `lstm predict`): the parameters, one workspace
    /// for minibatches of `batch` × `steps`, the loader's slots and the outputs of a minibatch.
    public static func inference(model: ModelConfig, schema: DatasetSchema, batch: Int, steps: Int) throws
        -> MemoryPlan
    {
        let f = MemoryLayout<Float>.stride
        var plan = MemoryPlan()
        try plan.add("parameters", product([parameterCount(model), f], "the parameters"))
        try plan.add("workspace", product([workspaceCount(model, batch: batch, steps: steps), f], "the workspace"))
        try plan.add("loader buffers", product([2, minibatchBytes(schema, batch: batch, steps: steps)], "the loader"))
        let rows = model.head == .sequence ? try product([batch, steps], "the outputs") : batch
        try plan.add("outputs", product([rows, model.outputSize, f], "the outputs"))
        return plan
    }

    // MARK: - Checking against the machine

    /// Address space a thread takes beyond the plan's items, as measured in /proc/PID/maps on
    /// Linux x86-64: its stack (RLIMIT_STACK's soft limit; glibc's 32 MiB when unlimited) and
    /// the malloc arena glibc reserves for it (64 MiB). Only `ulimit -v` (RLIMIT_AS) sees these;
    /// physical memory does not.
    static var threadAddressSpace: Int {
        var l = rlimit()
        let stack =
            getrlimit(__rlimit_resource_t(RLIMIT_STACK.rawValue), &l) == 0 && l.rlim_cur != rlim_t.max
            ? Int(clamping: l.rlim_cur) : 32 << 20
        return stack + (64 << 20)
    }

    /// The buffer OpenBLAS maps for each thread that runs a BLAS call (BUFFER_SIZE, 128 MiB in
    /// OpenBLAS 0.3 on x86-64, measured in /proc/PID/maps); counts against `ulimit -v` and `-d`.
    static let blasBufferBytes = 128 << 20

    /// Bytes this process may still allocate, and what limits it: /proc/meminfo's MemAvailable,
    /// lowered to the cgroup's room (memory.max − memory.current) when a limit is set, and to the
    /// room left under `ulimit -v` (RLIMIT_AS − VmSize now) and `ulimit -d` (RLIMIT_DATA − VmData
    /// now) once the address space of `threads` threads still to start is taken off, `computeThreads`
    /// of them running BLAS (their stacks, malloc arenas and BLAS buffers: what turned a plan that
    /// fitted the RSS into a trap under `ulimit -v` before). Nil when nothing is known.
    public static func available(threads: Int = 0, computeThreads: Int = 0) -> (bytes: Int, limit: String?)? {
        var best: (bytes: Int, limit: String?)?
        func lower(_ bytes: Int, _ limit: String?) {
            if best == nil || bytes < best!.bytes { best = (max(0, bytes), limit) }
        }
        if let info = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
            let line = info.split(separator: "\n").first(where: { $0.hasPrefix("MemAvailable:") }),
            let kb = Int(line.split(separator: " ").dropFirst().first ?? "")
        {
            lower(kb * 1024, nil)
        }
        func number(_ path: String) -> Int? {
            (try? String(contentsOfFile: path, encoding: .utf8)).flatMap {
                Int($0.trimmingCharacters(in: .whitespacesAndNewlines))
            }
        }
        if let limit = number("/sys/fs/cgroup/memory.max") {  // "max" (no limit) does not parse
            lower(limit - (number("/sys/fs/cgroup/memory.current") ?? 0), "the cgroup's memory.max")
        }
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        func statusBytes(_ key: String) -> Int {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(key + ":") }) else { return 0 }
            return (Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0)
                * 1024
        }
        let blas = computeThreads * blasBufferBytes
        for (resource, name, used, threadCost) in [
            (RLIMIT_AS, "ulimit -v", statusBytes("VmSize"), threads * threadAddressSpace + blas),
            (RLIMIT_DATA, "ulimit -d", statusBytes("VmData"), blas)
        ] {
            var l = rlimit()
            guard getrlimit(__rlimit_resource_t(resource.rawValue), &l) == 0, l.rlim_cur != rlim_t.max else { continue }
            let limit = Int(clamping: l.rlim_cur)
            lower(
                limit - used - threadCost,
                "\(name) \(human(limit)), less the \(human(used)) this process already maps"
                    + (threadCost > 0
                        ? " and \(human(threadCost)) for \(threads) more threads' stacks, malloc arenas and BLAS buffers"
                        : ""))
        }
        return best
    }

    /// `available(threads:computeThreads:)`'s bytes.
    public static func availableBytes(threads: Int = 0, computeThreads: Int = 0) -> Int? {
        available(threads: threads, computeThreads: computeThreads)?.bytes
    }

    /// "memory plan: 12.3 MiB (largest: workspaces (2 shard(s)) 8.1 MiB), 20.1 GiB available".
    public func line(available: Int?) -> String {
        var s = "memory plan: \(Self.human(total))"
        if let l = largest { s += " (largest: \(l.name) \(Self.human(l.bytes)))" }
        s += available.map { ", \(Self.human($0)) available" } ?? ", available memory unknown"
        return s
    }

    /// Throws when the plan takes more than `maxFraction` of `available` bytes; `limit` names
    /// what set that figure when it is not the machine's free memory (e.g. "ulimit -v 1.0 GiB, …").
    public func check(available: Int?, limit: String? = nil, reduce: String? = nil) throws {
        guard let available, Double(total) > Self.maxFraction * Double(available) else { return }
        let l = largest!
        throw RunError(
            "memory plan: the run needs \(Self.human(total)) (largest: \(l.name) \(Self.human(l.bytes))), more than "
                + "\(Int(Self.maxFraction * 100))% of the \(Self.human(available)) available"
                + (limit.map { " (\($0))" } ?? "") + "; reduce "
                + (reduce
                    ?? "model.hidden_size, model.num_layers, data.batch_size or data.seq_length (or parallel.shards)")
                + (limit == nil ? "" : ", or raise the limit"))
    }

    /// 1536 → "1.5 KiB".
    public static func human(_ bytes: Int) -> String { Allocation.human(bytes) }
}
