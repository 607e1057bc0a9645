import Foundation
import HDF5Kit
import LSTMData
import LSTMKit
import XCTest

/// Preparers and generators: definitions, round trips, statistics, errors, atomic writes.
final class PrepareTests: DataTestCase {

    // MARK: Text

    func testTextVocabularyIsTheSortedUniqueCharacters() {
        XCTAssertEqual(TextPreparer.vocabulary(of: "hello, wörld"), [" ", ",", "d", "e", "h", "l", "o", "r", "w", "ö"])
    }

    func testTextRoundTripsThroughTheTokenStreams() throws {
        let text = String(repeating: "To be, or not to be: that is the question. Ça va? ", count: 4)
        let p = path("text.h5")
        let summary = try TextPreparer().prepare(text: text, to: p)
        XCTAssertEqual(summary.splits.map(\.split), ["train", "val", "test"])
        let file = try HDF5File.open(p)
        let vocabulary = try file.root.attribute("vocabulary", as: [String].self)
        XCTAssertEqual(vocabulary, TextPreparer.vocabulary(of: text).map(String.init))
        XCTAssertEqual(summary.vocabularySize, vocabulary.count)
        let parts = try ["train", "val", "test"].map { try file.root.read("\($0)/tokens", as: Int32.self) }
        let total = text.count
        XCTAssertEqual(parts.map(\.count), [total - 2 * (total / 10), total / 10, total / 10])
        XCTAssertEqual(parts.joined().map { vocabulary[Int($0)] }.joined(), text)
    }

    func testTextWithZeroFractionsWritesOnlyTrain() throws {
        let p = path("t.h5")
        try TextPreparer(valFraction: 0, testFraction: 0).prepare(text: "abcabc", to: p)
        XCTAssertEqual(try DatasetFile(path: p).splits, ["train"])
    }

    func testTextTooShortForASplitIsAnError() {
        let out = path("t.h5")
        assertDatasetError(.invalidArgument, file: "<text>", object: nil, mentions: ["val", "too few"]) {
            try TextPreparer(valFraction: 0.1, testFraction: 0).prepare(text: "abcdefghij", to: out)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    func testTextFileMustBeUTF8() throws {
        let input = path("bad.txt")
        XCTAssertTrue(FileManager.default.createFile(atPath: input, contents: Data([0x61, 0xFF, 0xFE, 0x62])))
        assertDatasetError(.invalidValue, file: input, object: nil, mentions: ["UTF-8"]) {
            try TextPreparer().prepare(file: input, to: path("x.h5"))
        }
    }

    // MARK: CSV

    /// 20 rows: t = row, a = 2·row, b = 100 − row (and a text column).
    private var csv: String {
        "date,a,b,label\n" + (0..<20).map { r in "2024-01-\(r + 1),\(2 * r),\(100 - r),x\(r)" }.joined(separator: "\n")
            + "\n"
    }

    func testCSVWindowsTargetsAndTrainStatistics() throws {
        let p = path("csv.h5")
        let preparer = CSVPreparer(window: 3, targets: ["b"], valFraction: 0.2, testFraction: 0.25)
        let summary = try preparer.prepare(csv: csv, source: "series.csv", to: p)
        // 20 rows: test 5, val 4, train 11; windows of 3 leave N = 8, 1, 2.
        XCTAssertEqual(summary.splits.map(\.count), [8, 1, 2])
        let file = try DatasetFile(path: p)
        let stats = try XCTUnwrap(file.featureStatistics)
        XCTAssertEqual(stats.names, ["a", "b"], "numeric columns only by default")
        // Train rows 0..<11: a = 0, 2, …, 20 → mean 10, population std 2·√10.
        XCTAssertEqual(stats.mean[0], 10, accuracy: 1e-5)
        XCTAssertEqual(stats.std[0], 2 * Float(10).squareRoot(), accuracy: 1e-4)
        XCTAssertEqual(stats.mean[1], 95, accuracy: 1e-5)
        let targetStats = try XCTUnwrap(file.targetStatistics)
        XCTAssertEqual(targetStats.names, ["b"])
        XCTAssertEqual(targetStats.mean, [95])

        let model = ModelConfig(input: .features(size: 2), hiddenSize: 4, outputSize: 1, head: .last, loss: .mse)
        try file.check(against: model, split: "train")
        let loader = try BatchLoader(file: file, split: "val", batchSize: 8, shuffle: false)
        let batch = try XCTUnwrap(loader.next())
        // The val split starts at row 11: its only window is rows 11...13, target row 14.
        let x = batch.featureValues
        XCTAssertEqual(x.count, 3 * 2)
        for step in 0..<3 {
            let row = Float(11 + step)
            XCTAssertEqual(x[step * 2] * stats.std[0] + stats.mean[0], 2 * row, accuracy: 1e-4)
            XCTAssertEqual(x[step * 2 + 1] * stats.std[1] + stats.mean[1], 100 - row, accuracy: 1e-4)
        }
        XCTAssertEqual(targetStats.denormalize(batch.targetValues)[0], 100 - 14, accuracy: 1e-4)
    }

    func testCSVMissingColumnIsNamed() {
        assertDatasetError(.missing, file: "series.csv", object: "column 'c'", mentions: ["date, a, b, label"]) {
            try CSVPreparer(window: 2, targets: ["c"]).prepare(csv: csv, source: "series.csv", to: path("x.h5"))
        }
    }

    func testCSVNonNumericCellNamesRowAndColumn() {
        var lines = csv.split(separator: "\n").map(String.init)
        lines[6] = "2024-01-06,oops,95,x5"
        let bad = lines.joined(separator: "\n")
        assertDatasetError(.invalidValue, file: "series.csv", object: "column 'a'", mentions: ["line 7", "'oops'"]) {
            try CSVPreparer(window: 2, targets: ["b"]).prepare(csv: bad, source: "series.csv", to: path("x.h5"))
        }
        assertDatasetError(.invalidValue, file: "series.csv", object: "column 'label'", mentions: ["line 2", "'x0'"]) {
            try CSVPreparer(window: 2, targets: ["label"]).prepare(csv: csv, source: "series.csv", to: path("x.h5"))
        }
    }

    func testCSVTooFewRowsForTheWindowIsAnError() {
        assertDatasetError(.shapeMismatch, file: "series.csv", object: nil, mentions: ["too few rows", "T = 20"]) {
            try CSVPreparer(window: 20, targets: ["b"]).prepare(csv: csv, source: "series.csv", to: path("x.h5"))
        }
        assertDatasetError(
            .shapeMismatch, file: "series.csv", object: nil, mentions: ["too few rows", "val split gets 2"]
        ) {
            try CSVPreparer(window: 2, targets: ["b"]).prepare(csv: csv, source: "series.csv", to: path("x.h5"))
        }
    }

    func testCSVQuotedFieldsAndExplicitFeatures() throws {
        let text = "name,\"x, raw\",y\r\n\"a \"\"q\"\"\",1,2\r\nb,3,4\r\nc,5,6\r\nd,7,8\r\n"
        let p = path("q.h5")
        try CSVPreparer(window: 2, targets: ["y"], features: ["x, raw"], valFraction: 0, testFraction: 0)
            .prepare(csv: text, to: p)
        let file = try DatasetFile(path: p)
        XCTAssertEqual(file.featureStatistics?.names, ["x, raw"])
        XCTAssertEqual(file.featureStatistics?.mean, [4])
        XCTAssertEqual(try file.schema("train").count, 2)
    }

    // MARK: Generators

    func testAddingSplitsMatchLSTMKitAndSumTheMarkedValues() throws {
        let p = path("adding.h5")
        let (n, t) = (9, 8)
        let summary = try Generators.writeAdding(
            to: p, steps: t, counts: SplitCounts(train: n, val: 3, test: 0), seed: 11)
        XCTAssertEqual(
            summary.description,
            "\(p): train inputs float32 [9, 8, 2] targets float32 [9, 1]; val inputs float32 [3, 8, 2] targets float32 [3, 1]"
        )
        let file = try DatasetFile(path: p)
        XCTAssertEqual(file.splits, ["train", "val"])
        let h5 = try HDF5File.open(p)
        let x = try h5.root.read("train/inputs", as: Float.self)
        let y = try h5.root.read("train/targets", as: Float.self)
        let reference = AddingProblem.generate(count: n, steps: t, seed: Generators.splitSeed(11, split: 0))
        XCTAssertEqual(x, reference.inputs)
        XCTAssertEqual(y, reference.targets)
        for s in 0..<n {
            let marked = (0..<t).filter { x[(s * t + $0) * 2 + 1] == 1 }
            XCTAssertEqual(marked.count, 2)
            XCTAssertLessThan(marked[0], t / 2)
            XCTAssertGreaterThanOrEqual(marked[1], t / 2)
            XCTAssertTrue((0..<t).allSatisfy { (0..<1).contains(x[(s * t + $0) * 2]) })
            XCTAssertEqual(y[s], x[(s * t + marked[0]) * 2] + x[(s * t + marked[1]) * 2])
        }
        XCTAssertNotEqual(try h5.root.read("val/targets", as: Float.self), Array(y.prefix(3)))
    }

    func testCopyTaskTargetsRepeatTheSymbolsAfterTheDelimiter() throws {
        let p = path("copy.h5")
        let (k, a, d, n) = (3, 4, 5, 6)
        let summary = try Generators.writeCopy(
            to: p, symbols: k, alphabet: a, delay: d,
            counts: SplitCounts(train: n, val: 2, test: 2), seed: 3)
        XCTAssertEqual(summary.vocabularySize, a + 2)
        let file = try DatasetFile(path: p)
        XCTAssertEqual(file.vocabulary, ["_", "A", "B", "C", "D", ":"])
        XCTAssertEqual(file.classNames, ["_", "A", "B", "C", "D"])
        let model = ModelConfig(
            input: .tokens(vocabulary: a + 2, embedding: 4), hiddenSize: 8, outputSize: a + 1,
            head: .sequence, loss: .crossEntropy)
        try file.check(against: model, split: "train")
        let t = 2 * k + d + 1
        let batch = try XCTUnwrap(BatchLoader(file: file, split: "train", batchSize: n, shuffle: false).next())
        XCTAssertEqual(batch.steps, t)
        for s in 0..<n {
            let x = Array(batch.tokenValues[(s * t)..<((s + 1) * t)])
            let y = Array(batch.classValues[(s * t)..<((s + 1) * t)])
            let symbols = Array(x.prefix(k))
            XCTAssertTrue(symbols.allSatisfy { (1...Int32(a)).contains($0) })
            XCTAssertEqual(Array(x[k..<(k + d)]), [Int32](repeating: 0, count: d))
            XCTAssertEqual(x[k + d], Int32(a + 1))
            XCTAssertEqual(Array(x.suffix(k)), [Int32](repeating: 0, count: k))
            XCTAssertEqual(Array(y.prefix(k + d + 1)), [Int32](repeating: 0, count: k + d + 1))
            XCTAssertEqual(Array(y.suffix(k)), symbols)
        }
    }

    // MARK: Atomic writes

    func testAFailedPrepareLeavesNoFileAndKeepsAnOldOne() throws {
        let out = path("keep.h5")
        try Generators.writeAdding(to: out, steps: 4, counts: SplitCounts(train: 2, val: 0, test: 0), seed: 1)
        let before = try Data(contentsOf: URL(fileURLWithPath: out))
        XCTAssertThrowsError(try CSVPreparer(window: 2, targets: ["nope"]).prepare(csv: csv, to: out))
        let writer = try DatasetWriter(path: out)
        try writer.writeTokenStream(split: "train", tokens: [0, 1, 2])
        writer.discard()
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out)), before)
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: directory), ["keep.h5"], "no temporary files left")
    }

    func testCommitValidatesBeforeRenaming() throws {
        let out = path("bad.h5")
        let writer = try DatasetWriter(path: out)
        try writer.writeSequences(
            split: "train", count: 2, steps: 2, inputs: .tokens([0, 1, 2, 3]),
            targets: .classesPerSequence([0, 1]))
        try writer.setVocabulary(["a", "b"])  // token ids 2 and 3 are outside it
        assertDatasetError(.invalidValue, file: out, object: "train/inputs", mentions: ["token id 3"]) {
            try writer.commit()
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), [])
    }
}
