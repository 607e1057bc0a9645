import Foundation
import LSTMFiles

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A directory of checkpoints for one run: numbered step files, the last K kept, plus
/// `latest.h5` and `best.h5`. Every file appears atomically (temporary file + rename).
///
/// Layout of `directory`:
///
///     step-00001000.h5     checkpoint after global step 1000 (8+ digits, zero-padded)
///     step-00002000.h5     … only the newest `keepLast` step files are kept
///     latest.h5            the most recently saved checkpoint (hard link to its step file, or a copy)
///     best.h5              the checkpoint last saved with `isBest: true` (hard link or copy)
///     .NAME.tmp-PID-RANDOM  a write in progress; left behind only by a crash, safe to delete
///
/// Readers may load any file at any time; saves should come from one writer at a time.
public struct CheckpointStore: Sendable {
    /// The directory holding the checkpoints.
    public let directory: String
    /// How many step files to keep (≥ 1).
    public let keepLast: Int

    /// A store in `directory` (created with intermediate directories if missing) that keeps
    /// the newest `keepLast` step files.
    public init(directory: String, keepLast: Int = 3) throws {
        guard keepLast >= 1 else {
            throw FileError(
                .invalidValue, .checkpoint, file: directory, object: nil,
                "keepLast must be ≥ 1 (got \(keepLast))")
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw FileError.fileSystem(error, .checkpoint, file: directory, "could not create the checkpoint directory")
        }
        self.directory = directory
        self.keepLast = keepLast
    }

    /// The path of the step file for `step`: `step-00001234.h5`.
    public func path(forStep step: Int) -> String {
        let digits = String(step)
        return join("step-" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits + ".h5")
    }

    /// The path of `latest.h5`.
    public var latestPath: String { join("latest.h5") }
    /// The path of `best.h5`.
    public var bestPath: String { join("best.h5") }

    /// Saves `checkpoint` as the step file for `step`, points `latest.h5` (and, if `isBest`,
    /// `best.h5`) at it, then deletes step files beyond the newest `keepLast`. The file just
    /// written is always kept. Returns the step file's path.
    @discardableResult
    public func save(_ checkpoint: Checkpoint, step: Int, isBest: Bool = false) throws -> String {
        guard step >= 0 else {
            throw FileError(
                .invalidValue, .checkpoint, file: directory, object: nil,
                "the step must be ≥ 0 (got \(step))")
        }
        let path = path(forStep: step)
        try checkpoint.save(to: path)
        if isBest { try AtomicFile.linkOrCopy(path, to: bestPath, role: .checkpoint) }
        try AtomicFile.linkOrCopy(path, to: latestPath, role: .checkpoint)
        try prune(keeping: step)
        return path
    }

    /// The steps that have a step file, ascending.
    public func steps() throws -> [Int] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: directory) } catch {
            throw FileError.fileSystem(error, .checkpoint, file: directory, "could not list the checkpoint directory")
        }
        return names.compactMap(Self.step(fromFileName:)).sorted()
    }

    /// The path of the newest checkpoint: `latest.h5`, else the highest step file, else nil.
    public func latestCheckpointPath() throws -> String? {
        if FileManager.default.fileExists(atPath: latestPath) { return latestPath }
        return try steps().last.map(path(forStep:))
    }

    /// The newest checkpoint (see `latestCheckpointPath()`), loaded, or nil if there is none.
    public func latest() throws -> Checkpoint? {
        try latestCheckpointPath().map(Checkpoint.load(from:))
    }

    /// A checkpoint to resume from, and the newer ones that could not be loaded.
    public struct Intact: Sendable {
        /// The checkpoint.
        public let checkpoint: Checkpoint
        /// The file it was loaded from.
        public let path: String
        /// Why each newer file failed to load (damaged, truncated, checksum mismatch), newest
        /// first, one line each naming the file; empty when `latest.h5` itself loaded.
        public let skipped: [String]
    }

    /// The newest checkpoint that loads and verifies: `latest.h5`, else the step files from the
    /// highest down (a step file that is the same file as one already tried is not read again).
    /// Returns nil if the directory holds no checkpoint; throws a `.corrupted` FileError listing
    /// every file and why it failed if none is intact.
    public func newestIntact() throws -> Intact? {
        var candidates: [String] = []
        if FileManager.default.fileExists(atPath: latestPath) { candidates.append(latestPath) }
        candidates += try steps().reversed().map(path(forStep:))
        if candidates.isEmpty { return nil }
        var skipped: [String] = []
        var failedFiles: [(dev: UInt64, ino: UInt64, path: String)] = []
        for path in candidates {
            var st = stat()
            let identity = stat(path, &st) == 0 ? (UInt64(st.st_dev), UInt64(st.st_ino)) : nil
            if let identity, let same = failedFiles.first(where: { $0.dev == identity.0 && $0.ino == identity.1 }) {
                skipped.append("checkpoint '\(path)': the same file as \(same.path)")
                continue
            }
            do {
                return Intact(checkpoint: try Checkpoint.load(from: path), path: path, skipped: skipped)
            } catch {
                skipped.append((error as? FileError)?.description ?? "checkpoint '\(path)': \(error)")
                if let identity { failedFiles.append((identity.0, identity.1, path)) }
            }
        }
        throw FileError(
            .corrupted, .checkpoint, file: directory, object: nil,
            "no intact checkpoint to resume from; every one failed to load:\n"
                + skipped.map { "  " + $0 }.joined(separator: "\n"))
    }

    /// `best.h5`, loaded, or nil if no checkpoint was saved as best.
    public func best() throws -> Checkpoint? {
        FileManager.default.fileExists(atPath: bestPath) ? try Checkpoint.load(from: bestPath) : nil
    }

    /// Deletes every checkpoint of the store (step files, `latest.h5`, `best.h5`): a run started
    /// from scratch in this directory must not leave an earlier attempt's checkpoints to resume.
    public func removeAll() throws {
        for path in try steps().map(path(forStep:)) + [latestPath, bestPath] where unlink(path) != 0 && errno != ENOENT
        {
            throw FileError.fileSystem(errno: errno, .checkpoint, file: path, "could not delete an earlier checkpoint")
        }
    }

    /// Deletes the step files beyond the newest `keepLast`, never the one for `current`.
    private func prune(keeping current: Int) throws {
        let others = try steps().filter { $0 != current }
        for step in others.dropLast(keepLast - 1) {
            let path = path(forStep: step)
            if unlink(path) != 0 && errno != ENOENT {
                throw FileError.fileSystem(errno: errno, .checkpoint, file: path, "could not delete an old checkpoint")
            }
        }
    }

    /// The step of a file named `step-<digits>.h5`, or nil for any other name.
    static func step(fromFileName name: String) -> Int? {
        guard name.hasPrefix("step-"), name.hasSuffix(".h5") else { return nil }
        let digits = name.dropFirst(5).dropLast(3)
        guard digits.count >= 8, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else { return nil }
        return Int(digits)
    }

    private func join(_ name: String) -> String {
        URL(fileURLWithPath: directory).appendingPathComponent(name).path
    }
}
