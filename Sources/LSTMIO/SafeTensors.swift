import Foundation
import LSTMFiles

/// A safetensors file (the format of `safetensors.torch.save_file` and Hugging Face): an 8-byte
/// little-endian header length n, n bytes of JSON header mapping each tensor name to
/// `{"dtype", "shape", "data_offsets": [begin, end]}` (offsets relative to the byte after the
/// header) plus an optional `"__metadata__"` object of strings, then the raw little-endian
/// tensor bytes. Every length and offset is checked against the file before anything is read.
public struct SafeTensorsFile: Sendable {
    /// One tensor: its element type (e.g. "F32"), shape, and byte range in the data section.
    public struct Entry: Sendable, Equatable {
        public let dtype: String
        public let shape: [Int]
        public let offsets: Range<Int>
    }

    /// The file read from (for errors).
    public let path: String
    /// The `__metadata__` strings (empty when absent).
    public let metadata: [String: String]
    /// The tensors by name.
    public let entries: [String: Entry]
    /// The file's bytes after the header.
    private let data: Data

    /// The largest header accepted (the reference implementation's limit).
    static let maxHeaderBytes = 100_000_000
    /// Bytes per element of each dtype that can be read as Float.
    static let floatTypes: [String: Int] = ["F32": 4, "F64": 8, "F16": 2, "BF16": 2]
    /// Bytes per element of every dtype the format defines (to validate sizes of any tensor).
    static let elementSizes: [String: Int] = [
        "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
        "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8
    ]

    /// Whether `bytes` (a file's first bytes) start like a safetensors file: a plausible header
    /// length followed by "{".
    static func looksLike(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 9 else { return false }
        let n = bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        return n >= 2 && n <= UInt64(maxHeaderBytes) && bytes[8] == UInt8(ascii: "{")
    }

    /// Reads and validates the header of the file at `path` (the tensor bytes are mapped, not copied).
    public init(path: String) throws {
        self.path = path
        func fail(_ kind: FileError.Kind, _ message: String) -> FileError {
            FileError(kind, .weights, file: path, message)
        }
        let all: Data
        do { all = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
            throw FileError.fileSystem(error, .weights, file: path, "could not read the safetensors file")
        }
        guard all.count >= 8 else {
            throw fail(
                .wrongFormat, "not a safetensors file: \(all.count) bytes, expected at least an 8-byte header length")
        }
        let n = all.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard n <= UInt64(Self.maxHeaderBytes), Int(n) <= all.count - 8 else {
            throw fail(
                .wrongFormat,
                "not a safetensors file: the header length is \(n) bytes but the file has \(all.count - 8) after it")
        }
        let headerBytes = all.subdata(in: 8..<(8 + Int(n)))
        guard let header = (try? JSONSerialization.jsonObject(with: headerBytes)) as? [String: Any] else {
            throw fail(.wrongFormat, "not a safetensors file: the \(n)-byte header is not a JSON object")
        }
        data = all.subdata(in: (8 + Int(n))..<all.count)
        var metadata: [String: String] = [:]
        var entries: [String: Entry] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else {
                    throw fail(.invalidValue, "__metadata__ is not an object of strings")
                }
                for (k, v) in m {
                    guard let s = v as? String else {
                        throw fail(.invalidValue, "__metadata__ entry '\(k)' is not a string")
                    }
                    metadata[k] = s
                }
                continue
            }
            func bad(_ what: String) -> FileError {
                FileError(.invalidValue, .weights, file: path, object: name, "invalid header entry: \(what)")
            }
            guard let e = value as? [String: Any] else { throw bad("expected an object") }
            guard let dtype = e["dtype"] as? String, let size = Self.elementSizes[dtype] else {
                throw bad(
                    "dtype \(e["dtype"].map { "\($0)" } ?? "missing"), expected one of \(Self.elementSizes.keys.sorted())"
                )
            }
            guard let rawShape = e["shape"] as? [Any], let shape = Self.integers(rawShape),
                shape.allSatisfy({ $0 >= 0 })
            else { throw bad("shape must be a list of non-negative integers") }
            guard let rawOffsets = e["data_offsets"] as? [Any], let offsets = Self.integers(rawOffsets),
                offsets.count == 2
            else { throw bad("data_offsets must be [begin, end]") }
            var count = 1
            for d in shape {
                let (product, overflow) = count.multipliedReportingOverflow(by: d)
                guard !overflow else { throw bad("shape \(shape) is too large") }
                count = product
            }
            let (bytes, overflow) = count.multipliedReportingOverflow(by: size)
            guard !overflow, offsets[0] >= 0, offsets[0] <= offsets[1], offsets[1] <= data.count else {
                throw bad("data_offsets \(offsets) lie outside the \(data.count) data bytes")
            }
            guard offsets[1] - offsets[0] == bytes else {
                throw bad(
                    "data_offsets \(offsets) span \(offsets[1] - offsets[0]) bytes, but \(dtype) \(shape) needs \(bytes)"
                )
            }
            entries[name] = Entry(dtype: dtype, shape: shape, offsets: offsets[0]..<offsets[1])
        }
        self.metadata = metadata
        self.entries = entries
    }

    private static func integers(_ values: [Any]) -> [Int]? {
        var out: [Int] = []
        for v in values {
            guard let n = v as? Int, n >= 0 else { return nil }  // an exact, non-negative integer
            out.append(n)
        }
        return out
    }

    /// The values of tensor `name` as Float (F32 as is; F64, F16 and BF16 converted).
    public func floats(_ name: String) throws -> [Float] {
        guard let e = entries[name] else {
            throw FileError(.missing, .weights, file: path, object: name, "no such tensor")
        }
        let bytes = data.subdata(in: e.offsets)
        let count = e.shape.reduce(1, *)
        func words<W: FixedWidthInteger>(_: W.Type) -> [W] {
            var out = [W](repeating: 0, count: count)
            out.withUnsafeMutableBytes { _ = bytes.copyBytes(to: $0) }
            return out.map { W(littleEndian: $0) }
        }
        switch e.dtype {
        case "F32": return words(UInt32.self).map { Float(bitPattern: $0) }
        case "F64": return words(UInt64.self).map { Float(Double(bitPattern: $0)) }
        case "BF16": return words(UInt16.self).map { Float(bitPattern: UInt32($0) << 16) }
        case "F16":
            #if arch(x86_64) || arch(arm64)
                return words(UInt16.self).map { Float(Float16(bitPattern: $0)) }
            #else
                throw FileError(
                    .typeMismatch, .weights, file: path, object: name, "F16 is not supported on this platform")
            #endif
        default:
            throw FileError(
                .typeMismatch, .weights, file: path, object: name,
                "stores \(e.dtype) values, expected F32, F64, F16 or BF16")
        }
    }

    /// Writes float32 `tensors` (name, shape, values; in that order in the file) and `metadata`
    /// to `path` atomically, as `safetensors.torch.save_file` would read them back.
    public static func write(
        _ tensors: [(String, [Int], [Float])], metadata: [String: String], to path: String
    ) throws {
        func quoted(_ s: String) -> String {
            String(decoding: try! JSONEncoder().encode(s), as: UTF8.self)
        }
        var parts: [String] = []
        if !metadata.isEmpty {
            let m = metadata.keys.sorted().map { "\(quoted($0)):\(quoted(metadata[$0]!))" }
            parts.append("\"__metadata__\":{\(m.joined(separator: ","))}")
        }
        var offset = 0
        for (name, shape, values) in tensors {
            precondition(values.count == shape.reduce(1, *), "\(name): \(values.count) values for shape \(shape)")
            let end = offset + 4 * values.count
            parts.append(
                "\(quoted(name)):{\"dtype\":\"F32\",\"shape\":[\(shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(end)]}"
            )
            offset = end
        }
        var header = Array("{\(parts.joined(separator: ","))}".utf8)
        while header.count % 8 != 0 { header.append(UInt8(ascii: " ")) }  // the reference pads to 8
        var out = Data(capacity: 8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: header)
        for (_, _, values) in tensors {
            let le = values.map { $0.bitPattern.littleEndian }
            le.withUnsafeBytes { out.append(contentsOf: $0) }
        }
        try AtomicFile.write(out, to: path, role: .weights)
    }
}
