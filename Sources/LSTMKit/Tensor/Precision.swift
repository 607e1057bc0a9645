import CKernels

/// The arithmetic of the LSTM layers' GEMMs (`training.precision`, docs/config.md).
///
/// `bf16` is mixed precision as Keras' `mixed_bfloat16` and `torch.autocast(dtype=torch.bfloat16)`:
/// the weights, optimizer state, gradients' reductions, cell nonlinearities, output layer and loss stay
/// float32; the LSTM layers' GEMMs (X·Wᵀ, the per-step h·Rᵀ and δG·R, and δW, δR, δX) round their
/// operands to bf16 when packing them and accumulate in float32 (`LSTM_GEMM_AVX512_BF16`, VDPBF16PS).
/// Float only, on our AVX-512 kernel with AVX512_BF16 (`unsupportedReason`).
public enum Precision: String, Sendable, CaseIterable, Codable, CustomStringConvertible {
    case float32
    case bf16

    /// Every spelling `training.precision` accepts: ours and the Keras/PyTorch names.
    public static let spellings: [String: Precision] = [
        "float32": .float32, "fp32": .float32,
        "bf16": .bf16, "bfloat16": .bf16, "mixed_bfloat16": .bf16
    ]

    public var description: String { rawValue }

    /// Why this process cannot train Float with this precision, or nil when it can: bf16 needs the
    /// AVX512_BF16 instructions and our AVX-512 GEMM kernel as the Float kernel (not LSTM_GEMM=avx2 or
    /// openblas).
    public var unsupportedReason: String? {
        guard self == .bf16 else { return nil }
        if !BF16GEMM.isSupported {
            return "this CPU lacks the AVX512_BF16 instructions (vdpbf16ps) bf16 GEMMs need"
        }
        if GEMMKernel.current != .avx512 {
            return
                "bf16 runs on the lstm avx512 GEMM kernel, but this process uses \(GEMMKernel.current) (\(GEMMKernel.reason))"
        }
        return nil
    }

    /// The GEMM kind (`ckernels.h`) the LSTM layers' Float GEMMs run with this precision here.
    var gemmKind: Int32 { self == .bf16 ? BF16GEMM.kind : GEMMKernel.current.rawValue }

    /// Whether the LSTM layers' per-step GEMMs run a streaming micro-kernel in this process (our
    /// AVX-512 float32 kernel: it prefetches its C tile and the next B sliver), which moves the step
    /// group's default threshold (`StepGroup.minPackedRFloats(streaming:)`).
    public var perStepGEMMStreams: Bool { lstm_gemm_streams_per_step(gemmKind) != 0 }

    /// The line `lstm train` prints, e.g. "precision: bf16 (LSTM layers' GEMMs: lstm avx512-bf16 ...)".
    public var summary: String {
        switch self {
        case .float32: return "precision: float32"
        case .bf16:
            return
                "precision: bf16 (gemm: lstm avx512-bf16 for the LSTM layers: operands rounded to bf16, float32 "
                + "accumulation; float32 weights, optimizer, cells and output layer)"
        }
    }
}

/// The bf16 GEMMs of the LSTM layers (`Precision.bf16`): `LSTM_GEMM_AVX512_BF16` on Float buffers.
/// Generic over the model's scalar so the layer code stays one body; only Float may call it.
enum BF16GEMM {
    static let kind = Int32(LSTM_GEMM_AVX512_BF16)
    static var isSupported: Bool { lstm_gemm_supported(kind) != 0 }

    @inline(__always)
    static func float<T>(_ p: UnsafePointer<T>) -> UnsafePointer<Float> {
        UnsafeRawPointer(p).assumingMemoryBound(to: Float.self)
    }
    @inline(__always)
    static func float<T>(_ p: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<Float> {
        UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self)
    }

    /// `gemm(a, b, into: c, beta:)` with bf16 operands and float32 accumulation.
    @inline(__always)
    static func gemm<T: LSTMScalar>(
        _ a: Matrix<T>, transposeA: Bool = false, _ b: Matrix<T>, transposeB: Bool = false, into c: Matrix<T>,
        beta: Float = 0
    ) {
        precondition(T.self == Float.self, "bf16 GEMMs are Float only")
        let m = transposeA ? a.cols : a.rows
        let k = transposeA ? a.rows : a.cols
        let n = transposeB ? b.rows : b.cols
        precondition(
            k == (transposeB ? b.cols : b.rows) && c.rows == m && c.cols == n, "bf16 gemm shape mismatch")
        lstm_sgemm(
            kind, transposeA ? 1 : 0, transposeB ? 1 : 0, m, n, k, 1, float(a.base), a.stride, float(b.base),
            b.stride, beta, float(c.base), c.stride)
    }

    /// Packs op(B) for `packed` (fits `T.gemmPackedCount(k:n:)` floats: bf16 takes half the bytes).
    @inline(__always)
    static func packB<T: LSTMScalar>(
        transB: Bool, k: Int, n: Int, b: UnsafeMutablePointer<T>, ldb: Int, into packed: UnsafeMutablePointer<T>
    ) {
        precondition(T.self == Float.self, "bf16 GEMMs are Float only")
        lstm_sgemm_pack_b(kind, transB ? 1 : 0, k, n, float(b), ldb, float(packed))
    }

    /// C ← A·B + beta·C with B packed by `packB`.
    @inline(__always)
    static func packed<T: LSTMScalar>(
        m: Int, n: Int, k: Int, a: UnsafeMutablePointer<T>, lda: Int, packed: UnsafeMutablePointer<T>, beta: Float,
        c: UnsafeMutablePointer<T>, ldc: Int
    ) {
        lstm_sgemm_packed(kind, 0, m, n, k, 1, float(a), lda, float(packed), beta, float(c), ldc)
    }
}
