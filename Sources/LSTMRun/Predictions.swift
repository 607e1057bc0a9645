import Foundation
import LSTMData
import LSTMFiles

// What `lstm predict` derives from a minibatch of outputs (class ids, values in the data's units)
// and the CSV form of its predictions (docs/weights.md, "Predictions").

/// One minibatch of predictions: rows `first ..< first + count` of the split, each `steps`
/// (T for head `sequence`, 1 for head `last`) × `width` (O) outputs.
struct PredictionRows {
    let first: Int
    let count: Int
    let steps: Int
    let width: Int
    /// y = F(z) (in original units with `denormalizeOutputs`), 0 past a sequence's length.
    let outputs: [Float]
    /// The argmax over O of each row (and step) for a classifier, −1 past a sequence's length.
    let classIDs: [Int32]?
    /// The outputs in the data's original units (y·target_std + target_mean), when known.
    let values: [Float]?
    /// The minibatch's lengths (copied to the HDF5 file), nil without.
    let lengths: [Int32]?
    /// Valid steps of row b (all `steps` without lengths or for head `last`).
    let valid: (Int) -> Int

    init(
        first: Int, count: Int, steps: Int, width: Int, outputs y: [Float], lengths: [Int32]?,
        classifier: Bool, statistics: FeatureStatistics?, denormalizeOutputs: Bool
    ) {
        self.first = first
        self.count = count
        self.steps = steps
        self.width = width
        self.lengths = lengths
        let masked = steps > 1 ? lengths : nil  // head `last`: one output per sequence, nothing to mask
        let valid: (Int) -> Int = { b in masked.map { Int($0[b]) } ?? steps }
        self.valid = valid
        func zeroPadding(_ v: inout [Float]) {
            guard masked != nil else { return }
            for b in 0..<count {
                let start = (b * steps + valid(b)) * width
                let end = (b + 1) * steps * width
                if start < end { v.replaceSubrange(start..<end, with: repeatElement(0, count: end - start)) }
            }
        }
        var values = statistics.map { $0.denormalize(y) }
        var outputs = denormalizeOutputs ? (values ?? y) : y
        zeroPadding(&outputs)
        if values != nil { zeroPadding(&values!) }
        self.outputs = outputs
        self.values = values
        if classifier {
            var ids = [Int32](repeating: -1, count: count * steps)
            for b in 0..<count {
                for t in 0..<valid(b) {
                    let base = (b * steps + t) * width
                    var best = 0
                    for k in 1..<max(width, 1) where y[base + k] > y[base + best] { best = k }
                    ids[b * steps + t] = Int32(best)
                }
            }
            classIDs = ids
        } else {
            classIDs = nil
        }
    }
}

/// Column names of the predictions: class names (classifiers) and target names (regression).
struct PredictionColumns {
    let classNames: [String]?
    let targetNames: [String]?
    let width: Int

    /// The name of output k: its class or target name, else k (line breaks and tabs, e.g. a
    /// character model's "\n", written as the two characters `\n`, so every CSV row is one line).
    func name(_ k: Int) -> String {
        if let classNames, classNames.count == width { return Self.printable(classNames[k]) }
        if let targetNames, targetNames.count == width { return Self.printable(targetNames[k]) }
        return String(k)
    }

    /// The name of class `id` for the `class_name` column (printable as in `name`).
    func className(_ id: Int) -> String {
        guard let classNames, id >= 0, id < classNames.count else { return "" }
        return Self.printable(classNames[id])
    }

    static func printable(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\r\n": out += "\\r\\n"
            case "\t": out += "\\t"
            case "\\": out += "\\\\"
            default: out.append(c)
            }
        }
        return out
    }
}

/// The CSV form of `lstm predict --out FILE.csv`: a header row, then one row per sequence (head
/// `last`) or per valid step of each sequence (head `sequence`; steps past a length are left out):
///
///     sequence[,step],class_id[,class_name],prob_<class>…     classifiers (cross_entropy)
///     sequence[,step],output_<name>…[,value_<name>…]        regression (values: original units)
///
/// `sequence` is the row index in the split (0-based), `step` the step (0-based); `<class>` and
/// `<name>` are the class or target names when the model knows them, else 0, 1, …
enum PredictionCSV {
    static func write(
        to path: String, columns: PredictionColumns, perStep: Bool, classifier: Bool, values: Bool,
        _ run: ((PredictionRows) throws -> Void) throws -> Void
    ) throws {
        try AtomicFile.writeText(to: path, role: .predictions) { append in
            var header = perStep ? ["sequence", "step"] : ["sequence"]
            let o = columns.width
            if classifier {
                header.append("class_id")
                if columns.classNames != nil { header.append("class_name") }
                header += (0..<o).map { "prob_" + columns.name($0) }
            } else {
                header += (0..<o).map { "output_" + columns.name($0) }
                if values { header += (0..<o).map { "value_" + columns.name($0) } }
            }
            try append(header.map(field).joined(separator: ",") + "\n")
            try withoutActuallyEscaping(append) { append in
                try write(rows: run, columns: columns, perStep: perStep, append)
            }
        }
    }

    /// The data lines of every minibatch `run` produces.
    private static func write(
        rows run: ((PredictionRows) throws -> Void) throws -> Void, columns: PredictionColumns, perStep: Bool,
        _ append: @escaping (String) throws -> Void
    ) throws {
        let o = columns.width
        try run { rows in
            var text = ""
            for b in 0..<rows.count {
                for t in 0..<rows.valid(b) {
                    var line = perStep ? "\(rows.first + b),\(t)" : "\(rows.first + b)"
                    let base = (b * rows.steps + t) * o
                    if let ids = rows.classIDs {
                        let id = Int(ids[b * rows.steps + t])
                        line += ",\(id)"
                        if columns.classNames != nil {
                            line += "," + field(columns.className(id))
                        }
                    }
                    for k in 0..<o { line += ",\(rows.outputs[base + k])" }
                    if let v = rows.values { for k in 0..<o { line += ",\(v[base + k])" } }
                    text += line + "\n"
                }
            }
            try append(text)
        }
    }

    /// A CSV field, quoted (RFC 4180) when it holds a comma, a quote or a line break.
    static func field(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
