import Synchronization

/// The gradient arena's parameter groups in the order backpropagation finishes them: the head,
/// then layer L−1, …, layer 1, and last layer 0 with the embedding (the arena holds the embedding,
/// layers 0 … L−1, the head, so each bucket is a contiguous range and together they grow as a
/// suffix of the arena). The overlapped exchange sends one bucket at a time (`parallel.overlap`,
/// ExactReduction.swift).
public struct GradientBuckets: Sendable, Equatable {
    /// Arena ranges, in the order they become final (index = `LSTMNetwork.backward`'s bucket).
    public let ranges: [Range<Int>]

    public init(_ config: ModelConfig) {
        let layout = ParameterLayout(config)
        let head = layout.entry("head.weight")!.offset
        let layerStart = (0..<config.numLayers).map {
            layout.entry("lstm.weight_ih_" + ParameterLayout.suffix(layer: $0, direction: 0))!.offset
        }
        func end(_ k: Int) -> Int { k + 1 < config.numLayers ? layerStart[k + 1] : head }
        var ranges = [head..<layout.count]
        for k in stride(from: config.numLayers - 1, through: 1, by: -1) { ranges.append(layerStart[k]..<end(k)) }
        ranges.append(0..<end(0))
        self.ranges = ranges
    }

    /// The bucket `LSTMNetwork.backward` finishes after layer k's BPTT (k ≥ 1; layer 0's bucket,
    /// the last, also holds the embedding and is final at the end of backward).
    public static func afterLayer(_ k: Int, layers: Int) -> Int { layers - k }
}

/// Which gradient buckets are final on every local shard of the overlapped round. Each shard's
/// backward calls `finished(b)` once per bucket (`LSTMNetwork.backward`, through its workspace);
/// the call that brings bucket b's counter to zero runs `onFinal(b)` (the local tree additions on
/// that range) and then marks the bucket ready for the main thread to post. Preallocated: nothing
/// is allocated per step.
public final class BucketReadiness: @unchecked Sendable {
    public let count: Int
    private let remaining: [Counter]
    private let ready: [Counter]
    /// Set once, before the first step.
    var onFinal: (Int) -> Void = { _ in }
    /// Whether the current round is the overlapped one (others' calls are ignored). Written by
    /// the main thread before the round's workers start.
    var armed = false

    final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }

    public init(buckets: Int) {
        count = buckets
        remaining = (0..<buckets).map { _ in Counter() }
        ready = (0..<buckets).map { _ in Counter() }
    }

    /// Arms the counters for a round of `shards` local shards.
    func arm(shards: Int) {
        for b in 0..<count {
            remaining[b].value.store(shards, ordering: .relaxed)
            ready[b].value.store(0, ordering: .relaxed)
        }
        armed = true
    }

    /// Shard done with bucket `b` (its gradient on that range is final).
    public func finished(_ b: Int) {
        guard armed else { return }
        if remaining[b].value.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 {
            onFinal(b)
            ready[b].value.store(1, ordering: .releasing)
        }
    }

    /// A shard with no rows: every bucket is final (its arena is zero).
    func finishedAll() {
        for b in 0..<count { finished(b) }
    }

    /// Whether bucket `b` is final on all local shards and reduced locally.
    func isReady(_ b: Int) -> Bool { ready[b].value.load(ordering: .acquiring) != 0 }
}
