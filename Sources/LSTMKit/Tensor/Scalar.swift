import CBLAS
import CKernels
import Foundation

/// The element types the runtime computes in: `Float` for training, `Double` for checks.
///
/// Each conformance supplies its BLAS GEMM and its elementwise nonlinearities, so the generic
/// model code compiles to `sgemm`/`dgemm` and to type-specific vectorisable kernels.
public protocol LSTMScalar: BinaryFloatingPoint, Sendable
where Self.RawSignificand: FixedWidthInteger {
    /// C ← alpha·op(A)·op(B) + beta·C on row-major matrices; op(X) is X or Xᵀ by flag.
    /// Shapes: op(A) [m, k], op(B) [k, n], C [m, n]; lda/ldb/ldc are row strides.
    static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: Self, a: UnsafePointer<Self>, lda: Int,
        b: UnsafePointer<Self>, ldb: Int,
        beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)

    /// Scalars a B of k × n packed by `gemmPackB` takes, or 0 when this type multiplies with
    /// `gemm` only (Double, and Float on OpenBLAS): the LSTM layer then calls `gemm` per step.
    static func gemmPackedCount(k: Int, n: Int) -> Int
    /// Packs op(B) (k × n; B row-major with row stride ldb, transposed by flag) for `gemmPacked`
    /// into `packed` (`gemmPackedCount(k:n:)` scalars).
    static func gemmPackB(
        transB: Bool, k: Int, n: Int, b: UnsafePointer<Self>, ldb: Int, into packed: UnsafeMutablePointer<Self>)
    /// C ← A·B + beta·C with B packed by `gemmPackB` (same k, n): bitwise what `gemm` gives.
    static func gemmPacked(
        m: Int, n: Int, k: Int, a: UnsafePointer<Self>, lda: Int, packed: UnsafePointer<Self>,
        beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)

    /// e^x, accurate to a few ulp; branch-free so loops over it vectorise.
    static func exp(_ x: Self) -> Self
    /// Natural logarithm (used by losses, off the hot path).
    static func log(_ x: Self) -> Self
    /// log(1 + x), accurate for small x (used by the binary cross-entropy).
    static func log1p(_ x: Self) -> Self
    /// Hyperbolic tangent, accurate in relative terms near zero.
    static func tanh(_ x: Self) -> Self
    /// Logistic sigmoid σ(x) = 1 / (1 + e^−x).
    static func sigmoid(_ x: Self) -> Self

    /// One LSTM step's fused elementwise pass (eqs. 1–6) over (B, H); see
    /// `LSTMLayer.cellForwardReference`, which is the default implementation.
    static func lstmCellForward(
        gates: UnsafeMutablePointer<Self>, bias: UnsafeMutablePointer<Self>,
        cPrev: UnsafeMutablePointer<Self>, cNext: UnsafeMutablePointer<Self>,
        hNext: UnsafeMutablePointer<Self>, tanhC: UnsafeMutablePointer<Self>,
        batch: Int, hidden: Int)

    /// One LSTM step's fused backward elementwise pass (eqs. 14, 16–20) over (B, H); see
    /// `LSTMLayer.cellBackwardReference`, which is the default implementation.
    static func lstmCellBackward(
        gates: UnsafeMutablePointer<Self>, cPrev: UnsafeMutablePointer<Self>,
        tanhC: UnsafeMutablePointer<Self>, dH: UnsafeMutablePointer<Self>,
        dcCarry: UnsafeMutablePointer<Self>, dGates: UnsafeMutablePointer<Self>,
        batch: Int, hidden: Int)

    /// One output row's fused softmax (and cross-entropy when `target` ≥ 0) over O columns;
    /// see `OutputLayer.softmaxRowReference`, which is the default implementation.
    static func lstmSoftmaxRow(
        z: UnsafeMutablePointer<Self>, bias: UnsafeMutablePointer<Self>, y: UnsafeMutablePointer<Self>,
        count: Int, target: Int
    ) -> Double

    /// dz = (y − t)·scale over one row, or y·scale when `t` is nil; see
    /// `OutputLayer.scaledDifferenceReference`, which is the default implementation.
    static func lstmScaledDifference(
        _ y: UnsafeMutablePointer<Self>, _ t: UnsafePointer<Self>?, scale: Self,
        into dz: UnsafeMutablePointer<Self>, count: Int)
}

extension LSTMScalar {
    public static func gemmPackedCount(k: Int, n: Int) -> Int { 0 }

    public static func gemmPackB(
        transB: Bool, k: Int, n: Int, b: UnsafePointer<Self>, ldb: Int, into packed: UnsafeMutablePointer<Self>
    ) {
        preconditionFailure("\(Self.self) has no packed GEMM (gemmPackedCount is 0)")
    }

    public static func gemmPacked(
        m: Int, n: Int, k: Int, a: UnsafePointer<Self>, lda: Int, packed: UnsafePointer<Self>,
        beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int
    ) {
        preconditionFailure("\(Self.self) has no packed GEMM (gemmPackedCount is 0)")
    }

    public static func lstmCellForward(
        gates: UnsafeMutablePointer<Self>, bias: UnsafeMutablePointer<Self>,
        cPrev: UnsafeMutablePointer<Self>, cNext: UnsafeMutablePointer<Self>,
        hNext: UnsafeMutablePointer<Self>, tanhC: UnsafeMutablePointer<Self>,
        batch: Int, hidden: Int
    ) {
        LSTMLayer.cellForwardReference(
            gates: gates, bias: bias, cPrev: cPrev, cNext: cNext, hNext: hNext, tanhC: tanhC,
            batch: batch, hidden: hidden)
    }

    public static func lstmCellBackward(
        gates: UnsafeMutablePointer<Self>, cPrev: UnsafeMutablePointer<Self>,
        tanhC: UnsafeMutablePointer<Self>, dH: UnsafeMutablePointer<Self>,
        dcCarry: UnsafeMutablePointer<Self>, dGates: UnsafeMutablePointer<Self>,
        batch: Int, hidden: Int
    ) {
        LSTMLayer.cellBackwardReference(
            gates: gates, cPrev: cPrev, tanhC: tanhC, dH: dH, dcCarry: dcCarry, dGates: dGates,
            batch: batch, hidden: hidden)
    }

    public static func lstmSoftmaxRow(
        z: UnsafeMutablePointer<Self>, bias: UnsafeMutablePointer<Self>, y: UnsafeMutablePointer<Self>,
        count: Int, target: Int
    ) -> Double {
        OutputLayer.softmaxRowReference(z: z, bias: bias, y: y, count: count, target: target)
    }

    public static func lstmScaledDifference(
        _ y: UnsafeMutablePointer<Self>, _ t: UnsafePointer<Self>?, scale: Self,
        into dz: UnsafeMutablePointer<Self>, count: Int
    ) {
        OutputLayer.scaledDifferenceReference(y, t, scale: scale, into: dz, count: count)
    }
}

@inline(__always)
private func cblasTrans(_ t: Bool) -> CBLAS_TRANSPOSE { t ? CblasTrans : CblasNoTrans }

// MARK: - Float

extension Float: LSTMScalar {
    /// `GEMMKernel.current`: our AVX-512 or AVX2 kernel, or OpenBLAS's sgemm.
    @inline(__always)
    public static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: Float, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        GEMMKernel.current.sgemm(
            transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
            beta: beta, c: c, ldc: ldc)
    }

    public static func gemmPackedCount(k: Int, n: Int) -> Int {
        GEMMKernel.current.packedCount(k: k, n: n)
    }

    public static func gemmPackB(
        transB: Bool, k: Int, n: Int, b: UnsafePointer<Float>, ldb: Int, into packed: UnsafeMutablePointer<Float>
    ) {
        GEMMKernel.current.packB(transB: transB, k: k, n: n, b: b, ldb: ldb, into: packed)
    }

    public static func gemmPacked(
        m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, packed: UnsafePointer<Float>,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        GEMMKernel.current.sgemmPacked(m: m, n: n, k: k, a: a, lda: lda, packed: packed, beta: beta, c: c, ldc: ldc)
    }

    /// Cephes-style expf: x = n·ln2 + r with |r| ≤ ln2/2, a degree-6 polynomial for e^r and
    /// 2^n assembled in the exponent bits. Rounding uses the 1.5·2^23 trick instead of a
    /// call, so the whole function is straight-line code that LLVM vectorises. Error ≲ 2 ulp.
    @inline(__always)
    public static func exp(_ x: Float) -> Float {
        let xc = Swift.min(Swift.max(x, -87.3), 88.7)
        let shifter: Float = 12_582_912  // 1.5·2^23: adding it rounds to an integer
        let t = xc * 1.442_695_04 + shifter
        let nf = t - shifter
        let n = Int32(bitPattern: t.bitPattern) &- 0x4B40_0000
        var r = xc - nf * 0.693_359_375
        r = r - nf * -2.121_944_4e-4
        var p: Float = 1.987_569_15e-4
        p = p * r + 1.398_199_95e-3
        p = p * r + 8.333_451_9e-3
        p = p * r + 4.166_579_59e-2
        p = p * r + 0.166_666_655
        p = p * r + 0.500_000_01
        let er = p * r * r + r + 1
        // Scale by 2^n in two halves so n near ±127 cannot overflow the exponent field.
        let n1 = n >> 1
        let n2 = n &- n1
        let s1 = Float(bitPattern: UInt32(bitPattern: (n1 &+ 127) << 23))
        let s2 = Float(bitPattern: UInt32(bitPattern: (n2 &+ 127) << 23))
        return er * s1 * s2
    }

    @inline(__always) public static func log(_ x: Float) -> Float { Foundation.log(x) }
    @inline(__always) public static func log1p(_ x: Float) -> Float { Foundation.log1p(x) }

    /// tanh via e^(−2|x|) for |x| ≥ 0.25 and an odd Taylor polynomial below, where
    /// 1 − e^(−2|x|) would cancel. Both are computed and one selected: no branches.
    @inline(__always)
    public static func tanh(_ x: Float) -> Float {
        let ax = Swift.abs(x)
        let e = exp(-2 * ax)
        let big = (1 - e) / (1 + e)
        let x2 = ax * ax
        var p: Float = -0.008_863_235_5  // -1382/155925
        p = p * x2 + 0.021_869_488  // 62/2835
        p = p * x2 - 0.053_968_254  // -17/315
        p = p * x2 + 0.133_333_33  // 2/15
        p = p * x2 - 0.333_333_34  // -1/3
        let small = ax + ax * x2 * p
        let m = ax < 0.25 ? small : big
        return Float(signOf: x, magnitudeOf: m)  // copysign: tanh(−0) = −0, as the SIMD kernel gives
    }

    @inline(__always)
    public static func sigmoid(_ x: Float) -> Float { 1 / (1 + exp(-x)) }

    /// `CellKernel.current`: the C kernel on 16 or 8 lanes (Sources/CKernels/cell_*.c) or the
    /// SIMD8 kernel (Tensor/SIMDKernels.swift); bitwise the same result.
    public static func lstmCellForward(
        gates: UnsafeMutablePointer<Float>, bias: UnsafeMutablePointer<Float>,
        cPrev: UnsafeMutablePointer<Float>, cNext: UnsafeMutablePointer<Float>,
        hNext: UnsafeMutablePointer<Float>, tanhC: UnsafeMutablePointer<Float>,
        batch: Int, hidden: Int
    ) {
        let kind = CellKernel.current
        if kind != .swift {
            lstm_cell_forward(kind.rawValue, gates, bias, cPrev, cNext, hNext, tanhC, batch, hidden)
            return
        }
        simdCellForward(
            gates: gates, bias: bias, cPrev: cPrev, cNext: cNext, hNext: hNext, tanhC: tanhC,
            batch: batch, hidden: hidden)
    }

    /// `CellKernel.current`: the C kernel or the SIMD8 kernel, as for `lstmCellForward`.
    public static func lstmCellBackward(
        gates: UnsafeMutablePointer<Float>, cPrev: UnsafeMutablePointer<Float>,
        tanhC: UnsafeMutablePointer<Float>, dH: UnsafeMutablePointer<Float>,
        dcCarry: UnsafeMutablePointer<Float>, dGates: UnsafeMutablePointer<Float>,
        batch: Int, hidden: Int
    ) {
        let kind = CellKernel.current
        if kind != .swift {
            lstm_cell_backward(kind.rawValue, gates, cPrev, tanhC, dH, dcCarry, dGates, batch, hidden)
            return
        }
        simdCellBackward(
            gates: gates, cPrev: cPrev, tanhC: tanhC, dH: dH, dcCarry: dcCarry, dGates: dGates,
            batch: batch, hidden: hidden)
    }

    /// The SIMD8 kernel (Tensor/SIMDKernels.swift).
    public static func lstmSoftmaxRow(
        z: UnsafeMutablePointer<Float>, bias: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>,
        count: Int, target: Int
    ) -> Double {
        simdSoftmaxRow(z: z, bias: bias, y: y, count: count, target: target)
    }

    /// The SIMD8 kernel (Tensor/SIMDKernels.swift).
    public static func lstmScaledDifference(
        _ y: UnsafeMutablePointer<Float>, _ t: UnsafePointer<Float>?, scale: Float,
        into dz: UnsafeMutablePointer<Float>, count: Int
    ) {
        simdScaledDifference(y, t, scale: scale, into: dz, count: count)
    }
}

// MARK: - Double

extension Double: LSTMScalar {
    @inline(__always)
    public static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: Double, a: UnsafePointer<Double>, lda: Int,
        b: UnsafePointer<Double>, ldb: Int,
        beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        cblas_dgemm(
            CblasRowMajor, cblasTrans(transA), cblasTrans(transB),
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    // Double is the reference type for gradient checks: libm's correctly-rounded-ish
    // functions, not fast approximations.
    @inline(__always) public static func exp(_ x: Double) -> Double { Foundation.exp(x) }
    @inline(__always) public static func log(_ x: Double) -> Double { Foundation.log(x) }
    @inline(__always) public static func log1p(_ x: Double) -> Double { Foundation.log1p(x) }
    @inline(__always) public static func tanh(_ x: Double) -> Double { Foundation.tanh(x) }
    @inline(__always)
    public static func sigmoid(_ x: Double) -> Double { 1 / (1 + Foundation.exp(-x)) }
}

/// Process-wide OpenBLAS controls.
public enum BLASThreads {
    /// Sets how many threads each OpenBLAS call may use (process-wide).
    public static func set(_ n: Int) { openblas_set_num_threads(Int32(max(1, n))) }
    /// The number of threads OpenBLAS calls currently use.
    public static var current: Int { Int(openblas_get_num_threads()) }
    /// The kernel OpenBLAS chose for this processor (e.g. "Haswell", "SkylakeX").
    public static var coreName: String {
        guard let p = openblas_get_corename() else { return "unknown" }
        return String(cString: p)
    }
    /// OpenBLAS's build configuration string.
    public static var config: String {
        guard let p = openblas_get_config() else { return "unknown" }
        return String(cString: p)
    }
}

/// The single-precision GEMM implementations (docs/results/kernels.md): OpenBLAS's sgemm, or the
/// runtime's own packed, cache-blocked kernels (Sources/CKernels) for AVX2+FMA and AVX-512.
///
/// Ours are single-threaded per call and sum each element in a fixed order (k in blocks of 256,
/// one FMA per k, the same for both ISAs), so results are bitwise the same for any worker or
/// rank count, and AVX2 and AVX-512 agree bit for bit. Double always uses OpenBLAS's dgemm.
public enum GEMMKernel: Int32, Sendable, CaseIterable, CustomStringConvertible {
    case openblas = 0
    case avx2 = 1
    case avx512 = 2

    /// The kernel Float uses in this process, fixed at first use: `LSTM_GEMM=openblas|avx2|avx512`
    /// when set and runnable here, else `preferred`.
    public static let current = GEMMKernel(rawValue: lstm_gemm_default_kind()) ?? .openblas

    /// Why `current` was chosen (e.g. "the default on AVX-512 CPUs", "LSTM_GEMM=avx2").
    public static var reason: String { String(cString: lstm_gemm_default_reason()) }

    /// The kernel used without LSTM_GEMM: our AVX-512 kernel where the CPU has AVX-512, else OpenBLAS
    /// (our AVX2 kernel measured no faster than OpenBLAS's Haswell one; LSTM_GEMM=avx2 opts in).
    public static var preferred: GEMMKernel { GEMMKernel(rawValue: lstm_gemm_preferred_kind()) ?? .openblas }

    /// Whether this CPU can run the kernel.
    public var isSupported: Bool { lstm_gemm_supported(rawValue) != 0 }

    /// The columns of the micro-kernel tile this kernel's GEMMs (packed or not) run for a C of n columns,
    /// and the sliver width `packB` packs n columns into (AVX-512: 48 from n = 1024 on where
    /// `wideTiles`, else 32; AVX2: 16; OpenBLAS: 0, not ours). No result bit depends on it.
    public func tileColumns(n: Int) -> Int { Int(lstm_gemm_tile_columns(rawValue, n)) }

    /// Whether AVX-512 runs its 8×48 tile from n = 1024 on: `LSTM_GEMM_WIDE=on|off`, else whether the
    /// tile's 48 KiB B sliver fits this CPU's L1d (docs/results/kernels.md). Settable for tests and
    /// benchmarks that compare the tiles in one process (never while GEMMs run).
    public static var wideTiles: Bool {
        get { lstm_gemm_wide_tiles() != 0 }
        set { _ = lstm_gemm_set_wide_tiles(newValue ? 1 : 0) }
    }

    /// "openblas", "avx2", "avx512" (the values of LSTM_GEMM).
    public var description: String { String(cString: lstm_gemm_kind_name(rawValue)) }

    /// The one line `lstm train` and `lstm bench` print, e.g. "gemm: lstm avx512 (the default on AVX-512
    /// CPUs; R packed once per pass for the per-step GEMMs; tiles 8×32, L1d 32 KiB); OpenBLAS Prescott
    /// for Double".
    public static var summary: String {
        let kind = current
        var line: String
        if kind == .openblas {
            line = "gemm: OpenBLAS \(BLASThreads.coreName) (\(reason))"
        } else {
            line =
                "gemm: lstm \(kind) (\(reason); R packed once per pass for the per-step GEMMs"
                + (kind == .avx512 ? "; \(String(cString: lstm_gemm_tiles_summary())))" : ")") + "; "
                + "OpenBLAS \(BLASThreads.coreName) for Double"
        }
        if preferred == .avx512 && kind != .avx512 {
            line +=
                "; this CPU runs lstm avx512 (the faster default, docs/results/kernels.md): unset LSTM_GEMM to use it"
        }
        return line
    }

    /// C ← alpha·op(A)·op(B) + beta·C with this kernel (row-major; see `LSTMScalar.gemm`).
    @inline(__always)
    public func sgemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if self == .openblas {
            cblas_sgemm(
                CblasRowMajor, cblasTrans(transA), cblasTrans(transB),
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        } else {
            lstm_sgemm(
                rawValue, transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        }
    }

    /// Floats a k × n B packed by `packB` takes (0 for OpenBLAS, which has no packed GEMM here).
    public func packedCount(k: Int, n: Int) -> Int { self == .openblas ? 0 : lstm_sgemm_packed_size(k, n) }

    /// Packs op(B) for `sgemmPacked` of this kernel (not OpenBLAS).
    @inline(__always)
    public func packB(
        transB: Bool, k: Int, n: Int, b: UnsafePointer<Float>, ldb: Int, into packed: UnsafeMutablePointer<Float>
    ) {
        precondition(self != .openblas, "OpenBLAS has no packed GEMM here")
        lstm_sgemm_pack_b(rawValue, transB ? 1 : 0, k, n, b, ldb, packed)
    }

    /// C ← A·B + beta·C with B packed by `packB` of this kernel.
    @inline(__always)
    public func sgemmPacked(
        m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, packed: UnsafePointer<Float>,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        precondition(self != .openblas, "OpenBLAS has no packed GEMM here")
        lstm_sgemm_packed(rawValue, 0, m, n, k, 1, a, lda, packed, beta, c, ldc)
    }
}

/// The fused LSTM cell kernels for Float (docs/results/kernels.md): the Swift SIMD8 kernels
/// (Tensor/SIMDKernels.swift, compiled for baseline x86-64, i.e. SSE) or their C versions on the whole
/// vector unit (Sources/CKernels/cell_avx512.c, cell_avx2.c). All three are bitwise equal (KernelTests).
public enum CellKernel: Int32, Sendable, CaseIterable, CustomStringConvertible {
    case swift = 0
    case avx2 = 1
    case avx512 = 2

    /// The kernel Float uses in this process, fixed at first use: `LSTM_CELL=swift`, `LSTM_CELL=c`
    /// (the widest C kernel this CPU runs), else the ISA of `GEMMKernel.current` (OpenBLAS: Swift).
    public static let current = CellKernel(rawValue: lstm_cell_default_kind()) ?? .swift

    /// Why `current` was chosen (e.g. "following the GEMM kernel", "LSTM_CELL=swift").
    public static var reason: String { String(cString: lstm_cell_default_reason()) }

    /// Whether this CPU can run the kernel.
    public var isSupported: Bool { lstm_cell_supported(rawValue) != 0 }

    /// "swift", "avx2", "avx512".
    public var description: String { String(cString: lstm_cell_kind_name(rawValue)) }

    /// The forward cell step with this kernel (see `Float.lstmCellForward`).
    public func forward(
        gates: UnsafeMutablePointer<Float>, bias: UnsafeMutablePointer<Float>,
        cPrev: UnsafeMutablePointer<Float>, cNext: UnsafeMutablePointer<Float>,
        hNext: UnsafeMutablePointer<Float>, tanhC: UnsafeMutablePointer<Float>,
        batch: Int, hidden: Int
    ) {
        precondition(isSupported, "this CPU cannot run the \(self) cell kernel")
        if self == .swift {
            Float.simdCellForward(
                gates: gates, bias: bias, cPrev: cPrev, cNext: cNext, hNext: hNext, tanhC: tanhC,
                batch: batch, hidden: hidden)
        } else {
            lstm_cell_forward(rawValue, gates, bias, cPrev, cNext, hNext, tanhC, batch, hidden)
        }
    }

    /// The backward cell step with this kernel (see `Float.lstmCellBackward`).
    public func backward(
        gates: UnsafeMutablePointer<Float>, cPrev: UnsafeMutablePointer<Float>,
        tanhC: UnsafeMutablePointer<Float>, dH: UnsafeMutablePointer<Float>,
        dcCarry: UnsafeMutablePointer<Float>, dGates: UnsafeMutablePointer<Float>,
        batch: Int, hidden: Int
    ) {
        precondition(isSupported, "this CPU cannot run the \(self) cell kernel")
        if self == .swift {
            Float.simdCellBackward(
                gates: gates, cPrev: cPrev, tanhC: tanhC, dH: dH, dcCarry: dcCarry, dGates: dGates,
                batch: batch, hidden: hidden)
        } else {
            lstm_cell_backward(rawValue, gates, cPrev, tanhC, dH, dcCarry, dGates, batch, hidden)
        }
    }
}
