import Foundation
import HDF5Kit
import LSTMFiles
import LSTMKit

/// How a loader cuts a token stream into minibatches.
public enum StreamMode: String, Sendable, Codable, CaseIterable {
    /// Non-overlapping windows tokens[k·T ..< k·T + T + 1] (inputs the first T, targets the last T),
    /// shuffled like sequences.
    case windows
    /// torch-rnn/char-rnn lanes: the stream is cut into B contiguous lanes and minibatch k holds
    /// steps [k·T, (k+1)·T) of every lane, never shuffled, so h and c can be carried across minibatches.
    case stateful
}

/// Where a loader is: the next minibatch it returns is number `position` (0-based) of `epoch`.
/// Save it with a checkpoint and pass it back to resume at exactly the same minibatch.
public struct LoaderCursor: Codable, Sendable, Equatable, Hashable, CustomStringConvertible {
    /// The epoch, from 0.
    public var epoch: Int
    /// The index of the next minibatch within the epoch, 0...batchesPerEpoch.
    public var position: Int

    /// A cursor at minibatch `position` of `epoch` (default: the very start).
    public init(epoch: Int = 0, position: Int = 0) {
        self.epoch = epoch
        self.position = position
    }

    /// "epoch 2, minibatch 17".
    public var description: String { "epoch \(epoch), minibatch \(position)" }
}

/// Streams Float minibatches of one split from a dataset file, reading each minibatch's rows as
/// HDF5 hyperslabs and, with `prefetch`, reading minibatch k+1 on a background thread while the
/// caller trains on minibatch k. Memory is a few minibatches plus one sample order (4 bytes per
/// sequence or window); it does not grow with the dataset's bytes.
///
/// Epochs: `next()` returns the epoch's minibatches, then `nil` once, and moves the cursor to the
/// start of the following epoch, so `while let batch = try loader.next() { … }` is one epoch and
/// the same loop run again is the next one. `startEpoch(_:)` or `seek(to:)` jump anywhere.
///
/// Order: with shuffling, epoch e visits samples in the order of a Fisher–Yates permutation drawn
/// from `RandomSource(seed: seed ^ (e &* 0xD1B54A32D192ED03))` (see `order(epoch:)`), minibatch k
/// taking entries k·B ..< (k+1)·B of it; rows inside a minibatch are read in ascending index order
/// (better I/O; the set is what matters for a gradient). Without shuffling, samples go in file order.
///
/// Use from one thread at a time (calls are serialised by a lock).
public final class BatchLoader: @unchecked Sendable {
    /// The file's path.
    public let path: String
    /// The split read, e.g. "train".
    public let split: String
    /// The validated schema of the split.
    public let schema: DatasetSchema
    /// B: sequences (or windows, or lanes) per minibatch; only the last minibatch of an epoch may be smaller.
    public let batchSize: Int
    /// Whether epochs visit samples in a seeded random order.
    public let shuffle: Bool
    /// The seed of the per-epoch permutations.
    public let seed: UInt64
    /// T, the steps of every minibatch (the split's T, or `seqLength` for a token stream).
    public let steps: Int
    /// How a token stream is cut (`.windows` for sequence splits, where it does not apply).
    public let mode: StreamMode
    /// Whether a final minibatch smaller than B is skipped.
    public let dropLast: Bool
    /// Whether minibatch k+1 is read in the background while the caller works on k.
    public let prefetch: Bool
    /// Samples per epoch: sequences, windows, or lanes (stateful).
    public let sampleCount: Int
    /// Minibatches per epoch.
    public let batchesPerEpoch: Int
    /// Stateful mode: tokens per lane used (a multiple of T); 0 otherwise.
    public let laneLength: Int
    /// With several processes: the shard partition whose rows of each minibatch this loader
    /// reads (`ShardPartition.localRows`); the minibatches and their order are those of one
    /// process. Nil: the whole minibatch.
    public let partition: ShardPartition?

    private let source: BatchSource
    private let lock = NSLock()
    private let queue: DispatchQueue
    private var slots = [BatchSlot(), BatchSlot()]
    private var lastSlot = 1
    private var pending: PendingRead?
    private var current = LoaderCursor()
    private var cachedOrder: (epoch: Int, order: [Int32])?
    private var waited: Double = 0

    /// Opens `split` of `file` (validating it first) for minibatches of `batchSize`.
    /// - Parameters:
    ///   - shuffle: default true, except `.stateful` (which never shuffles; passing true is an error).
    ///   - seqLength: T for a token stream (required there); for sequences nil or the split's T.
    ///   - mode: how a token stream is cut; ignored for sequences.
    ///   - cursor: where to start (e.g. a checkpoint's `cursor`).
    ///   - partition: read only this rank's rows of every minibatch (multi-process training).
    ///   - inputsOnly: accept a split without `targets` (inference on new data); its minibatches
    ///     then carry zero targets of this kind, which only the loss would read.
    public init(
        file: DatasetFile, split: String, batchSize: Int, shuffle: Bool? = nil, seed: UInt64 = 0,
        seqLength: Int? = nil, mode: StreamMode = .windows, dropLast: Bool = false, prefetch: Bool = true,
        cursor: LoaderCursor = LoaderCursor(), partition: ShardPartition? = nil,
        inputsOnly target: DatasetSchema.TargetKind? = nil
    ) throws {
        let schema = try target.map { try file.inputsSchema(split, assuming: $0) } ?? file.schema(split)
        let path = file.path
        func fail(_ message: String) -> FileError {
            FileError(.invalidArgument, .dataset, file: path, object: split, message)
        }
        guard batchSize >= 1 else { throw fail("batch size must be ≥ 1, got \(batchSize)") }
        let steps: Int
        var laneLength = 0
        let samples: Int
        switch schema.form {
        case .sequences:
            let t = schema.steps!
            if let seqLength, seqLength != t {
                throw fail("seq_length \(seqLength) applies to token streams; this split holds sequences of T = \(t)")
            }
            steps = t
            samples = schema.count
            self.mode = .windows
            self.shuffle = shuffle ?? true
        case .tokenStream:
            guard let t = seqLength else {
                throw fail("a token stream needs a seq_length (T) to cut it into sequences")
            }
            guard t >= 1 else { throw fail("seq_length must be ≥ 1, got \(t)") }
            steps = t
            let length = schema.count
            self.mode = mode
            switch mode {
            case .windows:
                samples = (length - 1) / t
                if samples == 0 {
                    throw FileError(
                        .shapeMismatch, .dataset, file: path, object: "\(split)/tokens",
                        "a stream of \(length) tokens holds no window of seq_length \(t) + 1 tokens")
                }
                self.shuffle = shuffle ?? true
            case .stateful:
                if shuffle == true { throw fail("stateful lanes are never shuffled; pass shuffle false or nil") }
                laneLength = (length - 1) / batchSize / t * t
                if laneLength == 0 {
                    throw FileError(
                        .shapeMismatch, .dataset, file: path, object: "\(split)/tokens",
                        "a stream of \(length) tokens is too short for \(batchSize) lanes of seq_length \(t) + 1 tokens (needs at least \(batchSize * t + 1))"
                    )
                }
                samples = batchSize
                self.shuffle = false
            }
        }
        if samples > Int(Int32.max) {
            throw fail("\(samples) samples are more than a loader indexes (\(Int32.max))")
        }
        let batches: Int
        if mode == .stateful && schema.form == .tokenStream {
            batches = laneLength / steps
        } else {
            batches = dropLast ? samples / batchSize : (samples + batchSize - 1) / batchSize
            if batches == 0 {
                throw fail("\(samples) samples make no full minibatch of \(batchSize) with dropLast")
            }
        }
        self.path = path
        self.split = split
        self.schema = schema
        self.batchSize = batchSize
        self.seed = seed
        self.steps = steps
        self.dropLast = dropLast
        self.prefetch = prefetch
        self.sampleCount = samples
        self.batchesPerEpoch = batches
        self.laneLength = laneLength
        self.partition = partition
        self.source = try BatchSource(file: file, schema: schema, steps: steps)
        self.queue = DispatchQueue(label: "lstm.BatchLoader.prefetch", qos: .userInitiated)
        try seek(to: cursor)
    }

    /// Opens the file at `path` and `split` of it; see `init(file:split:...)`.
    public convenience init(
        path: String, split: String, batchSize: Int, shuffle: Bool? = nil, seed: UInt64 = 0,
        seqLength: Int? = nil, mode: StreamMode = .windows, dropLast: Bool = false,
        prefetch: Bool = true, cursor: LoaderCursor = LoaderCursor(), partition: ShardPartition? = nil
    ) throws {
        try self.init(
            file: DatasetFile(path: path), split: split, batchSize: batchSize, shuffle: shuffle, seed: seed,
            seqLength: seqLength, mode: mode, dropLast: dropLast, prefetch: prefetch, cursor: cursor,
            partition: partition)
    }

    deinit {
        _ = pending?.wait()  // let a running background read finish before the datasets go away
    }

    /// The position of the next minibatch `next()` returns; save it to resume later.
    public var cursor: LoaderCursor {
        lock.lock()
        defer { lock.unlock() }
        return current
    }

    /// Total seconds `next()` has spent waiting for reads (synchronous reads or an unfinished
    /// prefetch): the time training was stalled by I/O.
    public var waitSeconds: Double {
        lock.lock()
        defer { lock.unlock() }
        return waited
    }

    /// The next minibatch of the current epoch, or nil once at its end (the cursor then moves to
    /// the start of the next epoch). Throws a `FileError` if reading fails; the cursor then stays.
    public func next() throws -> Minibatch<Float>? {
        lock.lock()
        defer { lock.unlock() }
        let here = current
        if here.position >= batchesPerEpoch {
            current = LoaderCursor(epoch: here.epoch + 1, position: 0)
            return nil
        }
        let t0 = DispatchTime.now().uptimeNanoseconds
        let batch: Minibatch<Float>
        if let pending, pending.cursor == here {
            self.pending = nil
            let outcome = pending.wait()
            lastSlot = pending.slot
            batch = try outcome.get()
        } else {
            drainPending()
            let slot = 1 - lastSlot
            batch = try source.read(part(for: here), into: slots[slot])
            lastSlot = slot
        }
        waited += Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        current = LoaderCursor(epoch: here.epoch, position: here.position + 1)
        if prefetch {
            let following =
                here.position + 1 < batchesPerEpoch ? current : LoaderCursor(epoch: here.epoch + 1, position: 0)
            let job = PendingRead(cursor: following, slot: 1 - lastSlot)
            let request = part(for: following)
            let source = self.source
            let slot = slots[job.slot]
            pending = job
            queue.async {
                ProcessPriority.adopt()  // the process's nice, not Dispatch's
                job.run(source, request, slot)
            }
        }
        return batch
    }

    /// Moves to the start of `epoch` (the same as `seek(to: LoaderCursor(epoch: epoch))`).
    public func startEpoch(_ epoch: Int) throws {
        try seek(to: LoaderCursor(epoch: epoch, position: 0))
    }

    /// Moves to `cursor`, e.g. one saved with a checkpoint; the next `next()` returns that minibatch.
    public func seek(to cursor: LoaderCursor) throws {
        guard cursor.epoch >= 0, (0...batchesPerEpoch).contains(cursor.position) else {
            throw FileError(
                .invalidArgument, .dataset, file: path, object: split,
                "cursor (\(cursor)) is outside epochs ≥ 0 and minibatches 0...\(batchesPerEpoch)")
        }
        lock.lock()
        defer { lock.unlock() }
        current = cursor
    }

    /// The order in which epoch `epoch` visits the samples (sequence or window indices): a seeded
    /// permutation of 0..<sampleCount when shuffling, else the identity. Recomputable at any time.
    public func order(epoch: Int) -> [Int] {
        lock.lock()
        defer { lock.unlock() }
        return epochOrder(epoch).map(Int.init)
    }

    /// The sample indices (ascending) of minibatch `position` of `epoch`; for stateful lanes, the
    /// token offset of each lane's first input of that minibatch.
    public func sampleIndices(_ cursor: LoaderCursor) -> [Int] {
        lock.lock()
        defer { lock.unlock() }
        switch request(for: cursor) {
        case .rows(let rows): return rows
        case .windows(let starts): return mode == .stateful ? starts : starts.map { $0 / steps }
        }
    }

    // MARK: - Internals (under the lock)

    /// Waits for (and discards) a background read that is no longer wanted, freeing its slot.
    private func drainPending() {
        if let pending {
            _ = pending.wait()
            self.pending = nil
        }
    }

    private func epochOrder(_ epoch: Int) -> [Int32] {
        if let cachedOrder, cachedOrder.epoch == epoch { return cachedOrder.order }
        var order = (0..<Int32(sampleCount)).map { $0 }
        if shuffle {
            var rng = RandomSource(seed: seed ^ (UInt64(epoch) &* 0xD1B5_4A32_D192_ED03))
            var i = order.count - 1
            while i > 0 {
                order.swapAt(i, rng.index(below: i + 1))
                i -= 1
            }
        }
        cachedOrder = (epoch, order)
        return order
    }

    /// What this loader reads of minibatch `cursor.position` of `cursor.epoch`: all of it, or the
    /// rank's rows `partition.localRows` of the (ascending) samples.
    private func part(for cursor: LoaderCursor) -> BatchPart {
        let whole = request(for: cursor)
        guard let partition else { return BatchPart(request: whole) }
        switch whole {
        case .rows(let r):
            let mine = partition.localRows(batch: r.count)
            return BatchPart(request: .rows(Array(r[mine])), rowOffset: mine.lowerBound, globalBatchSize: r.count)
        case .windows(let w):
            let mine = partition.localRows(batch: w.count)
            return BatchPart(request: .windows(Array(w[mine])), rowOffset: mine.lowerBound, globalBatchSize: w.count)
        }
    }

    /// The samples of minibatch `cursor.position` of `cursor.epoch` (position < batchesPerEpoch).
    private func request(for cursor: LoaderCursor) -> BatchRequest {
        let k = cursor.position
        if schema.form == .tokenStream && mode == .stateful {
            return .windows((0..<batchSize).map { lane in lane * laneLength + k * steps })
        }
        let order = epochOrder(cursor.epoch)
        let chunk = order[(k * batchSize)..<min(order.count, (k + 1) * batchSize)]
        let samples = chunk.map(Int.init).sorted()
        switch schema.form {
        case .sequences: return .rows(samples)
        case .tokenStream: return .windows(samples.map { $0 * steps })
        }
    }
}
