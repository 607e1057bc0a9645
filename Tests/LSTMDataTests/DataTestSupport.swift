import Foundation
import HDF5Kit
import LSTMData
import LSTMFiles
import LSTMKit
import XCTest

/// A fresh temporary directory per test, removed afterwards.
class DataTestCase: XCTestCase {
    private(set) var directory = ""

    override func setUpWithError() throws {
        directory =
            FileManager.default.temporaryDirectory
            .appendingPathComponent("lstmdata-\(type(of: self))-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A path named `name` inside the test's directory.
    func path(_ name: String) -> String { directory + "/" + name }

    /// Creates an HDF5 file with HDF5Kit directly (for well- or malformed layouts) and closes it.
    @discardableResult
    func makeFile(_ name: String, _ body: (HDF5File) throws -> Void) throws -> String {
        let p = path(name)
        let file = try HDF5File.create(p)
        try body(file)
        try file.close()
        return p
    }

    /// Asserts that `body` throws a FileError of `kind` whose text names the file, `object` and
    /// every string in `mentions`; returns the error.
    @discardableResult
    func assertDatasetError<R>(
        _ kind: FileError.Kind, file: String, object: String?, mentions: [String] = [],
        _ body: () throws -> R, line: UInt = #line
    ) -> FileError? {
        do {
            _ = try body()
            XCTFail("expected a FileError", line: line)
            return nil
        } catch let error as FileError {
            XCTAssertEqual(error.kind, kind, "\(error)", line: line)
            XCTAssertEqual(error.file, file, line: line)
            XCTAssertEqual(error.object, object, "\(error)", line: line)
            let text = error.description
            XCTAssertTrue(text.hasPrefix(file + ": "), "should start with the file: \(text)", line: line)
            if let object { XCTAssertTrue(text.contains(object), "should name \(object): \(text)", line: line) }
            for m in mentions { XCTAssertTrue(text.contains(m), "should mention '\(m)': \(text)", line: line) }
            return error
        } catch {
            XCTFail("expected a FileError, got \(type(of: error)): \(error)", line: line)
            return nil
        }
    }

    /// Every minibatch of the loader's current epoch (consumes the trailing nil).
    func epoch(_ loader: BatchLoader) throws -> [Minibatch<Float>] {
        var out: [Minibatch<Float>] = []
        while let batch = try loader.next() { out.append(batch) }
        return out
    }
}

extension Minibatch where T == Float {
    /// The float features, or [] for token inputs.
    var featureValues: [Float] { if case .features(let v) = inputs { v } else { [] } }
    /// The token ids, or [] for feature inputs.
    var tokenValues: [Int32] { if case .tokens(let v) = inputs { v } else { [] } }
    /// The class-id targets, or [].
    var classValues: [Int32] { if case .classes(let v)? = targets { v } else { [] } }
    /// The float targets, or [].
    var targetValues: [Float] { if case .values(let v)? = targets { v } else { [] } }
}

/// Minibatches compared by content.
func sameMinibatch(_ a: Minibatch<Float>, _ b: Minibatch<Float>) -> Bool {
    a.batchSize == b.batchSize && a.steps == b.steps && a.featureValues == b.featureValues
        && a.tokenValues == b.tokenValues && a.classValues == b.classValues && a.targetValues == b.targetValues
        && a.lengths == b.lengths
}
