import XCTest

@testable import LSTMKit

/// The C cell kernels (Sources/CKernels/cell_*.c) against the Swift SIMD8 kernels, bit for bit, on
/// every width class (below, at and across the 8- and 16-lane boundaries) and on extreme inputs.
final class CellKernelTests: XCTestCase {
    var cKernels: [CellKernel] { [.avx2, .avx512].filter(\.isSupported) }

    private let extremes: [Float] = [100, -100, 1e-8, -1e-8, 0, -0.0, .nan, 88, -88, 0.25, -0.25, 1e30, -1e30]

    /// Random values in ±4 with about one in five replaced by an extreme value (±100, ±1e-8, ±0, NaN…).
    private func inputs(_ n: Int, _ rng: inout RandomSource) -> [Float] {
        (0..<n).map { _ in
            rng.nextUnit() < 0.2
                ? extremes[Int(rng.nextUnit() * Double(extremes.count)) % extremes.count]
                : Float(rng.uniform(-4, 4))
        }
    }

    private func assertSameBits(_ a: [Float], _ b: [Float], _ what: String, line: UInt = #line) {
        var bad = 0
        var first = -1
        for k in a.indices where a[k].isNaN ? !b[k].isNaN : a[k].bitPattern != b[k].bitPattern {
            bad += 1
            if first < 0 { first = k }
        }
        XCTAssertEqual(
            bad, 0,
            "\(what): \(bad) of \(a.count) differ, first at \(first): \(first < 0 ? 0 : a[first]) vs "
                + "\(first < 0 ? 0 : b[first])", line: line)
    }

    private let widths = [1, 7, 8, 15, 16, 17, 33, 100]

    func testCForwardCellMatchesSwiftSIMD8Bitwise() throws {
        try XCTSkipIf(cKernels.isEmpty, "this CPU has neither AVX2 nor AVX-512: no C cell kernel to compare")
        var rng = RandomSource(seed: 31)
        for h in widths {
            for b in 1...5 {
                let gates = inputs(b * 4 * h, &rng)
                let bias = inputs(4 * h, &rng)
                let cPrev = inputs(b * h, &rng)
                func run(_ kind: CellKernel) -> [[Float]] {
                    var a = gates
                    var bs = bias
                    var cp = cPrev
                    // Sentinels one past each row block: a masked tail must not write beyond it.
                    var cn = [Float](repeating: 7, count: b * h + 16)
                    var hn = cn
                    var tc = cn
                    a.append(contentsOf: [Float](repeating: 7, count: 16))
                    a.withUnsafeMutableBufferPointer { a in
                        bs.withUnsafeMutableBufferPointer { bs in
                            cp.withUnsafeMutableBufferPointer { cp in
                                cn.withUnsafeMutableBufferPointer { cn in
                                    hn.withUnsafeMutableBufferPointer { hn in
                                        tc.withUnsafeMutableBufferPointer { tc in
                                            kind.forward(
                                                gates: a.baseAddress!, bias: bs.baseAddress!, cPrev: cp.baseAddress!,
                                                cNext: cn.baseAddress!, hNext: hn.baseAddress!,
                                                tanhC: tc.baseAddress!, batch: b, hidden: h)
                                        }
                                    }
                                }
                            }
                        }
                    }
                    return [a, cn, hn, tc]
                }
                let ref = run(.swift)
                for kind in cKernels {
                    let got = run(kind)
                    for (k, name) in ["gates", "c", "h", "tanh c"].enumerated() {
                        assertSameBits(got[k], ref[k], "\(kind) forward \(name) H=\(h) B=\(b)")
                    }
                }
            }
        }
    }

    func testCBackwardCellMatchesSwiftSIMD8Bitwise() throws {
        try XCTSkipIf(cKernels.isEmpty, "this CPU has neither AVX2 nor AVX-512: no C cell kernel to compare")
        var rng = RandomSource(seed: 32)
        for h in widths {
            for b in 1...5 {
                let gates = inputs(b * 4 * h, &rng)
                let cPrev = inputs(b * h, &rng)
                let tanhC = inputs(b * h, &rng)
                let dH = inputs(b * h, &rng)
                let carry = inputs(b * h, &rng)
                func run(_ kind: CellKernel) -> [[Float]] {
                    var a = gates
                    var cp = cPrev
                    var tc = tanhC
                    var dh = dH
                    var dcc = carry + [Float](repeating: 7, count: 16)
                    var dg = [Float](repeating: .nan, count: b * 4 * h + 16)
                    a.withUnsafeMutableBufferPointer { a in
                        cp.withUnsafeMutableBufferPointer { cp in
                            tc.withUnsafeMutableBufferPointer { tc in
                                dh.withUnsafeMutableBufferPointer { dh in
                                    dcc.withUnsafeMutableBufferPointer { dcc in
                                        dg.withUnsafeMutableBufferPointer { dg in
                                            kind.backward(
                                                gates: a.baseAddress!, cPrev: cp.baseAddress!, tanhC: tc.baseAddress!,
                                                dH: dh.baseAddress!, dcCarry: dcc.baseAddress!,
                                                dGates: dg.baseAddress!, batch: b, hidden: h)
                                        }
                                    }
                                }
                            }
                        }
                    }
                    return [dg, dcc]
                }
                let ref = run(.swift)
                for kind in cKernels {
                    let got = run(kind)
                    assertSameBits(got[0], ref[0], "\(kind) backward dGates H=\(h) B=\(b)")
                    assertSameBits(got[1], ref[1], "\(kind) backward dcCarry H=\(h) B=\(b)")
                }
            }
        }
    }

    /// Without LSTM_CELL the cell follows the GEMM: our AVX-512 GEMM brings the AVX-512 cell, OpenBLAS
    /// keeps the Swift one (the test runner sets neither variable).
    func testDefaultCellKernelFollowsTheGEMMKernel() throws {
        try XCTSkipIf(
            ProcessInfo.processInfo.environment["LSTM_CELL"] != nil
                || ProcessInfo.processInfo.environment["LSTM_GEMM"] != nil,
            "LSTM_CELL or LSTM_GEMM is set: the default is not in effect")
        let expected: CellKernel =
            switch GEMMKernel.current {
            case .avx512: .avx512
            case .avx2: .avx2
            case .openblas: .swift
            }
        XCTAssertEqual(CellKernel.current, expected)
        XCTAssertEqual(CellKernel.reason, "following the GEMM kernel")
    }
}
