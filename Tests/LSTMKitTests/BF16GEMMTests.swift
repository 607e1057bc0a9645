import CKernels
import Foundation
import XCTest

@testable import LSTMKit

/// The bf16 GEMM (`training.precision: bf16`, Sources/CKernels/gemm_avx512_bf16.c) bit for bit against
/// a scalar emulation of what VDPBF16PS does, the float32 → bf16 rounding against VCVTNEPS2BF16, and
/// the bf16 network's gradients against float32's within bf16's precision.
final class BF16GEMMTests: XCTestCase {
    static let kind = Int32(LSTM_GEMM_AVX512_BF16)

    func requireBF16() throws {
        try XCTSkipIf(
            lstm_gemm_supported(Self.kind) == 0, "this CPU lacks AVX512_BF16: the bf16 kernel cannot run here")
    }

    static func bits(_ x: Float) -> UInt32 { x.bitPattern }
    static func float(bf16 h: UInt16) -> Float { Float(bitPattern: UInt32(h) << 16) }
    /// What the instruction does to a result that is denormal: a zero of its sign.
    static func flushed(_ x: Float) -> Float { x.isSubnormal ? Float(signOf: x, magnitudeOf: 0) : x }

    // MARK: - float32 → bf16

    func testConversionRoundsToNearestTiesToEvenQuietsNaNsAndFlushesDenormals() {
        let cases: [(UInt32, UInt16, String)] = [
            (0x3F80_0000, 0x3F80, "1 exactly"),
            (0x3F80_8000, 0x3F80, "a tie rounds to the even 1.0"),
            (0x3F81_8000, 0x3F82, "a tie rounds up to the even neighbour"),
            (0x3F80_8001, 0x3F81, "just above a tie rounds up"),
            (0x3F80_7FFF, 0x3F80, "just below a tie rounds down"),
            (0xBF81_8000, 0xBF82, "negative ties round by magnitude"),
            (0x7F7F_FFFF, 0x7F80, "the largest float rounds to infinity"),
            (0x7F80_0000, 0x7F80, "infinity stays"),
            (0xFF80_0000, 0xFF80, "minus infinity stays"),
            (0x7FC0_0001, 0x7FC0, "a quiet NaN keeps its top payload"),
            (0x7F80_0001, 0x7FC0, "a signalling NaN is quieted"),
            (0xFF81_0000, 0xFFC1, "a negative NaN keeps its sign and payload"),
            (0x0000_0001, 0x0000, "the smallest denormal becomes +0"),
            (0x807F_FFFF, 0x8000, "a negative denormal becomes -0"),
            (0x0080_0000, 0x0080, "the smallest normal stays"),
            (0x8000_0000, 0x8000, "-0 stays")
        ]
        for (x, expected, what) in cases {
            XCTAssertEqual(
                lstm_f32_to_bf16(Float(bitPattern: x)), expected,
                "\(String(x, radix: 16)): \(what)")
        }
    }

    func testConversionGivesTheInstructionsBitsForEdgeValuesAndAMillionPatterns() throws {
        try requireBF16()
        var patterns: [UInt32] = [0, 0x8000_0000, 0x7F80_0000, 0xFF80_0000, 0x7F7F_FFFF, 0x0000_0001, 0x807F_FFFF]
        for hi in stride(from: UInt32(0), to: 0x1_0000, by: 1) { patterns.append(hi << 16 | 0x8000) }  // every tie
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        while patterns.count < 1 << 20 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            patterns.append(UInt32(truncatingIfNeeded: state >> 32))
        }
        let xs = patterns.map { Float(bitPattern: $0) }
        var ins = [UInt16](repeating: 0, count: xs.count)
        lstm_f32_to_bf16_instruction(xs, &ins, xs.count)
        var mismatches = 0
        for (i, x) in xs.enumerated() where lstm_f32_to_bf16(x) != ins[i] {
            if mismatches < 5 {
                XCTFail("\(String(patterns[i], radix: 16)): ours \(lstm_f32_to_bf16(x)), the instruction's \(ins[i])")
            }
            mismatches += 1
        }
        XCTAssertEqual(mismatches, 0)
    }

    // MARK: - the GEMM against an emulation of VDPBF16PS

    /// C ← alpha·op(A)·op(B) + beta·C as the kernel defines it: operands rounded to bf16; per element,
    /// in K blocks of LSTM_GEMM_KC, an accumulator from +0 to which each k pair (2q, 2q + 1), the odd
    /// k padded with zeros, adds the odd product and then the even one, each exact product added with
    /// one rounding to nearest even in float32 and a denormal sum flushed to a zero of its sign
    /// (VDPBF16PS; a product flushed before the sum would give +0 where the instruction gives -0); each
    /// block added to C in order, the first after C is scaled by beta.
    static func emulate(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: [Float], lda: Int, b: [Float],
        ldb: Int, beta: Float, c: inout [Float], ldc: Int
    ) {
        func bf(_ x: Float) -> Float { float(bf16: lstm_f32_to_bf16(x)) }
        // acc + x·y rounded once, a denormal result flushed: the product of two bf16 (8-bit
        // significands) is exact in Double, and so is its sum with a float at the exponents here.
        func fma(_ acc: Float, _ x: Float, _ y: Float) -> Float { flushed(Float(Double(acc) + Double(x) * Double(y))) }
        let kc = 256  // LSTM_GEMM_KC (gemm_internal.h)
        for i in 0..<m {
            for j in 0..<n {
                func av(_ p: Int) -> Float { bf(transA ? a[p * lda + i] : a[i * lda + p]) }
                func bv(_ p: Int) -> Float { bf(transB ? b[j * ldb + p] : b[p * ldb + j]) }
                for p0 in stride(from: 0, to: k, by: kc) {
                    let end = min(k, p0 + kc)
                    var acc: Float = 0
                    for p in stride(from: p0, to: end, by: 2) {
                        if p + 1 < end { acc = fma(acc, av(p + 1), bv(p + 1)) } else { acc = flushed(acc + 0) }
                        acc = fma(acc, av(p), bv(p))
                    }
                    let bt: Float = p0 == 0 ? beta : 1
                    var r = acc
                    if alpha != 1 { r *= alpha }
                    if bt == 0 {
                        c[i * ldc + j] = r
                    } else {
                        var old = c[i * ldc + j]
                        if bt != 1 { old *= bt }
                        c[i * ldc + j] = old + r
                    }
                }
            }
        }
    }

    struct Case: CustomStringConvertible {
        let m: Int, n: Int, k: Int
        var description: String { "m \(m) n \(n) k \(k)" }
    }

    /// The model's shapes in miniature and every edge: 1s, odd K (a padded pair), K across KC blocks,
    /// partial MR and NR tiles, an odd K block after full ones.
    static let cases: [Case] = [
        Case(m: 1, n: 1, k: 1), Case(m: 3, n: 5, k: 2), Case(m: 7, n: 33, k: 3), Case(m: 8, n: 32, k: 2),
        Case(m: 9, n: 31, k: 255), Case(m: 16, n: 64, k: 256), Case(m: 37, n: 65, k: 257), Case(m: 129, n: 40, k: 513),
        Case(m: 4, n: 128, k: 64), Case(m: 200, n: 48, k: 33)
    ]

    func values(_ count: Int, seed: UInt64, tiny: Bool = false) -> [Float] {
        var s = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<count).map { _ in
            s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let u = Float(UInt32(truncatingIfNeeded: s >> 40)) / Float(1 << 24) * 2 - 1
            // tiny: products near and below float32's smallest normal, so FTZ decides bits
            return tiny ? u * 3e-20 : u
        }
    }

    func check(
        _ c: Case, transA: Bool, transB: Bool, alpha: Float, beta: Float, tiny: Bool = false, seed: UInt64
    ) {
        let lda = (transA ? c.m : c.k) + 3
        let ldb = (transB ? c.k : c.n) + 5
        let ldc = c.n + 2
        let a = values((transA ? c.k : c.m) * lda, seed: seed, tiny: tiny)
        let b = values((transB ? c.n : c.k) * ldb, seed: seed + 1, tiny: tiny)
        let c0 = values(c.m * ldc, seed: seed + 2)
        var expected = c0
        Self.emulate(
            transA: transA, transB: transB, m: c.m, n: c.n, k: c.k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
            beta: beta, c: &expected, ldc: ldc)
        var got = c0
        lstm_sgemm(Self.kind, transA ? 1 : 0, transB ? 1 : 0, c.m, c.n, c.k, alpha, a, lda, b, ldb, beta, &got, ldc)
        let what = "\(c) transA \(transA) transB \(transB) alpha \(alpha) beta \(beta)\(tiny ? " tiny" : "")"
        XCTAssertEqual(got.map(\.bitPattern), expected.map(\.bitPattern), "lstm_sgemm bf16 \(what)")
        guard !transA else { return }
        // B packed once, then multiplied (the per-step path), and the row-group path (the step group).
        var packed = [Float](repeating: .nan, count: lstm_sgemm_packed_size(c.k, c.n))
        lstm_sgemm_pack_b(Self.kind, transB ? 1 : 0, c.k, c.n, b, ldb, &packed)
        var viaPacked = c0
        lstm_sgemm_packed(Self.kind, 0, c.m, c.n, c.k, alpha, a, lda, packed, beta, &viaPacked, ldc)
        XCTAssertEqual(viaPacked.map(\.bitPattern), expected.map(\.bitPattern), "lstm_sgemm_packed bf16 \(what)")
        guard alpha == 1 else { return }
        var viaRows = c0
        let split = c.m / 2
        a.withUnsafeBufferPointer { ap in
            viaRows.withUnsafeMutableBufferPointer { cp in
                let groups = [
                    lstm_gemm_rows(a: ap.baseAddress!, lda: lda, c: cp.baseAddress!, ldc: ldc, m: split),
                    lstm_gemm_rows(
                        a: ap.baseAddress! + split * lda, lda: lda, c: cp.baseAddress! + split * ldc, ldc: ldc,
                        m: c.m - split)
                ]
                for j0 in stride(from: 0, to: c.n, by: 32) {  // one column range per call, as a group's workers
                    lstm_sgemm_packed_rows(Self.kind, 2, groups, c.n, j0, j0 + 32, c.k, packed, beta)
                }
            }
        }
        XCTAssertEqual(viaRows.map(\.bitPattern), expected.map(\.bitPattern), "lstm_sgemm_packed_rows bf16 \(what)")
    }

    func testGEMMIsBitEqualToTheVDPBF16PSEmulationForEveryTransposeEdgeSizeAndOddK() throws {
        try requireBF16()
        for (i, c) in Self.cases.enumerated() {
            for transA in [false, true] {
                for transB in [false, true] {
                    check(c, transA: transA, transB: transB, alpha: 1, beta: 0, seed: UInt64(10 * i))
                    check(c, transA: transA, transB: transB, alpha: 1, beta: 1, seed: UInt64(10 * i + 3))
                }
            }
            check(c, transA: false, transB: true, alpha: 0.5, beta: 0.75, seed: UInt64(10 * i + 6))
        }
    }

    func testGEMMFlushesDenormalProductsAndSumsAsTheInstructionDoes() throws {
        try requireBF16()
        for c in [Case(m: 8, n: 32, k: 64), Case(m: 5, n: 17, k: 7)] {
            check(c, transA: false, transB: false, alpha: 1, beta: 0, tiny: true, seed: 77)
            check(c, transA: true, transB: true, alpha: 1, beta: 0, tiny: true, seed: 78)
        }
    }

    func testEachRowsBitsAreIndependentOfTheOtherRows() throws {
        try requireBF16()
        // The per-element order depends on k only: a row computed alone equals it computed among 70.
        let m = 70
        let n = 45
        let k = 301
        let a = values(m * k, seed: 5)
        let b = values(k * n, seed: 6)
        var all = [Float](repeating: 0, count: m * n)
        lstm_sgemm(Self.kind, 0, 1, m, n, k, 1, a, k, b, k, 0, &all, n)
        for row in [0, 7, 8, 69] {
            var one = [Float](repeating: 0, count: n)
            lstm_sgemm(Self.kind, 0, 1, 1, n, k, 1, Array(a[row * k..<(row + 1) * k]), k, b, k, 0, &one, n)
            XCTAssertEqual(one.map(\.bitPattern), all[row * n..<(row + 1) * n].map(\.bitPattern), "row \(row)")
        }
    }

    // MARK: - the network in bf16

    func testBF16GradientsAgreeWithFloat32WithinBF16Precision() throws {
        try XCTSkipIf(Precision.bf16.unsupportedReason != nil, Precision.bf16.unsupportedReason ?? "")
        let config = tinyConfig(input: .tokens(vocabulary: 11, embedding: 16), hidden: 48, layers: 2, output: 11)
        let params = ParameterSet<Double>(config: config, seed: 21).converted(to: Float.self)
        let batch = convert(randomBatch(config, batch: 6, steps: 9, seed: 22), to: Float.self)
        let net32 = try LSTMNetwork<Float>(config: config)
        var net16 = net32
        net16.precision = .bf16
        let f = lossAndGradient(net32, params, batch)
        let h = lossAndGradient(net16, params, batch)
        // bf16 keeps 8 significant bits (relative rounding ≤ 2⁻⁹ ≈ 0.2 % per operand): the loss within
        // 1 %, every gradient tensor within 5 % in norm, and not bitwise float32's (the bf16 path ran).
        XCTAssertLessThan(abs(h.loss - f.loss) / abs(f.loss), 0.01, "loss \(h.loss) vs \(f.loss)")
        var anyDifferent = false
        for e in params.layout.entries {
            let x = Array(h.grads.tensor(e.name)!)
            let y = Array(f.grads.tensor(e.name)!)
            var diff = 0.0
            var norm = 0.0
            for (u, v) in zip(x, y) {
                diff += Double(u - v) * Double(u - v)
                norm += Double(v) * Double(v)
            }
            let rel = (diff / max(norm, 1e-30)).squareRoot()
            XCTAssertLessThan(rel, 0.05, "\(e.name): relative difference \(rel)")
            anyDifferent = anyDifferent || x.map(\.bitPattern) != y.map(\.bitPattern)
            print("bf16 vs float32 gradient \(e.name): relative difference \(rel)")
        }
        XCTAssertTrue(anyDifferent, "bf16 gave float32's bits: the bf16 GEMMs did not run")
    }

    func testBF16IsRefusedWithAReasonWhereItCannotRunAndFloat32NeverIs() {
        XCTAssertNil(Precision.float32.unsupportedReason)
        let reason = Precision.bf16.unsupportedReason
        if lstm_gemm_supported(Self.kind) == 0 {
            XCTAssertEqual(reason?.contains("AVX512_BF16"), true, reason ?? "nil")
        } else if GEMMKernel.current != .avx512 {
            XCTAssertEqual(reason?.contains("lstm avx512"), true, reason ?? "nil")
        } else {
            XCTAssertNil(reason)
        }
        XCTAssertEqual(Precision.spellings["mixed_bfloat16"], .bf16)
        XCTAssertEqual(Precision.spellings["bfloat16"], .bf16)
        XCTAssertEqual(Precision.spellings["float32"], .float32)
    }
}
