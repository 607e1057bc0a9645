import Foundation
import XCTest

@testable import LSTMKit

/// The largest error seen so far, NaN-safe: once a NaN is added it stays NaN, so `value <= bound` fails.
private struct Worst {
    var value = 0.0
    var at = 0.0

    mutating func add(_ e: Double, at x: Double) {
        if value.isNaN { return }
        if e.isNaN || e > value { (value, at) = (e, x) }
    }
}

/// |f − ref| in units of the Float ulp at ref (ulp of the largest finite Float past the range);
/// NaN unless both are NaN, infinite if exactly one is.
private func ulps(_ f: Float, _ ref: Double) -> Double {
    if f.isNaN || ref.isNaN { return f.isNaN && ref.isNaN ? 0 : .nan }
    if Double(f) == ref { return 0 }
    let r = Float(ref)
    let u = r.isFinite ? r.ulp : Float.greatestFiniteMagnitude.ulp
    return abs(Double(f) - ref) / Double(u)
}

/// Bitwise equality with NaN == NaN (any payload): the SIMD kernels must reproduce the scalar ones.
private func sameBits(_ a: Float, _ b: Float) -> Bool { a.isNaN ? b.isNaN : a.bitPattern == b.bitPattern }

/// Applies an eight-lane kernel to `xs` in chunks of eight (the last chunk padded with zeros).
private func lanes(_ xs: [Float], _ f: (F8) -> F8) -> [Float] {
    var out = [Float]()
    out.reserveCapacity(xs.count + 8)
    var i = 0
    while i < xs.count {
        var v = F8(repeating: 0)
        for l in 0..<8 where i + l < xs.count { v[l] = xs[i + l] }
        let r = f(v)
        for l in 0..<8 where i + l < xs.count { out.append(r[l]) }
        i += 8
    }
    return out
}

final class KernelTests: XCTestCase {
    // MARK: - exp, sigmoid, tanh

    /// A dense sweep of [-20, 20], the exp domain up to its clamps, ±0, tiny and subnormal values.
    private var sweep: [Float] {
        var xs: [Float] = []
        var x: Float = -20
        while x <= 20 {
            xs.append(x)
            x += 0.000_37
        }
        var y = -87.0
        while y <= 88.5 {
            xs.append(Float(y))
            y += 0.0113
        }
        for t: Float in [
            0, 1e-30, 1e-38, Float.leastNonzeroMagnitude, Float.leastNormalMagnitude, Float(bitPattern: 0x0000_0800),
            1e-7, 0.2499, 0.25, 0.2501
        ] {
            xs.append(t)
            xs.append(-t)
        }
        return xs
    }

    /// Scalar and SIMD exp against libm's Double exp, and the SIMD lanes bitwise equal to the scalar.
    func testExpUlpAndSaturation() {
        let xs = sweep
        let v = lanes(xs) { simdExp($0) }
        var worst = Worst()
        var mismatches = 0
        for (x, s) in zip(xs, v) {
            let f = Float.exp(x)
            if !sameBits(f, s) { mismatches += 1 }
            worst.add(ulps(f, Foundation.exp(Double(x))), at: Double(x))
        }
        print("exp: worst \(worst.value) ulp at x = \(worst.at) over \(xs.count) points")
        XCTAssertEqual(mismatches, 0, "simdExp differs from Float.exp")
        XCTAssertLessThanOrEqual(worst.value, 1)  // measured 0.94 ulp
        // Saturation: clamped to [-87.3, 88.7], so finite, positive and monotone at the ends.
        let big: [Float] = [88.7, 90, 1e30, .infinity]
        let small: [Float] = [-87.3, -90, -1e30, -.infinity]
        let sb = lanes(big + small) { simdExp($0) }
        for (x, s) in zip(big + small, sb) {
            let f = Float.exp(x)
            XCTAssertTrue(sameBits(f, s), "simd exp(\(x))")
            XCTAssertTrue(f.isFinite && f > 0, "exp(\(x)) = \(f)")
        }
        XCTAssertGreaterThan(Float.exp(90), 3e38)
        XCTAssertLessThan(Float.exp(-90), 1.3e-38)
        XCTAssertTrue(Float.exp(.nan).isNaN)
        XCTAssertTrue(lanes([.nan]) { simdExp($0) }[0].isNaN)
    }

    /// Scalar and SIMD tanh against libm's Double tanh (relative, so near 0 too), bitwise equal lanes.
    func testTanhUlpAndSaturation() {
        let xs = sweep + [90, -90, 1e30, -1e30, .infinity, -.infinity]
        let v = lanes(xs) { simdTanh($0) }
        var worst = Worst()
        var mismatches = 0
        for (x, s) in zip(xs, v) {
            let f = Float.tanh(x)
            if !sameBits(f, s) { mismatches += 1 }
            worst.add(ulps(f, Foundation.tanh(Double(x))), at: Double(x))
        }
        print("tanh: worst \(worst.value) ulp at x = \(worst.at) over \(xs.count) points")
        XCTAssertEqual(mismatches, 0, "simdTanh differs from Float.tanh")
        XCTAssertLessThanOrEqual(worst.value, 2.5)  // measured: tanh 2.02, sigmoid 2.34 ulp
        for x: Float in [20, 90, 1e30, .infinity] {
            XCTAssertEqual(Float.tanh(x), 1)
            XCTAssertEqual(Float.tanh(-x), -1)
        }
        XCTAssertEqual(Float.tanh(-0.0).sign, .minus, "tanh(−0) = −0")
        XCTAssertEqual(Float.tanh(1e-30), 1e-30)
        XCTAssertEqual(Float.tanh(Float.leastNonzeroMagnitude), Float.leastNonzeroMagnitude)
        XCTAssertTrue(Float.tanh(.nan).isNaN)
        XCTAssertTrue(lanes([.nan]) { simdTanh($0) }[0].isNaN)
    }

    /// Scalar and SIMD σ against 1 / (1 + e^−x) in Double; below x = −87.3 exp's clamp makes σ
    /// a tiny constant (≈ 3e-39) instead of ≈ e^x, so the ulp bound holds on [-87, 88.5].
    func testSigmoidUlpAndSaturation() {
        let xs = sweep
        let v = lanes(xs) { simdSigmoid($0) }
        var worst = Worst()
        var mismatches = 0
        for (x, s) in zip(xs, v) {
            let f = Float.sigmoid(x)
            if !sameBits(f, s) { mismatches += 1 }
            worst.add(ulps(f, 1 / (1 + Foundation.exp(-Double(x)))), at: Double(x))
        }
        print("sigmoid: worst \(worst.value) ulp at x = \(worst.at) over \(xs.count) points")
        XCTAssertEqual(mismatches, 0, "simdSigmoid differs from Float.sigmoid")
        XCTAssertLessThanOrEqual(worst.value, 2.5)  // measured: tanh 2.02, sigmoid 2.34 ulp
        for x: Float in [20, 90, 1e30, .infinity] {
            XCTAssertEqual(Float.sigmoid(x), 1)
            let lo = Float.sigmoid(-x)
            XCTAssertTrue(lo >= 0 && lo < 3e-9, "σ(−\(x)) = \(lo)")
        }
        XCTAssertEqual(Float.sigmoid(0), 0.5)
        XCTAssertEqual(Float.sigmoid(-0.0), 0.5)
        XCTAssertTrue(Float.sigmoid(.nan).isNaN)
    }

    // MARK: - LSTM cell

    private func randomFloats(_ n: Int, _ rng: inout RandomSource, scale: Double = 2) -> [Float] {
        (0..<n).map { _ in Float(rng.normal() * scale) }
    }

    /// Asserts bitwise equality, counting mismatches (a NaN on one side only is a mismatch).
    private func assertSameBits(
        _ a: [Float], _ b: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        var bad = 0
        var first = -1
        for k in 0..<Swift.min(a.count, b.count) where !sameBits(a[k], b[k]) {
            bad += 1
            if first < 0 { first = k }
        }
        XCTAssertEqual(bad, 0, "\(what): \(bad) elements differ, first at \(first)", file: file, line: line)
    }

    func testCellForwardSIMDMatchesReferenceBitwise() {
        var rng = RandomSource(seed: 21)
        for h in [1, 7, 8, 17, 24] {
            for b in [1, 3] {
                let g = 4 * h
                let gates = randomFloats(b * g, &rng)
                let bias = randomFloats(g, &rng, scale: 0.5)
                let cPrev = randomFloats(b * h, &rng)
                func run(_ simd: Bool) -> [[Float]] {
                    var a = gates
                    var bs = bias
                    var cp = cPrev
                    var cn = [Float](repeating: .nan, count: b * h)
                    var hn = cn
                    var tc = cn
                    a.withUnsafeMutableBufferPointer { a in
                        bs.withUnsafeMutableBufferPointer { bs in
                            cp.withUnsafeMutableBufferPointer { cp in
                                cn.withUnsafeMutableBufferPointer { cn in
                                    hn.withUnsafeMutableBufferPointer { hn in
                                        tc.withUnsafeMutableBufferPointer { tc in
                                            if simd {
                                                Float.lstmCellForward(
                                                    gates: a.baseAddress!, bias: bs.baseAddress!,
                                                    cPrev: cp.baseAddress!,
                                                    cNext: cn.baseAddress!, hNext: hn.baseAddress!,
                                                    tanhC: tc.baseAddress!,
                                                    batch: b, hidden: h)
                                            } else {
                                                LSTMLayer.cellForwardReference(
                                                    gates: a.baseAddress!, bias: bs.baseAddress!,
                                                    cPrev: cp.baseAddress!,
                                                    cNext: cn.baseAddress!, hNext: hn.baseAddress!,
                                                    tanhC: tc.baseAddress!,
                                                    batch: b, hidden: h)
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    return [a, cn, hn, tc]
                }
                let fast = run(true)
                let ref = run(false)
                for (k, name) in ["gates", "c", "h", "tanh c"].enumerated() {
                    assertSameBits(fast[k], ref[k], "forward \(name) H=\(h) B=\(b)")
                }
            }
        }
    }

    func testCellBackwardSIMDMatchesReferenceBitwise() {
        var rng = RandomSource(seed: 22)
        for h in [1, 7, 8, 17, 24] {
            for b in [1, 3] {
                let g = 4 * h
                // Gate values in their ranges: σ in (0, 1), tanh in (−1, 1).
                var gates = [Float](repeating: 0, count: b * g)
                for r in 0..<b {
                    for j in 0..<h {
                        gates[r * g + j] = Float(rng.nextUnit())
                        gates[r * g + h + j] = Float(rng.nextUnit())
                        gates[r * g + 2 * h + j] = Float(rng.uniform(-1, 1))
                        gates[r * g + 3 * h + j] = Float(rng.nextUnit())
                    }
                }
                let cPrev = randomFloats(b * h, &rng)
                let tanhC = randomFloats(b * h, &rng).map { Float.tanh($0) }
                let dH = randomFloats(b * h, &rng)
                let carry = randomFloats(b * h, &rng)
                func run(_ simd: Bool) -> [[Float]] {
                    var a = gates
                    var cp = cPrev
                    var tc = tanhC
                    var dh = dH
                    var dcc = carry
                    var dg = [Float](repeating: .nan, count: b * g)
                    a.withUnsafeMutableBufferPointer { a in
                        cp.withUnsafeMutableBufferPointer { cp in
                            tc.withUnsafeMutableBufferPointer { tc in
                                dh.withUnsafeMutableBufferPointer { dh in
                                    dcc.withUnsafeMutableBufferPointer { dcc in
                                        dg.withUnsafeMutableBufferPointer { dg in
                                            if simd {
                                                Float.lstmCellBackward(
                                                    gates: a.baseAddress!, cPrev: cp.baseAddress!,
                                                    tanhC: tc.baseAddress!,
                                                    dH: dh.baseAddress!, dcCarry: dcc.baseAddress!,
                                                    dGates: dg.baseAddress!,
                                                    batch: b, hidden: h)
                                            } else {
                                                LSTMLayer.cellBackwardReference(
                                                    gates: a.baseAddress!, cPrev: cp.baseAddress!,
                                                    tanhC: tc.baseAddress!,
                                                    dH: dh.baseAddress!, dcCarry: dcc.baseAddress!,
                                                    dGates: dg.baseAddress!,
                                                    batch: b, hidden: h)
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    return [dg, dcc]
                }
                let fast = run(true)
                let ref = run(false)
                assertSameBits(fast[0], ref[0], "backward dGates H=\(h) B=\(b)")
                assertSameBits(fast[1], ref[1], "backward dcCarry H=\(h) B=\(b)")
            }
        }
    }

    // MARK: - Output layer

    /// The fused Float softmax + cross-entropy pass against the reference row loop (Float) and
    /// against Double, with padded rows masked out of loss and gradient.
    func testFusedSoftmaxCrossEntropyMatchesReference() {
        var rng = RandomSource(seed: 23)
        let b = 3
        let t = 4
        let n = b * t
        let hid = 5
        let lengths = [4, 2, 1]
        let rows = PredictionRows(batch: b, steps: t, lengths: lengths)
        var worstY = Worst()
        var worstLoss = Worst()
        var worstLossD = Worst()
        var fastYD = Worst()
        var refYD = Worst()
        var tinyY = Worst()
        for o in [2, 7, 8, 17, 65] {
            let w = randomFloats(o * hid, &rng, scale: 1.5)
            let bias = randomFloats(o, &rng, scale: 0.5)
            var hIn = randomFloats(n * hid, &rng)
            for j in 0..<hid { hIn[5 * hid + j] = 40 * hIn[5 * hid + j] }  // one row of large logits
            let ids = (0..<n).map { _ in Int32(rng.index(below: o)) }
            let scale = 1 / Float(7)
            func run<T: LSTMScalar>(_: T.Type, fused: Bool) -> (z: [T], y: [T], dz: [T], loss: Double) {
                let wB = Buffer<T>(count: o * hid)
                let bB = Buffer<T>(count: o)
                let hB = Buffer<T>(count: n * hid)
                wB.copy(from: w.map { T($0) })
                bB.copy(from: bias.map { T($0) })
                hB.copy(from: hIn.map { T($0) })
                let z = Buffer<T>(count: n * o)
                let y = Buffer<T>(count: n * o)
                let dz = Buffer<T>(count: n * o)
                dz.copy(from: [T](repeating: .nan, count: n * o))
                let zM = Matrix(z.base, rows: n, cols: o)
                let yM = Matrix(y.base, rows: n, cols: o)
                return ids.withUnsafeBufferPointer { idp in
                    var loss = 0.0
                    let wM = Matrix(wB.base, rows: o, cols: hid)
                    let hM = Matrix(hB.base, rows: n, cols: hid)
                    if fused {
                        loss = OutputLayer.forward(
                            weight: wM, bias: bB.base, h: hM, z: zM, y: yM, activation: .softmax,
                            classes: idp, rows: rows)
                        OutputLayer.lossGradient(
                            y: yM, dz: Matrix(dz.base, rows: n, cols: o), loss: .crossEntropy,
                            activation: .softmax, targets: .classes(idp), rows: rows, normalizer: 7)
                    } else {  // the reference row by row, by hand
                        gemm(hM, wM, transposeB: true, into: zM)
                        for r in 0..<n {
                            let valid = rows.isValid(r)
                            let k = valid ? Int(idp[rows.target(r)]) : -1
                            loss += OutputLayer.softmaxRowReference(
                                z: z.base + r * o, bias: bB.base, y: y.base + r * o, count: o, target: k)
                            let dr = dz.base + r * o
                            if valid {
                                OutputLayer.scaledDifferenceReference(
                                    y.base + r * o, nil, scale: T(scale), into: dr, count: o)
                                dr[k] -= T(scale)
                            } else {
                                dr.update(repeating: 0, count: o)
                            }
                        }
                    }
                    return (z.toArray(), y.toArray(), dz.toArray(), loss)
                }
            }
            let fast = run(Float.self, fused: true)
            let ref = run(Float.self, fused: false)
            let dbl = run(Double.self, fused: false)
            // The exact softmax (in Double) of the very logits both Float paths saw.
            var exact = [Double](repeating: 0, count: n * o)
            for r in 0..<n {
                let zr = (0..<o).map { Double(fast.z[r * o + $0]) }
                let mx = zr.max() ?? 0
                let s = zr.reduce(0) { $0 + Foundation.exp($1 - mx) }
                for j in 0..<o { exact[r * o + j] = Foundation.exp(zr[j] - mx) / s }
            }
            assertSameBits(fast.z, ref.z, "logits O=\(o)")
            for k in 0..<(n * o) {
                worstY.add(ulps(fast.y[k], Double(ref.y[k])), at: Double(o))
                // Ulps where y is a normal Float; below e^−87.3 exp's clamp gives ≈ 1e-38, not ≈ 0.
                if exact[k] >= 1e-30 {
                    fastYD.add(ulps(fast.y[k], exact[k]), at: Double(o))
                    refYD.add(ulps(ref.y[k], exact[k]), at: Double(o))
                } else {
                    tinyY.add(abs(Double(fast.y[k]) - exact[k]), at: Double(o))
                }
            }
            worstLoss.add(abs(fast.loss - ref.loss) / abs(ref.loss), at: Double(o))
            worstLossD.add(abs(fast.loss - dbl.loss) / abs(dbl.loss), at: Double(o))
            // The gradient from the same y is bitwise the reference's; padding rows are zero.
            let dzFromFastY: [Float] = (0..<n).flatMap { r -> [Float] in
                guard rows.isValid(r) else { return [Float](repeating: 0, count: o) }
                var d = (0..<o).map { fast.y[r * o + $0] * scale }
                d[Int(ids[rows.target(r)])] -= scale
                return d
            }
            assertSameBits(fast.dz, dzFromFastY, "softmax-CE gradient O=\(o)")
            let relDz = relativeError(fast.dz.map(Double.init), ref.dz.map(Double.init))
            XCTAssertLessThanOrEqual(relDz, 1e-6, "gradient vs reference O=\(o)")
            // The unfused loss pass (valid rows only, Double from the logits) is the reference's loss
            // bitwise, and masked rows are out of both.
            let zB = Buffer<Float>(count: n * o)
            zB.copy(from: fast.z)
            let zM = Matrix(zB.base, rows: n, cols: o)
            let unfused = ids.withUnsafeBufferPointer {
                OutputLayer.lossSum(z: zM, y: zM, loss: .crossEntropy, targets: .classes($0), rows: rows)
            }
            XCTAssertEqual(unfused.bitPattern, ref.loss.bitPattern, "lossSum vs softmaxRowReference O=\(o)")
            XCTAssertEqual((0..<n).filter { rows.isValid($0) }.count, lengths.reduce(0, +))
        }
        print(
            "softmax: y vs exact softmax of the same logits: fast \(fastYD.value) ulp, reference \(refYD.value) ulp, tiny y abs \(tinyY.value)"
        )
        print(
            "softmax: y worst \(worstY.value) ulp; loss rel err vs Float ref \(worstLoss.value), vs Double \(worstLossD.value)"
        )
        XCTAssertLessThanOrEqual(worstY.value, 16)  // lane-wise vs sequential Σe: measured 9 ulp at O = 65
        // Both Float paths round z − max; e^(z − max) magnifies that by |z − max| (≈ 60 in the
        // large-logit row): measured 32 ulp fast, 38 ulp reference. The fast path is no worse.
        XCTAssertLessThanOrEqual(fastYD.value, 48)
        XCTAssertLessThanOrEqual(fastYD.value, refYD.value + 8)
        XCTAssertLessThanOrEqual(tinyY.value, 2e-37)
        XCTAssertLessThanOrEqual(worstLoss.value, 1e-6)
        XCTAssertLessThanOrEqual(worstLossD.value, 1e-5)
    }

    /// The vectorised BCE gradient (y − t)·scale is bitwise the reference loop, tail included.
    func testScaledDifferenceMatchesReferenceBitwise() {
        var rng = RandomSource(seed: 24)
        for o in [1, 7, 8, 17] {
            var y = randomFloats(o, &rng)
            var t = randomFloats(o, &rng)
            var a = [Float](repeating: .nan, count: o)
            var r = a
            y.withUnsafeMutableBufferPointer { y in
                t.withUnsafeMutableBufferPointer { t in
                    a.withUnsafeMutableBufferPointer { a in
                        r.withUnsafeMutableBufferPointer { r in
                            Float.lstmScaledDifference(
                                y.baseAddress!, t.baseAddress!, scale: 0.3, into: a.baseAddress!, count: o)
                            OutputLayer.scaledDifferenceReference(
                                y.baseAddress!, UnsafePointer(t.baseAddress!), scale: Float(0.3), into: r.baseAddress!,
                                count: o)
                        }
                    }
                }
            }
            assertSameBits(a, r, "scaled difference O=\(o)")
        }
    }
}
