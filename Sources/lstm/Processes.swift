import Foundation
import LSTMKit

#if MPI
    import LSTMMPI
#endif

/// The processes a training command runs in: under `mpirun` with the MPI build (package trait
/// `MPI`), every rank of MPI_COMM_WORLD; otherwise this process alone. An error on any rank ends
/// the whole job with MPI_Abort after printing it with the rank, so no other rank waits forever.
/// Several tasks started by srun without an MPI interface (each would train alone, all into the
/// same run directory) are refused (`LaunchEnvironment`).
func withProcesses(_ body: (any ProcessGroup) throws -> Void) throws {
    if let message = LaunchEnvironment().srunWithoutMPIMessage { throw LaunchError(message: message) }
    #if MPI
        if MPIProcessGroup.launchedByMPI {
            let group = MPIProcessGroup()
            do {
                try body(group)
            } catch {
                if group.worldSize == 1 {
                    group.finalize()
                    throw error
                }
                group.abort("\(error)", code: 1)
            }
            if ProcessInfo.processInfo.environment["LSTM_MPI_TIMING"] != nil {
                FileHandle.standardError.write(
                    Data(
                        String(
                            format: "rank %d of %d: %.3f s in MPI collectives\n", group.rank, group.worldSize,
                            group.communicationSeconds
                        ).utf8))
            }
            group.finalize()
            return
        }
    #endif
    try body(SingleProcess())
}
