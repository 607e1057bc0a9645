import Foundation
import LSTMKit
import XCTest

@testable import LSTMIO

/// Every Python block of docs/weights.md runs, in page order in one interpreter, on files
/// `lstm export` wrote for a one-width model and a per-layer-widths model; then the Keras
/// model the page builds and the ONNX model agree on the page's inputs. Skipped (visibly)
/// when python3 lacks torch, keras, h5py, safetensors or onnxruntime.
final class DocSnippetTests: XCTestCase {
    typealias F = CheckpointFixtures

    static let page = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/weights.md")

    /// The ```python blocks of the page, in order.
    static func snippets() throws -> [String] {
        let text = try String(contentsOf: page, encoding: .utf8)
        var out: [String] = []
        var current: [String]?
        for line in text.components(separatedBy: "\n") {
            if current == nil, line.trimmingCharacters(in: .whitespaces) == "```python" {
                current = []
            } else if current != nil, line.trimmingCharacters(in: .whitespaces) == "```" {
                out.append(current!.joined(separator: "\n"))
                current = nil
            } else if current != nil {
                current!.append(line)
            }
        }
        return out
    }

    func testThePageHasItsPythonBlocks() throws {
        let snippets = try Self.snippets()
        XCTAssertGreaterThanOrEqual(snippets.count, 4, "PyTorch, safetensors, Keras and ONNX blocks")
        XCTAssertTrue(snippets.contains { $0.contains("isinstance(H, list)") }, "the per-layer widths model")
    }

    func testEveryPythonSnippetRunsForOneWidthAndPerLayerWidths() throws {
        let modules = "torch, keras, h5py, safetensors, onnxruntime"
        guard run(["-c", "import \(modules)"], in: try F.temporaryDirectory(self)).status == 0 else {
            throw XCTSkip("python3 lacks one of \(modules): the docs/weights.md snippets are not run")
        }
        let models = [
            ModelConfig(
                input: .tokens(vocabulary: 9, embedding: 4), hiddenSize: 5, numLayers: 2, outputSize: 3,
                head: .last, loss: .crossEntropy, bidirectional: true),
            ModelConfig(
                input: .features(size: 3), hiddenSizes: [5, 5, 3], outputSize: 2, activation: .tanh,
                head: .sequence, loss: .mse)
        ]
        let snippets = try Self.snippets()
        for config in models {
            let dir = try F.temporaryDirectory(self)
            let checkpoint = Checkpoint(parameters: F.parameters(config), optimizer: nil)
            for (format, name) in [
                (WeightsFormat.pytorch, "model.pt.h5"), (.keras, "model.weights.h5"),
                (.safetensors, "model.safetensors"),
                (.onnx, "model.onnx")
            ] {
                try WeightsExporter.export(checkpoint, format: format, to: dir + "/" + name)
            }
            var program = "import sys, traceback\n_ns = {}\n"
            for (i, snippet) in snippets.enumerated() {
                program += """
                    try:
                        exec(compile(\(pythonString(snippet)), "docs/weights.md block \(i + 1)", "exec"), _ns)
                    except Exception:
                        traceback.print_exc(); sys.exit("docs/weights.md python block \(i + 1) failed")

                    """
            }
            // The page's last Keras model and its ONNX session agree on the page's inputs x.
            program += """
                import numpy as np
                y_keras = np.asarray(_ns["model"].predict(_ns["x"], verbose=0))
                d = float(np.abs(y_keras - _ns["y"]).max())
                print("keras vs onnxruntime:", d)
                assert d < 1e-5, d

                """
            try program.write(toFile: dir + "/run_snippets.py", atomically: true, encoding: .utf8)
            let result = run(["run_snippets.py"], in: dir)
            XCTAssertEqual(result.status, 0, "\(config.summaryForTest):\n\(result.stderr)")
        }
    }

    private func pythonString(_ s: String) -> String {
        "'"
            + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'")
            .replacingOccurrences(of: "\n", with: "\\n") + "'"
    }

    private func run(_ arguments: [String], in directory: String) -> (status: Int32, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3"] + arguments
        p.currentDirectoryURL = URL(fileURLWithPath: directory)
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
        environment["KERAS_BACKEND"] = "torch"
        environment["TMPDIR"] = directory  // onnxruntime leaves a .ses file in TMPDIR; the test's dir goes
        p.environment = environment
        let errors = Pipe()
        p.standardError = errors
        p.standardOutput = FileHandle.nullDevice
        do { try p.run() } catch { return (-1, "\(error)") }
        let data = errors.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

extension ModelConfig {
    fileprivate var summaryForTest: String { "\(input), widths \(hiddenSizes), head \(head.rawValue)" }
}
