import LSTMKit
import XCTest

/// `forgetGateBias` (the config's `forget_bias`): where the forget-gate block sits in the arena.
final class InitializationTests: XCTestCase {
    /// Every layer's bias is [4H] in gate order i, f, g, o: with the option on, block 1 (f) is
    /// exactly 1 and every other value in the arena is what the same seed gives without it.
    func testForgetGateBiasSetsBlockOneOfEveryBiasToOneAndNothingElse() throws {
        for initialization in [Initialization.pytorch, .xavier, .orthogonal] {
            var config = tinyConfig(hidden: 3, layers: 2, initialization: initialization, bidirectional: true)
            let plain = ParameterSet<Double>(config: config, seed: 5)
            config.forgetGateBias = true
            let withBias = ParameterSet<Double>(config: config, seed: 5)
            let h = config.hiddenSize
            var forgetIndices = Set<Int>()
            for k in 0..<config.numLayers {
                for d in 0..<config.directions {
                    let entry = try XCTUnwrap(
                        withBias.layout.entry("lstm.bias_\(ParameterLayout.suffix(layer: k, direction: d))"))
                    XCTAssertEqual(entry.shape, [4 * h])
                    forgetIndices.formUnion((entry.offset + h)..<(entry.offset + 2 * h))
                }
            }
            XCTAssertEqual(forgetIndices.count, config.numLayers * config.directions * h)
            var expected = plain.storage.toArray()
            for i in forgetIndices { expected[i] = 1 }
            XCTAssertEqual(withBias.storage.toArray(), expected, "\(initialization)")
        }
    }

    /// Without the option PyTorch's init draws every bias, the f block included, from U(−1/√H, 1/√H).
    func testWithoutForgetGateBiasPyTorchInitDrawsTheForgetBlockLikeTheOthers() throws {
        let config = tinyConfig(hidden: 4, layers: 1)
        XCTAssertFalse(config.forgetGateBias, "off by default")
        let params = ParameterSet<Double>(config: config, seed: 5)
        let bias = Array(try XCTUnwrap(params.tensor("lstm.bias_l0")))
        let bound = 1 / Double(config.hiddenSize).squareRoot()
        XCTAssertTrue(bias.allSatisfy { abs($0) <= bound }, "\(bias)")
        let forget = bias[4..<8]
        XCTAssertEqual(Set(forget).count, 4, "four distinct draws, not a constant: \(forget)")
    }
}
