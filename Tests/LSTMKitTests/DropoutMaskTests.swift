import XCTest

@testable import LSTMKit

/// The dropout masks are the uniform draws below p: the integer threshold the hot loop compares
/// with gives exactly the masks of `RandomSource.nextUnit() < p`.
final class DropoutMaskTests: XCTestCase {
    static let probabilities = [0.1, 1.0 / 3, 0.25, 0.5, 0.9, 0.000_001, 0.999_999]

    /// Around the threshold, u < cut exactly when u·2⁻⁵³ < p (as nextUnit() computes it).
    func testTheIntegerThresholdDropsExactlyTheDrawsBelowP() {
        for p in Self.probabilities + [(0.1).nextUp, (0.1).nextDown, 0x1p-53, 3 * 0x1p-53] {
            let cut = dropoutCut(p)
            for u in (cut >= 3 ? cut - 3 : 0)...(cut + 3) {
                XCTAssertEqual(u < cut, Double(u) * 0x1p-53 < p, "p = \(p), u = \(u), cut = \(cut)")
            }
        }
        XCTAssertEqual(dropoutCut(0), 0, "p = 0 drops nothing")
    }

    /// A training forward pass leaves, in every dropout slot, the masks drawn with nextUnit() < p
    /// per sequence (0, or 1/(1 − p) for a kept value), on widths that are not multiples of 8.
    func testForwardMasksAreTheUniformDrawsBelowP() throws {
        for p in [0.1, 1.0 / 3, 0.5] {
            let config = tinyConfig(
                input: .features(size: 5), hidden: 7, layers: 3, output: 3, loss: .crossEntropy, dropout: p)
            let net = try LSTMNetwork<Float>(config: config)
            let params = ParameterSet<Float>(config: config, seed: 3)
            let (b, t) = (4, 6)
            let batch = convert(randomBatch(config, batch: b, steps: t, seed: 4), to: Float.self)
            let ws = Workspace<Float>(config: config, maxBatch: b, maxSteps: t)
            let ctx = DropoutContext(seed: 11, step: 5)
            _ = batch.withView { net.forward(params, $0, workspace: ws, dropout: ctx) }
            var dropped = 0
            for slot in 1...config.numLayers {
                let mask = ws.dropMask[slot]!.base
                let w = 7
                for r in 0..<b {
                    var rng = RandomSource(seed: net.dropoutSeed(ctx, slot: slot, sequence: r))
                    for s in 0..<t {
                        for j in 0..<w {
                            let expected: Float = rng.nextUnit() < p ? 0 : Float(1 / (1 - p))
                            let got = mask[(s * b + r) * w + j]
                            XCTAssertEqual(got, expected, "p \(p), slot \(slot), sequence \(r), step \(s), unit \(j)")
                            if got == 0 { dropped += 1 }
                        }
                    }
                }
            }
            XCTAssertGreaterThan(dropped, 0, "p = \(p) dropped nothing")
        }
    }
}
