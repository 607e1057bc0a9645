import HDF5Kit
import LSTMData
import LSTMFiles
import LSTMKit
import XCTest

/// Opening a split validates it; every malformed layout gives one FileError naming file and dataset.
final class DatasetValidationTests: DataTestCase {

    /// A valid sequences split: features [4, 3, 2], classes [4, 3].
    private func writeValidSplit(_ g: HDF5Group, n: Int = 4, t: Int = 3) throws {
        try g.write("inputs", [Float](repeating: 0.5, count: n * t * 2), shape: [n, t, 2])
        try g.write("targets", [Int32](repeating: 1, count: n * t), shape: [n, t])
    }

    func testSchemaDescribesEachForm() throws {
        let p = try makeFile("forms.h5") { f in
            let a = try f.root.createGroup("train")
            try a.write("inputs", [Float](repeating: 0, count: 4 * 3 * 2), shape: [4, 3, 2])
            try a.write("targets", [Float](repeating: 0, count: 4), shape: [4, 1])
            try a.write("lengths", [Int32]([1, 2, 3, 3]))
            let b = try f.root.createGroup("val")
            try b.write("inputs", [Int32](repeating: 2, count: 6), shape: [2, 3])
            try b.write("targets", [Int32]([0, 4]))
            let c = try f.root.createGroup("test")
            try c.write("tokens", [Int32]([0, 1, 2, 3, 4]))
            try f.root.setAttribute("vocabulary", ["a", "b", "c", "d", "e"])
        }
        let file = try DatasetFile(path: p)
        XCTAssertEqual(file.splits, ["train", "val", "test"])
        let train = try file.schema("train")
        XCTAssertEqual(train.form, .sequences)
        XCTAssertEqual(train.count, 4)
        XCTAssertEqual(train.steps, 3)
        XCTAssertEqual(train.input, .features(width: 2))
        XCTAssertEqual(train.target, .valuesPerSequence(width: 1))
        XCTAssertTrue(train.hasLengths)
        let val = try file.schema("val")
        XCTAssertEqual(val.input, .tokens)
        XCTAssertEqual(val.target, .classesPerSequence)
        XCTAssertEqual(val.tokenIDs?.max, 2)
        XCTAssertEqual(val.classIDs?.max, 4)
        XCTAssertEqual(val.classIDs?.maxIndex, 1)
        let test = try file.schema("test")
        XCTAssertEqual(test.form, .tokenStream)
        XCTAssertEqual(test.count, 5)
        XCTAssertNil(test.steps)
        XCTAssertEqual(test.vocabulary, ["a", "b", "c", "d", "e"])
        XCTAssertEqual(test.minimumClassCount, 5)
    }

    func testMissingFileIsReported() {
        let p = path("nope.h5")
        assertDatasetError(.notFound, file: p, object: nil, mentions: ["no such file"]) { try DatasetFile(path: p) }
    }

    func testMissingSplitListsTheSplitsFound() throws {
        let p = try makeFile("d.h5") { try writeValidSplit($0.root.createGroup("train")) }
        let file = try DatasetFile(path: p)
        assertDatasetError(.missing, file: p, object: "val", mentions: ["train"]) { try file.schema("val") }
    }

    func testMissingInputsIsNamed() throws {
        let p = try makeFile("d.h5") { f in
            try f.root.createGroup("train").write("targets", [Int32](repeating: 0, count: 4))
        }
        assertDatasetError(.missing, file: p, object: "train/inputs", mentions: ["targets"]) {
            try DatasetFile(path: p).schema("train")
        }
    }

    func testMissingTargetsIsNamed() throws {
        let p = try makeFile("d.h5") { f in
            try f.root.createGroup("train").write("inputs", [Float](repeating: 0, count: 12), shape: [2, 3, 2])
        }
        assertDatasetError(.missing, file: p, object: "train/targets") { try DatasetFile(path: p).schema("train") }
    }

    func testInputsOfWrongRankAreNamed() throws {
        let p = try makeFile("d.h5") { f in
            let g = try f.root.createGroup("train")
            try g.write("inputs", [Float](repeating: 0, count: 6), shape: [2, 3])
            try g.write("targets", [Int32](repeating: 0, count: 6), shape: [2, 3])
        }
        assertDatasetError(.shapeMismatch, file: p, object: "train/inputs", mentions: ["float32 [2, 3]", "[N, T, I]"]) {
            try DatasetFile(path: p).schema("train")
        }
    }

    func testInputsOfWrongDtypeAreNamed() throws {
        let p = try makeFile("d.h5") { f in
            let g = try f.root.createGroup("train")
            try g.writeStrings("inputs", ["a", "b"])
            try g.write("targets", [Int32](repeating: 0, count: 6), shape: [2, 3])
        }
        assertDatasetError(.typeMismatch, file: p, object: "train/inputs", mentions: ["string [2]", "float16/32/64"]) {
            try DatasetFile(path: p).schema("train")
        }
    }

    func testTargetsOfWrongDtypeAreNamed() throws {
        let p = try makeFile("d.h5") { f in
            let g = try f.root.createGroup("train")
            try g.write("inputs", [Float](repeating: 0, count: 12), shape: [2, 3, 2])
            try g.writeStrings("targets", ["0", "1"])
        }
        assertDatasetError(.typeMismatch, file: p, object: "train/targets", mentions: ["string [2]"]) {
            try DatasetFile(path: p).schema("train")
        }
    }

    func testInconsistentSequenceCountIsNamed() throws {
        let p = try makeFile("d.h5") { f in
            let g = try f.root.createGroup("train")
            try g.write("inputs", [Float](repeating: 0, count: 24), shape: [4, 3, 2])
            try g.write("targets", [Float](repeating: 0, count: 3), shape: [3, 1])
        }
        assertDatasetError(.shapeMismatch, file: p, object: "train/targets", mentions: ["N = 4", "float32 [3, 1]"]) {
            try DatasetFile(path: p).schema("train")
        }
    }

    func testTargetsWithOtherStepCountAreNamed() throws {
        let p = try makeFile("d.h5") { f in
            let g = try f.root.createGroup("train")
            try g.write("inputs", [Float](repeating: 0, count: 24), shape: [4, 3, 2])
            try g.write("targets", [Int32](repeating: 0, count: 16), shape: [4, 4])
        }
        assertDatasetError(.shapeMismatch, file: p, object: "train/targets", mentions: ["T = 3", "int32 [4, 4]"]) {
            try DatasetFile(path: p).schema("train")
        }
    }

    func testBothInputsAndTokensIsAmbiguous() throws {
        let p = try makeFile("d.h5") { f in
            let g = try f.root.createGroup("train")
            try writeValidSplit(g)
            try g.write("tokens", [Int32]([1, 2, 3]))
        }
        assertDatasetError(.shapeMismatch, file: p, object: "train", mentions: ["both"]) {
            try DatasetFile(path: p).schema("train")
        }
    }

    func testTokenIDOutsideVocabularyIsNamed() throws {
        let p = try makeFile("d.h5") { f in
            let g = try f.root.createGroup("train")
            try g.write("inputs", [Int32]([0, 1, 2, 1, 7, 0]), shape: [2, 3])
            try g.write("targets", [Int32]([0, 1]))
            try f.root.setAttribute("vocabulary", ["a", "b", "c"])
        }
        assertDatasetError(
            .invalidValue, file: p, object: "train/inputs", mentions: ["token id 7", "sequence 1, step 1", "0..<3"]
        ) {
            try DatasetFile(path: p).schema("train")
        }
    }

    func testNegativeTokenIDIsNamed() throws {
        let p = try makeFile("d.h5") { f in
            let g = try f.root.createGroup("train")
            try g.write("inputs", [Int32]([0, -3, 2, 1]), shape: [2, 2])
            try g.write("targets", [Int32]([0, 1]))
        }
        assertDatasetError(.invalidValue, file: p, object: "train/inputs", mentions: ["-3", "sequence 0, step 1"]) {
            try DatasetFile(path: p).schema("train")
        }
    }

    func testTokenIDAboveCallerVocabularySizeIsNamed() throws {
        let p = try makeFile("d.h5") { f in
            let g = try f.root.createGroup("train")
            try g.write("inputs", [Int32]([0, 1, 5, 1]), shape: [2, 2])
            try g.write("targets", [Int32]([0, 1]))
        }
        let file = try DatasetFile(path: p)
        XCTAssertNoThrow(try file.schema("train", vocabularySize: 6))
        assertDatasetError(
            .invalidValue, file: p, object: "train/inputs", mentions: ["token id 5", "vocabulary size 5"]
        ) {
            try file.schema("train", vocabularySize: 5)
        }
    }

    /// The stream is scanned in blocks of 1 Mi tokens; a bad id past the first block is still found.
    func testStreamTokenIDOutOfRangeIsFoundPastTheFirstScanBlock() throws {
        let length = (1 << 20) + 1000
        var tokens = [Int32](repeating: 1, count: length)
        tokens[length - 10] = 9
        let p = try makeFile("d.h5") { f in
            try f.root.createGroup("train").write("tokens", tokens)
            try f.root.setAttribute("vocabulary", ["a", "b", "c"])
        }
        assertDatasetError(
            .invalidValue, file: p, object: "train/tokens", mentions: ["token id 9", "position \(length - 10)"]
        ) {
            try DatasetFile(path: p).schema("train")
        }
    }

    func testClassIDAboveClassCountIsNamed() throws {
        let p = try makeFile("d.h5") { f in
            let g = try f.root.createGroup("train")
            try g.write("inputs", [Float](repeating: 0, count: 12), shape: [2, 3, 2])
            try g.write("targets", [Int32]([0, 1, 2, 3, 4, 1]), shape: [2, 3])
        }
        let file = try DatasetFile(path: p)
        XCTAssertNoThrow(try file.schema("train", classCount: 5))
        assertDatasetError(
            .invalidValue, file: p, object: "train/targets", mentions: ["class id 4", "sequence 1, step 1", "0..<4"]
        ) {
            try file.schema("train", classCount: 4)
        }
    }

    func testNegativeClassIDIsNamed() throws {
        let p = try makeFile("d.h5") { f in
            let g = try f.root.createGroup("train")
            try g.write("inputs", [Float](repeating: 0, count: 4), shape: [2, 1, 2])
            try g.write("targets", [Int32]([0, -1]))
        }
        assertDatasetError(.invalidValue, file: p, object: "train/targets", mentions: ["-1", "sequence 1"]) {
            try DatasetFile(path: p).schema("train")
        }
    }

    /// Asking for classes where the file holds float values names what was expected and found.
    func testClassCountOnFloatTargetsSaysWhatWasExpected() throws {
        let p = try makeFile("data.h5") { f in
            let g = try f.root.createGroup("train")
            try g.write("inputs", [Float](repeating: 0, count: 100 * 5 * 2), shape: [100, 5, 2])
            try g.write("targets", [Float](repeating: 0, count: 500), shape: [100, 5])
        }
        let error = assertDatasetError(.typeMismatch, file: p, object: "train/targets") {
            try DatasetFile(path: p).schema("train", classCount: 3)
        }
        XCTAssertEqual(
            error?.description,
            "\(p): train/targets: expected integer class ids [N] or [N, T] with N = 100, T = 5, found float32 [100, 5]")
    }

    func testLengthsOutsideOneToTAreNamed() throws {
        for bad: Int32 in [0, 4] {
            let p = try makeFile("d\(bad).h5") { f in
                let g = try f.root.createGroup("train")
                try writeValidSplit(g)
                try g.write("lengths", [Int32]([3, 1, bad, 2]))
            }
            assertDatasetError(
                .invalidValue, file: p, object: "train/lengths", mentions: ["1...3", "found \(bad) for sequence 2"]
            ) {
                try DatasetFile(path: p).schema("train")
            }
        }
    }

    func testLengthsOfWrongCountAreNamed() throws {
        let p = try makeFile("d.h5") { f in
            let g = try f.root.createGroup("train")
            try writeValidSplit(g)
            try g.write("lengths", [Int32]([3, 1, 2]))
        }
        assertDatasetError(.shapeMismatch, file: p, object: "train/lengths", mentions: ["N = 4", "int32 [3]"]) {
            try DatasetFile(path: p).schema("train")
        }
    }

    func testStatisticsOfWrongWidthAreNamed() throws {
        let p = try makeFile("d.h5") { f in
            try writeValidSplit(f.root.createGroup("train"))
            try f.root.setAttribute("feature_names", ["a", "b", "c"])
            try f.root.setAttribute("mean", [Float]([0, 0, 0]))
            try f.root.setAttribute("std", [Float]([1, 1, 1]))
        }
        assertDatasetError(.shapeMismatch, file: p, object: "mean (root attribute)", mentions: ["I = 2", "found 3"]) {
            try DatasetFile(path: p).schema("train")
        }
    }

    func testVocabularyOfWrongTypeIsNamed() throws {
        let p = try makeFile("d.h5") { f in
            try f.root.createGroup("train").write("tokens", [Int32]([0, 1, 2]))
            try f.root.setAttribute("vocabulary", [1, 2, 3])
        }
        assertDatasetError(.typeMismatch, file: p, object: "vocabulary (root attribute)", mentions: ["strings"]) {
            try DatasetFile(path: p)
        }
    }

    func testLoaderValidatesBeforeProducingAnyMinibatch() throws {
        let p = try makeFile("d.h5") { f in
            let g = try f.root.createGroup("train")
            try writeValidSplit(g)
            try g.write("lengths", [Int32]([3, 1, 9, 2]))
        }
        assertDatasetError(.invalidValue, file: p, object: "train/lengths") {
            try BatchLoader(path: p, split: "train", batchSize: 2)
        }
    }

    func testCheckAgainstModelReportsEveryMismatch() throws {
        // I = 2, classes per step
        let p = try makeFile("d.h5") { f in try writeValidSplit(f.root.createGroup("train")) }
        let file = try DatasetFile(path: p)
        let fits = ModelConfig(
            input: .features(size: 2), hiddenSize: 4, outputSize: 3, head: .sequence, loss: .crossEntropy)
        XCTAssertNoThrow(try file.check(against: fits, split: "train"))
        let wrong = ModelConfig(
            input: .features(size: 5), hiddenSize: 4, outputSize: 1, head: .last, loss: .crossEntropy)
        assertDatasetError(
            .incompatible, file: p, object: "train",
            mentions: ["I = 5", "I = 2", "class id 1", "O = 1", "head `last`"]
        ) {
            try file.check(against: wrong, split: "train")
        }
        let mse = ModelConfig(input: .features(size: 2), hiddenSize: 4, outputSize: 3, head: .sequence, loss: .mse)
        assertDatasetError(.incompatible, file: p, object: "train", mentions: ["mse", "float values"]) {
            try file.check(against: mse, split: "train")
        }
    }

    func testCheckAgainstTokenModelComparesVocabulary() throws {
        let p = try makeFile("d.h5") { f in
            try f.root.createGroup("train").write("tokens", [Int32]([0, 1, 2, 3, 2, 1]))
            try f.root.setAttribute("vocabulary", ["a", "b", "c", "d"])
        }
        let file = try DatasetFile(path: p)
        let fits = ModelConfig(
            input: .tokens(vocabulary: 4, embedding: 3), hiddenSize: 4, outputSize: 4, loss: .crossEntropy)
        XCTAssertNoThrow(try file.check(against: fits, split: "train"))
        let small = ModelConfig(
            input: .tokens(vocabulary: 3, embedding: 3), hiddenSize: 4, outputSize: 3, loss: .crossEntropy)
        assertDatasetError(
            .incompatible, file: p, object: "train", mentions: ["vocabulary size is 3", "4 entries", "O = 3"]
        ) {
            try file.check(against: small, split: "train")
        }
    }
}
