import Foundation
import LSTMFiles
import SwiftProtobuf
import TensorBoardProto

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A run's TensorBoard event file (`logging.tensorboard`): the records of metrics.jsonl as
/// scalars under the same names (`train_loss`, `val_loss`, `lr`, `grad_norm`, `tokens_per_s`, …),
/// one `tensorboard.Event` per record, at the record's step.
///
/// The file is TFRecord framing of serialized `tensorboard.Event` messages (the generated code of
/// TensorBoard's own event.proto, Sources/TensorBoardProto): each record is its length (UInt64,
/// little-endian), the masked CRC32C of those 8 bytes, the message, and the masked CRC32C of the
/// message. The first event of a file names its version ("brain.Event:2").
///
/// Like metrics.jsonl, a resumed run cuts the file back to its size when the checkpoint was saved
/// (`RunState.tensorBoard`) and appends, so no step appears twice.
public struct TensorBoardLog: Sendable {
    /// The event file.
    public let path: String

    /// The event file `file` in `directory`.
    public init(directory: String, file: String) {
        path = (directory as NSString).appendingPathComponent(file)
    }

    /// The file name for the run in `runDirectory` ("events.out.tfevents.lstm.charlm"): TensorBoard
    /// reads files with `tfevents` in their name, and runs sharing one directory keep their own.
    public static func fileName(runDirectory: String) -> String {
        let base = URL(fileURLWithPath: runDirectory).standardizedFileURL.lastPathComponent
        let safe = String(base.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") ? $0 : "_" })
        return "events.out.tfevents.lstm." + (safe.isEmpty ? "run" : safe)
    }

    /// The event that starts every file.
    static func header(wallTime: Double) -> Tensorboard_Event {
        var e = Tensorboard_Event()
        e.wallTime = wallTime
        e.fileVersion = "brain.Event:2"
        return e
    }

    /// One event holding `values` as scalars at `step`.
    public static func scalars(_ values: [(tag: String, value: Double)], step: Int, wallTime: Double)
        -> Tensorboard_Event
    {
        var summary = Tensorboard_Summary()
        summary.value = values.map { tag, value in
            var v = Tensorboard_Summary.Value()
            v.tag = tag
            v.simpleValue = Float(value)
            return v
        }
        var e = Tensorboard_Event()
        e.wallTime = wallTime
        e.step = Int64(step)
        e.summary = summary
        return e
    }

    /// The scalars of a metrics.jsonl record, named as there: every figure of a train record, the
    /// `val_` figures of a validation record (its lr, epoch and skipped steps are those of the
    /// train records, which TensorBoard would otherwise show twice at one step).
    static func values(of r: MetricsRecord) -> [(tag: String, value: Double)] {
        let all: [(String, Double?)] = [
            ("train_loss", r.trainLoss), ("val_loss", r.valLoss), ("val_accuracy", r.valAccuracy),
            ("val_perplexity", r.valPerplexity), ("val_mse", r.valMSE), ("val_mae", r.valMAE),
            ("lr", r.learningRate), ("grad_norm", r.gradientNorm), ("tokens_per_s", r.tokensPerSecond),
            ("epoch", r.epoch), ("skipped_steps", r.skippedSteps.map(Double.init))
        ]
        let validation = r.valLoss != nil
        return all.compactMap { tag, value in
            guard !validation || tag.hasPrefix("val_") else { return nil }
            return value.map { (tag, $0) }
        }
    }

    /// Appends the record `r` (a new file starts with the header event).
    func append(_ r: MetricsRecord) throws {
        let now = Date().timeIntervalSince1970
        var events: [Tensorboard_Event] = []
        if (size() ?? 0) == 0 { events.append(Self.header(wallTime: now)) }
        events.append(Self.scalars(Self.values(of: r), step: r.step, wallTime: now))
        try append(events)
    }

    /// Appends `events` as TFRecords, whole or not at all (a failed write is cut back).
    func append(_ events: [Tensorboard_Event]) throws {
        var bytes = Data()
        for e in events { bytes.append(EventFile.record(try e.serializedData())) }
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try AtomicFile.append(bytes, to: path, role: .run, what: "TensorBoard events")
    }

    /// The file's size in bytes, nil if there is none.
    func size() -> Int? {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : nil
    }

    /// Cuts the file back to its first `bytes` bytes (a resumed run: what was logged after the checkpoint).
    func truncate(to bytes: Int) throws {
        guard let size = size(), size > bytes else { return }
        #if canImport(Glibc)
            let status = Glibc.truncate(path, off_t(bytes))
        #else
            let status = Darwin.truncate(path, off_t(bytes))
        #endif
        guard status == 0 else {
            throw FileError.fileSystem(errno: errno, .run, file: path, "could not cut it back to \(bytes) bytes")
        }
    }

    /// Removes the file (a run started again from scratch).
    func reset() throws {
        guard size() != nil else { return }
        do { try FileManager.default.removeItem(atPath: path) } catch {
            throw FileError.fileSystem(error, .run, file: path, "could not remove an earlier attempt's events")
        }
    }
}
