import Foundation
import LSTMKit
import XCTest

final class PrecisionTests: XCTestCase {
    /// Float (fast SIMD exp/tanh, sgemm) against Double (libm, dgemm) on the same weights and data.
    func compareFloatWithDouble(_ config: ModelConfig, file: StaticString = #filePath, line: UInt = #line) throws {
        let pd = ParameterSet<Double>(config: config, seed: 11)
        let pf = pd.converted(to: Float.self)
        let bd = randomBatch(config, batch: 5, steps: 6, seed: 12)
        let d = lossAndGradient(try LSTMNetwork<Double>(config: config), pd, bd)
        let f = lossAndGradient(try LSTMNetwork<Float>(config: config), pf, convert(bd, to: Float.self))
        let outErr = relativeError(f.outputs.map(Double.init), d.outputs)
        XCTAssertLessThan(outErr, 1e-5, "forward outputs", file: file, line: line)
        XCTAssertLessThan(abs(d.loss - f.loss) / abs(d.loss), 1e-5, "loss", file: file, line: line)
        var worstGrad = 0.0
        for e in pd.layout.entries {
            let err = relativeError(Array(f.grads.tensor(e.name)!).map(Double.init), Array(d.grads.tensor(e.name)!))
            worstGrad = maxKeepingNaN(worstGrad, err)
            XCTAssertLessThan(err, 1e-3, e.name, file: file, line: line)
        }
        print(
            "float vs double \(config.loss)+\(config.activation) \(config.head): outputs \(outErr), worst gradient \(worstGrad)"
        )
    }

    func testFloatAgreesWithDoubleForCrossEntropyTokens() throws {
        try compareFloatWithDouble(
            tinyConfig(input: .tokens(vocabulary: 7, embedding: 5), hidden: 8, layers: 2, output: 7))
    }

    func testFloatAgreesWithDoubleForMSELastHead() throws {
        try compareFloatWithDouble(
            tinyConfig(input: .features(size: 4), hidden: 8, layers: 2, output: 2, head: .last, loss: .mse))
    }

    func testFloatAgreesWithDoubleForBCEAndTanh() throws {
        try compareFloatWithDouble(tinyConfig(hidden: 6, layers: 1, output: 3, loss: .bce))
        try compareFloatWithDouble(tinyConfig(hidden: 6, layers: 3, output: 3, activation: .tanh, loss: .mse))
    }

    /// The Float kernels on their own, against libm over the range gates see.
    func testFastFloatExpTanhSigmoidAreAccurate() {
        var worst = (exp: 0.0, tanh: 0.0, sigmoid: 0.0)
        var x: Float = -30
        while x <= 30 {
            let xd = Double(x)
            worst.exp = maxKeepingNaN(worst.exp, abs(Double(Float.exp(x)) - Foundation.exp(xd)) / Foundation.exp(xd))
            worst.tanh = maxKeepingNaN(
                worst.tanh, abs(Double(Float.tanh(x)) - Foundation.tanh(xd)) / max(abs(Foundation.tanh(xd)), 1e-30))
            let s = 1 / (1 + Foundation.exp(-xd))
            worst.sigmoid = maxKeepingNaN(worst.sigmoid, abs(Double(Float.sigmoid(x)) - s) / s)
            x += 0.00137
        }
        XCTAssertLessThan(worst.exp, 4e-7)
        XCTAssertLessThan(worst.tanh, 4e-7)
        XCTAssertLessThan(worst.sigmoid, 4e-7)
        XCTAssertEqual(Float.tanh(0), 0)
        XCTAssertEqual(Float.exp(-200), 0, accuracy: 1e-37)
        XCTAssertFalse(Float.exp(200).isNaN)
    }
}

final class ShardingPropertyTests: XCTestCase {
    /// The data-parallel scheduler's premise: per-sequence gradients, each computed alone and
    /// summed, times 1/B, equal the batched gradient of the mean loss.
    func sumOfPerSequenceGradientsEqualsBatchGradient(_ config: ModelConfig) throws {
        let net = try LSTMNetwork<Double>(config: config)
        let params = ParameterSet<Double>(config: config, seed: 3)
        let b = 4
        let t = 5
        let batch = randomBatch(config, batch: b, steps: t, seed: 4)
        let whole = lossAndGradient(net, params, batch).grads

        let sum = ParameterSet<Double>(config: config)
        let ws = Workspace<Double>(config: config, maxBatch: 1, maxSteps: t)
        batch.withView { view in
            for r in 0..<b {
                let one = ParameterSet<Double>(config: config)
                net.lossAndGradient(params, view.rows(r..<(r + 1)), workspace: ws, into: one)
                for i in 0..<sum.count { sum.storage[i] += one.storage[i] }
            }
        }
        let scaled = sum.storage.toArray().map { $0 / Double(b) }
        XCTAssertLessThan(relativeError(scaled, whole.storage.toArray()), 1e-12)

        // Shards passing the whole minibatch's count as normalizer sum to the gradient directly.
        let shards = ParameterSet<Double>(config: config)
        let wsShard = Workspace<Double>(config: config, maxBatch: 3, maxSteps: t)
        let total = net.targetCount(batch: b, steps: t)
        batch.withView { view in
            for range in [0..<3, 3..<4] {
                net.lossAndGradient(params, view.rows(range), workspace: wsShard, into: shards, normalizer: total)
            }
        }
        XCTAssertLessThan(relativeError(shards.storage.toArray(), whole.storage.toArray()), 1e-12)
    }

    func testPerSequenceGradientsSumToBatchGradientSequenceHead() throws {
        try sumOfPerSequenceGradientsEqualsBatchGradient(tinyConfig(layers: 2, loss: .crossEntropy))
    }

    func testPerSequenceGradientsSumToBatchGradientLastHeadTokens() throws {
        try sumOfPerSequenceGradientsEqualsBatchGradient(
            tinyConfig(input: .tokens(vocabulary: 5, embedding: 3), layers: 2, output: 2, head: .last, loss: .mse))
    }

    /// The final state of one call fed as the initial state of the next equals one long pass.
    func testCarriedStateContinuesTheSequence() throws {
        let config = tinyConfig(layers: 2, output: 2, loss: .mse)
        let net = try LSTMNetwork<Double>(config: config)
        let params = ParameterSet<Double>(config: config, seed: 5)
        let long = randomBatch(config, batch: 2, steps: 6, seed: 6)
        guard case .features(let x) = long.inputs else { return XCTFail() }
        let ws = Workspace<Double>(config: config, maxBatch: 2, maxSteps: 6)
        _ = long.withView { net.forward(params, $0, workspace: ws) }
        let full = ws.outputs()  // [2, 6, 2]
        let i = 3
        func half(_ s: Range<Int>) -> Minibatch<Double> {
            var xs: [Double] = []
            for b in 0..<2 {
                for t in s {
                    let start: Int = (b * 6 + t) * i
                    xs += x[start..<(start + i)]
                }
            }
            return Minibatch(batchSize: 2, steps: s.count, inputs: .features(xs), targets: nil)
        }
        _ = half(0..<3).withView { net.forward(params, $0, workspace: ws) }
        let first = ws.outputs()
        let state = ws.finalState()
        _ = half(3..<6).withView { net.forward(params, $0, workspace: ws, initialState: state) }
        let second = ws.outputs()
        for b in 0..<2 {
            for t in 0..<6 {
                for j in 0..<2 {
                    let got = t < 3 ? first[(b * 3 + t) * 2 + j] : second[(b * 3 + t - 3) * 2 + j]
                    XCTAssertEqual(got, full[(b * 6 + t) * 2 + j], accuracy: 1e-14)
                }
            }
        }
    }
}
