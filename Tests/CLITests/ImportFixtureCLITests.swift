import Foundation
import HDF5Kit
import XCTest

/// `lstm import` → `lstm predict` → `lstm export` on the weights files PyTorch and Keras wrote
/// themselves (Tests/LSTMIOTests/Interop/Fixtures): the command line reproduces the
/// frameworks' recorded outputs and writes the tensors back as the framework laid them out.
final class ImportFixtureCLITests: XCTestCase {
    var dir: URL!

    /// Tests/LSTMIOTests/Interop/Fixtures, from this file's path (Tests/CLITests/…).
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("LSTMIOTests/Interop/Fixtures")

    override func setUpWithError() throws { dir = try makeTemporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    @discardableResult
    func run(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> CLIResult {
        let r = try lstm(args, in: dir)
        XCTAssertEqual(r.status, 0, "lstm \(args.joined(separator: " ")) failed:\n\(r.output)", file: file, line: line)
        return r
    }

    func testKerasBidirectionalFixtureThroughImportPredictAndExport() throws {
        try check(
            weights: "two_layer_bidir_last.weights.h5", io: "two_layer_bidir_last.keras.io.h5",
            format: "keras", options: ["--head", "last", "--loss", "mse"], classTargets: false,
            exported: "back.weights.h5")
    }

    /// Keras' Sequential([Input((12, 3)), LSTM(16, return_sequences=True), LSTM(8), Dense(4, softmax)]).
    func testKerasPerLayerWidthsFixtureThroughImportPredictAndExport() throws {
        try check(
            weights: "widths_16_8.weights.h5", io: "widths_16_8.keras.io.h5",
            format: "keras", options: ["--head", "last", "--loss", "cross_entropy"], classTargets: true,
            exported: "back.weights.h5")
        let inspect = try run(["inspect", path("imported.h5")])
        XCTAssertTrue(inspect.output.contains("hidden sizes [16, 8]"), inspect.output)
    }

    func testPyTorchOneLayerFixtureThroughImportPredictAndExport() throws {
        try check(
            weights: "one_layer_sequence.pt.h5", io: "one_layer_sequence.pt.io.h5",
            format: "pytorch", options: ["--head", "sequence", "--loss", "cross_entropy"], classTargets: true,
            exported: "back.pt.h5")
    }

    /// Imports `weights`, predicts on a dataset holding the recorded inputs, compares with the
    /// recorded outputs, exports back and compares the weight tensors (PyTorch: bias_hh folded
    /// into bias_ih, so only the weight matrices are compared bit for bit there).
    func check(
        weights: String, io: String, format: String, options: [String], classTargets: Bool,
        exported: String, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let source = Self.fixtures.appendingPathComponent(weights).path
        try run(["import", source, "--format", format, "--out", path("imported.h5")] + options, file: file, line: line)

        let recorded = try HDF5File.open(Self.fixtures.appendingPathComponent(io).path)
        defer { try? recorded.close() }
        let inputs = try recorded.root.openDataset("inputs")
        let outputs = try recorded.root.openDataset("outputs")
        let data = try HDF5File.create(path("data.h5"))
        do {  // the group handle goes before the file is closed
            let test = try data.root.createGroup("test")
            try test.write("inputs", try inputs.read(as: Float.self), shape: inputs.shape)
            let rows = Array(outputs.shape.dropLast())  // [N, T] or [N]
            if classTargets {
                try test.write("targets", [Int32](repeating: 0, count: rows.reduce(1, *)), shape: rows)
            } else {
                try test.write("targets", [Float](repeating: 0, count: outputs.elementCount), shape: outputs.shape)
            }
        }
        try data.close()

        try run(
            ["predict", path("imported.h5"), "--data", path("data.h5"), "--split", "test", "--out", path("pred.h5")],
            file: file, line: line)
        let predicted = try HDF5File.open(path("pred.h5"))
        defer { try? predicted.close() }
        let ours = try predicted.root.openDataset("outputs")
        XCTAssertEqual(ours.shape, outputs.shape, file: file, line: line)
        let (a, b) = (try ours.read(as: Float.self), try outputs.read(as: Float.self))
        XCTAssertEqual(a.count, b.count, file: file, line: line)
        var worst: Float = 0
        for (x, y) in zip(a, b) {
            let d = abs(x - y)
            worst = d.isNaN ? .infinity : max(worst, d)
        }
        XCTAssertLessThanOrEqual(worst, 1e-5, "max |Δ| against the framework's outputs", file: file, line: line)

        try run(["export", path("imported.h5"), "--format", format, "--out", path(exported)], file: file, line: line)
        let theirs = try HDF5File.open(source)
        let back = try HDF5File.open(path(exported))
        defer {
            try? theirs.close()
            try? back.close()
        }
        for name in try datasetPaths(theirs.root) where !name.contains("bias_") {
            let t = try theirs.root.openDataset(name)
            let o = try back.root.openDataset(name)
            XCTAssertEqual(o.shape, t.shape, name, file: file, line: line)
            XCTAssertEqual(
                try o.read(as: Float.self).map(\.bitPattern), try t.read(as: Float.self).map(\.bitPattern), name,
                file: file, line: line)
        }
    }

    /// Paths of every dataset below `group`, e.g. "layers/dense/vars/0".
    func datasetPaths(_ group: HDF5Group, prefix: String = "") throws -> [String] {
        try group.memberNames().flatMap { name -> [String] in
            if let sub = try? group.openGroup(name) { return try datasetPaths(sub, prefix: prefix + name + "/") }
            return [prefix + name]
        }
    }
}
