import Dispatch

/// Throughput helpers shared by `lstm bench` and the benchmarks in Benchmarks/: one FLOP count,
/// one median and one sgemm ceiling, so every figure is computed the same way.

/// Training FLOPs per token (one sequence step of one sequence) of a stacked LSTM with an
/// output layer: 24·H·(I_k + H) per layer and direction (forward 8·H·(I_k + H), backward twice
/// that), where I_k is layer k's input width, plus 6·(D·H)·O for the output layer.
///
/// - Parameters:
///   - inputWidth: I_0, the feature width or the embedding width (the lookup is not counted).
///   - directions: D, 2 for bidirectional layers (whose outputs, and inputs above layer 0, are 2H wide).
public func flopsPerToken(inputWidth: Int, hidden: Int, layers: Int, output: Int, directions: Int = 1) -> Double {
    flopsPerToken(
        inputWidth: inputWidth, hiddenSizes: Array(repeating: hidden, count: layers), output: output,
        directions: directions)
}

/// The same count for layers of widths H_k: 24·H_k·(I_k + H_k) per layer and direction with
/// I_k = D·H_{k−1}, plus 6·(D·H_last)·O.
public func flopsPerToken(inputWidth: Int, hiddenSizes: [Int], output: Int, directions: Int = 1) -> Double {
    let d = Double(directions)
    var f = 6 * d * Double(hiddenSizes.last ?? 0) * Double(output)
    for (k, hk) in hiddenSizes.enumerated() {
        let h = Double(hk)
        let i = k == 0 ? Double(inputWidth) : d * Double(hiddenSizes[k - 1])
        f += d * 24 * h * (i + h)
    }
    return f
}

/// `flopsPerToken(inputWidth:hiddenSizes:output:directions:)` of a model.
public func flopsPerToken(_ config: ModelConfig) -> Double {
    flopsPerToken(
        inputWidth: config.inputWidth, hiddenSizes: config.hiddenSizes, output: config.outputSize,
        directions: config.directions)
}

/// The median of `xs` (the mean of the two middle values for an even count); NaN when empty.
public func median(_ xs: [Double]) -> Double {
    guard !xs.isEmpty else { return .nan }
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// A row-major sgemm C[m, n] = A[m, k]·B[k, n] (alpha 1, beta 0) on contiguous matrices: the
/// kernel `sgemmGFLOPs` times (OpenBLAS's, one of ours, or LSTMKit's dispatch).
public typealias SGEMMCall =
    @Sendable (
        _ m: Int, _ n: Int, _ k: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
        _ c: UnsafeMutablePointer<Float>
    ) -> Void

/// The sgemm ceiling: aggregate GFLOP/s of `parallel` concurrent m×n×k calls of `sgemm`, each on
/// matrices of its own (A filled with (i mod 7)/10, B with (i mod 5)/10), at whatever BLAS thread
/// count the caller set. A timed sample runs each call enough times back to back for
/// `flopsPerSample` FLOPs (at least once; 0: once); the figure is the median of `samples` samples
/// after one untimed warm-up sample. `lstm bench`, Benchmarks/TrainBench and Benchmarks/LSTMBench
/// all measure their ceilings with it.
public func sgemmGFLOPs(
    m: Int, n: Int, k: Int, parallel: Int = 1, samples: Int = 3, flopsPerSample: Double = 2e9,
    _ sgemm: SGEMMCall
) -> Double {
    precondition(m > 0 && n > 0 && k > 0 && parallel > 0 && samples > 0, "sgemmGFLOPs needs positive sizes")
    let mats = (0..<parallel).map { _ in
        CeilingMatrices(a: Buffer<Float>(count: m * k), b: Buffer<Float>(count: k * n), c: Buffer<Float>(count: m * n))
    }
    for x in mats {
        for i in 0..<(m * k) { x.a[i] = Float(i % 7) * 0.1 }
        for i in 0..<(k * n) { x.b[i] = Float(i % 5) * 0.1 }
    }
    let flops = 2 * Double(m) * Double(n) * Double(k)
    let inner = max(1, Int(flopsPerSample / flops))
    func run() {
        if parallel == 1 {
            for _ in 0..<inner { sgemm(m, n, k, mats[0].a.base, mats[0].b.base, mats[0].c.base) }
        } else {
            DispatchQueue.concurrentPerform(iterations: parallel) { p in
                let x = mats[p]
                for _ in 0..<inner { sgemm(m, n, k, x.a.base, x.b.base, x.c.base) }
            }
        }
    }
    run()
    let t = median(
        (0..<samples).map { _ in
            let t0 = DispatchTime.now().uptimeNanoseconds
            run()
            return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        })
    return flops * Double(inner * parallel) / t / 1e9
}

/// One call's matrices, handed to the thread that multiplies them (each thread touches only its own).
private struct CeilingMatrices: @unchecked Sendable {
    let a: Buffer<Float>, b: Buffer<Float>, c: Buffer<Float>
}
