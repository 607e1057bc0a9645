import Foundation
import XCTest

/// Several tasks started by srun without an MPI plugin would each train alone into the same run
/// directory: `lstm train` refuses before reading anything, saying how to launch (docs/cluster.md).
final class SlurmCLITests: XCTestCase {
    func testSeveralSrunTasksWithoutAnMPIPluginAreRefusedWithTheLaunchToUse() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = dir.appendingPathComponent("run")
        let result = try lstm(
            [
                "train", "job.yaml", "--set", "checkpoint.dir=\(run.path)"
            ], in: dir,
            environment: [
                "SLURM_PROCID": "1", "SLURM_STEP_NUM_TASKS": "4", "SLURM_JOB_ID": "17",
                "OMPI_COMM_WORLD_RANK": nil, "OMPI_COMM_WORLD_SIZE": nil, "PMIX_RANK": nil, "PMI_RANK": nil
            ])
        XCTAssertEqual(result.status, 1, result.output)
        XCTAssertTrue(result.output.contains("srun started 4 tasks (SLURM_STEP_NUM_TASKS)"), result.output)
        XCTAssertTrue(result.output.contains("srun --mpi=pmix"), result.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: run.path), "nothing may be written")
    }
}
