/// A minibatch of B sequences of T steps, batch-major as datasets store them, owning its arrays.
public struct Minibatch<T: LSTMScalar>: Sendable {
    public enum Inputs: Sendable {
        /// [B, T, I] feature vectors.
        case features([T])
        /// [B, T] token ids.
        case tokens([Int32])
    }

    public enum Targets: Sendable {
        /// Class ids: [B, T] (sequence head) or [B] (last head).
        case classes([Int32])
        /// Float targets: [B, T, O] (sequence head) or [B, O] (last head).
        case values([T])
    }

    public var batchSize: Int
    public var steps: Int
    public var inputs: Inputs
    public var targets: Targets?
    /// [B] valid steps per sequence (1...T); nil when every sequence has all T steps.
    public var lengths: [Int32]?
    /// When this is one process's rows of a larger minibatch (multi-process training): the index
    /// of its first row in that minibatch (dropout masks follow it), else 0.
    public var rowOffset: Int
    /// The whole minibatch's B when this is one process's rows of it, else nil (= batchSize).
    public var globalBatchSize: Int?

    public init(
        batchSize: Int, steps: Int, inputs: Inputs, targets: Targets?, lengths: [Int32]? = nil, rowOffset: Int = 0,
        globalBatchSize: Int? = nil
    ) {
        self.batchSize = batchSize
        self.steps = steps
        self.inputs = inputs
        self.targets = targets
        self.lengths = lengths
        self.rowOffset = rowOffset
        self.globalBatchSize = globalBatchSize
    }

    /// Runs `body` with a non-owning view of this minibatch.
    public func withView<R>(_ body: (MinibatchView<T>) throws -> R) rethrows -> R {
        func withTargets(_ f: (MinibatchView<T>.Targets?) throws -> R) rethrows -> R {
            switch targets {
            case .none: return try f(nil)
            case .classes(let a): return try a.withUnsafeBufferPointer { try f(.classes($0)) }
            case .values(let a): return try a.withUnsafeBufferPointer { try f(.values($0)) }
            }
        }
        func withLengths(_ f: (UnsafeBufferPointer<Int32>?) throws -> R) rethrows -> R {
            guard let lengths else { return try f(nil) }
            return try lengths.withUnsafeBufferPointer { try f($0) }
        }
        return try withLengths { l in
            try withTargets { t in
                switch inputs {
                case .features(let a):
                    return try a.withUnsafeBufferPointer {
                        try body(
                            MinibatchView(
                                batchSize: batchSize, steps: steps, inputs: .features($0), targets: t, lengths: l,
                                rowOffset: rowOffset))
                    }
                case .tokens(let a):
                    return try a.withUnsafeBufferPointer {
                        try body(
                            MinibatchView(
                                batchSize: batchSize, steps: steps, inputs: .tokens($0), targets: t, lengths: l,
                                rowOffset: rowOffset))
                    }
                }
            }
        }
    }
}

/// A non-owning view of a minibatch (batch-major), cheap to slice by rows for shards.
public struct MinibatchView<T: LSTMScalar>: @unchecked Sendable {
    public enum Inputs {
        case features(UnsafeBufferPointer<T>)
        case tokens(UnsafeBufferPointer<Int32>)
    }

    public enum Targets {
        case classes(UnsafeBufferPointer<Int32>)
        case values(UnsafeBufferPointer<T>)
    }

    public let batchSize: Int
    public let steps: Int
    public let inputs: Inputs
    public let targets: Targets?
    /// [B] valid steps per sequence, or nil for all T.
    public let lengths: UnsafeBufferPointer<Int32>?
    /// Index of this view's first sequence in the whole minibatch (shards keep dropout masks
    /// tied to the sequence, not to the shard).
    public let rowOffset: Int

    public init(
        batchSize: Int, steps: Int, inputs: Inputs, targets: Targets?,
        lengths: UnsafeBufferPointer<Int32>? = nil, rowOffset: Int = 0
    ) {
        self.batchSize = batchSize
        self.steps = steps
        self.inputs = inputs
        self.targets = targets
        self.lengths = lengths
        self.rowOffset = rowOffset
    }

    /// Valid steps of sequence `r` (T when there are no lengths).
    @inline(__always)
    public func length(_ r: Int) -> Int { lengths.map { Int($0[r]) } ?? steps }

    /// Sequences `range` of this minibatch (a shard), sharing its memory.
    public func rows(_ range: Range<Int>) -> MinibatchView {
        precondition(range.lowerBound >= 0 && range.upperBound <= batchSize, "rows \(range) of a batch of \(batchSize)")
        func slice<E>(_ p: UnsafeBufferPointer<E>) -> UnsafeBufferPointer<E> {
            let per = batchSize == 0 ? 0 : p.count / batchSize
            return UnsafeBufferPointer(rebasing: p[(range.lowerBound * per)..<(range.upperBound * per)])
        }
        let i: Inputs
        switch inputs {
        case .features(let p): i = .features(slice(p))
        case .tokens(let p): i = .tokens(slice(p))
        }
        var t: Targets?
        switch targets {
        case .none: t = nil
        case .classes(let p): t = .classes(slice(p))
        case .values(let p): t = .values(slice(p))
        }
        return MinibatchView(
            batchSize: range.count, steps: steps, inputs: i, targets: t, lengths: lengths.map(slice),
            rowOffset: rowOffset + range.lowerBound)
    }
}

/// h and c of every layer, each [B, H] (batch-major), as initial or final state.
public struct LSTMState<T: LSTMScalar>: Sendable, Equatable {
    /// h per layer, [B·H] each.
    public var h: [[T]]
    /// c per layer, [B·H] each.
    public var c: [[T]]

    public init(h: [[T]], c: [[T]]) {
        self.h = h
        self.c = c
    }
}

/// A loss summed over `count` target elements.
public struct LossSum: Sendable, Equatable {
    public var sum: Double
    public var count: Int
    public init(sum: Double = 0, count: Int = 0) {
        self.sum = sum
        self.count = count
    }
    /// The mean loss (PyTorch's `reduction='mean'`).
    public var mean: Double { count == 0 ? 0 : sum / Double(count) }
    public static func + (a: LossSum, b: LossSum) -> LossSum { LossSum(sum: a.sum + b.sum, count: a.count + b.count) }
}
