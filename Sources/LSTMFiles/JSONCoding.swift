import Foundation

/// The JSON coders for everything the runtime writes (run state in checkpoints, metrics.jsonl):
/// sorted keys, and non-finite numbers as the strings "nan", "inf" and "-inf" — JSON has no
/// literal for them, and a diverged run's figures must be written and read back, not fail the write.
public enum JSONCoding {
    /// Sorted keys; NaN and ±∞ as "nan", "inf", "-inf".
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return encoder
    }

    /// Reads what `encoder()` writes.
    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return decoder
    }
}
