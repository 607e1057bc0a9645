import CKernels
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The one place large blocks of memory are allocated (tensors' `Buffer`s, and `reserve` before
/// a large array). A refusal — the machine out of memory, or a limit: `ulimit -v` (RLIMIT_AS),
/// `ulimit -d` (RLIMIT_DATA) — ends the process through `onFailure` with a message saying how
/// much was asked for, for what and which limit applies, instead of Swift's
/// "Fatal error: failed to allocate" trap. The memory plan (LSTMRun's `MemoryPlan`) refuses runs
/// that would not fit before anything is allocated; this is the backstop.
public enum Allocation {
    /// Ends the process after a refused allocation, given the message. The default prints it to
    /// stderr and exits with status 1; the `lstm` command also removes its temporary files.
    nonisolated(unsafe) public static var onFailure: (String) -> Never = { message in
        FileHandle.standardError.write(Data("Error: \(message)\n".utf8))
        exit(1)
    }

    /// `byteCount` bytes (at least 1) aligned to `alignment` (a power of two); free with `free`.
    /// Blocks of 2 MiB or more start on a 2 MiB boundary and are advised onto transparent huge
    /// pages unless `LSTM_HUGE_PAGES=off` (`lstm_allocate`).
    public static func raw(byteCount: Int, alignment: Int, for what: @autoclosure () -> String)
        -> UnsafeMutableRawPointer
    {
        guard let p = lstm_allocate(max(1, byteCount), alignment) else {
            fail(byteCount, what())
        }
        tally.withLock { $0 = $0.map { $0 + byteCount } }
        return p
    }

    private static let tally = Mutex<Int?>(nil)

    /// The bytes `raw` was asked for while `body` ran (in any thread): what an object really
    /// allocates, for tests that hold the memory plan to it. Calls do not nest.
    public static func counting<R>(_ body: () throws -> R) rethrows -> (result: R, bytes: Int) {
        tally.withLock { $0 = 0 }
        defer { tally.withLock { $0 = nil } }
        let r = try body()
        return (r, tally.withLock { $0 ?? 0 })
    }

    /// Frees memory from `raw`.
    public static func free(_ p: UnsafeMutableRawPointer) {
        #if canImport(Glibc)
            Glibc.free(p)
        #else
            Darwin.free(p)
        #endif
    }

    /// Checks that `byteCount` bytes can be allocated now, before a Swift array that large is
    /// made (Swift traps when an array's allocation fails).
    public static func reserve(_ byteCount: Int, for what: @autoclosure () -> String) {
        free(raw(byteCount: byteCount, alignment: 16, for: what()))
    }

    /// The process's soft limits on address space and data, when set: "ulimit -v: 1.0 GiB".
    public static var limits: [String] {
        var out: [String] = []
        #if canImport(Glibc)
            for (resource, name) in [(RLIMIT_AS, "ulimit -v (address space)"), (RLIMIT_DATA, "ulimit -d (data)")] {
                var l = rlimit()
                if getrlimit(__rlimit_resource_t(resource.rawValue), &l) == 0 && l.rlim_cur != rlim_t.max {
                    out.append("\(name) \(human(Int(clamping: l.rlim_cur)))")
                }
            }
        #endif
        return out
    }

    static func fail(_ bytes: Int, _ what: String) -> Never {
        let l = limits
        onFailure(
            "out of memory: could not allocate \(human(bytes)) for \(what)"
                + (l.isEmpty ? "" : " (limits: \(l.joined(separator: ", ")))")
                + "; reduce model.hidden_size, model.num_layers, data.batch_size or data.seq_length (or --batch-size), "
                + "or raise the limit")
    }

    /// 1536 → "1.5 KiB".
    public static func human(_ bytes: Int) -> String {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var v = Double(bytes)
        var u = 0
        while v >= 1024 && u < units.count - 1 {
            v /= 1024
            u += 1
        }
        return u == 0 ? "\(bytes) bytes" : String(format: "%.1f %@", v, units[u])
    }
}
