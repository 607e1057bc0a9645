import LSTMKit

/// Synthetic long-range tasks from Hochreiter & Schmidhuber (1997), generated from a seed.

/// A generated dataset held in memory, batch-major like the HDF5 layout.
public struct SequenceDataset: Sendable {
    /// Number of sequences N.
    public let count: Int
    public let steps: Int
    /// [N, T, I] features.
    public let inputs: [Float]
    public let inputSize: Int
    /// [N, O] (last head) or [N, T, O] float targets.
    public let targets: [Float]
    public let targetSize: Int

    /// Sequences `range` as a minibatch (copies them out).
    public func minibatch(_ range: Range<Int>) -> Minibatch<Float> {
        let x = Array(inputs[(range.lowerBound * steps * inputSize)..<(range.upperBound * steps * inputSize)])
        let per = targets.count / count
        let y = Array(targets[(range.lowerBound * per)..<(range.upperBound * per)])
        return Minibatch(batchSize: range.count, steps: steps, inputs: .features(x), targets: .values(y))
    }
}

/// The adding problem: two channels per step, a uniform value in [0, 1) and a marker; exactly
/// two steps are marked (one in each half) and the target is the sum of their values.
/// Always answering 1 scores MSE ≈ 1/6 ≈ 0.167.
public enum AddingProblem {
    /// N sequences drawn from a generator seeded with `seed`.
    public static func generate(count n: Int, steps t: Int, seed: UInt64) -> SequenceDataset {
        var rng = RandomSource(seed: seed)
        return generate(count: n, steps: t, rng: &rng)
    }

    /// N sequences drawn from `rng`, which advances: consecutive calls continue one stream, so a
    /// dataset can be generated (and written) block by block.
    public static func generate(count n: Int, steps t: Int, rng: inout RandomSource) -> SequenceDataset {
        precondition(t >= 2, "the adding problem needs at least 2 steps")
        var x = [Float](repeating: 0, count: n * t * 2)
        var y = [Float](repeating: 0, count: n)
        for s in 0..<n {
            for k in 0..<t { x[(s * t + k) * 2] = Float(rng.nextUnit()) }
            let a = rng.index(below: t / 2)
            let b = t / 2 + rng.index(below: t - t / 2)
            x[(s * t + a) * 2 + 1] = 1
            x[(s * t + b) * 2 + 1] = 1
            y[s] = x[(s * t + a) * 2] + x[(s * t + b) * 2]
        }
        return SequenceDataset(count: n, steps: t, inputs: x, inputSize: 2, targets: y, targetSize: 1)
    }
}
