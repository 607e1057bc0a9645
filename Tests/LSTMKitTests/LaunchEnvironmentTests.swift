import LSTMKit
import XCTest

/// Rank, size and processes per host from the launcher's environment (mpirun, srun with or without
/// PMIx/PMI), and the collective timeout from LSTM_COLLECTIVE_TIMEOUT_S (docs/cluster.md).
final class LaunchEnvironmentTests: XCTestCase {
    func testNoLauncherMeansOneProcessAlone() {
        let e = LaunchEnvironment(["PATH": "/usr/bin"])
        XCTAssertNil(e.launcher)
        XCTAssertFalse(e.canJoinMPI)
        XCTAssertNil(e.srunWithoutMPIMessage)
    }

    func testMpirunsVariablesGiveRankSizeAndLocalSize() {
        let e = LaunchEnvironment([
            "OMPI_COMM_WORLD_RANK": "3", "OMPI_COMM_WORLD_SIZE": "4", "OMPI_COMM_WORLD_LOCAL_SIZE": "2",
            "SLURM_PROCID": "0", "SLURM_STEP_NUM_TASKS": "1"
        ])
        XCTAssertEqual(e, LaunchEnvironment(launcher: "mpirun", rank: 3, size: 4, localSize: 2))
        XCTAssertTrue(e.canJoinMPI)
    }

    func testSrunWithPMIxTakesTheStepsSizeAndThisNodesTaskCount() {
        let e = LaunchEnvironment([
            "PMIX_RANK": "5", "SLURM_PROCID": "5", "SLURM_STEP_NUM_TASKS": "7",
            "SLURM_STEP_TASKS_PER_NODE": "2(x3),1", "SLURM_NODEID": "3"
        ])
        XCTAssertEqual(e, LaunchEnvironment(launcher: "PMIx", rank: 5, size: 7, localSize: 1))
        XCTAssertTrue(e.canJoinMPI)
        let second = LaunchEnvironment([
            "PMIX_RANK": "2", "SLURM_STEP_NUM_TASKS": "7", "SLURM_STEP_TASKS_PER_NODE": "2(x3),1", "SLURM_NODEID": "1"
        ])
        XCTAssertEqual(second.localSize, 2)
    }

    func testPMIFromHydraOrSrunPMI2GivesRankAndSize() {
        let e = LaunchEnvironment(["PMI_RANK": "1", "PMI_SIZE": "2", "MPI_LOCALNRANKS": "2"])
        XCTAssertEqual(e, LaunchEnvironment(launcher: "PMI", rank: 1, size: 2, localSize: 2))
    }

    func testSeveralSrunTasksWithoutAnMPIInterfaceAreRefusedWithTheFix() throws {
        let e = LaunchEnvironment([
            "SLURM_PROCID": "1", "SLURM_STEP_NUM_TASKS": "4", "SLURM_STEP_TASKS_PER_NODE": "4", "SLURM_NODEID": "0"
        ])
        XCTAssertEqual(e, LaunchEnvironment(launcher: "srun", rank: 1, size: 4, localSize: 4))
        XCTAssertFalse(e.canJoinMPI)
        let message = try XCTUnwrap(e.srunWithoutMPIMessage)
        XCTAssertTrue(message.contains("srun started 4 tasks"), message)
        XCTAssertTrue(message.contains("srun --mpi=pmix"), message)
        // One srun task trains alone, as usual.
        XCTAssertNil(LaunchEnvironment(["SLURM_PROCID": "0", "SLURM_STEP_NUM_TASKS": "1"]).srunWithoutMPIMessage)
    }

    func testABatchScriptsOwnShellIsNotAStepOfManyTasks() {
        // sbatch --ntasks=4 runs the script once: SLURM_NTASKS is the allocation's, no step variables.
        let e = LaunchEnvironment(["SLURM_PROCID": "0", "SLURM_NTASKS": "4", "SLURM_JOB_ID": "17"])
        XCTAssertNil(e.launcher)
        XCTAssertNil(e.srunWithoutMPIMessage)
    }

    func testCollectiveTimeoutDefaultsTo300SecondsAndZeroTurnsItOff() throws {
        XCTAssertEqual(try LaunchEnvironment.collectiveTimeout([:]).get(), 300)
        XCTAssertEqual(try LaunchEnvironment.collectiveTimeout(["LSTM_COLLECTIVE_TIMEOUT_S": "12.5"]).get(), 12.5)
        XCTAssertEqual(try LaunchEnvironment.collectiveTimeout(["LSTM_COLLECTIVE_TIMEOUT_S": "0"]).get(), nil)
    }

    func testACollectiveTimeoutThatIsNotANumberIsRefusedNamingTheVariable() {
        for bad in ["soon", "-1", "inf", ""] {
            guard case .failure(let e) = LaunchEnvironment.collectiveTimeout(["LSTM_COLLECTIVE_TIMEOUT_S": bad]) else {
                return XCTFail("\(bad) accepted")
            }
            XCTAssertTrue(e.message.hasPrefix("LSTM_COLLECTIVE_TIMEOUT_S=\(bad): expected"), e.message)
        }
    }
}
