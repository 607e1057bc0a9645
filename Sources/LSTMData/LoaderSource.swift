import Foundation
import HDF5Kit
import LSTMKit

/// Which samples one minibatch is made of.
enum BatchRequest: Sendable {
    /// Sequences at these row indices (ascending).
    case rows([Int])
    /// Token-stream windows starting at these token offsets, T + 1 tokens each.
    case windows([Int])
}

/// The samples of one minibatch a loader reads: all of them, or (several processes) one rank's
/// rows of the whole minibatch, which start at row `rowOffset` of `globalBatchSize`.
struct BatchPart: Sendable {
    var request: BatchRequest
    var rowOffset = 0
    var globalBatchSize: Int?
}

/// Reusable arrays for one minibatch. Owned by exactly one thread at a time: the loader hands a
/// slot to a background read and takes it back only after that read has signalled completion.
/// Arrays handed out in a `Minibatch` are shared copy-on-write: if the caller still holds the
/// previous minibatch when its slot is refilled, the refill allocates fresh storage instead.
final class BatchSlot: @unchecked Sendable {
    var features: [Float] = []
    var tokens: [Int32] = []
    var classes: [Int32] = []
    var values: [Float] = []
    var lengths: [Int32] = []
    /// Scratch for token-stream windows, B × (T + 1).
    var window: [Int32] = []
}

/// Reads minibatches from the datasets of one validated split. Immutable, so shareable with the
/// prefetch thread; HDF5Kit serialises the actual library calls. Every read lets HDF5 convert the
/// stored element type (any type `DatasetRole` accepts) into Float or Int32 for just the rows read;
/// validation has already refused any value that conversion would saturate or turn into inf.
final class BatchSource: @unchecked Sendable {
    let path: String
    let split: String
    let schema: DatasetSchema
    let steps: Int
    private let inputs: HDF5Dataset
    private let lengths: HDF5Dataset?
    /// The files the split's rows come from, in order (one, or the shards of `DatasetFile.open(paths:)`).
    private let parts: [Part]

    /// One file's datasets of the split, holding rows `start ..< start + count` of the concatenation.
    private struct Part {
        let path: String
        let start: Int
        let count: Int
        let inputs: HDF5Dataset
        let targets: HDF5Dataset?
        let lengths: HDF5Dataset?
    }

    init(file: DatasetFile, schema: DatasetSchema, steps: Int) throws {
        path = file.path
        split = schema.split
        self.schema = schema
        self.steps = steps
        var parts: [Part] = []
        var start = 0
        for f in file.shards.isEmpty ? [file] : file.shards {
            let count = file.shards.isEmpty ? schema.count : try f.schema(schema.split).count
            switch schema.form {
            case .sequences:
                parts.append(
                    Part(
                        path: f.path, start: start, count: count, inputs: try f.dataset(schema.split, "inputs"),
                        targets: schema.hasTargets ? try f.dataset(schema.split, "targets") : nil,
                        lengths: schema.hasLengths ? try f.dataset(schema.split, "lengths") : nil))
            case .tokenStream:
                parts.append(
                    Part(
                        path: f.path, start: start, count: count, inputs: try f.dataset(schema.split, "tokens"),
                        targets: nil, lengths: nil))
            }
            start += count
        }
        self.parts = parts
        inputs = parts[0].inputs
        lengths = parts[0].lengths
    }

    /// Reads the samples of `part` into `slot` and returns them as a minibatch sharing its arrays.
    func read(_ part: BatchPart, into slot: BatchSlot) throws -> Minibatch<Float> {
        var batch: Minibatch<Float>
        switch part.request {
        case .rows(let rows): batch = try readRows(rows, into: slot)
        case .windows(let starts): batch = try readWindows(starts, into: slot)
        }
        batch.rowOffset = part.rowOffset
        batch.globalBatchSize = part.globalBatchSize
        return batch
    }

    /// Reads the (ascending) global `rows` of one dataset into `buffer`, row i at i · rowSize,
    /// from whichever files hold them: one read per file, of that file's local row indices.
    private func gather<T: HDF5Scalar>(
        _ rows: [Int], _ name: String, _ dataset: (Part) -> HDF5Dataset?, into buffer: UnsafeMutableBufferPointer<T>
    ) throws {
        var i = 0
        for part in parts where i < rows.count {
            var j = i
            while j < rows.count && rows[j] < part.start + part.count { j += 1 }
            if j > i, let d = dataset(part) {
                let local = rows[i..<j].map { $0 - part.start }
                let size = d.rowSize
                let into = UnsafeMutableBufferPointer(rebasing: buffer[(i * size)..<(j * size)])
                try datasetIO(file: part.path, object: "\(split)/\(name)") {
                    _ = try d.readRows(indices: local, into: into, converting: true)
                }
            }
            i = j
        }
    }

    private func readRows(_ rows: [Int], into slot: BatchSlot) throws -> Minibatch<Float> {
        let b = rows.count
        let t = steps
        if b == 0 { return empty(slot) }  // a rank whose shards got no rows of a small last minibatch
        let x: Minibatch<Float>.Inputs
        switch schema.input {
        case .features(let width):
            resize(&slot.features, b * t * width)
            try slot.features.withUnsafeMutableBufferPointer { try gather(rows, "inputs", \.inputs, into: $0) }
            x = .features(slot.features)
        case .tokens:
            resize(&slot.tokens, b * t)
            try slot.tokens.withUnsafeMutableBufferPointer { try gather(rows, "inputs", \.inputs, into: $0) }
            x = .tokens(slot.tokens)
        }
        let y: Minibatch<Float>.Targets
        // An inputs-only split (`DatasetFile.inputsSchema`) reads no targets: they stay zero.
        let targetRow = parts[0].targets?.rowSize ?? schema.target.rowSize(steps: t)
        switch schema.target {
        case .classesPerStep, .classesPerSequence:
            resize(&slot.classes, b * targetRow)
            try slot.classes.withUnsafeMutableBufferPointer { try gather(rows, "targets", \.targets, into: $0) }
            y = .classes(slot.classes)
        case .valuesPerStep, .valuesPerSequence:
            resize(&slot.values, b * targetRow)
            try slot.values.withUnsafeMutableBufferPointer { try gather(rows, "targets", \.targets, into: $0) }
            y = .values(slot.values)
        }
        var l: [Int32]?
        if lengths != nil {
            resize(&slot.lengths, b)
            try slot.lengths.withUnsafeMutableBufferPointer { try gather(rows, "lengths", \.lengths, into: $0) }
            l = slot.lengths
        }
        return Minibatch(batchSize: b, steps: t, inputs: x, targets: y, lengths: l)
    }

    /// A minibatch of no rows, shaped like the split's.
    private func empty(_ slot: BatchSlot) -> Minibatch<Float> {
        let x: Minibatch<Float>.Inputs
        switch schema.input {
        case .features: x = .features([])
        case .tokens: x = .tokens([])
        }
        let y: Minibatch<Float>.Targets
        switch schema.target {
        case .classesPerStep, .classesPerSequence: y = .classes([])
        case .valuesPerStep, .valuesPerSequence: y = .values([])
        }
        return Minibatch(batchSize: 0, steps: steps, inputs: x, targets: y, lengths: lengths == nil ? nil : [])
    }

    /// Window i covers tokens[starts[i] ..< starts[i] + T + 1]: inputs the first T, targets the last T.
    private func readWindows(_ starts: [Int], into slot: BatchSlot) throws -> Minibatch<Float> {
        let b = starts.count
        let t = steps
        let w = t + 1
        resize(&slot.window, b * w)
        try datasetIO(file: path, object: "\(split)/tokens") {
            try slot.window.withUnsafeMutableBufferPointer { buffer in
                for (i, start) in starts.enumerated() {
                    let part = UnsafeMutableBufferPointer(rebasing: buffer[(i * w)..<((i + 1) * w)])
                    _ = try inputs.readRows(into: part, rows: start..<(start + w), converting: true)
                }
            }
        }
        resize(&slot.tokens, b * t)
        resize(&slot.classes, b * t)
        slot.window.withUnsafeBufferPointer { window in
            slot.tokens.withUnsafeMutableBufferPointer { x in
                slot.classes.withUnsafeMutableBufferPointer { y in
                    for i in 0..<b {
                        for s in 0..<t {
                            x[i * t + s] = window[i * w + s]
                            y[i * t + s] = window[i * w + s + 1]
                        }
                    }
                }
            }
        }
        return Minibatch(batchSize: b, steps: t, inputs: .tokens(slot.tokens), targets: .classes(slot.classes))
    }
}

/// Sets `array.count` to `n`, keeping its storage (and capacity) when it is uniquely referenced.
@inline(__always)
func resize<E: Numeric>(_ array: inout [E], _ n: Int) {
    if array.count > n {
        array.removeLast(array.count - n)
    } else if array.count < n {
        array.append(contentsOf: repeatElement(0, count: n - array.count))
    }
}

/// A background read of one minibatch; `result` is written before `done` is signalled and read after.
final class PendingRead: @unchecked Sendable {
    let cursor: LoaderCursor
    let slot: Int
    private let done = DispatchSemaphore(value: 0)
    private var result: Result<Minibatch<Float>, Error>?

    init(cursor: LoaderCursor, slot: Int) {
        self.cursor = cursor
        self.slot = slot
    }

    /// Runs on the prefetch queue.
    func run(_ source: BatchSource, _ request: BatchPart, _ slot: BatchSlot) {
        result = Result { try source.read(request, into: slot) }
        done.signal()
    }

    /// Blocks until the read has finished and returns its outcome (call once).
    func wait() -> Result<Minibatch<Float>, Error> {
        done.wait()
        return result!
    }
}
