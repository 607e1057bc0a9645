import ArgumentParser
import Foundation
import LSTMData
import LSTMFiles
import LSTMRun

/// `lstm prepare`: turns text, CSV files or generated tasks into an HDF5 dataset file (docs/datasets.md).
struct Prepare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write an HDF5 dataset (splits train/val/test) from text, a CSV file, or a generated task.",
        discussion: """
            Every subcommand writes to a temporary file next to --out and renames it only once the \
            whole file is written and validated, so a failure never leaves a half-written dataset. \
            The layout is described in docs/datasets.md.

            Examples:
              lstm prepare text input.txt --out shakespeare.h5
              lstm prepare csv weather.csv --window 24 --target temp --out weather.h5
              lstm prepare adding --steps 100 --train 20000 --out adding.h5
              lstm prepare copy --symbols 10 --alphabet 8 --delay 100 --out copy.h5
              lstm prepare waves --classes 4 --min-length 20 --max-length 60 --out waves.h5
            """,
        subcommands: [Text.self, CSV.self, Adding.self, Copy.self, Waves.self])

    /// Prints the one-line summary of a written dataset.
    static func report(_ summary: DatasetSummary) {
        print("wrote \(summary)")
    }

    /// Split sizes shared by the generators.
    struct Counts: ParsableArguments {
        /// Not data.generate's 20000: changing either default would change what existing commands make.
        @Option(help: "Training sequences.") var train = 10_000
        @Option(help: "Validation sequences (0: no val split).") var val = RunConfig.Generate.defaults.val
        @Option(help: "Test sequences (0: no test split).") var test = RunConfig.Generate.defaults.test
        @Option(help: "Random seed; each split draws from its own stream derived from it.")
        var seed = RunConfig.Generate.defaults.seed

        var splitCounts: SplitCounts { SplitCounts(train: train, val: val, test: test) }
    }

    struct Text: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A character-level language-modelling dataset from a UTF-8 text file (torch-rnn style).",
            discussion: """
                The vocabulary is the sorted set of characters in the file (root attribute `vocabulary`); \
                each split is one token stream `tokens` [L]: the first part of the text is train, then \
                val, then test. Train on it with a seq_length T (windows or stateful lanes).

                Example:
                  lstm prepare text tiny-shakespeare.txt --out shakespeare.h5
                  lstm prepare text input.txt --val-frac 0.05 --test-frac 0.05 --out in.h5
                """)

        @Argument(help: "The UTF-8 text file.") var file: String
        @Option(help: "The dataset file to write.") var out: String
        @Option(help: "Fraction of the text for the val split.") var valFrac = 0.1
        @Option(help: "Fraction of the text for the test split.") var testFrac = 0.1

        func run() throws {
            try AtomicFile.checkOutput(out, isNotAnyOf: [("text file", file)], role: .dataset)
            let summary = try TextPreparer(valFraction: valFrac, testFraction: testFrac).prepare(file: file, to: out)
            Prepare.report(summary)
        }
    }

    struct CSV: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "csv",
            abstract: "A next-step forecasting dataset from a CSV file with a header row.",
            discussion: """
                Each sample is T consecutive rows of the feature columns (inputs [N, T, I]); its target is \
                the target columns of the following row (targets [N, O], for the `last` head). Rows are \
                split chronologically; z-scores use train-split statistics, stored as root attributes \
                so predictions can be mapped back (value = prediction · target_std + target_mean). New \
                data for a trained model: --statistics-from MODEL normalises with the model's own \
                statistics (and stores them), so `lstm predict` accepts it.

                Example:
                  lstm prepare csv weather.csv --window 24 --target temp --out weather.h5
                  lstm prepare csv w.csv --window 24 --target temp --features temp wind --out w.h5
                  lstm prepare csv new.csv --window 24 --target temp --statistics-from runs/w/best.h5 \
                    --val-frac 0 --test-frac 0 --out new.h5
                """)

        @Argument(help: "The CSV file (header row, comma-separated).") var file: String
        @Option(help: "T, rows per input window.") var window: Int
        @Option(parsing: .upToNextOption, help: "Target column(s), predicted for the row after each window.")
        var target: [String]
        @Option(parsing: .upToNextOption, help: "Feature column(s) (default: every numeric column).")
        var features: [String] = []
        @Option(help: "The dataset file to write.") var out: String
        @Option(help: "Fraction of the rows for the val split.") var valFrac = 0.1
        @Option(help: "Fraction of the rows for the test split.") var testFrac = 0.1
        @Option(help: "Normalise with the statistics of this model (or dataset) instead of the train rows'.")
        var statisticsFrom: String?

        func run() throws {
            try AtomicFile.checkOutput(out, isNotAnyOf: [("CSV file", file)], role: .dataset)
            var preparer = CSVPreparer(
                window: window, targets: target, features: features.isEmpty ? nil : features,
                valFraction: valFrac, testFraction: testFrac)
            if let statisticsFrom { preparer.statistics = try CSVPreparer.statistics(from: statisticsFrom) }
            Prepare.report(try preparer.prepare(file: file, to: out))
        }
    }

    struct Adding: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The adding problem (Hochreiter & Schmidhuber 1997), generated from a seed.",
            discussion: """
                Inputs [N, T, 2]: a uniform value in [0, 1) and a marker; exactly two steps are marked, \
                one in each half. Targets [N, 1]: the sum of the two marked values (head `last`, loss mse; \
                always answering 1 scores MSE ≈ 0.167).

                Example:
                  lstm prepare adding --steps 100 --train 20000 --seed 7 --out adding.h5
                """)

        @Option(help: "T, steps per sequence (≥ 2).") var steps = RunConfig.Generate.defaults.steps
        @OptionGroup var counts: Counts
        @Option(help: "The dataset file to write.") var out: String

        func run() throws {
            Prepare.report(
                try Generators.writeAdding(to: out, steps: steps, counts: counts.splitCounts, seed: counts.seed))
        }
    }

    struct Copy: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The copy (memory) task (Hochreiter & Schmidhuber 1997; Arjovsky et al. 2016).",
            discussion: """
                Inputs [N, T] token ids, T = 2K + D + 1: K symbols drawn from an alphabet of A, D blanks, \
                a delimiter, then K blanks during which the model must output the K symbols. Targets \
                [N, T] class ids: blank (0) elsewhere. Vocabulary: "_" (blank), the A symbols, ":" \
                (delimiter), so V = A + 2 tokens and O = A + 1 classes (head `sequence`, cross_entropy).

                Example:
                  lstm prepare copy --symbols 10 --alphabet 8 --delay 100 --out copy.h5
                """)

        @Option(help: "K, symbols to remember.") var symbols = RunConfig.Generate.defaults.symbols
        @Option(help: "A, the alphabet size.") var alphabet = RunConfig.Generate.defaults.alphabet
        /// Not data.generate's 20, for the same reason as `train`.
        @Option(help: "D, blanks between the symbols and the delimiter.") var delay = 50
        @OptionGroup var counts: Counts
        @Option(help: "The dataset file to write.") var out: String

        func run() throws {
            Prepare.report(
                try Generators.writeCopy(
                    to: out, symbols: symbols, alphabet: alphabet, delay: delay,
                    counts: counts.splitCounts, seed: counts.seed))
        }
    }
}

extension Prepare {
    struct Waves: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Noisy waveforms of K shapes and variable length, for many-to-one classification.",
            discussion: """
                Inputs [N, T, 1] float: the first L steps of a noisy waveform (sine, square, triangle, \
                sawtooth, pulse, chirp: the first K), zeros after; L uniform in min-length...max-length \
                (T = max-length), stored in `lengths` [N]. Random period (6-20 steps), phase, amplitude \
                (0.5-1.5), offset (±0.5), plus Gaussian noise. Targets [N] int32 class ids; root \
                `class_names` names the shapes (head `last`, cross_entropy; chance accuracy 1/K).

                Example:
                  lstm prepare waves --classes 4 --train 16000 --out waves.h5
                """)

        @Option(help: "K, the number of shapes (2-6).") var classes = RunConfig.Generate.defaults.classes
        @Option(help: "Shortest sequence, in steps.") var minLength = RunConfig.Generate.defaults.minLength
        @Option(help: "T, the longest sequence (every row is padded to T).")
        var maxLength = RunConfig.Generate.defaults.maxLength
        @Option(help: "Standard deviation of the Gaussian noise.") var noise = RunConfig.Generate.defaults.noise
        @OptionGroup var counts: Counts
        @Option(help: "The dataset file to write.") var out: String

        func run() throws {
            let settings = Generators.WaveSettings(
                classes: classes, minLength: minLength, maxLength: maxLength, noise: noise)
            Prepare.report(
                try Generators.writeWaves(to: out, settings: settings, counts: counts.splitCounts, seed: counts.seed))
        }
    }
}
