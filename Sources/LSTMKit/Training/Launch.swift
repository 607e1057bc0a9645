import Foundation

// What a multi-process job learns from its launcher (mpirun, srun, a PMIx/PMI launcher) and how
// long it lets a collective take. Pure functions of the environment, so they are tested without
// MPI; the MPI build (Sources/LSTMMPI) uses them.

/// The rank, size and processes per host a launcher announces in the environment.
public struct LaunchEnvironment: Sendable, Equatable {
    /// Which launcher's variables were read ("mpirun", "srun", "PMIx", "PMI"), nil when none.
    public var launcher: String?
    public var rank: Int?
    public var size: Int?
    /// Processes on this machine (they share its cores), when the launcher says.
    public var localSize: Int?

    /// The environment variable that sets the collective timeout (seconds; 0 turns it off).
    public static let timeoutVariable = "LSTM_COLLECTIVE_TIMEOUT_S"
    /// The collective timeout when the variable is unset: long enough for a checkpoint of a large
    /// model written by rank 0 while the others wait, short enough to free a cluster's nodes.
    public static let defaultTimeoutSeconds = 300.0

    /// Reads, in this order of precedence: Open MPI's mpirun (OMPI_COMM_WORLD_RANK/SIZE/LOCAL_SIZE),
    /// PMIx (PMIX_RANK, e.g. `srun --mpi=pmix`), PMI (PMI_RANK/PMI_SIZE: MPICH's Hydra, `srun
    /// --mpi=pmi2`), and a Slurm job step alone (SLURM_PROCID). Under srun the size is the step's
    /// SLURM_STEP_NUM_TASKS and this node's share comes from SLURM_STEP_TASKS_PER_NODE
    /// ("2(x3),1") at SLURM_NODEID. A batch script's own shell is not a step: its SLURM_NTASKS
    /// is the allocation's, not processes started, so it is not read.
    public init(_ env: [String: String] = ProcessInfo.processInfo.environment) {
        func int(_ key: String) -> Int? { env[key].flatMap { Int($0.trimmingCharacters(in: .whitespaces)) } }
        let stepSize = int("SLURM_STEP_NUM_TASKS")
        let slurmLocal = env["SLURM_STEP_TASKS_PER_NODE"].flatMap { Self.tasks($0, node: int("SLURM_NODEID") ?? 0) }
        if let r = int("OMPI_COMM_WORLD_RANK"), let n = int("OMPI_COMM_WORLD_SIZE") {
            self.init(launcher: "mpirun", rank: r, size: n, localSize: int("OMPI_COMM_WORLD_LOCAL_SIZE"))
        } else if let r = int("PMIX_RANK") {
            self.init(launcher: "PMIx", rank: r, size: stepSize ?? int("PMIX_SIZE"), localSize: slurmLocal)
        } else if let r = int("PMI_RANK"), let n = int("PMI_SIZE") {
            self.init(launcher: "PMI", rank: r, size: n, localSize: int("MPI_LOCALNRANKS") ?? slurmLocal)
        } else if let r = int("SLURM_PROCID"), let n = stepSize {
            self.init(launcher: "srun", rank: r, size: n, localSize: slurmLocal)
        } else {
            self.init(launcher: nil, rank: nil, size: nil, localSize: nil)
        }
    }

    public init(launcher: String?, rank: Int?, size: Int?, localSize: Int?) {
        self.launcher = launcher
        self.rank = rank
        self.size = size
        self.localSize = localSize
    }

    /// Whether a launcher that MPI_Init can join started this process (only then is MPI
    /// initialised; srun alone, without --mpi=pmix or pmi2, gives no such interface).
    public var canJoinMPI: Bool { launcher != nil && launcher != "srun" }

    /// srun started several tasks but offered MPI no way to find the others: each would train
    /// alone. The message to stop with, nil when that is not the case.
    public var srunWithoutMPIMessage: String? {
        guard launcher == "srun", let n = size, n > 1 else { return nil }
        return
            "srun started \(n) tasks (SLURM_STEP_NUM_TASKS) without an MPI launch interface, so each would train alone: "
            + "use `srun --mpi=pmix` (or pmi2) with the MPI build of lstm, or mpirun inside the allocation"
    }

    /// The tasks on node `node` from Slurm's compressed list "2(x3),1" (nodes 0-2 run 2, node 3 runs 1).
    static func tasks(_ text: String, node: Int) -> Int? {
        var index = 0
        for item in text.split(separator: ",") {
            let parts = item.split(separator: "(")
            guard let count = Int(parts[0]) else { return nil }
            var times = 1
            if parts.count == 2 {
                guard parts[1].hasPrefix("x"), parts[1].hasSuffix(")"), let t = Int(parts[1].dropFirst().dropLast())
                else { return nil }
                times = t
            }
            if node < index + times { return count }
            index += times
        }
        return nil
    }

    /// The collective timeout in seconds from `LSTM_COLLECTIVE_TIMEOUT_S` (nil: none, for 0),
    /// or the message to stop with when the value is not a number ≥ 0.
    public static func collectiveTimeout(_ env: [String: String] = ProcessInfo.processInfo.environment) -> Result<
        Double?, LaunchError
    > {
        guard let text = env[timeoutVariable] else { return .success(defaultTimeoutSeconds) }
        guard let v = Double(text.trimmingCharacters(in: .whitespaces)), v.isFinite, v >= 0 else {
            return .failure(
                LaunchError(
                    message: "\(timeoutVariable)=\(text): expected the seconds a collective may take, a number ≥ 0 "
                        + "(0: no timeout; default \(Int(defaultTimeoutSeconds)))"))
        }
        return .success(v == 0 ? nil : v)
    }
}

/// A launch environment that cannot be used (the message says why and what to do).
public struct LaunchError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

/// Seconds a process has spent in collectives since it started: `wait`, blocked until the slowest
/// rank arrived, and `exchange`, moving and combining data once all had.
///
/// `overlappedSeconds` is the part of `exchangeSeconds` during which a gradient bucket was in
/// flight while this process's shards still computed backward (`parallel.overlap`): exchange time
/// hidden behind compute, so the step took `wait + exchange − overlapped` seconds outside compute.
public struct CollectiveTiming: Sendable, Equatable {
    public var waitSeconds = 0.0
    public var exchangeSeconds = 0.0
    public var overlappedSeconds = 0.0
    public init(waitSeconds: Double = 0, exchangeSeconds: Double = 0, overlappedSeconds: Double = 0) {
        self.waitSeconds = waitSeconds
        self.exchangeSeconds = exchangeSeconds
        self.overlappedSeconds = overlappedSeconds
    }
}

/// A `ProcessGroup` that times its collectives (the MPI one); the training loop reports the
/// per-step figures in metrics.jsonl.
public protocol CollectiveTimer: AnyObject {
    var collectiveTiming: CollectiveTiming { get }
}
