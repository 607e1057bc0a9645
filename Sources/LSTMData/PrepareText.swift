import Foundation
import LSTMFiles

/// Splits `total` items into consecutive train/val/test parts like torch-rnn's preprocess.py:
/// val = ⌊total · valFraction⌋, test = ⌊total · testFraction⌋, train the rest, in that order.
func splitSizes(total: Int, valFraction: Double, testFraction: Double) -> (train: Int, val: Int, test: Int) {
    let val = Int(Double(total) * valFraction)
    let test = Int(Double(total) * testFraction)
    return (total - val - test, val, test)
}

/// Checks split fractions: each in [0, 1), together below 1.
func checkFractions(_ val: Double, _ test: Double, file: String) throws {
    guard (0..<1).contains(val), (0..<1).contains(test), val + test < 1 else {
        throw FileError(
            .invalidArgument, .dataset, file: file,
            "split fractions must each be in [0, 1) and sum below 1, got val \(val), test \(test)")
    }
}

/// Prepares a character-level language-modelling dataset from UTF-8 text (torch-rnn style): the
/// vocabulary is the sorted unique Characters, each split one token stream, `vocabulary` a root attribute.
public struct TextPreparer: Sendable {
    /// Fraction of the text for `val` (the part after train); 0 leaves the split out.
    public var valFraction: Double
    /// Fraction of the text for `test` (the end of the text); 0 leaves the split out.
    public var testFraction: Double

    /// A preparer with torch-rnn's default fractions (0.1 and 0.1).
    public init(valFraction: Double = 0.1, testFraction: Double = 0.1) {
        self.valFraction = valFraction
        self.testFraction = testFraction
    }

    /// The vocabulary of `text`: its unique Characters (extended grapheme clusters, so "\r\n" is one), sorted.
    public static func vocabulary(of text: String) -> [Character] {
        Set(text).sorted()
    }

    /// Reads the UTF-8 text file at `input` and writes the dataset to `output` atomically.
    @discardableResult
    public func prepare(file input: String, to output: String) throws -> DatasetSummary {
        return try prepare(text: try readUTF8(input), source: input, to: output)
    }

    /// Writes `text` as a dataset to `output`; `source` names the text in errors and the `source` attribute.
    @discardableResult
    public func prepare(text: String, source: String = "<text>", to output: String) throws -> DatasetSummary {
        try checkFractions(valFraction, testFraction, file: output)
        let vocabulary = Self.vocabulary(of: text)
        guard !vocabulary.isEmpty else { throw FileError(.invalidValue, .dataset, file: source, "the text is empty") }
        if vocabulary.contains("\u{0}") {
            throw FileError(
                .invalidValue, .dataset, file: source,
                "the text contains a NUL character, which the HDF5 vocabulary attribute cannot hold")
        }
        var ids: [Character: Int32] = [:]
        for (i, c) in vocabulary.enumerated() { ids[c] = Int32(i) }
        var tokens: [Int32] = []
        tokens.reserveCapacity(text.utf8.count)
        for c in text { tokens.append(ids[c]!) }

        let sizes = splitSizes(total: tokens.count, valFraction: valFraction, testFraction: testFraction)
        let parts = [
            ("train", 0..<sizes.train, 1.0),
            ("val", sizes.train..<(sizes.train + sizes.val), valFraction),
            ("test", (sizes.train + sizes.val)..<tokens.count, testFraction)
        ]
        for (name, range, fraction) in parts where fraction > 0 && range.count < 2 {
            throw FileError(
                .invalidArgument, .dataset, file: source,
                "the text has \(tokens.count) characters, too few for a \(name) split of at least 2 (fraction \(fraction))"
            )
        }
        let writer = try DatasetWriter(path: output)
        for (name, range, fraction) in parts where fraction > 0 {
            try writer.writeTokenStream(split: name, tokens: Array(tokens[range]))
        }
        try writer.setVocabulary(vocabulary.map(String.init))
        try writer.setAttribute("source", URL(fileURLWithPath: source).lastPathComponent)
        return try writer.commit()
    }
}

/// The whole UTF-8 text file at `path`, or a FileError naming it.
func readUTF8(_ path: String) throws -> String {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw FileError(.notFound, .dataset, file: path, "no such file, or it cannot be read")
    }
    guard let text = String(data: data, encoding: .utf8) else {
        throw FileError(.invalidValue, .dataset, file: path, "the file is not valid UTF-8 text")
    }
    return text
}
