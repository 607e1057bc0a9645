import Foundation
import HDF5Kit

extension HDF5Dataset {
    /// Refuses a dataset whose shape claims more data than the file stores: a chunked dataset
    /// with unallocated chunks (they would read as fill values), or contiguous storage smaller
    /// than its shape or larger than the file. It reads no data, so call it before reading:
    /// a file declaring `[65536, 16384]` with nothing behind it is refused without allocating.
    /// The one rule for datasets, checkpoint tensors and weights (`role` words the message).
    public func checkStoredSize(_ role: FileError.Role, file path: String, object: String) throws {
        let info = try FileError.mapping(role, file: path, object: object) { try storage() }
        let elementBytes = elementType.byteCount ?? 1
        var logical = elementBytes
        var overflow = false
        for d in shape {
            let (m, o) = logical.multipliedReportingOverflow(by: d)
            if o { overflow = true } else { logical = m }
        }
        let empty = shape.contains(0)
        if empty { (logical, overflow) = (0, false) }
        let claimed = "shape \(shape) of \(elementType) (\(overflow ? "more than \(Int.max)" : "\(logical)") bytes)"
        let fileBytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
        let fileText = fileBytes.map { "; the file is \($0) bytes" } ?? ""
        switch info.layout {
        case .chunked:
            guard let chunk = info.chunkShape, chunk.count == shape.count, let allocated = info.allocatedChunks
            else { return }
            var needed = 1
            var saturated = false
            for (extent, c) in zip(shape, chunk) {
                let per = c > 0 ? (extent / c + (extent % c == 0 ? 0 : 1)) : 0
                let (m, o) = needed.multipliedReportingOverflow(by: per)
                if o { saturated = true } else { needed = m }
            }
            if !empty && (saturated || allocated < needed) {
                throw FileError(
                    .shapeMismatch, role, file: path, object: object,
                    "claims \(claimed) in \(saturated ? "more than \(Int.max)" : "\(needed)") chunks of \(chunk), but the file stores only \(allocated) of those chunks (\(info.storedBytes) bytes\(fileText)); the rest were never written and would read as fill values"
                )
            }
        case .contiguous:
            if !info.filtered && (overflow || info.storedBytes < logical) && !empty {
                throw FileError(
                    .shapeMismatch, role, file: path, object: object,
                    "claims \(claimed), but the file stores only \(info.storedBytes) bytes of it\(fileText); the rest was never written"
                )
            }
        case .compact, .virtual, .other:
            break
        }
        if let fileBytes, !info.filtered, info.layout != .virtual, info.storedBytes > fileBytes {
            throw FileError(
                .shapeMismatch, role, file: path, object: object,
                "claims \(claimed) stored in \(info.storedBytes) bytes, but the file is only \(fileBytes) bytes (truncated?)"
            )
        }
    }
}
