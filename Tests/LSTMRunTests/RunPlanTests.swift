import LSTMKit
import XCTest

@testable import LSTMData
@testable import LSTMRun

/// Resolving a run from its config and the data's schema, on schema values (no HDF5 file).
final class RunPlanTests: XCTestCase {
    static func schema(
        _ input: DatasetSchema.InputKind, _ target: DatasetSchema.TargetKind, form: DatasetSchema.Form = .sequences,
        count: Int = 64, steps: Int? = 6, vocabulary: [String]? = nil, maxID: Int32 = 1
    ) -> DatasetSchema {
        let ids = DatasetSchema.IDRange(min: 0, minIndex: 0, max: maxID, maxIndex: 3)
        return DatasetSchema(
            split: "train", form: form, count: count, steps: form == .sequences ? steps : nil, input: input,
            target: target, hasLengths: false, vocabulary: vocabulary, classNames: nil, featureStatistics: nil,
            targetStatistics: nil, tokenIDs: input == .tokens ? ids : nil, classIDs: target.isClasses ? ids : nil)
    }

    static let adding = schema(.features(width: 2), .valuesPerSequence(width: 1))

    func config(_ text: String) throws -> RunConfig {
        try RunConfig.parse("data:\n  file: d.h5\n  generate: {task: adding}\n" + text, path: "job.yaml")
    }

    // MARK: - The config's sizes against the data (modelFits, located)

    func testEverySizeTheConfigGivesThatDoesNotFitIsLocatedAtItsKey() throws {
        let c = try config("model:\n  input_size: 5\n  output_size: 3\nloss: cross_entropy\n")
        XCTAssertThrowsError(try c.modelConfig(schema: Self.adding)) { error in
            XCTAssertEqual(
                "\(error)",
                "job.yaml:5:15: model.input_size: is 5 but d.h5 has features of width 2\n"
                    + "job.yaml:6:16: model.output_size: is 3 but d.h5 has targets of width 1\n"
                    + "job.yaml:7:7: loss: cross_entropy does not fit d.h5, which has float values per sequence, "
                    + "O = 1 (class ids need cross_entropy; float targets need mse or bce)")
        }
    }

    func testSizesTheConfigLeavesOutComeFromTheData() throws {
        let m = try config("model:\n  hidden_size: 8\n").modelConfig(schema: Self.adding)
        XCTAssertEqual(m.input, .features(size: 2))
        XCTAssertEqual(m.outputSize, 1)
        XCTAssertEqual(m.head, .last)
        XCTAssertEqual(m.loss, .mse)
    }
}
