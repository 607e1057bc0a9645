import Foundation
import LSTMFiles
import LSTMKit

// MARK: Waveform classification

extension Generators {
    /// The waveform shapes of the waves task, in class-id order; a task with K classes uses the
    /// first K.
    public static let waveShapes = ["sine", "square", "triangle", "sawtooth", "pulse", "chirp"]

    /// Settings of the waves task (see `writeWaves`).
    public struct WaveSettings: Sendable, Equatable {
        /// K, the number of classes (shapes), 2...6.
        public var classes = 4
        /// Shortest sequence, in steps (≥ 1).
        public var minLength = 20
        /// T, the longest sequence and the padded length of every row (≥ minLength).
        public var maxLength = 60
        /// Standard deviation of the Gaussian noise added to every valid step (≥ 0).
        public var noise = 0.2
        /// Shortest and longest period, in steps (2 ≤ minPeriod ≤ maxPeriod).
        public var minPeriod = 6.0, maxPeriod = 20.0

        /// The defaults above (4 classes, lengths 20...60, noise 0.2, periods 6...20 steps): the one
        /// place they are written (`RunConfig.Generate` and `lstm prepare waves` read them here).
        public init() {}

        /// The settings a config or `lstm prepare waves` gives; the periods keep their defaults.
        public init(classes: Int, minLength: Int, maxLength: Int, noise: Double) {
            self.classes = classes
            self.minLength = minLength
            self.maxLength = maxLength
            self.noise = noise
        }
    }

    /// One generated block of the waves task.
    public struct WaveTaskData: Sendable, Equatable {
        /// N sequences.
        public let count: Int
        /// T, the padded length.
        public let steps: Int
        /// [N, T, 1] float features: the noisy waveform on the first L steps, 0 after.
        public let inputs: [Float]
        /// [N] class ids (index into `waveShapes`).
        public let targets: [Int32]
        /// [N] valid steps L of each sequence, in minLength...T.
        public let lengths: [Int32]
    }

    /// The noiseless value of shape `shape` at phase `u` (in periods; any real), in [-1, 1].
    /// The chirp is a sine here; `wavesTask` bends its phase.
    static func waveValue(shape: Int, phase u: Double) -> Double {
        let f = u - Foundation.floor(u)  // position within the period, [0, 1)
        switch shape {
        case 0: return Foundation.sin(2 * Double.pi * f)
        case 1: return f < 0.5 ? 1 : -1
        case 2: return f < 0.5 ? 4 * f - 1 : 3 - 4 * f
        case 3: return 2 * f - 1
        case 4: return f < 0.2 ? 1 : -0.5  // a narrow pulse train (duty cycle 20 %)
        default: return Foundation.sin(2 * Double.pi * f)  // chirp: the caller bends the phase
        }
    }

    /// Generates `count` sequences of the waves task: class c uniform in 0..<K, length L uniform
    /// in minLength...maxLength, period P uniform in [minPeriod, maxPeriod], phase uniform in
    /// [0, 1), amplitude uniform in [0.5, 1.5], offset uniform in [-0.5, 0.5]; step s < L holds
    /// offset + amplitude · shape_c(phase + s / P) + noise · N(0, 1), steps from L on are 0.
    /// The chirp's instantaneous frequency grows linearly from 1/P to 2/P over T steps.
    public static func wavesTask(count n: Int, settings w: WaveSettings, rng: inout RandomSource) -> WaveTaskData {
        let t = w.maxLength
        var x = [Float](repeating: 0, count: n * t)
        var y = [Int32](repeating: 0, count: n)
        var lengths = [Int32](repeating: 0, count: n)
        for s in 0..<n {
            let c = rng.index(below: w.classes)
            let l = w.minLength + rng.index(below: w.maxLength - w.minLength + 1)
            let period = rng.uniform(w.minPeriod, w.maxPeriod)
            let phase = rng.nextUnit()
            let amplitude = rng.uniform(0.5, 1.5)
            let offset = rng.uniform(-0.5, 0.5)
            for k in 0..<l {
                let tk = Double(k)
                // Chirp: phase(k) = k/P + k²/(2·P·T), i.e. frequency 1/P at k = 0 rising to 2/P at k = T.
                let u = phase + tk / period + (c == 5 ? tk * tk / (2 * period * Double(t)) : 0)
                let v = offset + amplitude * waveValue(shape: c, phase: u) + w.noise * rng.normal()
                x[s * t + k] = Float(v)
            }
            y[s] = Int32(c)
            lengths[s] = Int32(l)
        }
        return WaveTaskData(count: n, steps: t, inputs: x, targets: y, lengths: lengths)
    }

    /// Writes the waves task, a many-to-one classification of noisy waveforms of variable length:
    /// float features [N, T, 1] (zero padding after each length), int32 class ids [N], int32
    /// `lengths` [N] and root `class_names` (the first K of `waveShapes`).
    /// Model: `features(size: 1)`, O = K, cross_entropy, head `last` (chance accuracy 1/K).
    /// Split s draws from `RandomSource(seed: splitSeed(seed, split: s))`.
    @discardableResult
    public static func writeWaves(
        to path: String, settings w: WaveSettings, counts: SplitCounts,
        seed: UInt64
    ) throws -> DatasetSummary {
        guard (2...waveShapes.count).contains(w.classes) else {
            throw FileError(
                .invalidArgument, .dataset, file: path,
                "the waves task has 2...\(waveShapes.count) classes, got \(w.classes)")
        }
        guard w.minLength >= 1, w.maxLength >= w.minLength else {
            throw FileError(
                .invalidArgument, .dataset, file: path,
                "the waves task needs 1 ≤ min length ≤ max length, got \(w.minLength) and \(w.maxLength)")
        }
        guard w.noise >= 0, w.noise.isFinite else {
            throw FileError(
                .invalidArgument, .dataset, file: path,
                "the noise must be a finite number ≥ 0, got \(w.noise)")
        }
        guard w.minPeriod >= 2, w.maxPeriod >= w.minPeriod, w.maxPeriod.isFinite else {
            throw FileError(
                .invalidArgument, .dataset, file: path,
                "the periods need 2 ≤ min period ≤ max period, got \(w.minPeriod) and \(w.maxPeriod)")
        }
        guard counts.train >= 0, counts.val >= 0, counts.test >= 0, counts.train + counts.val + counts.test > 0 else {
            throw FileError(
                .invalidArgument, .dataset, file: path,
                "split sizes must be ≥ 0 and not all 0, got train \(counts.train), val \(counts.val), test \(counts.test)"
            )
        }
        let writer = try DatasetWriter(path: path)
        let t = w.maxLength
        for split in counts.nonEmpty {
            let rows = try writer.beginSequences(
                split: split.name, count: split.count, steps: t,
                input: .features(width: 1), target: .classesPerSequence,
                hasLengths: true)
            var rng = RandomSource(seed: splitSeed(seed, split: split.index))
            var start = 0
            while start < split.count {
                let n = min(blockSize, split.count - start)
                let block = wavesTask(count: n, settings: w, rng: &rng)
                try rows.write(
                    at: start, inputs: .features(block.inputs, width: 1),
                    targets: .classesPerSequence(block.targets), lengths: block.lengths)
                start += n
            }
        }
        try writer.setClassNames(Array(waveShapes.prefix(w.classes)))
        try writer.setAttribute("task", "waves")
        try writer.setAttribute("seed", Int(truncatingIfNeeded: seed))
        return try writer.commit()
    }
}
