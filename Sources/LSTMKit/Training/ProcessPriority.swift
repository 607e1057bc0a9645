#if canImport(Glibc)
    import Glibc
#endif

/// The process's scheduling priority on every thread that computes.
///
/// On Linux, `nice` and `sched_setscheduler` act on one thread, and libdispatch gives its worker
/// threads a priority of their own (nice 0, its manager thread −4), so under `nice -n 19 lstm
/// train` the threads doing the work would still run at full priority. The process's priority
/// is the main thread's (what `nice`, `chrt -b`/`chrt -i` or `renice -p PID` set); workers
/// `adopt()` it when they start work, and `applyToAllThreads()` gives it to threads that
/// already exist. A thread's priority is only ever lowered (raising it needs privileges).
public enum ProcessPriority {
    /// Linux's SCHED_BATCH and SCHED_IDLE (not exported to Swift by Glibc).
    static let batch: Int32 = 3
    static let idle: Int32 = 5

    /// Gives the calling thread the process's nice value, and its policy if that is SCHED_BATCH
    /// or SCHED_IDLE, when the thread's own priority is higher. A few system calls; no allocation.
    public static func adopt() {
        #if os(Linux)
            apply(to: 0)  // Linux: 0 is the calling thread (nice and policy are per thread)
        #endif
    }

    /// `adopt()` for every thread of the process that exists now (libdispatch's manager thread,
    /// threads started by libraries).
    public static func applyToAllThreads() {
        #if os(Linux)
            guard let dir = opendir("/proc/self/task") else { return }
            defer { closedir(dir) }
            while let entry = readdir(dir) {
                // The thread id, digit by digit up to the NUL: the bytes after it are uninitialised,
                // and a vectorised scan (String, prefix) would read them (memcheck reports it).
                var tid: pid_t = 0
                var digits = 0
                withUnsafeBytes(of: entry.pointee.d_name) { bytes in
                    for byte in bytes {
                        guard byte != 0 else { break }
                        guard byte >= 48 && byte <= 57, digits < 9 else {
                            digits = 0
                            return
                        }
                        tid = tid * 10 + pid_t(byte - 48)
                        digits += 1
                    }
                }
                if digits > 0 { apply(to: tid) }
            }
        #endif
    }

    /// The nice value of the process (its main thread), or nil if it cannot be read.
    public static var processNice: Int32? {
        #if os(Linux)
            errno = 0
            let value = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(getpid()))
            return errno == 0 ? value : nil
        #else
            return nil
        #endif
    }

    #if os(Linux)
        private static let process = __priority_which_t(PRIO_PROCESS.rawValue)

        private static func apply(to tid: pid_t) {
            let pid = getpid()
            guard tid != pid, let target = processNice else { return }  // the main thread sets it
            errno = 0
            let current = getpriority(process, id_t(tid))
            if errno == 0 && current < target { _ = setpriority(process, id_t(tid), target) }
            let policy = sched_getscheduler(pid)
            if (policy == batch || policy == idle) && sched_getscheduler(tid) != policy {
                var param = sched_param()
                param.sched_priority = 0
                _ = sched_setscheduler(tid, policy, &param)
            }
        }
    #endif
}
