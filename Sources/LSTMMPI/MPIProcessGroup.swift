// The MPI implementation of LSTMKit's ProcessGroup. Compiled only with the package trait
// `MPI` (`swift build --traits MPI`, which needs Open MPI's headers and libmpi); without it this
// module is empty and nothing links libmpi.
#if MPI
    import CMPI
    import Foundation
    import LSTMKit

    /// The processes `mpirun` started, as a `ProcessGroup` over MPI_COMM_WORLD.
    ///
    /// The gradient exchange is one MPI_Alltoallv of bytes (each rank's subtree sums restricted to
    /// each destination's slice, and its shard losses; see ExactReduction.swift), the updated
    /// weights one MPI_Allgatherv; the order of the additions is ours, never MPI's, so the result
    /// is the same for any N. Integer sums (target counts, the stop flag) use
    /// MPI_Allreduce, exact in any order. Collectives are called from the thread that called
    /// `init` (MPI_THREAD_FUNNELED).
    ///
    /// Failures: `abort` prints the message and calls MPI_Abort, which ends every rank; a rank
    /// that dies (crash, SIGKILL) makes Open MPI's runtime end the job, so no rank waits forever
    /// in a collective.
    public final class MPIProcessGroup: ProcessGroup, @unchecked Sendable {
        public let rank: Int
        public let worldSize: Int
        public let processesOnThisHost: Int
        private var finalized = false
        /// Seconds spent in collectives since the start (the communication time of a run).
        public private(set) var communicationSeconds = 0.0

        /// Whether this process was started by mpirun (Open MPI's or a PMIx/PMI launcher's
        /// environment); only then is MPI initialised, so the MPI build runs alone as usual.
        public static var launchedByMPI: Bool {
            let env = ProcessInfo.processInfo.environment
            return env["OMPI_COMM_WORLD_SIZE"] != nil || env["PMIX_RANK"] != nil || env["PMI_RANK"] != nil
        }

        /// Initialises MPI (once per process).
        public init() {
            var provided: Int32 = 0
            var argc: Int32 = 0
            var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = nil
            MPI_Init_thread(&argc, &argv, cmpi_thread_funneled(), &provided)
            var r: Int32 = 0
            var n: Int32 = 0
            MPI_Comm_rank(cmpi_comm_world(), &r)
            MPI_Comm_size(cmpi_comm_world(), &n)
            rank = Int(r)
            worldSize = Int(n)
            let env = ProcessInfo.processInfo.environment
            processesOnThisHost = env["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap { Int($0) } ?? 1
        }

        @inline(__always)
        private func timed(_ body: () -> Int32, _ what: String) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            let rc = body()
            communicationSeconds += Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            if rc != cmpi_success() { abort("\(what) failed (MPI error \(rc))", code: 1) }
        }

        public func allGather(
            inPlace buffer: UnsafeMutableRawPointer, counts: UnsafeBufferPointer<Int32>,
            offsets: UnsafeBufferPointer<Int32>
        ) {
            timed(
                {
                    MPI_Allgatherv(
                        cmpi_in_place(), 0, cmpi_byte(), buffer, counts.baseAddress, offsets.baseAddress,
                        cmpi_byte(), cmpi_comm_world())
                }, "MPI_Allgatherv")
        }

        public func allToAll(
            send: UnsafeRawPointer, sendCounts: UnsafeBufferPointer<Int32>, sendOffsets: UnsafeBufferPointer<Int32>,
            receive: UnsafeMutableRawPointer, receiveCounts: UnsafeBufferPointer<Int32>,
            receiveOffsets: UnsafeBufferPointer<Int32>
        ) {
            timed(
                {
                    MPI_Alltoallv(
                        send, sendCounts.baseAddress, sendOffsets.baseAddress, cmpi_byte(), receive,
                        receiveCounts.baseAddress, receiveOffsets.baseAddress, cmpi_byte(), cmpi_comm_world())
                }, "MPI_Alltoallv of the gradient slices")
        }

        public func sum(_ values: UnsafeMutableBufferPointer<Int64>) {
            timed(
                {
                    MPI_Allreduce(
                        cmpi_in_place(), values.baseAddress, Int32(values.count), cmpi_int64(), cmpi_sum(),
                        cmpi_comm_world())
                }, "MPI_Allreduce")
        }

        public func gatherToRoot(_ bytes: [UInt8]) -> [[UInt8]]? {
            var mine = Int32(bytes.count)
            var sizes = [Int32](repeating: 0, count: worldSize)
            timed({ MPI_Gather(&mine, 1, cmpi_int(), &sizes, 1, cmpi_int(), 0, cmpi_comm_world()) }, "MPI_Gather")
            var offsets = [Int32](repeating: 0, count: worldSize)
            for r in 1..<max(1, worldSize) { offsets[r] = offsets[r - 1] + sizes[r - 1] }
            var all = [UInt8](repeating: 0, count: rank == 0 ? Int(sizes.reduce(0, +)) : 1)
            var send = bytes
            timed(
                {
                    MPI_Gatherv(
                        &send, mine, cmpi_byte(), &all, &sizes, &offsets, cmpi_byte(), 0, cmpi_comm_world())
                }, "MPI_Gatherv")
            guard rank == 0 else { return nil }
            return (0..<worldSize).map { Array(all[Int(offsets[$0])..<Int(offsets[$0] + sizes[$0])]) }
        }

        public func abort(_ message: String, code: Int32) -> Never {
            FileHandle.standardError.write(Data("lstm: rank \(rank) of \(worldSize): \(message)\n".utf8))
            MPI_Abort(cmpi_comm_world(), code)
            exit(code)
        }

        /// Ends MPI (call once, after the last collective, before the process exits).
        public func finalize() {
            guard !finalized else { return }
            finalized = true
            MPI_Finalize()
        }
    }
#endif
