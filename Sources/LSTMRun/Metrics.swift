import Foundation
import LSTMFiles

/// One line of a run's metrics.jsonl; fields absent from a line are nil.
public struct MetricsRecord: Codable, Sendable, Equatable {
    public var step: Int
    public var epoch: Int
    public var trainLoss: Double?
    public var valLoss: Double?
    public var valAccuracy: Double?
    public var valPerplexity: Double?
    public var valMSE: Double?
    public var valMAE: Double?
    public var learningRate: Double?
    public var tokensPerSecond: Double?
    public var wallTime: Double
    public var skippedSteps: Int?

    enum CodingKeys: String, CodingKey {
        case step, epoch
        case trainLoss = "train_loss"
        case valLoss = "val_loss"
        case valAccuracy = "val_accuracy"
        case valPerplexity = "val_perplexity"
        case valMSE = "val_mse"
        case valMAE = "val_mae"
        case learningRate = "lr"
        case tokensPerSecond = "tokens_per_s"
        case wallTime = "wall_time"
        case skippedSteps = "skipped_steps"
    }

    public init(step: Int, epoch: Int, wallTime: Double) {
        self.step = step
        self.epoch = epoch
        self.wallTime = wallTime
    }

    /// The value of a metric by its config name (val_loss, val_accuracy, …, train_loss).
    public func value(of metric: String) -> Double? {
        switch metric {
        case "train_loss": return trainLoss
        case "val_loss": return valLoss
        case "val_accuracy": return valAccuracy
        case "val_perplexity": return valPerplexity
        case "val_mse": return valMSE
        case "val_mae": return valMAE
        default: return nil
        }
    }

    /// Decodes one line (non-finite numbers are written as "nan", "inf", "-inf").
    public static func decode(_ line: Substring) throws -> MetricsRecord {
        try JSONCoding.decoder().decode(MetricsRecord.self, from: Data(line.utf8))
    }

    /// Reads every record of a metrics.jsonl file.
    public static func read(_ path: String) throws -> [MetricsRecord] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return try text.split(separator: "\n").enumerated().map { i, line in
            do { return try decode(line) } catch {
                throw ConfigError(
                    file: path, line: i + 1, column: 1, key: "", message: "not a metrics record: \(error)")
            }
        }
    }
}

/// A run's metrics.jsonl: records appended as training goes, cut back when a run resumes.
struct MetricsLog {
    let path: String

    /// Appends one record as a JSON line (sorted keys; non-finite numbers as "nan", "inf", "-inf").
    func append(_ r: MetricsRecord) throws {
        var line = try JSONCoding.encoder().encode(r)
        line.append(0x0A)
        if let h = FileHandle(forWritingAtPath: path) {
            defer { try? h.close() }
            try h.seekToEnd()
            try h.write(contentsOf: line)
        } else {
            try line.write(to: URL(fileURLWithPath: path))
        }
    }

    /// Drops metrics logged after `step` (a resumed run logs them again).
    func truncate(after step: Int) throws {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return }
        let kept = text.split(separator: "\n").filter { line in
            guard let r = try? MetricsRecord.decode(line) else { return false }
            return r.step <= step
        }
        try (kept.joined(separator: "\n") + (kept.isEmpty ? "" : "\n")).write(
            toFile: path, atomically: true, encoding: .utf8)
    }
}
