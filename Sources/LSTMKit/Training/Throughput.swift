/// Throughput helpers shared by `lstm bench` and the benchmarks in Benchmarks/: one FLOP count
/// and one median, so every figure is computed the same way.

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
