import LSTMKit
import XCTest

@testable import LSTMData

/// `modelFits`: the one rule "does the model fit the data", on schema values (no HDF5 file).
final class ModelFitTests: XCTestCase {
    func schema(
        _ input: DatasetSchema.InputKind, _ target: DatasetSchema.TargetKind, form: DatasetSchema.Form = .sequences,
        vocabulary: [String]? = nil, classNames: [String]? = nil, maxTokenID: Int32? = nil, maxClassID: Int32? = nil,
        hasTargets: Bool = true
    ) -> DatasetSchema {
        func ids(_ max: Int32?) -> DatasetSchema.IDRange? {
            max.map { DatasetSchema.IDRange(min: 0, minIndex: 0, max: $0, maxIndex: 5) }
        }
        return DatasetSchema(
            split: "train", form: form, count: 10, steps: form == .sequences ? 4 : nil, input: input, target: target,
            hasLengths: false, vocabulary: vocabulary, classNames: classNames, featureStatistics: nil,
            targetStatistics: nil, tokenIDs: ids(maxTokenID), classIDs: target.isClasses ? ids(maxClassID ?? 1) : nil,
            hasTargets: hasTargets)
    }

    func features(_ i: Int, o: Int, head: Head = .sequence, loss: LossKind = .mse) -> ModelConfig {
        ModelConfig(input: .features(size: i), hiddenSize: 4, outputSize: o, head: head, loss: loss)
    }

    func testAModelThatFitsHasNoProblems() {
        XCTAssertEqual(modelFits(features(3, o: 2), schema(.features(width: 3), .valuesPerStep(width: 2))), [])
        let lm = ModelConfig(
            input: .tokens(vocabulary: 5, embedding: 2), hiddenSize: 4, outputSize: 5, loss: .crossEntropy)
        XCTAssertEqual(
            modelFits(lm, schema(.tokens, .classesPerStep, form: .tokenStream, maxTokenID: 4, maxClassID: 4)), [])
    }

    func testEveryProblemIsReportedInOrderWithItsConfigKey() {
        let p = modelFits(
            features(5, o: 3, head: .sequence), schema(.features(width: 3), .valuesPerSequence(width: 1)))
        XCTAssertEqual(
            p, [.inputWidth(model: 5, data: 3), .outputWidth(model: 3, data: 1), .sequenceHeadGivenSequenceTargets])
        XCTAssertEqual(p.map(\.configKey), ["model.input_size", "model.output_size", "model.head"])
        XCTAssertEqual(
            p.map { $0.message(inputObject: "train/inputs", targetObject: "train/targets") },
            [
                "the model reads I = 5 features but train/inputs has I = 3",
                "the model has O = 3 outputs but train/targets has O = 1",
                "the model's head `sequence` predicts every step but train/targets has one target per sequence (use head `last`)"
            ])
    }

    func testInputKindsVocabularyAndTokenRanges() {
        let tokens = ModelConfig(
            input: .tokens(vocabulary: 4, embedding: 2), hiddenSize: 3, outputSize: 2, head: .last,
            loss: .crossEntropy)
        XCTAssertEqual(
            modelFits(tokens, schema(.tokens, .classesPerSequence, vocabulary: ["a", "b", "c"], maxTokenID: 6)),
            [.vocabularySize(model: 4, file: 3), .tokenOutsideVocabulary(id: 6, vocabulary: 4)])
        XCTAssertEqual(
            modelFits(tokens, schema(.features(width: 7), .classesPerSequence)),
            [.tokensGivenFeatures(vocabulary: 4, width: 7)])
        XCTAssertEqual(
            modelFits(features(2, o: 2, head: .last, loss: .crossEntropy), schema(.tokens, .classesPerSequence)),
            [.featuresGivenTokens(model: 2)])
    }

    func testClassCountsAndLossAgainstTheTargetKind() {
        let classifier = features(3, o: 2, head: .last, loss: .crossEntropy)
        XCTAssertEqual(
            modelFits(classifier, schema(.features(width: 3), .classesPerSequence, classNames: ["x", "y", "z"])),
            [.namedClassCount(model: 2, source: "class_names", named: 3)])
        XCTAssertEqual(
            modelFits(classifier, schema(.features(width: 3), .classesPerSequence, maxClassID: 2)),
            [.classOutsideOutputs(id: 2, outputs: 2)])
        XCTAssertEqual(
            modelFits(classifier, schema(.features(width: 3), .valuesPerSequence(width: 2))),
            [.lossNeedsClassIDs(loss: .crossEntropy, found: .valuesPerSequence(width: 2))])
        XCTAssertEqual(
            modelFits(features(3, o: 2, head: .last), schema(.features(width: 3), .classesPerSequence)),
            [.lossNeedsValues(loss: .mse, found: .classesPerSequence)])
        XCTAssertEqual(
            modelFits(features(3, o: 2, head: .last), schema(.features(width: 3), .valuesPerStep(width: 2))),
            [.lastHeadGivenStepTargets])
    }

    func testAnInputsOnlySplitIsCheckedOnItsInputsAlone() {
        let s = schema(.features(width: 3), .classesPerSequence, hasTargets: false)
        XCTAssertEqual(modelFits(features(3, o: 9, head: .sequence), s), [])
        XCTAssertEqual(modelFits(features(4, o: 9), s), [.inputWidth(model: 4, data: 3)])
    }
}
