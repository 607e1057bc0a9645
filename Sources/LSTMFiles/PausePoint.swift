import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Named moments at which the process can stop itself, so a test signals or kills it at exactly that
/// moment whatever the machine's load (polling for a file and then signalling races a fast run on a
/// busy machine).
///
/// `LSTM_PAUSE_AT` lists points separated by commas; reaching a listed point the process sends
/// itself SIGSTOP (every thread stops) and goes on after SIGCONT. The points:
/// - `step:N`: step N's training record is in metrics.jsonl (before step N's checkpoint);
/// - `checkpoint:N`: step N's checkpoint is in place (step file, latest.h5, best.h5);
/// - `write:NAME`: an atomic write of a file named NAME (e.g. `step-00000008.h5`) has its temporary
///   file complete and fsynced, just before the rename.
/// Unset, as outside tests, a point costs one lookup in an empty set.
public enum PausePoint {
    /// The points named by `LSTM_PAUSE_AT`, read once.
    private static let listed: Set<String> = Set(
        (ProcessInfo.processInfo.environment["LSTM_PAUSE_AT"] ?? "").split(separator: ",").map {
            $0.trimmingCharacters(in: .whitespaces)
        })

    /// Stops the process (SIGSTOP) if `LSTM_PAUSE_AT` lists `point`; returns after SIGCONT.
    public static func reached(_ point: @autoclosure () -> String) {
        guard !listed.isEmpty, listed.contains(point()) else { return }
        raise(SIGSTOP)
    }
}
