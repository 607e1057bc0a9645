import LSTMKit
import XCTest

/// Central differences in Double against the backward pass (eqs. 8–25), for every parameter
/// tensor and the input, over layers × heads × input kinds × the loss/F pairs used in practice.
final class GradientCheckTests: XCTestCase {
    static let tolerance = 1e-6

    /// Checks every parameter (and the input, for features) of `config` on a random minibatch.
    func check(
        _ config: ModelConfig, batch b: Int = 3, steps t: Int = 4, seed: UInt64 = 7,
        initialState: Bool = false, lengths: [Int32]? = nil, dropout: DropoutContext? = nil,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let net = try LSTMNetwork<Double>(config: config)
        let params = ParameterSet<Double>(config: config, seed: seed)
        var batch = randomBatch(config, batch: b, steps: t, seed: seed &+ 1)
        batch.lengths = lengths
        var state: LSTMState<Double>?
        if initialState {
            var rng = RandomSource(seed: seed &+ 2)
            let slots = config.numLayers * config.directions
            let n = { (slot: Int) in b * config.hiddenSize(slot / config.directions) }  // B·H_k
            state = LSTMState(
                h: (0..<slots).map { (0..<n($0)).map { _ in rng.uniform(-0.5, 0.5) } },
                c: (0..<slots).map { (0..<n($0)).map { _ in rng.uniform(-1, 1) } })
        }
        let isFeatures = { if case .features = config.input { return true } else { return false } }()
        let analytic = lossAndGradient(
            net, params, batch, initialState: state, inputGradient: isFeatures, dropout: dropout)
        let numeric = CentralDifferences(
            network: net, parameters: params, batch: batch, initialState: state, dropout: dropout)
        XCTAssertEqual(numeric.epsilon, 1e-5)
        var worst = 0.0
        defer {
            print(
                "gradcheck \(config.input) L=\(config.numLayers) D=\(config.directions) \(config.head) "
                    + "\(config.loss)+\(config.activation) dropout=\(dropout != nil ? config.dropout : 0) "
                    + "lengths=\(lengths ?? []): max relative error \(worst)")
        }

        for entry in params.layout.entries {
            let g = analytic.grads.tensor(entry.name)!
            let n = numeric.parameterGradient(entry.name)
            XCTAssertEqual(n.count, entry.count)
            let err = relativeError(Array(g), n)
            worst = maxKeepingNaN(worst, err)
            XCTAssertLessThan(err, Self.tolerance, "\(entry.name) \(entry.shape)", file: file, line: line)
            XCTAssertGreaterThan(
                n.map(abs).max() ?? 0, 0, "\(entry.name) has no gradient at all",
                file: file, line: line)
        }

        if isFeatures, case .features(let x) = batch.inputs {
            let n = numeric.inputGradient()
            XCTAssertEqual(n.count, x.count)
            let err = relativeError(analytic.inputGrad!, n)
            worst = maxKeepingNaN(worst, err)
            XCTAssertLessThan(err, Self.tolerance, "input", file: file, line: line)
        }
    }

    /// A NaN (or ∞) anywhere in an analytic gradient must fail the comparison, not vanish in a max:
    /// `relativeError` is then NaN, which no tolerance passes.
    func testANaNGradientIsCaughtByTheComparison() throws {
        let config = tinyConfig(layers: 1, head: .sequence, loss: .crossEntropy)
        let net = try LSTMNetwork<Double>(config: config)
        let params = ParameterSet<Double>(config: config, seed: 3)
        let good = Array(
            lossAndGradient(net, params, randomBatch(config, batch: 2, steps: 3, seed: 4)).grads.storage.toArray())
        XCTAssertEqual(relativeError(good, good), 0)
        for position in [0, good.count / 2, good.count - 1] {
            var bad = good
            bad[position] = .nan
            XCTAssertTrue(relativeError(bad, good).isNaN, "NaN at \(position) in the first argument")
            XCTAssertTrue(relativeError(good, bad).isNaN, "NaN at \(position) in the second argument")
            XCTAssertFalse(relativeError(bad, good) < Self.tolerance)
            bad[position] = -.infinity
            XCTAssertTrue(relativeError(bad, good).isNaN, "−∞ at \(position)")
            XCTAssertFalse(relativeError(bad, good) <= Self.tolerance)
        }
        XCTAssertTrue(maxKeepingNaN(0, .nan).isNaN)
        XCTAssertTrue(maxKeepingNaN(.nan, 1).isNaN)
        XCTAssertEqual(maxKeepingNaN(1, 2), 2)
    }

    /// `relativeError`'s rule, which every comparison of the tests and `lstm gradcheck` relies on.
    func testRelativeErrorIsTheLargestDifferenceOverTheScaleAndNaNForAnyBrokenValue() {
        XCTAssertEqual(relativeError([1, 2], [1, 2.5]), 0.5 / 2.5, accuracy: 1e-15)
        XCTAssertEqual(relativeError([1, -4], [1, -2] as [Double]), 0.5)
        XCTAssertEqual(relativeError([Float(1), 3], [1, 2]), 1.0 / 3)
        XCTAssertEqual(relativeError([0, 0], [0, 0] as [Double]), 0)
        XCTAssertEqual(relativeError([0, 1e-9], [0, 0] as [Double]), 1, "the larger side sets the scale")
        XCTAssertEqual(
            relativeError([0, 1e-9], [0, 0] as [Double], scale: .reference), 1e-9, "a zero scale: the difference itself"
        )
        // The reference scale divides by b alone.
        XCTAssertEqual(relativeError([1, 4], [1, 2] as [Double], scale: .reference), 1)
        XCTAssertEqual(relativeError([1, 4], [1, 2] as [Double], scale: .larger), 0.5)
        // NaN anywhere, an infinity on one side only, or lengths that differ: NaN.
        XCTAssertTrue(relativeError([1, .nan, 3], [1, 2, 3] as [Double]).isNaN)
        XCTAssertTrue(relativeError([1, 2, 3], [1, 2, .nan] as [Double]).isNaN)
        XCTAssertTrue(relativeError([.nan], [.nan] as [Double]).isNaN)
        XCTAssertTrue(relativeError([.infinity], [1] as [Double]).isNaN)
        XCTAssertTrue(relativeError([1], [-.infinity] as [Double], scale: .reference).isNaN)
        XCTAssertTrue(relativeError([.infinity], [-.infinity] as [Double]).isNaN)
        XCTAssertTrue(relativeError([1, 2], [1] as [Double]).isNaN)
        // Equal on both sides, infinities included: agreement.
        XCTAssertEqual(relativeError([.infinity, 0], [.infinity, 0] as [Double]), 0)
        XCTAssertEqual(relativeError([.infinity, 2], [.infinity, 1] as [Double]), 0.5)
    }

    func testCrossEntropySoftmaxSequenceHeadTwoLayersFeatures() throws {
        try check(tinyConfig(layers: 2, head: .sequence, loss: .crossEntropy))
    }

    func testCrossEntropySoftmaxLastHeadThreeLayersFeatures() throws {
        try check(tinyConfig(layers: 3, head: .last, loss: .crossEntropy))
    }

    func testCrossEntropySoftmaxSequenceHeadTokens() throws {
        try check(tinyConfig(input: .tokens(vocabulary: 5, embedding: 3), layers: 2, output: 5, loss: .crossEntropy))
    }

    func testMSEIdentityLastHeadTwoLayersFeatures() throws {
        try check(tinyConfig(layers: 2, output: 2, head: .last, loss: .mse))
    }

    func testMSEIdentitySequenceHeadOneLayerFeatures() throws {
        try check(tinyConfig(layers: 1, output: 2, head: .sequence, loss: .mse))
    }

    func testMSETanhSequenceHeadTwoLayersTokens() throws {
        try check(
            tinyConfig(
                input: .tokens(vocabulary: 4, embedding: 2), layers: 2, output: 2,
                activation: .tanh, head: .sequence, loss: .mse))
    }

    func testMSETanhLastHeadFeatures() throws {
        try check(tinyConfig(layers: 2, output: 2, activation: .tanh, head: .last, loss: .mse))
    }

    func testBCESigmoidSequenceHeadTwoLayersFeatures() throws {
        try check(tinyConfig(layers: 2, output: 3, head: .sequence, loss: .bce))
    }

    func testBCESigmoidLastHeadTwoLayersTokens() throws {
        try check(
            tinyConfig(input: .tokens(vocabulary: 6, embedding: 3), layers: 2, output: 2, head: .last, loss: .bce))
    }

    func testMSESigmoidAndMSESoftmaxUseTheJacobianOfF() throws {
        try check(tinyConfig(layers: 1, output: 3, activation: .sigmoid, head: .sequence, loss: .mse))
        try check(tinyConfig(layers: 1, output: 3, activation: .softmax, head: .last, loss: .mse))
    }

    func testNonzeroInitialStateIsDifferentiatedThrough() throws {
        try check(tinyConfig(layers: 2, head: .sequence, loss: .crossEntropy), initialState: true)
    }

    func testXavierAndOrthogonalInitialisationsCheckToo() throws {
        try check(tinyConfig(layers: 2, head: .last, loss: .mse, initialization: .orthogonal))
        try check(tinyConfig(layers: 1, head: .sequence, loss: .crossEntropy, initialization: .xavier))
    }

    // MARK: - Bidirectional layers, dropout, variable lengths

    func testBidirectionalSequenceHeadTwoLayersFeatures() throws {
        try check(tinyConfig(layers: 2, head: .sequence, loss: .crossEntropy, bidirectional: true))
    }

    func testBidirectionalLastHeadTokensWithInitialState() throws {
        try check(
            tinyConfig(
                input: .tokens(vocabulary: 5, embedding: 3), layers: 2, output: 2, head: .last,
                loss: .mse, bidirectional: true), initialState: true)
    }

    func testDropoutMasksAreDifferentiatedThrough() throws {
        let ctx = DropoutContext(seed: 99, step: 3)
        try check(tinyConfig(layers: 3, head: .sequence, loss: .crossEntropy, dropout: 0.3), dropout: ctx)
        try check(
            tinyConfig(layers: 2, output: 2, head: .last, loss: .bce, bidirectional: true, dropout: 0.4),
            dropout: ctx)
    }

    func testVariableLengthsSequenceAndLastHeads() throws {
        try check(tinyConfig(layers: 2, head: .sequence, loss: .crossEntropy), steps: 5, lengths: [5, 2, 3])
        try check(tinyConfig(layers: 2, output: 2, head: .last, loss: .mse), steps: 5, lengths: [1, 5, 3])
    }

    func testVariableLengthsBidirectionalWithDropout() throws {
        try check(
            tinyConfig(layers: 2, head: .sequence, loss: .crossEntropy, bidirectional: true, dropout: 0.25),
            steps: 5, lengths: [4, 5, 2], dropout: DropoutContext(seed: 5, step: 0))
        try check(
            tinyConfig(
                input: .tokens(vocabulary: 6, embedding: 2), layers: 2, output: 3, head: .last,
                loss: .crossEntropy, bidirectional: true), steps: 5, lengths: [3, 1, 5])
    }

    // MARK: - Per-layer widths, PyTorch's two biases

    /// `config` with layer k `widths[k]` wide.
    func withWidths(_ config: ModelConfig, _ widths: [Int]) -> ModelConfig {
        var c = config
        c.hiddenSizes = widths
        return c
    }

    func testPerLayerWidthsFiveThree() throws {
        try check(withWidths(tinyConfig(layers: 2, head: .sequence, loss: .crossEntropy), [5, 3]))
        try check(withWidths(tinyConfig(layers: 2, output: 2, head: .last, loss: .mse), [5, 3]), initialState: true)
        try check(
            withWidths(
                tinyConfig(input: .tokens(vocabulary: 5, embedding: 3), layers: 3, output: 5, loss: .crossEntropy),
                [2, 5, 3]))
    }

    func testPerLayerWidthsBidirectionalWithDropoutAndLengths() throws {
        try check(
            withWidths(tinyConfig(layers: 2, head: .sequence, loss: .crossEntropy, bidirectional: true), [5, 3]),
            initialState: true)
        try check(
            withWidths(
                tinyConfig(layers: 2, output: 2, head: .last, loss: .mse, bidirectional: true, dropout: 0.3), [3, 5]),
            steps: 5, lengths: [4, 5, 2], dropout: DropoutContext(seed: 5, step: 1))
    }

    func testPyTorchTwoBiasFormChecksBothBiases() throws {
        var c = tinyConfig(layers: 2, head: .sequence, loss: .crossEntropy)
        c.bias = .pytorch
        try check(c)
        let names = ParameterLayout(c).entries.map(\.name)
        XCTAssertTrue(names.contains("lstm.bias_ih_l1") && names.contains("lstm.bias_hh_l1"), "\(names)")
        XCTAssertFalse(names.contains("lstm.bias_l0"), "\(names)")
        var d = withWidths(tinyConfig(layers: 2, output: 2, head: .last, loss: .mse, bidirectional: true), [5, 3])
        d.bias = .pytorch
        try check(d, initialState: true)
        // Both vectors of a block get one and the same gradient δb.
        let net = try LSTMNetwork<Double>(config: d)
        let params = ParameterSet<Double>(config: d, seed: 5)
        let grads = lossAndGradient(net, params, randomBatch(d, batch: 3, steps: 4, seed: 6)).grads
        for sfx in ["l0", "l0_reverse", "l1", "l1_reverse"] {
            let ih = Array(grads.tensor("lstm.bias_ih_\(sfx)")!)
            XCTAssertEqual(ih, Array(grads.tensor("lstm.bias_hh_\(sfx)")!), sfx)
            XCTAssertGreaterThan(ih.map(abs).max()!, 0, sfx)
        }
    }
}
