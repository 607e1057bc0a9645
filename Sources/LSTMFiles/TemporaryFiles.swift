import Dispatch
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The temporary files of atomic writes that exist right now, so that SIGINT or SIGTERM can
/// remove them before the process exits: every command that writes a file (train's checkpoints,
/// prepare, export, import, predict, sample, …) leaves no `.NAME.tmp-PID-…` behind when stopped.
///
/// `AtomicFile` creates, renames and removes its temporary files only through `create`,
/// `rename` and `remove` here; each holds the lock across the system call and the registry
/// update, and the signal path takes the lock and never gives it back, so no file can be
/// created after the sweep nor a finished file be removed by it.
public enum TemporaryFiles {
    private static let state = State()

    private final class State: @unchecked Sendable {
        let lock = NSLock()
        var paths: Set<String> = []
        /// Set from the environment variable `LSTM_TEST_HOLD_TEMPORARY_FILE` (tests only).
        let hold = ProcessInfo.processInfo.environment["LSTM_TEST_HOLD_TEMPORARY_FILE"] != nil
    }

    /// Runs `make`, which creates the temporary file `path`, with `path` registered for removal.
    static func create<R>(_ path: String, _ make: () throws -> R) rethrows -> R {
        let result: R
        state.lock.lock()
        state.paths.insert(path)
        do { result = try make() } catch {
            state.paths.remove(path)
            state.lock.unlock()
            throw error
        }
        state.lock.unlock()
        holdIfTesting(path)
        return result
    }

    /// rename(2) of the temporary file `from` over `to`, after which `from` is no longer ours.
    static func rename(_ from: String, to: String) -> Int32 {
        state.lock.lock()
        defer { state.lock.unlock() }
        #if canImport(Glibc)
            let status = Glibc.rename(from, to)
        #else
            let status = Darwin.rename(from, to)
        #endif
        let code = errno
        if status == 0 { state.paths.remove(from) }
        errno = code
        return status
    }

    /// Deletes the temporary file `path` (if it exists) and forgets it.
    static func remove(_ path: String) {
        state.lock.lock()
        defer { state.lock.unlock() }
        unlink(path)
        state.paths.remove(path)
    }

    /// The temporary files that exist now (for tests).
    public static var current: Set<String> {
        state.lock.lock()
        defer { state.lock.unlock() }
        return state.paths
    }

    /// Deletes every temporary file and ends the process with `status` at once (`_exit`: no
    /// atexit handlers, which could run HDF5's shutdown under a writer on another thread).
    /// Never returns; any thread that then tries to create a temporary file waits for the end.
    public static func removeAllAndExit(_ status: Int32) -> Never {
        state.lock.lock()  // never released
        for path in state.paths { unlink(path) }
        fflush(nil)  // what was printed so far (all C streams)
        _exit(status)
    }

    /// Tests only: with `LSTM_TEST_HOLD_TEMPORARY_FILE` set, a writer stops for good right after
    /// creating its temporary file and says so on stderr, so a test can signal it mid-write
    /// without guessing when that is.
    private static func holdIfTesting(_ path: String) {
        guard state.hold else { return }
        FileHandle.standardError.write(Data("holding temporary file \(path)\n".utf8))
        while true { sleep(60) }
    }
}

/// SIGINT (Ctrl-C), SIGTERM (`kill`, systemd, Slurm, Kubernetes) and SIGUSR1 (Slurm's
/// `--signal=USR1@T`, sent T seconds before a job's time limit) for every command: the temporary
/// files of unfinished writes are removed and the process exits with 128 + the signal (130, 143,
/// 138). `lstm train` and `resume` take the first signal themselves (`onFirstSignal`) to finish
/// the step and save a checkpoint; a second one ends the process the same way.
public enum Interruption {
    /// The signals handled, with the word printed for them.
    public static let signals: [(number: Int32, name: String)] = [
        (SIGINT, "interrupted"), (SIGTERM, "terminated"), (SIGUSR1, "SIGUSR1 (time limit near)")
    ]

    private static let state = State()

    private final class State: @unchecked Sendable {
        let lock = NSLock()
        var sources: [DispatchSourceSignal] = []
        var firstSignal: (@Sendable (_ number: Int32, _ name: String) -> Void)?
        var count = 0
    }

    /// Installs the handlers (once; later calls do nothing). Call at the start of the process.
    public static func install() {
        state.lock.lock()
        defer { state.lock.unlock() }
        guard state.sources.isEmpty else { return }
        for (number, name) in signals {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            // Dispatch coalesces signals that arrive before the handler runs: `data` counts them.
            // The source lives as long as the process, so it may be captured by its own handler.
            source.setEventHandler { received(number, name, times: max(1, Int(source.data))) }
            source.resume()
            state.sources.append(source)
        }
    }

    /// While `handler` is set, the first signal calls it instead of ending the process (nil:
    /// back to ending at once). Installs the handlers if needed.
    public static func onFirstSignal(_ handler: (@Sendable (_ number: Int32, _ name: String) -> Void)?) {
        install()
        state.lock.lock()
        state.firstSignal = handler
        state.count = 0
        state.lock.unlock()
    }

    private static func received(_ number: Int32, _ name: String, times: Int) {
        state.lock.lock()
        let first = state.count == 0
        state.count += times
        let handler = first && times == 1 ? state.firstSignal : nil  // two at once: the second ends it
        state.lock.unlock()
        if let handler { return handler(number, name) }
        TemporaryFiles.removeAllAndExit(128 + number)
    }
}

/// The file descriptors a command needs: HDF5 files, the run's files, Dispatch's event loop.
public enum FileDescriptors {
    /// Fewest descriptors every command works with (measured: `lstm train` needs 10).
    public static let minimum = 16

    /// Raises the soft RLIMIT_NOFILE to `minimum` when it is lower and the hard limit allows;
    /// otherwise returns the message to stop with (`ulimit -n 5` used to end in SIGILL inside
    /// Dispatch), nil when there are enough.
    public static func ensureMinimum() -> String? {
        var l = rlimit()
        #if canImport(Glibc)
            let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        #else
            let resource = RLIMIT_NOFILE
        #endif
        guard getrlimit(resource, &l) == 0, l.rlim_cur < rlim_t(minimum) else { return nil }
        if l.rlim_max >= rlim_t(minimum) {
            l.rlim_cur = rlim_t(minimum)
            if setrlimit(resource, &l) == 0 { return nil }
        }
        return "too few file descriptors: the limit (ulimit -n) is \(l.rlim_cur) and lstm needs at least \(minimum) "
            + "(HDF5 files, the run's files, Dispatch's event loop); raise it, e.g. `ulimit -n 1024`"
    }
}
