import Foundation
import HDF5Kit
import LSTMFiles
import LSTMKit

/// Writes a checkpoint's parameters as PyTorch or Keras weights (see docs/weights.md for the
/// models they load into). Files are written atomically: temporary file, fsync, rename.
public enum WeightsExporter {
    /// Writes `checkpoint`'s parameters to `path` in `format`; `.checkpoint` saves the whole
    /// checkpoint. The model description goes into root attributes.
    public static func export(_ checkpoint: Checkpoint, format: WeightsFormat, to path: String) throws {
        try checkpoint.validate()
        switch format {
        case .checkpoint:
            try checkpoint.save(to: path)
        case .safetensors:
            try SafeTensorsFile.write(
                fileTensors(checkpoint, .pytorch),
                metadata: WeightsFile.modelAttributes(checkpoint, format: .safetensors), to: path)
        case .onnx:
            try ONNXExporter.write(checkpoint, to: path)
        case .pytorch, .keras:
            let tensors = fileTensors(checkpoint, format)
            try FileError.mapping(.weights, file: path) {
                try AtomicFile.writeHDF5(to: path, role: .weights) { file in
                    let root = file.root
                    for (name, shape, values) in tensors { try root.write(name, values, shape: shape) }
                    if format == .keras {
                        for (group, name) in WeightsFile.kerasVarsGroupNames(checkpoint.config) {
                            let g = root.exists(group) ? try root.openGroup(group) : try root.createGroup(group)
                            try g.setAttribute("name", name)
                        }
                    }
                    try WeightsFile.writeModelAttributes(checkpoint.config, format: format, to: root)
                    try checkpoint.metadata.write(to: root)  // vocabulary, names, statistics (docs/weights.md)
                    try Checksums.seal(root, role: .weights, file: path)
                }
            }
        }
    }

    /// The tensors of a `format` file (key, shape, values): PyTorch gets our single bias as
    /// `bias_ih` and zeros as `bias_hh` (a `bias: pytorch` model's two as they are); Keras gets
    /// a two-bias model's b_ih + b_hh summed into its one bias; Keras gets our [out, in] matrices transposed to
    /// [in, out]. Gate blocks stay in place (i, f, g, o is Keras' i, f, c, o).
    static func fileTensors(_ checkpoint: Checkpoint, _ format: WeightsFormat) -> [(String, [Int], [Float])] {
        WeightsFile.tensors(checkpoint.config, format).map { t in
            let ours = checkpoint.tensor(t.parameter)!
            switch t.role {
            case .same, .biasIH: return (t.key, t.shape, ours)
            case .biasHH: return (t.key, t.shape, [Float](repeating: 0, count: ours.count))
            case .summedWith(let other):  // Keras' one bias of a two-bias model: b_ih + b_hh
                return (t.key, t.shape, zip(ours, checkpoint.tensor(other)!).map(WeightsFile.sumBiases))
            case .transposed: return (t.key, t.shape, WeightsFile.transpose(ours, rows: t.shape[1], cols: t.shape[0]))
            }
        }
    }
}

extension WeightsFile {
    /// The transpose of a row-major `rows × cols` matrix (exact: values are only moved).
    static func transpose(_ m: [Float], rows: Int, cols: Int) -> [Float] {
        precondition(m.count == rows * cols, "matrix of \(m.count) values is not \(rows) × \(cols)")
        var out = [Float](repeating: 0, count: m.count)
        for r in 0..<rows {
            for c in 0..<cols { out[c * rows + r] = m[r * cols + c] }
        }
        return out
    }
}
