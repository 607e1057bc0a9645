import Foundation
import LSTMFiles

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One line of a run's metrics.jsonl; fields absent from a line are nil.
public struct MetricsRecord: Codable, Sendable, Equatable {
    public var step: Int
    /// Epochs trained at `step`, a fraction mid-epoch (`Epochs.trained`).
    public var epoch: Double
    public var trainLoss: Double?
    public var valLoss: Double?
    public var valAccuracy: Double?
    public var valPerplexity: Double?
    public var valMSE: Double?
    public var valMAE: Double?
    public var learningRate: Double?
    /// Mean global gradient norm (before clipping) over the steps since the previous train record.
    public var gradientNorm: Double?
    public var tokensPerSecond: Double?
    /// Under MPI, means per step since the previous train record on rank 0: seconds computing
    /// (the step's time outside collectives), exchanging data once every rank arrived, and waiting
    /// for the slowest rank to arrive (`CollectiveTiming`). Absent in one process.
    public var computeSeconds: Double?
    public var exchangeSeconds: Double?
    public var waitSeconds: Double?
    /// Under MPI: the fraction of `exchangeSeconds` during which a gradient bucket was in flight
    /// while this rank's shards still computed backward (`parallel.overlap`; 0 without it).
    /// `computeSeconds` includes that hidden time.
    public var overlap: Double?
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
        case gradientNorm = "grad_norm"
        case tokensPerSecond = "tokens_per_s"
        case computeSeconds = "compute_s"
        case exchangeSeconds = "exchange_s"
        case waitSeconds = "wait_s"
        case overlap
        case wallTime = "wall_time"
        case skippedSteps = "skipped_steps"
    }

    public init(step: Int, epoch: Double, wallTime: Double) {
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
    /// A failed write says why (no space left, read-only file system, …) and leaves no partial line.
    func append(_ r: MetricsRecord) throws {
        var line = try JSONCoding.encoder().encode(r)
        line.append(0x0A)
        try AtomicFile.append(line, to: path, role: .run, what: "a record")
    }

    /// The number of records (lines) in the file; 0 if there is none.
    func count() throws -> Int {
        guard let data = FileManager.default.contents(atPath: path) else { return 0 }
        return data.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
    }

    /// Starts an empty metrics.jsonl (a run started from scratch in an existing directory).
    func reset() throws {
        guard FileManager.default.fileExists(atPath: path) else { return }
        try AtomicFile.write(Data(), to: path, role: .run)
    }

    /// Drops metrics logged after the checkpoint a run resumes from (the resumed run logs them
    /// again): keeps the first `records` lines when the checkpoint counted them (exact, even for a
    /// validation logged at the checkpoint's own step after it was saved), else the records with
    /// step ≤ `step`. The kept prefix is written to a temporary file that is renamed over
    /// metrics.jsonl, so no record appears twice and a crash leaves either the old file or the cut one.
    func truncate(after step: Int, records: Int? = nil) throws {
        guard FileManager.default.fileExists(atPath: path) else { return }
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw FileError.fileSystem(error, .run, file: path, "could not read it to cut it back to step \(step)")
        }
        let lines = text.split(separator: "\n")
        let kept =
            records.map { Array(lines.prefix($0)) }
            ?? lines.filter { line in
                guard let r = try? MetricsRecord.decode(line) else { return false }
                return r.step <= step
            }
        try AtomicFile.write(kept.map { $0 + "\n" }.joined(), to: path, role: .run)
    }
}
