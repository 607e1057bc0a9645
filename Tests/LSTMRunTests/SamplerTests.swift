import Foundation
import LSTMData
import LSTMIO
import LSTMKit
import LSTMRun
import XCTest

/// Softmax with temperature, top-k and seeded draws (torch-rnn's sample.lua), and the sampler's
/// refusals, on hand-made logits and a tiny untrained model.
final class SamplerTests: XCTestCase {
    let logits: [Double] = [0.5, 2.0, -1.0, 1.5, 0.0]

    func draws(_ options: SamplingOptions, count: Int = 200) -> [Int] {
        var rng = RandomSource(seed: options.seed)
        return (0..<count).map { _ in TokenSampling.choose(logits: logits, options: options, using: &rng) }
    }

    func testProbabilitiesAreTheSoftmaxOfLogitsOverTemperature() {
        let p = TokenSampling.probabilities(logits: logits, temperature: 2)
        let e = logits.map { exp($0 / 2) }
        let sum = e.reduce(0, +)
        for (a, b) in zip(p, e.map { $0 / sum }) { XCTAssertEqual(a, b, accuracy: 1e-15) }
    }

    func testLowTemperatureTendsToArgmaxAndHighTemperatureToUniform() {
        let cold = TokenSampling.probabilities(logits: logits, temperature: 1e-3)
        XCTAssertEqual(cold[1], 1, accuracy: 1e-12, "all mass on the argmax (index 1)")
        XCTAssertEqual(Set(draws(SamplingOptions(temperature: 1e-3, seed: 5))), [1])
        let hot = TokenSampling.probabilities(logits: logits, temperature: 1e6)
        for p in hot { XCTAssertEqual(p, 0.2, accuracy: 1e-5) }
        XCTAssertEqual(Set(draws(SamplingOptions(temperature: 1e6, seed: 5))).count, 5, "every token is drawn")
    }

    func testTopKRestrictsTheSupportToTheKLargestLogits() {
        let p = TokenSampling.probabilities(logits: logits, temperature: 1, topK: 2)
        XCTAssertEqual(p.indices.filter { p[$0] > 0 }, [1, 3])
        XCTAssertEqual(p[1] + p[3], 1, accuracy: 1e-15)
        XCTAssertEqual(p[1] / p[3], exp(2.0 - 1.5), accuracy: 1e-12, "renormalised, ratios kept")
        XCTAssertEqual(Set(draws(SamplingOptions(temperature: 5, topK: 2, seed: 9))), [1, 3])
    }

    func testTheSameSeedDrawsTheSameTokensAndAnotherSeedOthers() {
        XCTAssertEqual(draws(SamplingOptions(seed: 42)), draws(SamplingOptions(seed: 42)))
        XCTAssertNotEqual(draws(SamplingOptions(seed: 42)), draws(SamplingOptions(seed: 43)))
    }

    func testArgmaxTakesTheLargestLogitAndConsumesNoRandomness() {
        var rng = RandomSource(seed: 1)
        let before = rng
        XCTAssertEqual(TokenSampling.choose(logits: logits, options: SamplingOptions(argmax: true), using: &rng), 1)
        XCTAssertEqual(rng, before)
    }

    func testInvalidOptionsAreRefused() {
        XCTAssertThrowsError(try SamplingOptions(temperature: 0).validate()) {
            XCTAssertTrue("\($0)".contains("--temperature must be > 0"), "\($0)")
        }
        XCTAssertThrowsError(try SamplingOptions(topK: 0).validate())
    }

    // MARK: - TextSampler on a tiny model

    func model(_ config: ModelConfig) throws -> InferenceModel {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lstm-sampler-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("m.h5").path
        try Checkpoint(parameters: ParameterSet<Float>(config: config, seed: 3), optimizer: nil).save(to: path)
        return try InferenceModel.load(path)
    }

    let vocabulary = ["a", "b", "c", " "]

    func testGenerateIsDeterministicAndStartsWithThePrimer() throws {
        let m = try model(
            ModelConfig(
                input: .tokens(vocabulary: 4, embedding: 3), hiddenSize: 5, outputSize: 4,
                loss: .crossEntropy))
        let sampler = try TextSampler(model: m, vocabulary: vocabulary)
        let a = try sampler.generate(primer: "ab c", length: 30, options: SamplingOptions(seed: 7))
        XCTAssertEqual(a, try sampler.generate(primer: "ab c", length: 30, options: SamplingOptions(seed: 7)))
        XCTAssertTrue(a.hasPrefix("ab c"))
        XCTAssertEqual(a.count, 34)
        XCTAssertTrue(a.allSatisfy { vocabulary.contains(String($0)) })
        var streamed = ""
        _ = try sampler.generate(primer: "a", length: 5, options: SamplingOptions(seed: 2)) { streamed += $0 }
        XCTAssertEqual(streamed.count, 5)
        XCTAssertThrowsError(try sampler.tokens(of: "abd")) {
            XCTAssertTrue("\($0)".contains("'d' at position 2"), "\($0)")
        }
    }

    func testNonLanguageModelsAreRefused() throws {
        let features = try model(
            ModelConfig(input: .features(size: 2), hiddenSize: 3, outputSize: 4, loss: .crossEntropy))
        XCTAssertThrowsError(try TextSampler.check(features)) { XCTAssertTrue("\($0)".contains("needs a token model")) }
        let classes = try model(
            ModelConfig(
                input: .tokens(vocabulary: 4, embedding: 2), hiddenSize: 3, outputSize: 3,
                loss: .crossEntropy))
        XCTAssertThrowsError(try TextSampler.check(classes)) { XCTAssertTrue("\($0)".contains("O = V")) }
        let lm = try model(
            ModelConfig(
                input: .tokens(vocabulary: 4, embedding: 2), hiddenSize: 3, outputSize: 4,
                loss: .crossEntropy))
        XCTAssertThrowsError(try TextSampler(model: lm, vocabulary: ["a", "b"])) {
            XCTAssertTrue("\($0)".contains("2 entries but the model's V = 4"))
        }
    }
}
