import Foundation
import LSTMFiles
import LSTMKit
import ONNXProto
import SwiftProtobuf

/// Writes a model as ONNX (IR 8, opset 17) with ONNX's own `LSTM` operator, so runtimes
/// (onnxruntime, TensorRT, mobile, int8 quantisers) run it as an LSTM. The graph:
///
///     inputs [N, T, I] float (tokens: [N, T] int64 → Gather(embedding.weight) → [N, T, E])
///     lengths [N] int32 (each sequence's length: LSTM's sequence_lens)
///     Transpose [T, N, I] → LSTM layer 0 → Y [T, D, N, H]
///       → Squeeze(axis 1) [T, N, H] (D = 1) or Transpose [T, N, D, H] + Reshape [T, N, D·H] (D = 2)
///       → LSTM layer 1 → … (one LSTM node per layer, per-layer widths allowed)
///     head sequence: Transpose [N, T, D·H] → MatMul(head.weightᵀ) → Add(head.bias) → z [N, T, O]
///     head last: Y_h of the top layer [D, N, H] → Transpose + Reshape [N, D·H] → Gemm(head) → z [N, O]
///     outputs = F(z): Softmax(axis −1), Sigmoid, Tanh or Identity
///
/// LSTM weights follow ONNX: gates stacked i, o, f, c (ours are i, f, g, o), W [D, 4H, I],
/// R [D, 4H, H], B [D, 8H] = W_b ‖ R_b (our single bias as W_b with R_b zero; a two-bias model's
/// bias_ih and bias_hh). The model description goes into `metadata_props`.
public enum ONNXExporter {
    /// The IR version and opset written.
    public static let irVersion: Int64 = 8
    public static let opsetVersion: Int64 = 17

    /// Writes `checkpoint`'s model to `path` atomically.
    public static func write(_ checkpoint: Checkpoint, to path: String) throws {
        let model = try build(checkpoint)
        let data: Data
        do { data = try model.serializedData() } catch {
            throw FileError(.io, .weights, file: path, "could not serialize the ONNX model: \(error)")
        }
        try AtomicFile.write(data, to: path, role: .weights)
    }

    /// The ONNX model of `checkpoint` (deterministic: the same checkpoint gives the same bytes).
    public static func build(_ checkpoint: Checkpoint) throws -> Onnx_ModelProto {
        let config = checkpoint.config
        var g = GraphBuilder()
        let directions = config.directions

        // Inputs.
        var x: String
        switch config.input {
        case .features(let size):
            g.input("inputs", type: .float, dims: [.param("N"), .param("T"), .value(size)])
            x = "inputs"
        case .tokens(let v, let e):
            g.input("inputs", type: .int64, dims: [.param("N"), .param("T")])
            g.initializer("embedding.weight", dims: [v, e], checkpoint.tensor("embedding.weight")!)
            x = g.node("Gather", ["embedding.weight", "inputs"], name: "embedding")
        }
        g.input("lengths", type: .int32, dims: [.param("N")])
        x = g.node("Transpose", [x], name: "time_major", attributes: [.ints("perm", [1, 0, 2])])

        // LSTM layers.
        var lastHidden = ""
        for k in 0..<config.numLayers {
            let h = config.hiddenSize(k)
            let i = config.layerInputWidth(k)
            var w: [Float] = []
            var r: [Float] = []
            var b: [Float] = []
            for d in 0..<directions {
                let sfx = ParameterLayout.suffix(layer: k, direction: d)
                w += gatesIOFC(checkpoint.tensor("lstm.weight_ih_\(sfx)")!, hidden: h)
                r += gatesIOFC(checkpoint.tensor("lstm.weight_hh_\(sfx)")!, hidden: h)
                switch config.bias {
                case .single:
                    b += gatesIOFC(checkpoint.tensor("lstm.bias_\(sfx)")!, hidden: h)
                    b += [Float](repeating: 0, count: 4 * h)
                case .pytorch:
                    b += gatesIOFC(checkpoint.tensor("lstm.bias_ih_\(sfx)")!, hidden: h)
                    b += gatesIOFC(checkpoint.tensor("lstm.bias_hh_\(sfx)")!, hidden: h)
                }
            }
            g.initializer("lstm.W_l\(k)", dims: [directions, 4 * h, i], w)
            g.initializer("lstm.R_l\(k)", dims: [directions, 4 * h, h], r)
            g.initializer("lstm.B_l\(k)", dims: [directions, 8 * h], b)
            let outputs = g.nodeOutputs(
                "LSTM", [x, "lstm.W_l\(k)", "lstm.R_l\(k)", "lstm.B_l\(k)", "lengths"], name: "lstm_l\(k)",
                outputs: ["lstm_l\(k).Y", "lstm_l\(k).Y_h"],
                attributes: [
                    .int("hidden_size", h), .string("direction", directions == 2 ? "bidirectional" : "forward")
                ])
            lastHidden = outputs[1]
            if k + 1 < config.numLayers || config.head == .sequence {
                if directions == 1 {
                    g.initializer("axes_1", int64: [1])
                    x = g.node("Squeeze", [outputs[0], "axes_1"], name: "lstm_l\(k)_squeeze")
                } else {
                    let t = g.node(
                        "Transpose", [outputs[0]], name: "lstm_l\(k)_transpose",
                        attributes: [.ints("perm", [0, 2, 1, 3])])
                    g.initializer("shape_time_batch_features", int64: [0, 0, -1])
                    x = g.node("Reshape", [t, "shape_time_batch_features"], name: "lstm_l\(k)_concat")
                }
            }
        }

        // Head.
        let width = config.layerOutputWidth
        let o = config.outputSize
        let z: String
        switch config.head {
        case .sequence:
            let batchMajor = g.node("Transpose", [x], name: "batch_major", attributes: [.ints("perm", [1, 0, 2])])
            let weight = checkpoint.tensor("head.weight")!
            g.initializer("head.weight_t", dims: [width, o], WeightsFile.transpose(weight, rows: o, cols: width))
            g.initializer("head.bias", dims: [o], checkpoint.tensor("head.bias")!)
            let product = g.node("MatMul", [batchMajor, "head.weight_t"], name: "head_matmul")
            z = g.node("Add", [product, "head.bias"], name: "head")
        case .last:
            let t = g.node("Transpose", [lastHidden], name: "final_batch_major", attributes: [.ints("perm", [1, 0, 2])])
            g.initializer("shape_batch_features", int64: [0, -1])
            let flat = g.node("Reshape", [t, "shape_batch_features"], name: "final_concat")
            g.initializer("head.weight", dims: [o, width], checkpoint.tensor("head.weight")!)
            g.initializer("head.bias", dims: [o], checkpoint.tensor("head.bias")!)
            z = g.node("Gemm", [flat, "head.weight", "head.bias"], name: "head", attributes: [.int("transB", 1)])
        }
        switch config.activation {
        case .softmax: g.node("Softmax", [z], name: "F", outputs: ["outputs"], attributes: [.int("axis", -1)])
        case .sigmoid: g.node("Sigmoid", [z], name: "F", outputs: ["outputs"])
        case .tanh: g.node("Tanh", [z], name: "F", outputs: ["outputs"])
        case .identity: g.node("Identity", [z], name: "F", outputs: ["outputs"])
        }
        let rows: [GraphBuilder.Dim] = config.head == .sequence ? [.param("N"), .param("T")] : [.param("N")]
        g.output("outputs", type: .float, dims: rows + [.value(o)])

        var model = Onnx_ModelProto()
        model.irVersion = irVersion
        model.producerName = "lstm"
        model.docString = "LSTM exported by `lstm export`; see docs/weights.md (metadata_props hold the model)"
        var opset = Onnx_OperatorSetIdProto()
        opset.domain = ""
        opset.version = opsetVersion
        model.opsetImport = [opset]
        g.graph.name = "lstm"
        model.graph = g.graph
        let attributes = try WeightsFile.modelAttributes(checkpoint, format: .onnx)
        model.metadataProps = attributes.keys.sorted().map { key in
            var entry = Onnx_StringStringEntryProto()
            entry.key = key
            entry.value = attributes[key]!
            return entry
        }
        return model
    }

    /// Our gate blocks i, f, g, o (each `hidden` rows of a row-major matrix or vector) in
    /// ONNX's order i, o, f, c.
    static func gatesIOFC(_ m: [Float], hidden: Int) -> [Float] {
        let block = m.count / 4
        precondition(block * 4 == m.count && block % hidden == 0)
        return [0, 3, 1, 2].flatMap { m[($0 * block)..<(($0 + 1) * block)] }
    }
}

/// Accumulates a graph: nodes in order, initializers, inputs and outputs.
private struct GraphBuilder {
    enum Dim {
        case value(Int)
        case param(String)
    }
    enum ElementType: Int32 {
        case float = 1
        case int32 = 6
        case int64 = 7
    }
    enum Attribute {
        case int(String, Int)
        case ints(String, [Int])
        case string(String, String)
    }

    var graph = Onnx_GraphProto()
    private var initialized: Set<String> = []

    mutating func input(_ name: String, type: ElementType, dims: [Dim]) {
        graph.input.append(valueInfo(name, type, dims))
    }

    mutating func output(_ name: String, type: ElementType, dims: [Dim]) {
        graph.output.append(valueInfo(name, type, dims))
    }

    private func valueInfo(_ name: String, _ type: ElementType, _ dims: [Dim]) -> Onnx_ValueInfoProto {
        var info = Onnx_ValueInfoProto()
        info.name = name
        var tensor = Onnx_TypeProto.Tensor()
        tensor.elemType = type.rawValue
        var shape = Onnx_TensorShapeProto()
        shape.dim = dims.map { d in
            var dim = Onnx_TensorShapeProto.Dimension()
            switch d {
            case .value(let v): dim.dimValue = Int64(v)
            case .param(let p): dim.dimParam = p
            }
            return dim
        }
        tensor.shape = shape
        info.type.tensorType = tensor
        return info
    }

    /// A float32 initializer (raw little-endian bytes).
    mutating func initializer(_ name: String, dims: [Int], _ values: [Float]) {
        precondition(values.count == dims.reduce(1, *), "\(name): \(values.count) values for \(dims)")
        guard initialized.insert(name).inserted else { return }
        var t = Onnx_TensorProto()
        t.name = name
        t.dims = dims.map(Int64.init)
        t.dataType = ElementType.float.rawValue
        t.rawData = values.map { $0.bitPattern.littleEndian }.withUnsafeBytes { Data($0) }
        graph.initializer.append(t)
    }

    /// An int64 initializer (shapes and axes), added once however often it is asked for.
    mutating func initializer(_ name: String, int64 values: [Int64]) {
        guard initialized.insert(name).inserted else { return }
        var t = Onnx_TensorProto()
        t.name = name
        t.dims = [Int64(values.count)]
        t.dataType = ElementType.int64.rawValue
        t.rawData = values.map { $0.littleEndian }.withUnsafeBytes { Data($0) }
        graph.initializer.append(t)
    }

    /// Adds a node; its one output is named after the node unless `outputs` are given.
    @discardableResult
    mutating func node(
        _ op: String, _ inputs: [String], name: String, outputs: [String]? = nil, attributes: [Attribute] = []
    ) -> String {
        nodeOutputs(op, inputs, name: name, outputs: outputs ?? [name], attributes: attributes)[0]
    }

    /// Adds a node with the given outputs and returns them.
    @discardableResult
    mutating func nodeOutputs(
        _ op: String, _ inputs: [String], name: String, outputs: [String], attributes: [Attribute] = []
    ) -> [String] {
        var n = Onnx_NodeProto()
        n.opType = op
        n.name = name
        n.input = inputs
        n.output = outputs
        n.attribute = attributes.map { a in
            var p = Onnx_AttributeProto()
            switch a {
            case .int(let name, let v):
                p.name = name
                p.type = .int
                p.i = Int64(v)
            case .ints(let name, let v):
                p.name = name
                p.type = .ints
                p.ints = v.map(Int64.init)
            case .string(let name, let v):
                p.name = name
                p.type = .string
                p.s = Data(v.utf8)
            }
            return p
        }
        graph.node.append(n)
        return outputs
    }
}
