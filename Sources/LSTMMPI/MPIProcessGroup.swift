// The MPI implementation of LSTMKit's ProcessGroup. Compiled only with the package trait
// `MPI` (`swift build --traits MPI`, which needs Open MPI's headers and libmpi); without it this
// module is empty and nothing links libmpi.
#if MPI
    import CMPI
    import Foundation
    import LSTMKit

    /// The processes `mpirun` (or srun with PMIx/PMI) started, as a `ProcessGroup` over
    /// MPI_COMM_WORLD.
    ///
    /// The gradient exchange is one MPI_Alltoallv of bytes (each rank's subtree sums restricted to
    /// each destination's slice, and its shard losses; see ExactReduction.swift), the updated
    /// weights one MPI_Allgatherv; the order of the additions is ours, never MPI's, so the result
    /// is the same for any N. Integer sums (target counts, the stop flag) use
    /// MPI_Allreduce, exact in any order. Collectives are called from the thread that called
    /// `init` (MPI_THREAD_FUNNELED).
    ///
    /// Every collective (`collective(_:_:)`) first waits for all ranks to arrive (each sends one
    /// byte to rank 0, which answers when all have: the time spent there is the `wait`, straggler
    /// time), then runs non-blocking and is polled with MPI_Test (the `exchange` time). Both are
    /// bounded by the collective timeout (`LSTM_COLLECTIVE_TIMEOUT_S`, default 300 s): past it the
    /// job ends with a message; rank 0 names the ranks that did not arrive, the others wait a
    /// grace period longer so rank 0's message comes first.
    ///
    /// Failures: `abort` prints the message and calls MPI_Abort, which ends every rank; a rank
    /// that dies (crash, SIGKILL) makes Open MPI's runtime end the job, a rank that stops
    /// (SIGSTOP, a dead link) makes the others time out, so no rank waits forever in a collective.
    public final class MPIProcessGroup: ProcessGroup, CollectiveTimer, @unchecked Sendable {
        public let rank: Int
        public let worldSize: Int
        public let processesOnThisHost: Int
        /// Seconds a collective may take (arrival and exchange each), nil for no limit.
        public let collectiveTimeout: Double?
        private var finalized = false
        public private(set) var collectiveTiming = CollectiveTiming()
        /// Seconds spent in collectives since the start (the communication time of a run).
        public var communicationSeconds: Double { collectiveTiming.waitSeconds + collectiveTiming.exchangeSeconds }
        /// Arrival messages: one byte per rank and collective, and rank 0's answer.
        /// (Fixed addresses: non-blocking calls keep using them after they return.)
        private let arrivalRequests: UnsafeMutablePointer<MPI_Request?>
        private let arrivalBytes: UnsafeMutablePointer<UInt8>
        private static let arrivalTag: Int32 = 0x6c73
        private static let releaseTag: Int32 = 0x6c74
        /// Rank 0's "are you there?" when a collective every rank reached does not complete, and
        /// the answer; the other ranks answer from their polling loops (`poll`).
        private static let pingTag: Int32 = 0x6c75
        private static let pongTag: Int32 = 0x6c76
        /// Ranks > 0: the standing receive of rank 0's ping, the pending answer, their bytes.
        private let pingRequests: UnsafeMutablePointer<MPI_Request?>
        private let pingBytes: UnsafeMutablePointer<UInt8>
        /// Seconds the ranks other than 0 wait beyond the timeout, so rank 0, which knows who is
        /// missing, reports first.
        static let graceSeconds = 10.0
        /// The overlapped exchange's requests (`postAllToAll`, one per gradient bucket: at most
        /// one per layer and the head), MPI_REQUEST_NULL when done, and MPI_Testsome's indices.
        private static let exchangeSlots = SizeBounds.numLayers + 1
        private let exchangeRequests: UnsafeMutablePointer<MPI_Request?>
        private let exchangeIndices: UnsafeMutablePointer<Int32>
        private var exchangesPosted = 0
        private var exchangesInFlight = 0
        /// When the in-flight time was last accounted (`accountExchanges`).
        private var exchangeClock: UInt64 = 0

        /// Whether this process was started by mpirun or a launcher MPI can join (PMIx, PMI; see
        /// `LaunchEnvironment`); only then is MPI initialised, so the MPI build runs alone as usual.
        public static var launchedByMPI: Bool { LaunchEnvironment().canJoinMPI }

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
            let launch = LaunchEnvironment()
            processesOnThisHost = launch.localSize ?? 1
            arrivalRequests = .allocate(capacity: max(2, Int(n)))
            arrivalRequests.initialize(repeating: nil, count: max(2, Int(n)))
            arrivalBytes = .allocate(capacity: max(2, Int(n)))
            arrivalBytes.initialize(repeating: 0, count: max(2, Int(n)))
            pingRequests = .allocate(capacity: max(2, Int(n)))
            pingRequests.initialize(repeating: nil, count: max(2, Int(n)))
            pingBytes = .allocate(capacity: max(2, Int(n)))
            pingBytes.initialize(repeating: 0, count: max(2, Int(n)))
            exchangeRequests = .allocate(capacity: Self.exchangeSlots)
            exchangeRequests.initialize(repeating: cmpi_request_null(), count: Self.exchangeSlots)
            exchangeIndices = .allocate(capacity: Self.exchangeSlots)
            exchangeIndices.initialize(repeating: 0, count: Self.exchangeSlots)
            switch LaunchEnvironment.collectiveTimeout() {
            case .success(let t): collectiveTimeout = t
            case .failure(let e):
                collectiveTimeout = nil
                abort(e.message, code: 1)
            }
            if let expected = launch.size, expected != worldSize {
                abort(
                    "\(launch.launcher ?? "the launcher") started \(expected) processes but MPI sees \(worldSize): "
                        + "this MPI library cannot use the launcher's interface (with srun: `srun --mpi=list`, "
                        + "then --mpi=pmix or pmi2)", code: 1)
            }
            if rank > 0 { postPingReceive() }
        }

        private func postPingReceive() {
            MPI_Irecv(pingBytes, 1, cmpi_byte(), 0, Self.pingTag, cmpi_comm_world(), pingRequests)
        }

        /// Ranks > 0, while they wait in a collective: answer rank 0's ping, if one came.
        private func answerPing() {
            guard rank > 0, test(&pingRequests[0], "rank 0's ping") else { return }
            _ = test(&pingRequests[1], "the answer to a ping")  // the previous answer is long gone
            MPI_Isend(pingBytes + 1, 1, cmpi_byte(), 0, Self.pongTag, cmpi_comm_world(), pingRequests + 1)
            postPingReceive()
        }

        /// Rank 0, when a collective every rank reached does not complete: the ranks that do not
        /// answer a ping within `graceSeconds / 2` (they are stopped or cut off; the others answer
        /// from their polling loops).
        private func silentRanks() -> [Int] {
            // (Rank 0 uses pingRequests/pingBytes only here: 1..<N for the answers.)
            for r in 1..<worldSize {
                var sent: MPI_Request? = nil  // a one-byte send; never waited for (the job ends next)
                MPI_Isend(pingBytes, 1, cmpi_byte(), Int32(r), Self.pingTag, cmpi_comm_world(), &sent)
                MPI_Irecv(pingBytes + r, 1, cmpi_byte(), Int32(r), Self.pongTag, cmpi_comm_world(), pingRequests + r)
            }
            _ = poll(limit: Self.graceSeconds / 2) {
                (1..<worldSize).allSatisfy { test(&pingRequests[$0], "an answer") }
            }
            return (1..<worldSize).filter { !test(&pingRequests[$0], "an answer") }
        }

        deinit {
            arrivalRequests.deallocate()
            arrivalBytes.deallocate()
            pingRequests.deallocate()
            pingBytes.deallocate()
            exchangeRequests.deallocate()
            exchangeIndices.deallocate()
        }

        private static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

        /// Polls `isDone` (one MPI_Test round) until it says yes, yielding the core between rounds
        /// (ranks may share cores); past `limit` seconds returns false.
        private func poll(limit: Double?, _ isDone: () -> Bool) -> Bool {
            let start = Self.now()
            var rounds = 0
            while !isDone() {
                answerPing()
                rounds &+= 1
                if rounds & 255 == 0, let limit, Double(Self.now() - start) / 1e9 > limit { return false }
                sched_yield()
            }
            return true
        }

        private func test(_ request: inout MPI_Request?, _ what: String) -> Bool {
            guard request != nil, request != cmpi_request_null() else { return true }
            var done: Int32 = 0
            let rc = MPI_Test(&request, &done, cmpi_status_ignore())
            if rc != cmpi_success() { abort("\(what) failed (MPI error \(rc))", code: 1) }
            return done != 0
        }

        private func seconds(_ t: Double?) -> String { t.map { String(format: "%g s", $0) } ?? "" }

        /// Every rank tells rank 0 it has reached `what`; rank 0 answers once all have. Bounded by
        /// the timeout; the message names the ranks that did not arrive (rank 0 knows them).
        private func arrive(_ what: String) {
            guard worldSize > 1 else { return }
            let limit = collectiveTimeout
            if rank == 0 {
                for r in 1..<worldSize {
                    MPI_Irecv(
                        arrivalBytes + r, 1, cmpi_byte(), Int32(r), Self.arrivalTag, cmpi_comm_world(),
                        arrivalRequests + r)
                }
                let arrived = poll(limit: limit) {
                    var all = true
                    for r in 1..<worldSize where !test(&arrivalRequests[r], "receiving rank \(r)'s arrival") {
                        all = false
                    }
                    return all
                }
                if !arrived {
                    let missing = (1..<worldSize).filter { !test(&arrivalRequests[$0], "an arrival") }
                    abort(
                        "\(missing.count == 1 ? "rank" : "ranks") \(missing.map(String.init).joined(separator: ", ")) "
                            + "did not arrive at \(what) within \(seconds(limit)) (\(LaunchEnvironment.timeoutVariable)): "
                            + "stopped, hung or unreachable", code: 1)
                }
                for r in 1..<worldSize {
                    MPI_Isend(
                        arrivalBytes, 1, cmpi_byte(), Int32(r), Self.releaseTag, cmpi_comm_world(),
                        arrivalRequests + r)
                }
                _ = poll(limit: limit) { (1..<worldSize).allSatisfy { test(&arrivalRequests[$0], "a release") } }
                // (A send that does not complete is a rank that stopped after arriving: the
                // collective that follows times out on it.)
            } else {
                MPI_Isend(arrivalBytes, 1, cmpi_byte(), 0, Self.arrivalTag, cmpi_comm_world(), arrivalRequests)
                MPI_Irecv(
                    arrivalBytes + 1, 1, cmpi_byte(), 0, Self.releaseTag, cmpi_comm_world(), arrivalRequests + 1)
                let released = poll(limit: limit.map { $0 + Self.graceSeconds }) {
                    test(&arrivalRequests[1], "rank 0's release") && test(&arrivalRequests[0], "sending the arrival")
                }
                if !released {
                    abort(
                        "\(what) did not start within \(seconds(limit.map { $0 + Self.graceSeconds })) "
                            + "(\(LaunchEnvironment.timeoutVariable)): rank 0 did not answer (stopped, hung or "
                            + "unreachable, or waiting for another rank it names)", code: 1)
                }
            }
        }

        /// Ends the job when a collective every rank reached did not complete within `limit`.
        /// Rank 0 pings the others and names the silent ones; another rank gets here only if rank
        /// 0, which would have ended the job `graceSeconds` earlier, did not.
        private func abortIncomplete(_ what: String, limit: Double?) -> Never {
            let silent = rank == 0 ? (worldSize > 1 ? silentRanks() : []) : [0]
            abort(
                "\(what) did not complete within \(seconds(limit)) after every rank arrived "
                    + "(\(LaunchEnvironment.timeoutVariable)): "
                    + (silent.isEmpty
                        ? "a rank stopped or a link is down"
                        : "\(silent.count == 1 ? "rank" : "ranks") \(silent.map(String.init).joined(separator: ", ")) "
                            + "did not answer (stopped, hung or unreachable)"),
                code: 1)
        }

        /// Runs one collective: every rank arrives (timed as wait), then `start` begins the
        /// non-blocking operation, which is polled to completion (timed as exchange). Every MPI
        /// collective of the group goes through here, so each is bounded by the timeout.
        public func collective(_ what: String, _ start: (inout MPI_Request?) -> Int32) {
            let t0 = Self.now()
            arrive(what)
            let t1 = Self.now()
            var request: MPI_Request? = nil
            let rc = start(&request)
            if rc != cmpi_success() { abort("\(what) failed (MPI error \(rc))", code: 1) }
            let limit = rank == 0 ? collectiveTimeout : collectiveTimeout.map { $0 + Self.graceSeconds }
            if !poll(limit: limit, { test(&request, what) }) { abortIncomplete(what, limit: limit) }
            let t2 = Self.now()
            collectiveTiming.waitSeconds += Double(t1 - t0) / 1e9
            collectiveTiming.exchangeSeconds += Double(t2 - t1) / 1e9
        }

        // MARK: The overlapped gradient exchange (one MPI_Ialltoallv per bucket)

        /// Adds the time since the last call to the exchange time when a post was in flight (and
        /// to the overlapped time when the shards were computing).
        private func accountExchanges(computing: Bool) {
            let t = Self.now()
            if exchangesInFlight > 0 {
                let dt = Double(t - exchangeClock) / 1e9
                collectiveTiming.exchangeSeconds += dt
                if computing { collectiveTiming.overlappedSeconds += dt }
            }
            exchangeClock = t
        }

        public func postAllToAll(
            slot: Int, send: UnsafeRawPointer, sendCounts: UnsafePointer<Int32>, sendOffsets: UnsafePointer<Int32>,
            receive: UnsafeMutableRawPointer, receiveCounts: UnsafePointer<Int32>, receiveOffsets: UnsafePointer<Int32>
        ) {
            precondition(slot < Self.exchangeSlots, "exchange slot \(slot) of \(Self.exchangeSlots)")
            accountExchanges(computing: true)
            let rc = MPI_Ialltoallv(
                send, sendCounts, sendOffsets, cmpi_byte(), receive, receiveCounts, receiveOffsets, cmpi_byte(),
                cmpi_comm_world(), exchangeRequests + slot)
            if rc != cmpi_success() {
                abort("posting gradient bucket \(slot) (MPI_Ialltoallv) failed (MPI error \(rc))", code: 1)
            }
            exchangesPosted = max(exchangesPosted, slot + 1)
            exchangesInFlight += 1
        }

        public func progressExchanges(computing: Bool) {
            accountExchanges(computing: computing)
            answerPing()
            guard exchangesInFlight > 0 else { return }
            var done: Int32 = 0
            let rc = MPI_Testsome(
                Int32(exchangesPosted), exchangeRequests, &done, exchangeIndices, cmpi_statuses_ignore())
            if rc != cmpi_success() { abort("the gradient exchange (MPI_Testsome) failed (MPI error \(rc))", code: 1) }
            if done != cmpi_undefined() { exchangesInFlight -= Int(done) }
        }

        public func arriveForExchanges(_ what: String) {
            accountExchanges(computing: false)
            let t0 = Self.now()
            arrive(what)
            let t1 = Self.now()
            collectiveTiming.waitSeconds += Double(t1 - t0) / 1e9
            exchangeClock = t1  // the arrival is wait, not exchange
        }

        public func completeExchanges(_ what: String) {
            let limit = rank == 0 ? collectiveTimeout : collectiveTimeout.map { $0 + Self.graceSeconds }
            let done = poll(limit: limit) {
                progressExchanges(computing: false)
                return exchangesInFlight == 0
            }
            if !done { abortIncomplete(what, limit: limit) }
            accountExchanges(computing: false)
            exchangesPosted = 0
        }

        public func allGather(
            inPlace buffer: UnsafeMutableRawPointer, counts: UnsafeBufferPointer<Int32>,
            offsets: UnsafeBufferPointer<Int32>
        ) {
            collective("an all-gather (MPI_Iallgatherv)") {
                MPI_Iallgatherv(
                    cmpi_in_place(), 0, cmpi_byte(), buffer, counts.baseAddress, offsets.baseAddress, cmpi_byte(),
                    cmpi_comm_world(), &$0)
            }
        }

        public func allToAll(
            send: UnsafeRawPointer, sendCounts: UnsafeBufferPointer<Int32>, sendOffsets: UnsafeBufferPointer<Int32>,
            receive: UnsafeMutableRawPointer, receiveCounts: UnsafeBufferPointer<Int32>,
            receiveOffsets: UnsafeBufferPointer<Int32>
        ) {
            collective("the gradient exchange (MPI_Ialltoallv of the gradient slices)") {
                MPI_Ialltoallv(
                    send, sendCounts.baseAddress, sendOffsets.baseAddress, cmpi_byte(), receive,
                    receiveCounts.baseAddress, receiveOffsets.baseAddress, cmpi_byte(), cmpi_comm_world(), &$0)
            }
        }

        public func sum(_ values: UnsafeMutableBufferPointer<Int64>) {
            collective("an integer sum (MPI_Iallreduce)") {
                MPI_Iallreduce(
                    cmpi_in_place(), values.baseAddress, Int32(values.count), cmpi_int64(), cmpi_sum(),
                    cmpi_comm_world(), &$0)
            }
        }

        public func gatherToRoot(_ bytes: [UInt8]) -> [[UInt8]]? {
            // (Buffers allocated here: the non-blocking calls use them until they complete.)
            let n = worldSize
            let mine = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
            mine.initialize(to: Int32(bytes.count))
            let sizes = UnsafeMutablePointer<Int32>.allocate(capacity: n)
            sizes.initialize(repeating: 0, count: n)
            let offsets = UnsafeMutablePointer<Int32>.allocate(capacity: n)
            offsets.initialize(repeating: 0, count: n)
            let send = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, bytes.count))
            send.initialize(repeating: 0, count: max(1, bytes.count))
            bytes.withUnsafeBufferPointer { if let b = $0.baseAddress { send.update(from: b, count: $0.count) } }
            defer {
                for p in [
                    UnsafeMutableRawPointer(mine), UnsafeMutableRawPointer(sizes), UnsafeMutableRawPointer(offsets)
                ] {
                    p.deallocate()
                }
                send.deallocate()
            }
            collective("gathering sizes to rank 0 (MPI_Igather)") {
                MPI_Igather(mine, 1, cmpi_int(), sizes, 1, cmpi_int(), 0, cmpi_comm_world(), &$0)
            }
            for r in 1..<max(1, n) { offsets[r] = offsets[r - 1] + sizes[r - 1] }
            let total = rank == 0 ? (0..<n).reduce(0) { $0 + Int(sizes[$1]) } : 1
            let all = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, total))
            all.initialize(repeating: 0, count: max(1, total))
            defer { all.deallocate() }
            collective("gathering state to rank 0 (MPI_Igatherv)") {
                MPI_Igatherv(
                    send, mine.pointee, cmpi_byte(), all, sizes, offsets, cmpi_byte(), 0, cmpi_comm_world(), &$0)
            }
            guard rank == 0 else { return nil }
            return (0..<n).map { Array(UnsafeBufferPointer(start: all + Int(offsets[$0]), count: Int(sizes[$0]))) }
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
            if rank > 0, pingRequests[0] != nil, pingRequests[0] != cmpi_request_null() {
                MPI_Cancel(pingRequests)  // the standing receive of a ping that never came
                MPI_Request_free(pingRequests)
            }
            MPI_Finalize()
        }
    }
#endif
