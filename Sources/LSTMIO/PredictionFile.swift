import HDF5Kit
import LSTMFiles
import LSTMKit

/// The file `lstm predict` writes: float32 `outputs` (rows in the split's order), int32 `lengths`
/// when the split has them, the model config and the caller's root attributes. Written atomically
/// like every file of this project, so a failed prediction never leaves a half-written file.
public enum PredictionFile {
    /// Writes a new predictions file at `path` for a model with `config`: `outputs` of `shape` (its
    /// `shape` attribute says `layout`, e.g. "[N, T, O]"), filled by `body` through the writer.
    /// With `classIDs`, an int32 `class_ids` dataset of `shape` without its last axis holds each
    /// row's predicted class (argmax of the outputs; −1 past a sequence's length); with `values`,
    /// a float32 `values` dataset of `shape` holds the outputs in the data's original units.
    public static func write(
        to path: String, config: ModelConfig, shape: [Int], layout: String, hasLengths: Bool,
        classIDs: Bool = false, values: Bool = false,
        _ body: (PredictionFileWriter) throws -> Void
    ) throws {
        try FileError.mapping(.predictions, file: path) {
            try AtomicFile.writeHDF5(to: path, role: .predictions) { file in
                let root = file.root
                let outputs = try root.createDataset("outputs", of: Float.self, shape: shape)
                try outputs.setAttribute("shape", layout)
                var ids: HDF5Dataset?
                if classIDs {
                    let d = try root.createDataset("class_ids", of: Int32.self, shape: Array(shape.dropLast()))
                    try d.setAttribute("shape", layout.replacingOccurrences(of: ", O]", with: "]"))
                    try d.setAttribute(
                        "meaning", "the predicted class: argmax of outputs over O; -1 past a sequence's length")
                    ids = d
                }
                var denormalized: HDF5Dataset?
                if values {
                    let d = try root.createDataset("values", of: Float.self, shape: shape)
                    try d.setAttribute("shape", layout)
                    try d.setAttribute(
                        "meaning", "outputs in the data's original units: y * target_std + target_mean")
                    denormalized = d
                }
                let lengths = hasLengths ? try root.createDataset("lengths", of: Int32.self, shape: [shape[0]]) : nil
                try root.setAttribute("model_config", try CheckpointIO.modelConfigJSON(config))
                try root.setAttribute("head", config.head.rawValue)
                try root.setAttribute("activation", config.activation.rawValue)
                try body(
                    PredictionFileWriter(
                        root: root, outputs: outputs, classIDs: ids, values: denormalized, lengths: lengths))
            }
        }
    }
}

/// Appends rows of outputs (and lengths) to a predictions file and sets its root attributes;
/// handed to the body of `PredictionFile.write`, valid only inside it.
public final class PredictionFileWriter {
    /// Rows written so far.
    public private(set) var rowsWritten = 0
    private let root: HDF5Group, outputs: HDF5Dataset, classIDs: HDF5Dataset?, values: HDF5Dataset?
    private let lengths: HDF5Dataset?

    init(root: HDF5Group, outputs: HDF5Dataset, classIDs: HDF5Dataset?, values: HDF5Dataset?, lengths: HDF5Dataset?) {
        self.root = root
        self.outputs = outputs
        self.classIDs = classIDs
        self.values = values
        self.lengths = lengths
    }

    /// Writes the next rows: `outputs` (and `classIDs`, `values`, stored only if the file was
    /// created with them) hold whole rows; `lengths` (one per row) is stored only if the file was
    /// created with lengths.
    public func append(
        outputs y: [Float], classIDs c: [Int32]? = nil, values v: [Float]? = nil, lengths l: [Int32]?, rows: Int
    ) throws {
        try outputs.writeRows(y, at: rowsWritten)
        if let classIDs, let c { try classIDs.writeRows(c, at: rowsWritten) }
        if let values, let v { try values.writeRows(v, at: rowsWritten) }
        if let lengths, let l { try lengths.writeRows(l, at: rowsWritten) }
        rowsWritten += rows
    }

    /// Sets a root string attribute.
    public func setAttribute(_ name: String, _ value: String) throws { try root.setAttribute(name, value) }
    /// Sets a root integer attribute.
    public func setAttribute(_ name: String, _ value: Int) throws { try root.setAttribute(name, value) }
    /// Sets a root string-array attribute.
    public func setAttribute(_ name: String, _ value: [String]) throws { try root.setAttribute(name, value) }
}
