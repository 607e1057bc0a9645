import Foundation
import HDF5Kit
import LSTMKit
import ONNXProto
import XCTest

@testable import LSTMIO

/// The ONNX export pinned without Python: two tiny models' .onnx bytes are checked in
/// (Interop/Fixtures/*.onnx; regenerate with `LSTM_WRITE_ONNX_FIXTURES=1 swift test --filter
/// ONNXExportTests`, then check them with onnxruntime as the last test does) and their
/// structure (operators, LSTM attributes, gate order i, o, f, c, bias halves) is asserted.
/// With onnxruntime installed, the fixtures run and agree with our forward pass to 1e-5.
final class ONNXExportTests: XCTestCase {
    typealias F = CheckpointFixtures

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Interop/Fixtures")
    static let scripts = fixtures.deletingLastPathComponent()

    /// Per-layer widths [3, 2], bidirectional, last head, softmax, PyTorch's two biases.
    static let bidirectional = ModelConfig(
        input: .features(size: 2), hiddenSizes: [3, 2], outputSize: 2, activation: .softmax, head: .last,
        loss: .crossEntropy, bidirectional: true, bias: .pytorch)
    /// Tokens V=5 E=3, two layers of H=3, sequence head, sigmoid, one bias.
    static let tokens = ModelConfig(
        input: .tokens(vocabulary: 5, embedding: 3), hiddenSize: 3, numLayers: 2, outputSize: 2,
        activation: .sigmoid, head: .sequence, loss: .bce)

    static let cases = [("onnx_bidir_widths_last.onnx", bidirectional), ("onnx_tokens_sequence.onnx", tokens)]

    /// Deterministic parameters (no RNG): small distinct values.
    static func checkpoint(_ config: ModelConfig) -> Checkpoint {
        let params = ParameterSet<Float>(config: config)
        for i in 0..<params.count { params.storage[i] = Float((i * 37) % 41 - 20) / 25 }
        return Checkpoint(parameters: params, optimizer: nil)
    }

    func testExportGivesTheCheckedInBytes() throws {
        for (name, config) in Self.cases {
            let bytes = try ONNXExporter.build(Self.checkpoint(config)).serializedData()
            let url = Self.fixtures.appendingPathComponent(name)
            if ProcessInfo.processInfo.environment["LSTM_WRITE_ONNX_FIXTURES"] == "1" {
                try bytes.write(to: url)
            }
            XCTAssertEqual(bytes, try Data(contentsOf: url), "\(name) differs from the checked-in fixture")
        }
    }

    func testTheFixturesUseONNXsLSTMWithItsGateOrderAndBiasHalves() throws {
        let url = Self.fixtures.appendingPathComponent("onnx_bidir_widths_last.onnx")
        let model = try Onnx_ModelProto(serializedBytes: try Data(contentsOf: url))
        XCTAssertEqual(model.irVersion, 8)
        XCTAssertEqual(model.opsetImport.map(\.version), [17])
        XCTAssertEqual(
            model.graph.node.map(\.opType),
            ["Transpose", "LSTM", "Transpose", "Reshape", "LSTM", "Transpose", "Reshape", "Gemm", "Softmax"])
        XCTAssertEqual(model.graph.input.map(\.name), ["inputs", "lengths"])
        XCTAssertEqual(model.graph.output.map(\.name), ["outputs"])
        let lstms = model.graph.node.filter { $0.opType == "LSTM" }
        for (k, node) in lstms.enumerated() {
            let attributes = Dictionary(uniqueKeysWithValues: node.attribute.map { ($0.name, $0) })
            XCTAssertEqual(attributes["hidden_size"]?.i, [3, 2][k])
            XCTAssertEqual(attributes["direction"].map { String(decoding: $0.s, as: UTF8.self) }, "bidirectional")
            XCTAssertEqual(
                node.input,
                [
                    "\(k == 0 ? "time_major" : "lstm_l0_concat")", "lstm.W_l\(k)", "lstm.R_l\(k)", "lstm.B_l\(k)",
                    "lengths"
                ])
        }
        let initializers = Dictionary(uniqueKeysWithValues: model.graph.initializer.map { ($0.name, $0) })
        XCTAssertEqual(initializers["lstm.W_l0"]?.dims, [2, 12, 2])
        XCTAssertEqual(initializers["lstm.R_l1"]?.dims, [2, 8, 2])
        XCTAssertEqual(initializers["lstm.B_l1"]?.dims, [2, 16])
        XCTAssertEqual(initializers["head.weight"]?.dims, [2, 4])

        // Gate order: ONNX's rows i, o, f, c are our blocks i, o (our 4th), f (2nd), g (3rd).
        let ours = Self.checkpoint(Self.bidirectional)
        func floats(_ t: Onnx_TensorProto) -> [Float] {
            t.rawData.withUnsafeBytes { Array($0.bindMemory(to: UInt32.self)) }.map {
                Float(bitPattern: UInt32(littleEndian: $0))
            }
        }
        let w = floats(initializers["lstm.W_l0"]!)
        let wih = ours.tensor("lstm.weight_ih_l0")!  // [12, 2]: blocks of 3 rows × 2
        let block = 3 * 2
        for (onnx, our) in [(0, 0), (1, 3), (2, 1), (3, 2)] {
            XCTAssertEqual(
                Array(w[(onnx * block)..<((onnx + 1) * block)]), Array(wih[(our * block)..<((our + 1) * block)]))
        }
        // The reverse direction follows the forward one.
        let reverse = ours.tensor("lstm.weight_ih_l0_reverse")!
        XCTAssertEqual(Array(w[(4 * block)..<(5 * block)]), Array(reverse[0..<block]))
        // B = W_b ‖ R_b: bias_ih then bias_hh, each in i, o, f, c order.
        let b = floats(initializers["lstm.B_l0"]!)
        let (ih, hh) = (ours.tensor("lstm.bias_ih_l0")!, ours.tensor("lstm.bias_hh_l0")!)
        XCTAssertEqual(Array(b[3..<6]), Array(ih[9..<12]))  // o
        XCTAssertEqual(Array(b[12..<15]), Array(hh[0..<3]))  // R_b's i
        let metadata = Dictionary(uniqueKeysWithValues: model.metadataProps.map { ($0.key, $0.value) })
        XCTAssertEqual(metadata["gate_order"], "i,o,f,c")
        XCTAssertEqual(metadata["head"], "last")
        XCTAssertNotNil(metadata["model_config"])
    }

    /// onnxruntime runs the fixtures on random inputs and agrees with our forward pass to 1e-5;
    /// the last-head model gets sequences of different lengths (ONNX's sequence_lens = our lengths).
    func testOnnxruntimeRunsTheFixturesLikeOurForwardPass() throws {
        let dir = try F.temporaryDirectory(self)
        guard python(["-c", "import onnxruntime, h5py, numpy"], in: dir).status == 0 else {
            throw XCTSkip(
                "python3 lacks onnxruntime, h5py or numpy (the fixtures' bytes and structure are still pinned)")
        }
        var rng = RandomSource(seed: 11)
        for (name, config) in Self.cases {
            let (batch, steps) = (3, 4)
            let inputs: Minibatch<Float>.Inputs
            let file = try HDF5File.create(dir + "/inputs.h5")
            switch config.input {
            case .features(let size):
                let x = (0..<(batch * steps * size)).map { _ in Float(rng.uniform(-1, 1)) }
                try file.root.write("inputs", x, shape: [batch, steps, size])
                inputs = .features(x)
            case .tokens(let v, _):
                let ids = (0..<(batch * steps)).map { _ in Int32(rng.index(below: v)) }
                try file.root.write("inputs", ids, shape: [batch, steps])
                inputs = .tokens(ids)
            }
            let lengths: [Int32] = config.head == .last ? [4, 2, 3] : [4, 4, 4]
            try file.root.write("lengths", lengths, shape: [batch])
            try file.close()
            let params = try Self.checkpoint(config).makeParameterSet()
            let network = try LSTMNetwork<Float>(config: config)
            let workspace = Workspace<Float>(config: config, maxBatch: batch, maxSteps: steps)
            _ = Minibatch<Float>(batchSize: batch, steps: steps, inputs: inputs, targets: nil, lengths: lengths)
                .withView {
                    network.forward(params, $0, workspace: workspace)
                }
            let expected = workspace.outputs()
            let script = Self.scripts.appendingPathComponent("onnx_forward.py").path
            let result = python(
                [script, Self.fixtures.appendingPathComponent(name).path, dir + "/inputs.h5", dir + "/out.h5"], in: dir)
            XCTAssertEqual(result.status, 0, result.stderr)
            let out = try HDF5File.open(dir + "/out.h5")
            let actual = try out.root.openDataset("outputs").read(as: Float.self)
            try out.close()
            XCTAssertEqual(actual.count, expected.count)
            let worst = zip(actual, expected).map { abs($0 - $1) }.max() ?? .infinity
            print("onnxruntime \(name): max |Δ| = \(worst)")
            XCTAssertLessThan(worst, 1e-5, name)
        }
    }

    /// Runs python3 with TMPDIR = `directory` (onnxruntime leaves a .ses file in TMPDIR).
    private func python(_ arguments: [String], in directory: String) -> (status: Int32, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3"] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
        environment["TMPDIR"] = directory
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
