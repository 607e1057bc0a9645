import Foundation
import LSTMFiles
import LSTMKit

/// How many sequences to generate per split; a split with 0 is left out of the file.
public struct SplitCounts: Sendable, Equatable {
    /// Training sequences.
    public var train: Int
    /// Validation sequences.
    public var val: Int
    /// Test sequences.
    public var test: Int

    /// Counts for the three standard splits.
    public init(train: Int, val: Int, test: Int) {
        self.train = train
        self.val = val
        self.test = test
    }

    /// (name, count, index) of the splits to write, in file order.
    var nonEmpty: [(name: String, count: Int, index: Int)] {
        [("train", train, 0), ("val", val, 1), ("test", test, 2)].filter { $0.1 > 0 }
    }
}

/// Seeded synthetic long-range tasks written in the dataset layout (Hochreiter & Schmidhuber 1997;
/// Arjovsky, Shah & Bengio 2016). Generation streams in blocks, so memory does not grow with N.
public enum Generators {
    /// Sequences generated and written per block.
    static let blockSize = 4096

    /// The seed of split `index` (0 train, 1 val, 2 test) derived from the user's seed, so that
    /// splits never share sequences and each split is reproducible on its own.
    public static func splitSeed(_ seed: UInt64, split index: Int) -> UInt64 {
        var rng = RandomSource(seed: seed ^ (UInt64(index + 1) &* 0x9E37_79B9_7F4A_7C15))
        return rng.next()
    }

    // MARK: Adding problem

    /// Writes the adding problem: features [N, T, 2] (a uniform value in [0, 1) and a marker; exactly
    /// two marked steps, one in each half) and float targets [N, 1], the sum of the two marked values.
    /// Split s holds exactly `AddingProblem.generate(count:steps:seed: splitSeed(seed, split: s))`.
    @discardableResult
    public static func writeAdding(to path: String, steps t: Int, counts: SplitCounts, seed: UInt64) throws
        -> DatasetSummary
    {
        guard t >= 2 else {
            throw FileError(
                .invalidArgument, .dataset, file: path,
                "the adding problem needs at least 2 steps, got \(t)")
        }
        try checkCounts(counts, path: path)
        let writer = try DatasetWriter(path: path)
        for split in counts.nonEmpty {
            let rows = try writer.beginSequences(
                split: split.name, count: split.count, steps: t, input: .features(width: 2),
                target: .valuesPerSequence(width: 1))
            // Block by block from one stream: the same draws as AddingProblem.generate(seed:).
            var rng = RandomSource(seed: splitSeed(seed, split: split.index))
            var start = 0
            while start < split.count {
                let block = AddingProblem.generate(count: min(blockSize, split.count - start), steps: t, rng: &rng)
                try rows.write(
                    at: start, inputs: .features(block.inputs, width: 2),
                    targets: .valuesPerSequence(block.targets, width: 1))
                start += block.count
            }
        }
        try writer.setAttribute("task", "adding")
        try writer.setAttribute("seed", Int(truncatingIfNeeded: seed))
        return try writer.commit()
    }

    // MARK: Copy (memory) task

    /// One generated block of the copy task.
    public struct CopyTaskData: Sendable, Equatable {
        /// N sequences.
        public let count: Int
        /// T = K + D + 1 + K steps.
        public let steps: Int
        /// [N, T] input token ids: K symbols, D blanks, the delimiter, K blanks.
        public let inputs: [Int32]
        /// [N, T] class ids: blank (0) everywhere except the last K steps, which hold the K symbols.
        public let targets: [Int32]
    }

    /// The input vocabulary of the copy task with `alphabet` symbols: blank "_" (id 0), the symbols
    /// (ids 1...A; letters A–Z, a–z, else s1, s2, …) and the delimiter ":" (id A + 1).
    public static func copyVocabulary(alphabet a: Int) -> [String] {
        ["_"] + copySymbolNames(a) + [":"]
    }

    /// The class names of the copy task: blank "_" (class 0) and the A symbols (classes 1...A).
    public static func copyClassNames(alphabet a: Int) -> [String] {
        ["_"] + copySymbolNames(a)
    }

    private static func copySymbolNames(_ a: Int) -> [String] {
        let letters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz").map(String.init)
        return a <= letters.count ? Array(letters.prefix(a)) : (1...a).map { "s\($0)" }
    }

    /// Generates `count` copy-task sequences: K symbols uniform from 1...A, then D blanks, the
    /// delimiter A + 1, and K blanks during which the targets repeat the K symbols.
    public static func copyTask(
        count n: Int, symbols k: Int, alphabet a: Int, delay d: Int,
        rng: inout RandomSource
    ) -> CopyTaskData {
        let t = 2 * k + d + 1
        var x = [Int32](repeating: 0, count: n * t)
        var y = [Int32](repeating: 0, count: n * t)
        for s in 0..<n {
            for j in 0..<k {
                let symbol = Int32(1 + rng.index(below: a))
                x[s * t + j] = symbol
                y[s * t + k + d + 1 + j] = symbol
            }
            x[s * t + k + d] = Int32(a + 1)
        }
        return CopyTaskData(count: n, steps: t, inputs: x, targets: y)
    }

    /// Writes the copy task: int32 token inputs [N, T] and int32 class targets [N, T] with
    /// T = 2K + D + 1, root `vocabulary` (A + 2 tokens) and `class_names` (A + 1 classes).
    @discardableResult
    public static func writeCopy(
        to path: String, symbols k: Int, alphabet a: Int, delay d: Int, counts: SplitCounts,
        seed: UInt64
    ) throws -> DatasetSummary {
        guard k >= 1, a >= 1, d >= 0 else {
            throw FileError(
                .invalidArgument, .dataset, file: path,
                "the copy task needs symbols K ≥ 1, alphabet A ≥ 1 and delay D ≥ 0, got K = \(k), A = \(a), D = \(d)")
        }
        try checkCounts(counts, path: path)
        let writer = try DatasetWriter(path: path)
        let t = 2 * k + d + 1
        for split in counts.nonEmpty {
            let rows = try writer.beginSequences(
                split: split.name, count: split.count, steps: t, input: .tokens,
                target: .classesPerStep)
            var rng = RandomSource(seed: splitSeed(seed, split: split.index))
            var start = 0
            while start < split.count {
                let n = min(blockSize, split.count - start)
                let block = copyTask(count: n, symbols: k, alphabet: a, delay: d, rng: &rng)
                try rows.write(at: start, inputs: .tokens(block.inputs), targets: .classesPerStep(block.targets))
                start += n
            }
        }
        try writer.setVocabulary(copyVocabulary(alphabet: a))
        try writer.setClassNames(copyClassNames(alphabet: a))
        try writer.setAttribute("task", "copy")
        try writer.setAttribute("seed", Int(truncatingIfNeeded: seed))
        return try writer.commit()
    }

    private static func checkCounts(_ counts: SplitCounts, path: String) throws {
        guard counts.train >= 0, counts.val >= 0, counts.test >= 0, counts.train + counts.val + counts.test > 0 else {
            throw FileError(
                .invalidArgument, .dataset, file: path,
                "split sizes must be ≥ 0 and not all 0, got train \(counts.train), val \(counts.val), test \(counts.test)"
            )
        }
    }
}
