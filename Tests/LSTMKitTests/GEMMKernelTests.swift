import Foundation
import XCTest

@testable import LSTMKit

/// Our sgemm kernels (Sources/CKernels) against a plain reference loop: every edge size, stride,
/// transpose and beta the model uses, exact on small integers; the packed-B path bit for bit equal
/// to the unpacked one; AVX2 and AVX-512 bit for bit equal; each row's bits independent of the rest.
final class GEMMKernelTests: XCTestCase {
    /// Our kernels this CPU runs (each test covers every one; OpenBLAS is not ours to test).
    var kernels: [GEMMKernel] { [.avx2, .avx512].filter(\.isSupported) }

    func requireKernels() throws {
        try XCTSkipIf(kernels.isEmpty, "this CPU runs none of our kernels (no AVX2+FMA); Float uses OpenBLAS")
    }

    /// Row-major storage of a rows × cols matrix with row stride ld (≥ cols), padding NaN so a read
    /// outside the matrix poisons the result.
    struct Stored {
        var values: [Float]
        let rows: Int, cols: Int, ld: Int
        init(rows: Int, cols: Int, ld: Int, _ value: (Int, Int) -> Float) {
            self.rows = rows
            self.cols = cols
            self.ld = ld
            values = [Float](repeating: .nan, count: max(1, rows * ld))
            for r in 0..<rows { for c in 0..<cols { values[r * ld + c] = value(r, c) } }
        }
        subscript(r: Int, c: Int) -> Float { values[r * ld + c] }
    }

    /// C ← op(A)·op(B) + beta·C by the textbook loop in Double (exact for small integers).
    func reference(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, a: Stored, b: Stored, beta: Float, c: Stored
    ) -> Stored {
        var out = c
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k {
                    s += Double(transA ? a[p, i] : a[i, p]) * Double(transB ? b[j, p] : b[p, j])
                }
                out.values[i * c.ld + j] = beta == 0 ? Float(s) : Float(Double(beta) * Double(c[i, j]) + s)
            }
        }
        return out
    }

    /// Runs `kernel` (packed: B packed first, A not transposed) on copies of the operands.
    func run(
        _ kernel: GEMMKernel, packed: Bool = false, transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        a: Stored, b: Stored, beta: Float, c: Stored
    ) -> Stored {
        var out = c
        a.values.withUnsafeBufferPointer { ap in
            b.values.withUnsafeBufferPointer { bp in
                out.values.withUnsafeMutableBufferPointer { cp in
                    if packed {
                        let count = kernel.packedCount(k: k, n: n)
                        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: max(1, count))
                        defer { buffer.deallocate() }
                        kernel.packB(transB: transB, k: k, n: n, b: bp.baseAddress!, ldb: b.ld, into: buffer)
                        kernel.sgemmPacked(
                            m: m, n: n, k: k, a: ap.baseAddress!, lda: a.ld, packed: buffer, beta: beta,
                            c: cp.baseAddress!, ldc: c.ld)
                    } else {
                        kernel.sgemm(
                            transA: transA, transB: transB, m: m, n: n, k: k, alpha: 1, a: ap.baseAddress!,
                            lda: a.ld, b: bp.baseAddress!, ldb: b.ld, beta: beta, c: cp.baseAddress!, ldc: c.ld)
                    }
                }
            }
        }
        return out
    }

    /// Operands for op(A) m×k, op(B) k×n, C m×n with padded strides, filled by `value`.
    func operands(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, _ value: () -> Float
    ) -> (a: Stored, b: Stored, c: Stored) {
        let a =
            transA
            ? Stored(rows: k, cols: m, ld: m + 3) { _, _ in value() }
            : Stored(rows: m, cols: k, ld: k + 3) { _, _ in value() }
        let b =
            transB
            ? Stored(rows: n, cols: k, ld: k + 5) { _, _ in value() }
            : Stored(rows: k, cols: n, ld: n + 5) { _, _ in value() }
        let c = Stored(rows: m, cols: n, ld: n + 2) { _, _ in value() }
        return (a, b, c)
    }

    func assertSameBits(
        _ x: Stored, _ y: Stored, _ what: @autoclosure () -> String, file: StaticString = #filePath, line: UInt = #line
    ) {
        for r in 0..<x.rows {
            for c in 0..<x.cols where x[r, c].bitPattern != y[r, c].bitPattern {
                XCTFail("\(what()): C[\(r), \(c)] = \(x[r, c]), expected \(y[r, c])", file: file, line: line)
                return
            }
        }
    }

    /// One exact case on small integers: op(A)·op(B) + beta·C against the loop bit for bit, the padding
    /// between C's rows untouched, and (A not transposed) the packed-B path the same.
    func checkExact(
        _ kernel: GEMMKernel, m: Int, n: Int, k: Int, transA: Bool, transB: Bool, beta: Float,
        _ rng: inout RandomSource
    ) {
        let (a, b, c0) = operands(transA: transA, transB: transB, m: m, n: n, k: k) { Float(rng.index(below: 7)) - 3 }
        // beta = 0 must not read C: NaN there would show.
        let c = beta == 0 ? Stored(rows: m, cols: n, ld: n + 2) { _, _ in .nan } : c0
        let want = reference(transA: transA, transB: transB, m: m, n: n, k: k, a: a, b: b, beta: beta, c: c)
        let got = run(kernel, transA: transA, transB: transB, m: m, n: n, k: k, a: a, b: b, beta: beta, c: c)
        assertSameBits(got, want, "\(kernel) m\(m) n\(n) k\(k) transA \(transA) transB \(transB) beta \(beta)")
        for r in 0..<m {
            for p in n..<c.ld where r * c.ld + p < c.values.count {
                XCTAssertTrue(got.values[r * c.ld + p].isNaN, "\(kernel) wrote past row \(r) of C")
            }
        }
        if !transA {
            let packed = run(
                kernel, packed: true, transA: false, transB: transB, m: m, n: n, k: k, a: a, b: b, beta: beta, c: c)
            assertSameBits(packed, want, "\(kernel) packed m\(m) n\(n) k\(k) transB \(transB) beta \(beta)")
        }
    }

    func testKernelsMatchThePlainLoopExactlyOnSmallIntegersAtEveryEdgeSize() throws {
        try requireKernels()
        var rng = RandomSource(seed: 7)
        let sizes = [1, 7, 15, 16, 17, 33]
        for kernel in kernels {
            for m in sizes {
                for n in sizes {
                    // 300: two K blocks (for a few m, n: the reference loop is slow in debug builds)
                    for k in sizes + ([1, 17, 33].contains(m) && [1, 17, 33].contains(n) ? [300] : []) {
                        for (transA, transB) in [(false, false), (false, true), (true, false), (true, true)] {
                            for beta: Float in [0, 1] {
                                checkExact(
                                    kernel, m: m, n: n, k: k, transA: transA, transB: transB, beta: beta, &rng)
                            }
                        }
                    }
                }
            }
        }
    }

    /// Sizes around the packing's 8×8 transposes, its 16-column steps for a transposed A, the row
    /// block (MC: 128 rows for AVX-512, 120 for AVX2) and the prefetching of the next A block, B
    /// sliver and C tile (taken from 8 tiles per row block on): exact on small integers.
    func testPackingAtTransposeAndBlockBoundariesMatchesThePlainLoopExactly() throws {
        try requireKernels()
        var rng = RandomSource(seed: 11)
        let shapes = [(64, 40, 8), (129, 40, 24), (136, 33, 263), (57, 71, 16), (121, 9, 41)]
        for kernel in kernels {
            for (m, n, k) in shapes {
                for (transA, transB) in [(false, false), (false, true), (true, false), (true, true)] {
                    for beta: Float in [0, 1] {
                        let (a, b, c0) = operands(transA: transA, transB: transB, m: m, n: n, k: k) {
                            Float(rng.index(below: 7)) - 3
                        }
                        let c = beta == 0 ? Stored(rows: m, cols: n, ld: n + 2) { _, _ in .nan } : c0
                        let want = reference(
                            transA: transA, transB: transB, m: m, n: n, k: k, a: a, b: b, beta: beta, c: c)
                        let got = run(
                            kernel, transA: transA, transB: transB, m: m, n: n, k: k, a: a, b: b, beta: beta, c: c)
                        assertSameBits(
                            got, want, "\(kernel) m\(m) n\(n) k\(k) transA \(transA) transB \(transB) beta \(beta)")
                        if !transA {
                            let packed = run(
                                kernel, packed: true, transA: false, transB: transB, m: m, n: n, k: k, a: a, b: b,
                                beta: beta, c: c)
                            assertSameBits(packed, want, "\(kernel) packed m\(m) n\(n) k\(k) transB \(transB)")
                        }
                    }
                }
            }
        }
    }

    func testPackedBIsBitwiseTheUnpackedGEMMAndCloseToTheLoopOnRandomFloats() throws {
        try requireKernels()
        var rng = RandomSource(seed: 8)
        for kernel in kernels {
            // The per-step shapes, (B, H)·Rᵀ and (B, 4H)·R, small, with k past several K blocks.
            for (m, n, k, transB) in [
                (16, 320, 300, true), (8, 96, 600, false), (13, 100, 777, true), (5, 40, 10, false)
            ] {
                let (a, b, c) = operands(transA: false, transB: transB, m: m, n: n, k: k) { Float(rng.normal()) }
                let plain = run(kernel, transA: false, transB: transB, m: m, n: n, k: k, a: a, b: b, beta: 1, c: c)
                let packed = run(
                    kernel, packed: true, transA: false, transB: transB, m: m, n: n, k: k, a: a, b: b, beta: 1, c: c)
                assertSameBits(packed, plain, "\(kernel) packed vs unpacked m\(m) n\(n) k\(k)")
                let want = reference(transA: false, transB: transB, m: m, n: n, k: k, a: a, b: b, beta: 1, c: c)
                var worst = 0.0
                for i in 0..<m { for j in 0..<n { worst = max(worst, Double(abs(plain[i, j] - want[i, j]))) } }
                XCTAssertLessThan(worst, 1e-5 * Double(k), "\(kernel) m\(m) n\(n) k\(k): worst |error| \(worst)")
            }
        }
    }

    func testAVX2AndAVX512GiveTheSameBits() throws {
        try XCTSkipUnless(GEMMKernel.avx512.isSupported, "this CPU has no AVX-512: nothing to compare AVX2 with")
        var rng = RandomSource(seed: 9)
        for (transA, transB) in [(false, false), (false, true), (true, false), (true, true)] {
            let (m, n, k) = (37, 70, 600)
            let (a, b, c) = operands(transA: transA, transB: transB, m: m, n: n, k: k) { Float(rng.normal()) }
            let wide = run(.avx512, transA: transA, transB: transB, m: m, n: n, k: k, a: a, b: b, beta: 1, c: c)
            let narrow = run(.avx2, transA: transA, transB: transB, m: m, n: n, k: k, a: a, b: b, beta: 1, c: c)
            assertSameBits(wide, narrow, "avx512 vs avx2, transA \(transA) transB \(transB)")
        }
    }

    /// AVX-512 runs an 8×48 tile from n = 1024 on (gemm_avx512_wide.c) where `wideTiles` (set here
    /// whatever this CPU's L1d), packed B or not: exact against the loop on small integers at its
    /// column edges (1024 = 21 tiles + 16, 1041, 1055 = 21 tiles + 47), and bit for bit the AVX2
    /// kernel's result (16-column tiles) on random floats. Without `wideTiles`, 8×32 at every n.
    func testTheWideTileIsExactAndGivesTheNarrowTilesBits() throws {
        try XCTSkipUnless(GEMMKernel.avx512.isSupported, "this CPU has no AVX-512: no wide tile")
        let policy = GEMMKernel.wideTiles
        defer { GEMMKernel.wideTiles = policy }
        GEMMKernel.wideTiles = false
        XCTAssertEqual(GEMMKernel.avx512.tileColumns(n: 4096), 32)
        GEMMKernel.wideTiles = true
        XCTAssertEqual(GEMMKernel.avx512.tileColumns(n: 1023), 32)
        XCTAssertEqual(GEMMKernel.avx512.tileColumns(n: 1024), 48)
        XCTAssertEqual(GEMMKernel.avx2.tileColumns(n: 4096), 16)
        var rng = RandomSource(seed: 12)
        for (m, n, k) in [(9, 1024, 300), (3, 1041, 17), (17, 1055, 5)] {
            for (transA, transB) in [(false, false), (false, true), (true, false), (true, true)] {
                for beta: Float in [0, 1] {
                    checkExact(.avx512, m: m, n: n, k: k, transA: transA, transB: transB, beta: beta, &rng)
                }
            }
        }
        if GEMMKernel.avx2.isSupported {
            let (m, n, k) = (130, 1100, 600)
            for (transA, transB) in [(false, false), (false, true), (true, false), (true, true)] {
                let (a, b, c) = operands(transA: transA, transB: transB, m: m, n: n, k: k) { Float(rng.normal()) }
                let wide = run(.avx512, transA: transA, transB: transB, m: m, n: n, k: k, a: a, b: b, beta: 1, c: c)
                let narrow = run(.avx2, transA: transA, transB: transB, m: m, n: n, k: k, a: a, b: b, beta: 1, c: c)
                assertSameBits(wide, narrow, "wide avx512 vs avx2, transA \(transA) transB \(transB)")
            }
        }
    }

    /// What makes results independent of shards' neighbours: a row of C has the same bits whether
    /// computed alone or inside a taller product (any row blocking, any tile position).
    func testEachRowHasTheSameBitsAloneOrInATallerProduct() throws {
        try requireKernels()
        var rng = RandomSource(seed: 10)
        for kernel in kernels {
            let (m, n, k) = (300, 45, 520)
            for transA in [false, true] {
                let (a, b, c) = operands(transA: transA, transB: true, m: m, n: n, k: k) { Float(rng.normal()) }
                let all = run(kernel, transA: transA, transB: true, m: m, n: n, k: k, a: a, b: b, beta: 1, c: c)
                for row in [0, 7, 8, 129, 299] {
                    // Row `row` alone: op(A) 1×k taken out of A, C 1×n.
                    let a1 = Stored(rows: 1, cols: k, ld: k) { _, p in transA ? a[p, row] : a[row, p] }
                    let c1 = Stored(rows: 1, cols: n, ld: n) { _, j in c[row, j] }
                    let one = run(kernel, transA: false, transB: true, m: 1, n: n, k: k, a: a1, b: b, beta: 1, c: c1)
                    for j in 0..<n where one[0, j].bitPattern != all[row, j].bitPattern {
                        XCTFail("\(kernel) transA \(transA): row \(row) col \(j) alone \(one[0, j]) vs \(all[row, j])")
                        break
                    }
                }
            }
        }
    }

    func testTheProcessKernelIsAVX512WhereTheCPUHasItUnlessLSTMGEMMSaysOtherwise() {
        if ProcessInfo.processInfo.environment["LSTM_GEMM"] == nil {
            XCTAssertEqual(GEMMKernel.current, GEMMKernel.avx512.isSupported ? .avx512 : .openblas)
        }
        // Float's workspaces plan a packed R exactly when Float runs one of our kernels.
        let ws = Workspace<Float>(
            config: ModelConfig(input: .features(size: 3), hiddenSize: 20, outputSize: 2, loss: .mse), maxBatch: 4,
            maxSteps: 2)
        XCTAssertEqual(ws.packedR.count > 0, GEMMKernel.current != .openblas)
        XCTAssertEqual(Workspace<Double>(config: ws.config, maxBatch: 4, maxSteps: 2).packedR.count, 0)
    }
}
