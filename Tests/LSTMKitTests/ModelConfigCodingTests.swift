import Foundation
import LSTMKit
import XCTest

/// ModelConfig's stored (checkpoint / weights file) form: `hidden_size` an int when every layer
/// is equal (the bytes older files hold), a list otherwise; `bias` written only when not the
/// default, and an absent key meaning `single`.
final class ModelConfigCodingTests: XCTestCase {
    func json(_ c: ModelConfig) throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = .sortedKeys
        return String(decoding: try e.encode(c), as: UTF8.self)
    }

    func testUniformWidthsEncodeAsBeforeAndListsRoundTrip() throws {
        let uniform = ModelConfig(input: .features(size: 3), hiddenSize: 8, numLayers: 2, outputSize: 2, loss: .mse)
        let text = try json(uniform)
        XCTAssertTrue(text.contains("\"hidden_size\":8,"), text)
        XCTAssertFalse(text.contains("\"bias\":"), text)
        XCTAssertEqual(try JSONDecoder().decode(ModelConfig.self, from: Data(text.utf8)), uniform)

        var wide = ModelConfig(
            input: .features(size: 3), hiddenSizes: [16, 8], outputSize: 2, loss: .mse, bias: .pytorch)
        let wideText = try json(wide)
        XCTAssertTrue(wideText.contains("\"hidden_size\":[16,8]"), wideText)
        XCTAssertTrue(wideText.contains("\"bias\":\"pytorch\""), wideText)
        XCTAssertEqual(try JSONDecoder().decode(ModelConfig.self, from: Data(wideText.utf8)), wide)
        wide.numLayers = 3
        XCTAssertEqual(wide.hiddenSizes, [16, 8, 8])
        XCTAssertEqual(wide.layerInputWidth(1), 16)
        XCTAssertEqual(wide.hiddenSize, 16)

        // A list that disagrees with num_layers is refused; an old file without `bias` is single.
        let bad = wideText.replacingOccurrences(of: "\"num_layers\":2", with: "\"num_layers\":4")
        XCTAssertThrowsError(try JSONDecoder().decode(ModelConfig.self, from: Data(bad.utf8)))
        XCTAssertEqual(
            try JSONDecoder().decode(ModelConfig.self, from: Data(text.utf8)).bias, BiasForm.default)
        XCTAssertEqual(BiasForm.default, .single)
    }

    /// One spelling per concept: the stored form uses the config file's names (`vocab_size`,
    /// `init`, `forget_bias`), and the older spellings (`vocabulary_size`, `initialization`,
    /// `forget_gate_bias`), which files written before hold, read as the same model.
    func testTheStoredFormSpellsVocabularyInitAndForgetBiasAsTheConfigFileAndReadsTheOlderSpellings() throws {
        let c = ModelConfig(
            input: .tokens(vocabulary: 7, embedding: 3), hiddenSize: 4, numLayers: 1, outputSize: 7,
            loss: .crossEntropy, initialization: .orthogonal, forgetGateBias: true)
        let stored = try json(c)
        XCTAssertTrue(stored.contains("\"vocab_size\":7"), stored)
        XCTAssertTrue(stored.contains("\"forget_bias\":true"), stored)
        XCTAssertTrue(stored.contains("\"init\":\"orthogonal\""), stored)
        for older in ["vocabulary_size", "forget_gate_bias", "initialization"] {
            XCTAssertFalse(stored.contains("\"\(older)\""), stored)
        }
        XCTAssertEqual(try JSONDecoder().decode(ModelConfig.self, from: Data(stored.utf8)), c)
        let olderSpelling = stored.replacingOccurrences(of: "\"vocab_size\"", with: "\"vocabulary_size\"")
            .replacingOccurrences(of: "\"forget_bias\"", with: "\"forget_gate_bias\"")
            .replacingOccurrences(of: "\"init\"", with: "\"initialization\"")
        XCTAssertNotEqual(olderSpelling, stored)
        XCTAssertEqual(try JSONDecoder().decode(ModelConfig.self, from: Data(olderSpelling.utf8)), c)
    }

    func testPerLayerLayoutShapesAndValidation() throws {
        let c = ModelConfig(
            input: .features(size: 3), hiddenSizes: [5, 3], outputSize: 2, loss: .mse, bidirectional: true,
            bias: .pytorch)
        let layout = ParameterLayout(c)
        XCTAssertEqual(layout.entry("lstm.weight_ih_l1")?.shape, [12, 10])  // [4H_1, D·H_0]
        XCTAssertEqual(layout.entry("lstm.weight_hh_l1_reverse")?.shape, [12, 3])
        XCTAssertEqual(layout.entry("lstm.bias_hh_l0")?.shape, [20])
        XCTAssertEqual(layout.entry("head.weight")?.shape, [2, 6])  // [O, D·H_last]
        XCTAssertNil(layout.entry("lstm.bias_l0"))
        // D·24·H_k·(I_k + H_k) per layer + 6·(D·H_last)·O: 2·24·5·8 + 2·24·3·13 + 6·6·2.
        XCTAssertEqual(flopsPerToken(c), 3864)
        var bad = c
        bad.hiddenSizes = [5, 0]
        XCTAssertThrowsError(try bad.validate()) {
            XCTAssertTrue("\($0)".contains("hidden_size of layer 1 must be ≥ 1"))
        }
        bad.hiddenSizes = []
        XCTAssertThrowsError(try bad.validate()) { XCTAssertTrue("\($0)".contains("num_layers must be ≥ 1")) }
    }
}
