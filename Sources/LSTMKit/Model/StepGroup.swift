import CKernels
import Foundation

/// The shard workers of one process computing the LSTM's per-step GEMMs together (C step group,
/// `Sources/CKernels/step_group.c`; docs/results/kernels.md, "The per-step GEMMs shared by the shard
/// workers"). Each step every shard publishes its rows (h⁽ᵗ⁻¹⁾ for h·Rᵀ, δG⁽ᵗ⁾ for δG·R), and worker i
/// computes the i-th column range of all shards' products, so each core streams 1/P of the packed R
/// per step instead of all of it. Every element gets the bits the shard's own packed GEMM gives it:
/// the shard count and the training bits do not change, only which core computes which columns.
///
/// Used only when all P local shards run at once on P workers (`ShardWorkers`); a round whose
/// workers do not all arrive within `timeout` runs each shard alone instead (same bits).
public final class StepGroup: @unchecked Sendable {
    let pointer: OpaquePointer
    public let participants: Int
    /// How long a round waits for every worker to arrive before running the shards alone.
    public var timeout: Double = 1.0
    /// Whether rounds run alone for a while after a lockstep round that waited over a quarter of its
    /// time (the cores are shared: see `lstm_step_group_reset`). Off only in tests that count rounds.
    public var adaptive = true {
        didSet { lstm_step_group_set_adaptive(pointer, adaptive ? 1 : 0) }
    }

    /// When shard workers make a step group.
    public enum Mode: Sendable {
        /// Never (`LSTM_STEP_GROUP=off`).
        case off
        /// Whenever the workers can (`LSTM_STEP_GROUP=on`).
        case on
        /// Where it measured faster (the default): when a shard's packed R, (H, 4H), is at least
        /// `minPackedRFloats(streaming:)` — far beyond L2, so each core streaming all of it every
        /// step costs (docs/results/kernels.md). At H = 512 (4 MiB) no faster, and lockstep lost end
        /// to end under load.
        case auto
    }

    /// Packed R floats from which `.auto` makes a group. With a streaming per-step kernel
    /// (`Precision.perStepGEMMStreams`: AVX-512 float32), 32 MiB (H ≥ 1448): the shards alone ran
    /// 1.02–1.03× faster at H = 1024, the group 1.05× at H = 2048. Without one (AVX2, bf16), 8 MiB
    /// (H ≥ 724): the group ran faster at H = 1024 (1.07× for `LSTM_GEMM=avx2`).
    public static func minPackedRFloats(streaming: Bool) -> Int { streaming ? 1 << 23 : 1 << 21 }

    /// `LSTM_STEP_GROUP=off|on`, else `.auto` (the bits are the same either way).
    public static let mode: Mode = {
        switch ProcessInfo.processInfo.environment["LSTM_STEP_GROUP"] {
        case "off": return .off
        case "on": return .on
        default: return .auto
        }
    }()

    init(participants: Int) {
        guard let p = lstm_step_group_create(Int32(participants)) else {
            preconditionFailure("cannot create a step group of \(participants) participants")
        }
        pointer = p
        self.participants = participants
    }

    deinit { lstm_step_group_destroy(pointer) }

    /// Opens a round; call before starting the workers. False when the round runs alone because the
    /// last lockstep round waited too much (`lstm_step_group_reset`).
    func reset() -> Bool { lstm_step_group_reset(pointer) != 0 }

    /// Worker `index` arrives; true when the round runs in lockstep (see `lstm_step_group_join`).
    func join(_ index: Int) -> Bool { lstm_step_group_join(pointer, Int32(index), timeout) != 0 }

    /// Worker `index` enters a round opened for lockstep: `slot.engaged` tells whether it runs in
    /// lockstep; returns the time to pass to `leave`.
    func enter(_ index: Int, slot: StepGroupSlot) -> Double {
        let start = lstm_step_group_clock()
        slot.engaged = join(index)
        return start
    }

    /// Worker `index` leaves the round it entered at `start`.
    func leave(_ index: Int, slot: StepGroupSlot, since start: Double) {
        if slot.engaged { lstm_step_group_leave(pointer, Int32(index), start) }
        slot.engaged = false
    }

    /// Rounds that ran in lockstep since the group was made.
    public var lockstepRounds: Int { lstm_step_group_lockstep_rounds(pointer) }
}

/// One workspace's place in a step group: set by `ShardWorkers`, read by `LSTMLayer`'s per-step
/// GEMMs. `engaged` is true only while a lockstep round runs on this workspace's worker.
final class StepGroupSlot: @unchecked Sendable {
    var group: StepGroup?
    var index = 0
    var engaged = false

    /// C ← A·B + beta·C (B packed by `T.gemmPackB`, or by `BF16GEMM.packB` for bf16), computed
    /// with the other shards of this step (all of them in the same precision: one run's workspaces).
    /// Only when `engaged` (then T is Float on our kernel: the group exists only then).
    @inline(__always)
    func gemmPacked<T: LSTMScalar>(
        m: Int, n: Int, k: Int, a: UnsafePointer<T>, lda: Int, packed: UnsafePointer<T>, beta: T,
        c: UnsafeMutablePointer<T>, ldc: Int, precision: Precision = .float32
    ) {
        precondition(T.self == Float.self, "the step group multiplies Float only")
        lstm_step_group_sgemm_packed(
            group!.pointer, Int32(index), precision.gemmKind, m, n, k,
            UnsafeRawPointer(a).assumingMemoryBound(to: Float.self), lda,
            UnsafeRawPointer(packed).assumingMemoryBound(to: Float.self), Float(beta),
            UnsafeMutableRawPointer(c).assumingMemoryBound(to: Float.self), ldc)
    }
}

extension GEMMKernel {
    /// Columns [j0, j1) of every group's C ← A·B + beta·C, B packed by `packB` of this kernel
    /// (`lstm_sgemm_packed_rows`; what a step group runs per worker). j0 a multiple of the kernel's
    /// sliver width for n (`tileColumns(n:)`).
    func sgemmPackedRows(
        _ groups: [lstm_gemm_rows], n: Int, columns: Range<Int>, k: Int, packed: UnsafePointer<Float>, beta: Float
    ) {
        precondition(self != .openblas, "OpenBLAS has no packed GEMM here")
        let w = tileColumns(n: n)
        precondition(columns.lowerBound % w == 0, "column ranges start at a multiple of \(w), the sliver width")
        groups.withUnsafeBufferPointer {
            lstm_sgemm_packed_rows(
                rawValue, $0.count, $0.baseAddress, n, columns.lowerBound, columns.upperBound, k, packed, beta)
        }
    }
}
