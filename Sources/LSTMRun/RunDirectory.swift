import Foundation
import LSTMFiles
import LSTMIO

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// A run directory belongs to one run at a time: `RunLock` keeps a second process out while a run
// trains, `EarlierRun` keeps a new `lstm train` from deleting another run's checkpoints, and
// `RunProvenance` records how the run was started so `lstm resume` can start it the same way.

// MARK: - The lock

/// An advisory `flock` on `run.lock` in the run directory, held for the life of a training run.
///
/// A second process asking for it is refused at once with the holder's pid, host and start time
/// (written into the file). The kernel releases the lock when its holder exits, however it exits:
/// a process killed with SIGKILL leaves its details in the file but not the lock, and the next
/// run takes it over and says so. Runs in one process share the lock (the Swift API may hold a
/// finished run and its resumed continuation at once).
public final class RunLock: @unchecked Sendable {
    /// The lock file's name in the run directory.
    public static let fileName = "run.lock"

    /// Who holds (or held) a lock: what is written into the lock file.
    public struct Holder: Codable, Equatable, Sendable, CustomStringConvertible {
        public var pid: Int32
        public var host: String
        /// ISO 8601, UTC.
        public var started: String
        public var command: String

        public var description: String { "pid \(pid) on host \(host), started \(started) (\(command))" }

        /// This process, now.
        static func current() -> Holder {
            let formatter = ISO8601DateFormatter()
            return Holder(
                pid: getpid(), host: ProcessInfo.processInfo.hostName, started: formatter.string(from: Date()),
                command: (["lstm"] + CommandLine.arguments.dropFirst()).joined(separator: " "))
        }
    }

    /// The lock file.
    public let path: String
    /// The lock file's identity (device and inode): a directory moved or reached by another path
    /// is the same directory.
    private let key: String
    /// The holder of a lock left by a process that died without releasing it, if one was taken over.
    public let takenOverFrom: Holder?

    private struct Entry {
        var fd: Int32
        var count: Int
    }
    nonisolated(unsafe) private static var held: [String: Entry] = [:]  // by `key`
    private static let heldLock = NSLock()

    /// Takes the lock of `directory` (which must exist), or throws `RunError` naming the holder.
    public init(directory: String) throws {
        let path = URL(fileURLWithPath: directory).appendingPathComponent(Self.fileName).standardizedFileURL.path
        self.path = path
        Self.heldLock.lock()
        defer { Self.heldLock.unlock() }
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw FileError.fileSystem(errno: errno, .run, file: path, "could not open the run directory's lock file")
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let code = errno
            close(fd)
            throw FileError.fileSystem(errno: code, .run, file: path, "could not examine the run directory's lock file")
        }
        key = "\(info.st_dev):\(info.st_ino)"
        if var entry = Self.held[key] {  // this process holds it already
            close(fd)
            entry.count += 1
            Self.held[key] = entry
            takenOverFrom = nil
            return
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            let holder = Self.read(fd)
            close(fd)
            guard code == EWOULDBLOCK else {
                throw FileError.fileSystem(errno: code, .run, file: path, "could not lock the run directory")
            }
            throw RunError(
                "\(directory) is in use by another training run: "
                    + (holder.map { "\($0)" } ?? "a process that has not written its details yet")
                    + ". Wait for it to end (or stop it), or train into another directory (--set checkpoint.dir=…); "
                    + "its lock: \(path)")
        }
        takenOverFrom = Self.read(fd)  // details left by a holder that died: the kernel freed its lock
        let me = Self.current
        let text = Array((String(decoding: try jsonEncoder().encode(me), as: UTF8.self) + "\n").utf8)
        if ftruncate(fd, 0) != 0 || pwrite(fd, text, text.count, 0) != text.count {
            let code = errno
            close(fd)
            throw FileError.fileSystem(errno: code, .run, file: path, "could not write the run directory's lock file")
        }
        Self.held[key] = Entry(fd: fd, count: 1)
    }

    /// This process as a holder, fixed at the first lock it takes.
    private static let current = Holder.current()

    deinit {
        Self.heldLock.lock()
        defer { Self.heldLock.unlock() }
        guard var entry = Self.held[key] else { return }
        entry.count -= 1
        if entry.count > 0 {
            Self.held[key] = entry
            return
        }
        Self.held[key] = nil
        _ = ftruncate(entry.fd, 0)  // an empty file: released cleanly, nothing to take over
        close(entry.fd)  // releases the flock
    }

    private static func read(_ fd: Int32) -> Holder? {
        var bytes = [UInt8](repeating: 0, count: 4096)
        let n = pread(fd, &bytes, bytes.count, 0)
        guard n > 0 else { return nil }
        return try? JSONCoding.decoder().decode(Holder.self, from: Data(bytes[0..<n]))
    }
}

// MARK: - An earlier run's checkpoints

/// The checkpoints another run left in a directory, as a new `lstm train` finds them.
public struct EarlierRun: Sendable {
    /// The files: step files, latest.h5, best.h5 (paths).
    public let files: [String]
    /// "latest.h5: tokens V=10 …, step 480 (epoch 12), saved 2026-12-03 07:41:02 UTC; best.h5: step 400; …".
    public let summary: String

    /// What `store` holds, or nil when it holds no checkpoint.
    public init?(_ store: CheckpointStore) throws {
        let steps = try store.steps()
        let fm = FileManager.default
        let named = [store.latestPath, store.bestPath].filter { fm.fileExists(atPath: $0) }
        files = steps.map(store.path(forStep:)) + named
        guard !files.isEmpty else { return nil }
        func describe(_ path: String) -> String {
            let name = (path as NSString).lastPathComponent
            let date =
                ((try? fm.attributesOfItem(atPath: path))?[.modificationDate] as? Date).map {
                    ", saved " + Self.dateFormatter.string(from: $0) + " UTC"
                } ?? ""
            guard let c = try? Checkpoint.load(from: path) else { return "\(name) (not a readable checkpoint)\(date)" }
            return "\(name): \(c.config.summary), step \(c.globalStep)\(date)"
        }
        var parts: [String] = []
        if let latest = named.first ?? steps.last.map(store.path(forStep:)) { parts.append(describe(latest)) }
        if named.contains(store.bestPath), let c = try? Checkpoint.load(from: store.bestPath) {
            parts.append("best.h5: step \(c.globalStep)")
        }
        if !steps.isEmpty {
            parts.append(
                steps.count == 1
                    ? "1 step file" : "\(steps.count) step files (steps \(steps.first!) to \(steps.last!))")
        }
        summary = parts.joined(separator: "; ")
    }

    private static let dateFormatter: DateFormatter = {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return f
    }()
}

// MARK: - How a run was started

/// Everything that shaped a run besides its config (whose effective text, after `--set`, is in
/// config.yaml and every checkpoint): the `--init` weights (path and SHA-256) and the version of
/// `lstm` that started it. Stored as `run.json` in the run directory and as the `run_provenance`
/// attribute of every checkpoint; `lstm resume` of a run stopped before its first checkpoint
/// starts again from the same `--init` file, and refuses if that file is gone or changed.
public struct RunProvenance: Codable, Equatable, Sendable {
    /// The version of this build of lstm.
    public static let currentVersion = "0.1.0"
    /// The file name in the run directory.
    public static let fileName = "run.json"

    /// Weights a run started from (`lstm train --init`).
    public struct InitFile: Codable, Equatable, Sendable {
        /// Absolute path.
        public var path: String
        /// SHA-256 of the file's bytes, 64 hex digits.
        public var sha256: String
    }

    public var lstmVersion: String
    public var initFile: InitFile?

    enum CodingKeys: String, CodingKey {
        case lstmVersion = "lstm_version"
        case initFile = "init"
    }

    /// A run started now by this build, from `initFrom` if given (fingerprinted here).
    public init(initFrom: String?) throws {
        lstmVersion = Self.currentVersion
        initFile = try initFrom.map {
            InitFile(
                path: URL(fileURLWithPath: $0).standardizedFileURL.path,
                sha256: try SHA256.hex(ofFileAt: $0, role: .weights))
        }
    }

    /// The JSON stored in run.json and in checkpoints (sorted keys, one line).
    public func json() throws -> String { String(decoding: try jsonEncoder().encode(self), as: UTF8.self) }

    /// Reads `json()`'s output; `source` names where it came from in errors.
    public static func parse(_ json: String, source: String) throws -> RunProvenance {
        do { return try JSONCoding.decoder().decode(RunProvenance.self, from: Data(json.utf8)) } catch {
            throw RunError(
                "\(source): not a readable run record (\(error)); expected {\"lstm_version\": …, \"init\": …}")
        }
    }

    /// The run.json of `directory`, or nil if there is none (a run started before it was written).
    public static func read(directory: String) throws -> RunProvenance? {
        let path = (directory as NSString).appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw FileError.fileSystem(error, .run, file: path, "could not read the run record")
        }
        return try parse(text, source: path)
    }

    /// Checks that the `--init` file is still there with the same bytes, and returns its path.
    ///
    /// - Throws: `RunError` saying what is wrong and what to do, when it is gone or changed.
    public func verifiedInitFile(directory: String) throws -> String? {
        guard let f = initFile else { return nil }
        guard FileManager.default.fileExists(atPath: f.path) else {
            throw RunError(
                "\(directory) was started with --init \(f.path) (SHA-256 \(f.sha256)), which is gone: "
                    + "put that file back to resume, or start afresh with `lstm train CONFIG --init OTHER --overwrite`")
        }
        let now = try SHA256.hex(ofFileAt: f.path, role: .weights)
        guard now == f.sha256 else {
            throw RunError(
                "\(directory) was started with --init \(f.path), which has changed since "
                    + "(SHA-256 \(now), was \(f.sha256)): restore the original to resume, "
                    + "or start afresh with `lstm train CONFIG --init \(f.path) --overwrite`")
        }
        return f.path
    }
}

/// `JSONCoding`'s encoder, paths written as they are ("/", not "\/").
private func jsonEncoder() -> JSONEncoder {
    let encoder = JSONCoding.encoder()
    encoder.outputFormatting.insert(.withoutEscapingSlashes)
    return encoder
}

/// A one-line notice to the user on stderr ("note: …"), e.g. a stale lock taken over.
func notice(_ text: String) {
    FileHandle.standardError.write(Data("note: \(text)\n".utf8))
}
